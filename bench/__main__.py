"""`python -m bench` is `eosbench`."""

from bench.cli import main

if __name__ == "__main__":  # roles are spawned: importing this module must not run the CLI
    main()
