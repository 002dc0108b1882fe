"""`python -m bench` is `eosbench`."""

from bench.cli import main

main()
