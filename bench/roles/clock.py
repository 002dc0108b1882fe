"""The one clock of a cell: its timeline, record send stamps, end-to-end latencies.

It is `time.monotonic_ns()` of the host the cell is run from. On Linux that clock is system-wide,
so roles on that host read it directly. A role on another host (a Trogdor agent's,
bench.trogdor.launcher) adds the offset measured when it connected, so a record stamped on one
host and read on another is timed on one clock, within the offset's uncertainty (recorded with
the cell).
"""

from __future__ import annotations

import time

now_ns = time.monotonic_ns
offset_ns = 0


def set_offset(ns: int) -> None:
    """Run this process on a clock `ns` ahead of its own monotonic clock (0: its own)."""
    global now_ns, offset_ns
    monotonic = time.monotonic_ns
    offset_ns = ns
    now_ns = monotonic if ns == 0 else (lambda: monotonic() + ns)
