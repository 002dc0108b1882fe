"""How often does `eosbench compare` fail the gate on two identical setups, and how often does it
catch a real slowdown? Simulated through compare() itself with a run-to-run drift.

    python benchmarks/gate_false_alarms.py [--trials 400]

Three noise profiles: `open loop` (bench/profiles/ci.yaml: repetitions agree within ~2%), `closed loop`
(bench/profiles/quick.yaml: repetitions vary by 10-20%), and `modes drift`: closed loop where each run
also moves the modes against each other by 3%. For each run-to-run drift (0, 5, 10%) and each
design, the share of A-vs-A comparisons that exit 1, and the share that catch a 30% slowdown of
the transactional producer (power). `repetitions only` is the gate before the model: every
figure tested on repetitions, no drift allowed for.
"""

from __future__ import annotations

import argparse
import time

from bench.analysis.gate_simulation import Noise, rate

PROFILES = {"open loop": dict(repetition_drift=0.02, noise=0.02), "closed loop": dict(repetition_drift=0.10, noise=0.05),
            # each run also moves one mode against the others by 3% (what the EOS-cost allowance is for)
            "modes drift": dict(repetition_drift=0.10, noise=0.05, mode_drift=0.03)}
DESIGNS = {  # label -> (design, run_drift_pct)
    "repetitions only (old gate)": ("single", 0.0),
    "one run per side": ("single", None),
    "3 runs per side": ("several", None),
    "paired in one run": ("paired", None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=400)
    args = parser.parse_args()
    started = time.monotonic()
    print(f"{args.trials} simulated comparisons per figure; 5 repetitions per run; slowdown: transactional -30%\n")
    print(f"{'profile':<12} {'run drift':>9}  {'design':<28} {'false alarms':>12}  {'power':>6}")
    for profile, noise_args in PROFILES.items():
        for drift in (0.0, 0.05, 0.10):
            noise = Noise(run_drift=drift, **noise_args)
            for label, (design, run_drift_pct) in DESIGNS.items():
                false_alarms = rate(noise, design, args.trials, seed=11, run_drift_pct=run_drift_pct)
                power = rate(noise, design, max(args.trials // 4, 20), seed=12, run_drift_pct=run_drift_pct, slowdown=0.3)
                print(f"{profile:<12} {drift:>8.0%}  {label:<28} {false_alarms:>11.1%}  {power:>6.0%}", flush=True)
    print(f"\n{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
