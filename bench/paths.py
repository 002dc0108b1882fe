"""Where eosbench keeps things outside the repository.

Jars are cached per Kafka version (downloads are slow, jars never change); broker state lives
apart from the cache so that `broker down` can delete data without losing the jars. Both can be
moved by environment variables, which the test suite uses to run a broker of its own.
"""

import os
from pathlib import Path


def cache_dir() -> Path:
    """Per-user cache: EOSBENCH_CACHE_DIR, else $XDG_CACHE_HOME/eosbench, else ~/.cache/eosbench."""
    if os.environ.get("EOSBENCH_CACHE_DIR"):
        return Path(os.environ["EOSBENCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "eosbench"


def state_dir() -> Path:
    """Broker state and data: EOSBENCH_STATE_DIR, else $XDG_STATE_HOME/eosbench, else ~/.local/state/eosbench."""
    if os.environ.get("EOSBENCH_STATE_DIR"):
        return Path(os.environ["EOSBENCH_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "eosbench"
