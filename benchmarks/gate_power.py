"""The gate's power and false-alarm rate on real runs of bench/profiles/gate.yaml.

    python benchmarks/gate_power.py --aa gate-A1,gate-A2,gate-A3,gate-A4 \
        --planted "quota 30 MiB/s on transactional=gate-quota" --planted "batch.size 128 KiB=gate-batch" [--trials 400]

Prints, from the real runs: every A/A pair and every planted run against every A run, through
compare() as `eosbench compare` runs it; how the resampling of rounds agrees with the runs (the
spread of a resampled run's EOS cost against its own standard error, and the spread between the
real runs); then the false-alarm rate of resampled A/A pairs and the power for each planted
regression of bench.analysis.gate_power.PLANTS in each cell, with Wilson's 95% intervals.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np

from bench.analysis import gate_power, summary
from bench.analysis.overhead import baseline_pairs, turn_pairs
from bench.analysis.stats import series_mean
from bench.results import RunStore

CELLS = ("idempotent", "transactional")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aa", required=True, help="comma-separated A runs (nothing changed between them)")
    parser.add_argument("--planted", action="append", default=[], help="NAME=RUN: a run with a real regression planted")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=None,
                        help="keep each run's first N rounds: the power of a shorter duration_s of the same profile")
    args = parser.parse_args()
    started = time.monotonic()
    def load(name: str):
        run = summary.summary(RunStore.open(name, args.results_dir))
        return gate_power.first_rounds(run, args.rounds) if args.rounds else run

    names = args.aa.split(",")
    runs = [load(name) for name in names]
    planted = [(label, name, load(name)) for label, name in (p.split("=", 1) for p in args.planted)]

    print("Real pairs (eosbench compare BASE NEW):")
    for (i, a), (j, b) in itertools.permutations(enumerate(runs), 2):
        if i < j:
            print(f"  A/A {names[i]} vs {names[j]}: {_verdict(gate_power.gate(a, b))}")
    for label, name, run in planted:
        for i, a in enumerate(runs):
            print(f"  {label}: {names[i]} vs {name}: {_verdict(gate_power.gate(a, run))}")

    print("\nEOS cost per run (centre of paired turns, standard error) and what resampling its rounds gives:")
    rng = np.random.default_rng(3)
    for cell in CELLS:
        centres = []
        for name, run in zip(names, runs):
            estimate = _estimate(run, cell)
            boot = [gate_power.eos_cost_centre(gate_power.resample(run, rng), cell) for _ in range(100)]
            centres.append(estimate.mean)
            print(f"  {cell:<13} {name:<12} cost {_cost(estimate.mean):5.1f}%  se {estimate.se:.4f}  "
                  f"sd of 100 resamples {np.std(boot, ddof=1):.4f}  ({estimate.units} turns)")
        between = float(np.std(centres, ddof=1))
        within = math.sqrt(np.mean([_estimate(run, cell).se ** 2 for run in runs]))
        drift = math.sqrt(max(between ** 2 - within ** 2, 0.0))
        print(f"  {cell:<13} between the {len(runs)} runs: sd {between:.4f} against {within:.4f} within: "
              f"a drift of {100 * drift:.1f}% beyond the turns' own spread")

    print(f"\nResampled pairs ({args.trials} trials each, two different A runs per trial):")
    rate = gate_power.false_alarms(runs, args.trials)
    print(f"  A/A false alarms (the gate fails): {_share(rate)}")
    for plant in gate_power.PLANTS:
        for cell in CELLS:
            print(f"  {plant.name:<28} in {cell:<13}: detected {_share(gate_power.power(runs, plant, cell, args.trials))}")
    print(f"\n{time.monotonic() - started:.0f} s")


def _estimate(run, cell: str):
    for cell_id, rows, base in baseline_pairs(run, "at_least_once"):
        if cell_id == cell:
            return series_mean(turn_pairs(rows, base))
    raise SystemExit(f"{cell} did not take turns")


def _cost(log_ratio: float) -> float:
    return -100 * math.expm1(log_ratio)


def _verdict(comparison) -> str:
    return "exit 1: " + "; ".join(comparison.regressions + comparison.failures) if comparison.failed else "exit 0"


def _share(rate: gate_power.Rate) -> str:
    low, high = rate.interval()
    return f"{rate.hits} of {rate.trials} ({100 * rate.share:.1f}%, 95% {100 * low:.1f}-{100 * high:.1f}%)"


if __name__ == "__main__":
    main()
