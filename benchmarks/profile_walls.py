"""How long each shipped profile takes, wall clock: the figures `eosbench validate` estimates.

Runs every shipped profile (or those named) one after another with `eosbench run`, each from the
start (its own embedded broker, warm-up included), and appends one row per run to a CSV: the
profile, the sha256 of its YAML (so a profile changed since reads as not measured), the exit
status, the wall time and the commit. Nothing else should run on the machine meanwhile. Usage:

    python benchmarks/profile_walls.py OUT.csv [PROFILE ...] [--results-dir DIR]

tests/test_estimate.py holds the estimate within 15% of every row of results/profile-walls.csv.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from bench import profile as profiles

COLUMNS = ["profile", "profile_sha256", "rc", "wall_s", "commit", "started_utc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("profiles", nargs="*", help="shipped profile names (default: all)")
    parser.add_argument("--results-dir", type=Path, default=Path("/tmp/eosbench-walls"))
    args = parser.parse_args()
    shipped = {p.stem: p for p in profiles.shipped()}
    names = args.profiles or sorted(shipped)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    new = not args.out.exists()
    with args.out.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(COLUMNS)
        for name in names:
            started, clock = time.gmtime(), time.monotonic()
            rc = subprocess.run([sys.executable, "-m", "bench", "run", name, "--results-dir", str(args.results_dir),
                                 "--run-id", f"wall-{name}-{int(time.time())}"], stdout=subprocess.DEVNULL).returncode
            writer.writerow([name, sha256(shipped[name]), rc, round(time.monotonic() - clock, 1), commit,
                             time.strftime("%Y-%m-%dT%H:%M:%SZ", started)])
            f.flush()  # a row per finished run: an interrupted sweep keeps them


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


if __name__ == "__main__":
    main()
