"""What a command and a role process pay before they do anything: wall time and resident memory.

    python benchmarks/startup_cost.py [--repeat 5]

- `eosbench --help`: the whole command, as a user types it (median of --repeat runs);
- a role process: what a spawned producer imports before its first line runs. multiprocessing's
  spawn re-runs the parent's entry point (the `eosbench` console script) as `__mp_main__`, then
  imports the role's module; this does the same in a fresh interpreter and reports its time and
  peak RSS (median);
- a JSON-lines child role (`python -m bench.roles.child producer`, how CommandLauncher starts
  one): the whole process, from start to its exit on an empty stdin, and its peak RSS.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("eosbench")
ROLE = f"""
import resource, runpy, time
t = time.perf_counter()
runpy.run_path({str(SCRIPT)!r}, run_name="__mp_main__")
import bench.roles.producer
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CHILD = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run([sys.executable, "-m", "bench.roles.child", "producer"], input=b"", capture_output=True)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    help_s, role_s, role_kb, child_s, child_kb = [], [], [], [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        subprocess.run([str(SCRIPT), "--help"], check=True, capture_output=True)
        help_s.append(time.perf_counter() - started)
        seconds, kb = subprocess.run([sys.executable, "-c", ROLE], check=True, capture_output=True, text=True).stdout.split()
        role_s.append(float(seconds))
        role_kb.append(int(kb))
        seconds, kb = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True, text=True).stdout.split()
        child_s.append(float(seconds))
        child_kb.append(int(kb))
    print(f"eosbench --help: {statistics.median(help_s):.2f} s (median of {args.repeat})")
    print(f"role process start-up: {statistics.median(role_s):.2f} s, peak RSS {statistics.median(role_kb) / 1024:.0f} MB "
          f"(median of {args.repeat})")
    print(f"JSON-lines child role, start to exit: {statistics.median(child_s):.2f} s, peak RSS "
          f"{statistics.median(child_kb) / 1024:.0f} MB (median of {args.repeat})")


if __name__ == "__main__":
    main()
