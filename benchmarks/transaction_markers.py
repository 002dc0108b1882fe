"""Are transaction markers accounted for? eosbench's log bytes and request counts against Kafka's own log dump.

For each transaction size, one transactional cell (and one at_least_once cell, the baseline
without markers) runs on a fresh embedded broker through eosbench's own session and cell script,
its topic kept; then Kafka's `kafka.tools.DumpLogSegments` lists every batch of each partition.
Printed per cell: transactions (commits + aborts) the producer reports, EndTxn and
WriteTxnMarkers requests the broker counted over the whole cell, control batches (markers) in the
log against transactions x partitions written, the markers' bytes, and the log bytes per record
as eosbench reports them (measured window) beside the dump's (whole topic), with the markers'
share. Usage:

    python benchmarks/transaction_markers.py [--sizes 1,10,100,1000] [--partitions 1] [--rate 5000] [--seconds 5] [--brokers 1|3]

With one partition every transaction writes exactly one partition, so markers must equal
transactions; with more, a transaction writes one marker per partition it touched.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.broker import cluster as clusters
from bench.brokers import session
from bench.cell.phases import run_cell
from bench.cell.resources import Window
from bench.cell.spec import CellSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--message-size", type=int, default=1024)
    parser.add_argument("--brokers", type=int, default=1, help="3: the coordinator sends markers to every leader a transaction wrote to")
    args = parser.parse_args()
    cells = [("at_least_once", None)] + [("transactional", int(s)) for s in args.sizes.split(",")]
    rates = {1: 50, 10: 500}  # a commit takes milliseconds: short transactions cannot keep up with 5,000/s here
    print(f"{'mode':<14} {'txn size':>8} {'records':>8} {'txns':>6} {'EndTxn':>6} {'WriteTxnMarkers':>15} {'markers':>7} "
          f"{'marker B':>8} {'log B/rec (eosbench)':>20} {'log B/rec (dump)':>16} {'markers B/rec':>13}")
    with tempfile.TemporaryDirectory() as home, session({}, Path(home), brokers=args.brokers) as (target, _):
        for ordinal, (mode, size) in enumerate(cells, start=1):
            spec = CellSpec(mode=mode, partitions=args.partitions, rate=min(args.rate, rates.get(size, args.rate)), message_size=args.message_size,
                            warmup_s=1, duration_s=args.seconds, **({"transaction_size": size} if size else {}))
            before = target.resources.sample([])
            outcome = run_cell(spec, target, ordinal, "markers", keep_topics=True)
            after = target.resources.sample([])
            if outcome.status != "ok":
                print(f"{mode} {size}: {outcome.status}")
                continue
            m = outcome.metrics
            requests = Window.between(before, after, []).requests or {}
            batches = [b for p in range(args.partitions) for b in clusters.dump_log(target.cluster, outcome.topics[0], p)]
            markers = [b for b in batches if b.control]
            records = sum(b.records for b in batches if not b.control)
            marker_bytes = sum(b.size for b in markers)
            print(f"{mode:<14} {size or '-':>8} {records:>8} {m['transactions'] + m['aborts']:>6} {requests.get('EndTxn', 0):>6} "
                  f"{requests.get('WriteTxnMarkers', 0):>15} {len(markers):>7} {marker_bytes // max(len(markers), 1):>8} "
                  f"{m['log_bytes_per_record']:>20.1f} {sum(b.size for b in batches) / records:>16.1f} "
                  f"{marker_bytes / records:>13.2f}")


if __name__ == "__main__":
    main()
