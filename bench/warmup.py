"""When a broker is warm: the rule that ends a run's warm-up.

A fresh broker spends far more CPU per record than a warm one, and for longer than a fixed warm-up
allows: at 20,000 msg/s of 1 KB its CPU per record fell from 43 us to 12 us over ten 5-second
cells per mode (about 100 s of load; JIT compilation, page cache and coordinator state), and a
closed-loop warm-up did not warm the open-loop path. Every figure taken before that mixes warm-up
into the first repetitions (the rising transactional throughput of earlier runs). So a run warms
each mode in rounds of short discarded cells, interleaved like the measurement, until the broker's
CPU per record has stopped falling for every mode, or a cap is reached (then it says so). A
transactional producer warms up with short transactions (TRANSACTION_SIZE).
"""

from __future__ import annotations

import math

CELL_S = 5.0          # one warm-up cell's measured window
# Records per transaction in a transactional producer's warm-up cells (at most). The broker's
# per-transaction code (AddPartitionsToTxn, EndTxn, the markers, the transaction log) runs once per
# transaction, about 50 times a second at 1,000 records of 1 KB, and HotSpot compiles a method
# fully after some thousands of calls: minutes. Measured under order alternating at 1,000 records
# per transaction after one warm-up round: transactional / at_least_once rose 0.36, 0.43, 0.49 over
# the three repetitions (quick-s12b). Short transactions run that code a hundred times as often.
TRANSACTION_SIZE = 10
MIN_ROUNDS = 4
MAX_S = 150.0         # warm-up load per run at most (wall time of its cells), then it goes on and says so
STABLE = 0.10         # the last two cells' mean within 10% of the two before: no trend left


def converged(cpu_per_record: list[float | None]) -> bool:
    """Whether one mode's warm-up cells show no trend left in the broker's CPU per record.

    Two cells against the two before, not one against one: single 5-second cells of a warm broker
    still differ by up to 15%. Without a CPU figure (a cluster without JMX) there is nothing to
    wait for: one round is the warm-up.
    """
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in cpu_per_record):
        return len(cpu_per_record) >= 1
    if len(cpu_per_record) < MIN_ROUNDS:
        return False
    before, last = sum(cpu_per_record[-4:-2]) / 2, sum(cpu_per_record[-2:]) / 2
    return abs(last / before - 1) <= STABLE
