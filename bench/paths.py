"""Where eosbench keeps things outside the repository.

Jars are cached per Kafka version (downloads are slow, jars never change); broker state lives
apart from the cache so that `broker down` can delete data without losing the jars. Both can be
moved by environment variables, which the test suite uses to run a broker of its own.
"""

import json
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


def write_state(path: Path, data: dict) -> None:
    """A state file (what a started process is and where), replaced atomically: a reader never sees half of one."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def run_state_homes(state_file: str) -> list[Path]:
    """State homes under which `eosbench run` recorded a `state_file` (left behind only if a run was killed)."""
    return sorted(p.parent for p in (state_dir() / "runs").glob(f"*/{state_file}"))


def last_error_line(log: Path) -> str:
    """The last line of `log` that reports an error (else its last line): what to say when a process died starting."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errors = [ln for ln in lines if "ERROR" in ln or "Exception" in ln]
    return ((errors or lines or ["(no output)"])[-1]).strip()[:300]
