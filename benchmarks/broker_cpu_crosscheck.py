"""Broker CPU cross-checked from outside eosbench.

A separate process samples the broker's /proc/<pid>/stat every 20 ms; the broker CPU eosbench reports for a window is compared with this sampler's, interpolated to the
window's edges (metrics.json resources.edges_ns, CLOCK_MONOTONIC, shared by all processes).
The JVM's own ProcessCpuTime over JMX, which eosbench records beside it, is printed too. Usage:

    python benchmarks/broker_cpu_crosscheck.py
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.brokers import session
from bench.cell.phases import run_cell
from bench.cell.spec import CellSpec

TICK = os.sysconf("SC_CLK_TCK")


def sampler(pid: int, out: str) -> None:
    """The outside reader: (monotonic ns, CPU seconds) lines until the process is gone."""
    with open(out, "w") as f:
        while True:
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                return
            f.write(f"{time.monotonic_ns()} {(int(fields[11]) + int(fields[12])) / TICK}\n")
            f.flush()
            time.sleep(0.02)



def main() -> None:
    with tempfile.TemporaryDirectory() as home, session({}, Path(home)) as (target, _):
        pid = target.cluster.nodes[0].pid
        log = Path(home) / "samples"
        proc = subprocess.Popen([sys.executable, __file__, "sample", str(pid), str(log)])
        for i, mode in enumerate(["at_least_once", "transactional", "idempotent"]):
            o = run_cell(CellSpec(mode=mode, partitions=4, rate=20000, message_size=1024, warmup_s=1, duration_s=10, transaction_size=1000), target, i + 1, f"xc{i}")
            r = o.metrics["resources"]
            t0, t1 = r["edges_ns"]
            rows = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
            def at(t):
                for (ta, ca), (tb, cb) in zip(rows, rows[1:]):
                    if ta <= t <= tb:
                        return ca + (cb - ca) * (t - ta) / (tb - ta)
            outside = at(t1) - at(t0)
            mine = sum(r["broker_cpu_s"].values())
            print(f"{mode}: eosbench {mine:.3f} s, outside sampler {outside:.3f} s, JMX {r['jmx_cpu_s']:.3f} s, difference {100 * (mine - outside) / outside:+.1f}%", flush=True)
        proc.kill()

if __name__ == "__main__":
    if sys.argv[1:2] == ["sample"]:
        sampler(int(sys.argv[2]), sys.argv[3])
    else:
        main()
