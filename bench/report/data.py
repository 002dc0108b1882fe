"""Everything a report shows, read from a run directory alone (never from Kafka).

A report must be rebuildable from results years later, so everything here comes from the run's
files through RunStore (which refuses damaged ones): summaries are recomputed from the cells (the
CSVs may be from an older eosbench), histograms come from the HdrHistogram logs, lag from lag.csv.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
from hdrh.histogram import HdrHistogram

from bench.analysis import model, overhead, summary
from bench.analysis.lag import for_run
from bench.metrics import new_histogram
from bench.results import RunStore


@dataclass
class RunData:
    store: RunStore

    @cached_property
    def manifest(self) -> dict:
        return self.store.manifest()

    @cached_property
    def summary(self) -> pd.DataFrame:
        return summary.summary(self.store)

    @cached_property
    def cells(self) -> pd.DataFrame:
        return summary.cells(self.summary)

    @property
    def baseline(self) -> str | None:
        return self.manifest["profile"].get("baseline")

    @cached_property
    def overhead(self) -> pd.DataFrame:
        return overhead.overhead(self.summary, self.baseline)

    @cached_property
    def models(self) -> list:
        """The cost curves fitted across the sweep (bench.analysis.model), one per family of cells,
        or (family, why there is none)."""
        return model.fits(self.summary, self.baseline)

    @property
    def curves(self) -> list:
        return [f for f in self.models if isinstance(f, model.Fit)]

    @cached_property
    def lag_recommendations(self) -> dict:
        return {r.cell_id: r for r in for_run(self.store)}

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    @property
    def planned(self) -> int:
        return len(self.manifest.get("plan", []))

    @property
    def partial(self) -> bool:
        return self.manifest.get("status") != "complete" or len(self.summary) < self.planned

    def cell_dirs(self, cell_id: str) -> list[Path]:
        return sorted((self.store.directory / "cells" / cell_id).glob("r*/metrics.json"), key=lambda p: p.parent.name)

    def histogram(self, cell_id: str, kind: str) -> HdrHistogram:
        """One latency kind of a cell, all repetitions merged."""
        total = new_histogram()
        for metrics in self.cell_dirs(cell_id):
            for hist in self.store.latency_intervals(metrics.parent, kind).values():
                total.add(hist)
        return total

    def interval_counts(self, cell_id: str, repetition: int, kind: str) -> pd.Series:
        """Records per second through a cell repetition, from its interval histograms."""
        intervals = self.store.latency_intervals(self.store.cell_dir(cell_id, repetition), kind)
        return pd.Series({t: h.get_total_count() for t, h in intervals.items()}, dtype=float).sort_index()

    def lag(self, cell_id: str, repetition: int) -> pd.DataFrame:
        return self.store.lag(self.store.cell_dir(cell_id, repetition))

    @cached_property
    def _cells(self) -> dict[tuple[str, int], dict]:
        return {(c["params"]["cell_id"], c["params"]["repetition"]): c for c in self.store.cells()}

    def params(self, cell_id: str, repetition: int) -> dict:
        return self._cells[(cell_id, repetition)]["params"]

    def warnings(self) -> list[str]:
        """Every stability warning of the run, each saying how to fix it."""
        out = []
        for row in self.cells.itertuples() if not self.cells.empty else []:
            if row.flags.has("unstable"):
                out.append(f"{row.cell_id}: throughput varies by {row.cv:.0%} across repetitions (limit 10%): "
                           "add repetitions (--repeat), lengthen duration_s, or quiet the machine")
            if row.flags.has("generator-bound"):
                out.append(f"{row.cell_id}: the load generator, not Kafka, set the pace (metrics.json generator_reason names the "
                           "producer thread that never waited for Kafka, or the agent whose cores were busy): raise `producers`, "
                           "or read only the ratio to its baseline")
        failed = self.summary[self.summary["status"] != "ok"] if not self.summary.empty else self.summary
        for row in failed.itertuples():
            out.append(f"{row.cell_id} r{row.repetition}: {row.status}")
        return out
