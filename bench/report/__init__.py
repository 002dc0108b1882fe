"""Reports read results only: figures, the HTML page and its Markdown summary."""
