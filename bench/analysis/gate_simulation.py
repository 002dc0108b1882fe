"""How often does the compare gate fail two identical setups? A simulation through `compare()`.

Runs are drawn from the model the gate is built on (bench.analysis.compare), on the log scale:
    log x[run, repetition, mode] = mode effect + run drift + repetition drift + noise
- run drift: shared by every repetition and mode of a run (another machine, another broker start);
- repetition drift: shared by the modes of one repetition (interleaved order runs them back to back);
- noise: each cell repetition on its own;
plus, optionally, a drift of one mode against the others per run (`mode_drift`), which is what
the EOS-cost allowance is for. A planted `slowdown` of one mode's throughput in NEW measures the
gate's power. Used by benchmarks/gate_false_alarms.py and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis.compare import compare

MODES = ("at_least_once", "idempotent", "transactional")
_MODE_LEVEL = {"at_least_once": 1.0, "idempotent": 0.9, "transactional": 0.5}


@dataclass(frozen=True)
class Noise:
    run_drift: float = 0.05        # sd of the run drift, as a fraction (0.05 = 5%)
    repetition_drift: float = 0.10
    noise: float = 0.05
    mode_drift: float = 0.0
    latency_scale: float = 3.0     # latency varies this many times more than throughput


def run_frame(rng: np.random.Generator, noise: Noise, repetitions: int, slowdown: float = 0.0,
              version: str = "4.1.1") -> pd.DataFrame:
    """One simulated run of the three modes, interleaved, as `summary` rows."""
    run = rng.normal(0, noise.run_drift)
    per_mode = {m: rng.normal(0, noise.mode_drift) for m in MODES}
    rows = []
    for rep in range(1, repetitions + 1):
        shared = rng.normal(0, noise.repetition_drift)
        for mode in MODES:
            drift = run + per_mode[mode] + shared + rng.normal(0, noise.noise)
            throughput = 100_000 * _MODE_LEVEL[mode] * np.exp(drift) * (1 - (slowdown if mode == "transactional" else 0.0))
            latency = 20.0 * np.exp(-noise.latency_scale * drift)
            rows.append({
                "cell_id": mode, "repetition": rep, "mode": mode, "topology": "produce", "partitions": 4,
                "transaction_size": 1000 if mode == "transactional" else None, "transaction_ms": None, "message_size": 1024,
                "rate": "max", "producers": 1, "abort_ratio": 0.0, "replication_factor": None, "max_in_flight": 5,
                "warmup_s": 2, "duration_s": 8, "kafka_version": version, "throughput_msgs": throughput,
                "e2e_p99_ms": latency, "status": "ok",
            })
    return pd.DataFrame(rows)


def gate_fails(rng: np.random.Generator, noise: Noise, design: str, repetitions: int = 5, runs: int = 3,
               slowdown: float = 0.0, run_drift_pct: float | None = None) -> bool:
    """One comparison of BASE and NEW (NEW slowed down by `slowdown`): does the gate fail it?

    designs: `single` (one run per side), `several` (`runs` per side), `paired` (both versions
    interleaved in one run: the two sides share each repetition's drift and the run's).
    """
    if design == "paired":
        both = _paired_run(rng, noise, repetitions, slowdown)
        result = compare(both[0], both[1], baseline="at_least_once", paired=True, run_drift_pct=run_drift_pct)
    else:
        count = runs if design == "several" else 1
        base = [run_frame(rng, noise, repetitions) for _ in range(count)]
        new = [run_frame(rng, noise, repetitions, slowdown) for _ in range(count)]
        result = compare(base, new, baseline="at_least_once", run_drift_pct=run_drift_pct)
    return result.failed


def _paired_run(rng: np.random.Generator, noise: Noise, repetitions: int, slowdown: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two versions in one run: one run drift for both, and each repetition's drift shared by the
    two blocks of that repetition (they run back to back)."""
    frames = []
    seed = int(rng.integers(1 << 31))
    for version, slow in (("A", 0.0), ("B", slowdown)):
        twin = np.random.default_rng(seed)  # the same draws of the shared drifts for both blocks
        frame = run_frame(twin, Noise(noise.run_drift, noise.repetition_drift, 0.0, 0.0, noise.latency_scale), repetitions, slow, version)
        own = np.exp(rng.normal(0, noise.noise, len(frame)))
        frames.append(frame.assign(throughput_msgs=frame["throughput_msgs"] * own, e2e_p99_ms=frame["e2e_p99_ms"] / own ** noise.latency_scale))
    return frames[0], frames[1]


def rate(noise: Noise, design: str, trials: int, seed: int = 1, **kwargs) -> float:
    """Share of `trials` comparisons that fail the gate."""
    rng = np.random.default_rng(seed)
    return sum(gate_fails(rng, noise, design, **kwargs) for _ in range(trials)) / trials
