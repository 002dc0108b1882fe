"""The run store: `results/<run-id>/`, written so that a crash never costs a finished cell.

Each cell repetition is written into a temporary directory and renamed into place when it ends,
so a reader (or `--resume`) sees whole cells or none; the manifest and the summaries are
rewritten atomically after every cell (hyperfine's lesson). A run directory is never
overwritten. Raw HdrHistogram logs are kept: percentiles can always be recomputed.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from hdrh.histogram import HdrHistogram

from bench.errors import BadInput
from bench.formatting import finite
from bench.metrics import LAG_COLUMNS, read_intervals

if TYPE_CHECKING:  # the store is read by report, compare and lag, which must not need a Kafka client
    from bench.cell.spec import CellOutcome
    from bench.sweep import PlannedCell

SCHEMA_VERSION = 1
DEFAULT_RESULTS_DIR = Path("results")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


def new_run_id(profile_source: str) -> str:
    """The time and the profile's name, as one safe path component whatever the file is called."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{re.sub(r'[^A-Za-z0-9._-]+', '-', Path(profile_source).stem)}"[:121]


def checked_run_id(run_id: str) -> str:
    """`run_id` if it is one safe path component (no separator, no '..', no control character)."""
    if not _RUN_ID.fullmatch(run_id):
        raise BadInput(f"run id {json.dumps(run_id)} must be one path component: letters, digits, '.', '_' and '-', "
                       "starting with a letter or digit, at most 121 characters")
    return run_id


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is meant to be shared
    os.replace(tmp, path)


def _json(data: Any) -> str:
    """A run file: NaN and infinity are written as null (no JSON reader agrees on them), so every
    number read back is finite."""
    return json.dumps(finite(data), indent=2, default=str, allow_nan=False) + "\n"


class RunStore:
    """One run directory."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    # -- opening --
    @staticmethod
    def free(results_dir: Path, run_id: str) -> Path:
        """The directory a new run `run_id` would take, refused if it is taken: a run never overwrites one."""
        directory = Path(results_dir) / checked_run_id(run_id)
        if directory.exists():
            raise BadInput(f"run directory {directory} already exists: pick another --run-id, or --resume it")
        return directory

    @classmethod
    def create(cls, results_dir: Path, run_id: str, manifest: dict) -> "RunStore":
        directory = cls.free(results_dir, run_id)
        directory.mkdir(parents=True)
        (directory / "cells").mkdir()
        store = cls(directory)
        store.write_manifest({"schema_version": SCHEMA_VERSION, "run_id": run_id, **manifest})
        return store

    @classmethod
    def resume(cls, results_dir: Path, run_id: str) -> "RunStore":
        """The run `run_id` under results_dir, and nowhere else: a resumed run writes into it."""
        return cls.open(Path(results_dir) / checked_run_id(run_id))

    @classmethod
    def open(cls, run: str | Path, results_dir: Path = DEFAULT_RESULTS_DIR) -> "RunStore":
        """A run by id (under results_dir) or by directory; refused if missing or from a newer eosbench."""
        candidates = [Path(run), Path(results_dir) / str(run)]
        directory = next((c for c in candidates if (c / "manifest.json").is_file()), None)
        if directory is None:
            raise BadInput(f"no run '{run}': neither {candidates[0]} nor {candidates[1]} holds a manifest.json")
        store = cls(directory)
        store.manifest()  # refuse unreadable or newer-schema runs now, with one line
        return store

    # -- manifest --
    def manifest(self) -> dict:
        path = self.directory / "manifest.json"
        data = migrate(_read_json(path, "manifest"), path)
        if not isinstance(data.get("run_id"), str) or not isinstance(data.get("profile"), dict):
            raise BadInput(f"{path} is damaged: it has no run_id or no profile (restore it from a copy, or re-run)")
        for section, kind in (("environment", dict), ("broker", dict), ("plan", list)):
            if data.get(section) is not None and not isinstance(data[section], kind):
                raise BadInput(f"{path} is damaged: '{section}' is not a JSON {'object' if kind is dict else 'array'}")
        if not isinstance(data["profile"].get("kafka", {}), dict):
            raise BadInput(f"{path} is damaged: 'profile.kafka' is not a JSON object")
        return data

    def write_manifest(self, manifest: dict) -> None:
        write_atomically(self.directory / "manifest.json", _json(manifest))

    def update_manifest(self, **changes: Any) -> None:
        self.write_manifest({**self.manifest(), **changes})

    # -- cells --
    def cell_dir(self, cell_id: str, repetition: int) -> Path:
        return self.directory / "cells" / cell_id / f"r{repetition}"

    def has_cell(self, planned: PlannedCell) -> bool:
        return (self.cell_dir(planned.cell_id, planned.repetition) / "metrics.json").is_file()

    def write_cell(self, planned: PlannedCell, outcome: CellOutcome) -> Path:
        final = self.cell_dir(planned.cell_id, planned.repetition)
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".r{planned.repetition}."))
        params = {
            "cell_id": planned.cell_id, "repetition": planned.repetition, "ordinal": planned.ordinal,
            "kafka_version": planned.kafka_version,
            **outcome.spec.params(), "topics": outcome.topics, "client_configs": outcome.client_configs,
            "measure_start_epoch_s": outcome.measure_start_epoch_s, "fault_windows": outcome.faults,
        }
        (work / "params.json").write_text(_json(params))
        (work / "metrics.json").write_text(_json({"status": outcome.status, **outcome.metrics}))
        for kind, series in outcome.latencies.items():
            if series.intervals:
                series.write_hlog(work / f"{kind}.hlog", outcome.measure_start_epoch_s, f"eosbench {kind} latency, cell {planned.cell_id} r{planned.repetition}")
        for role, text in outcome.tracebacks.items():  # what --debug would have shown, kept with the cell
            (work / f"{role}.traceback").write_text(text)
        for role, log in outcome.client_logs.items():  # librdkafka's own lines, never the terminal's
            if log.lines:
                footer = [f"... {log.dropped:,} more lines not kept"] if log.dropped else []
                (work / f"{role}.log").write_text("\n".join(log.lines + footer) + "\n")
        with open(work / "lag.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(outcome.lag_columns)
            writer.writerows(outcome.lag_rows)
        if final.exists():  # an unfinished earlier attempt cannot exist (rename is atomic); a finished one is kept
            shutil.rmtree(work)
            raise BadInput(f"cell {planned.cell_id} r{planned.repetition} was already written")
        os.rename(work, final)
        return final

    def cells(self) -> list[dict]:
        """Every finished cell repetition: params and metrics, in run order.

        A damaged file is refused with one line naming it: a figure computed from half a cell
        would be wrong without saying so.
        """
        out = [self.cell(cell_dir) for cell_dir in (self.directory / "cells").glob("*/r*") if cell_dir.is_dir()]
        return sorted(out, key=lambda c: c["params"]["ordinal"])

    def cell(self, cell_dir: Path) -> dict:
        """One finished cell repetition: {"params", "metrics", "dir"}."""
        params = _read_json(cell_dir / "params.json", "cell's parameters")
        metrics = _read_json(cell_dir / "metrics.json", "cell's metrics")
        for key, kind in _PARAMS_SHAPE.items():
            if not isinstance(params.get(key), kind):
                raise _damaged(cell_dir / "params.json", f"'{key}' is missing or not a {kind.__name__}")
        if not isinstance(metrics.get("status"), str):
            raise _damaged(cell_dir / "metrics.json", "'status' is missing")
        wrong = _misshapen(metrics)
        if wrong:
            raise _damaged(cell_dir / "metrics.json", wrong)
        return {"params": params, "metrics": metrics, "dir": cell_dir}

    def latency_intervals(self, cell_dir: Path, kind: str) -> dict[float, HdrHistogram]:
        """A cell repetition's interval histograms of one latency kind (empty when it has none)."""
        path = Path(cell_dir) / f"{kind}.hlog"
        if not path.exists():
            return {}
        try:
            return read_intervals(path)
        except Exception as exc:  # hdrh raises what its decoders raise (binascii, zlib, struct, index errors)
            raise _damaged(path, f"not an HdrHistogram log: {type(exc).__name__}") from None

    def lag(self, cell_dir: Path) -> pd.DataFrame:
        """A cell repetition's lag samples (empty when the sampler recorded none)."""
        path = Path(cell_dir) / "lag.csv"
        try:
            frame = pd.read_csv(path)
        except FileNotFoundError:
            return pd.DataFrame(columns=list(LAG_COLUMNS))
        except pd.errors.EmptyDataError:
            return pd.DataFrame(columns=list(LAG_COLUMNS))
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise _damaged(path, str(exc).splitlines()[0]) from None
        missing = [c for c in _LAG_REQUIRED if c not in frame.columns]
        if missing:
            raise _damaged(path, f"no column {missing[0]}")
        numeric = [c for c in frame.columns if c not in ("phase", "group", "topic")]
        if len(frame) and not all(pd.api.types.is_numeric_dtype(frame[c]) for c in numeric):
            raise _damaged(path, "a sample that is not a number")
        return frame

    def write_json(self, name: str, data: Any) -> None:
        """A derived file of the run (model.json), replaced atomically."""
        write_atomically(self.directory / f"{name}.json", _json(data))

    def write_table(self, name: str, frame) -> None:
        """A summary table as CSV (and parquet for summary), replaced atomically."""
        write_atomically(self.directory / f"{name}.csv", frame.to_csv(index=False))
        if name == "summary":
            tmp = self.directory / ".summary.parquet.tmp"
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, self.directory / "summary.parquet")


def _damaged(path: Path, why: str) -> BadInput:
    remedy = ("restore it from a copy" if path.name == "manifest.json"
              else "restore it, or delete that cell's directory and run again with --resume")
    return BadInput(f"{path} is damaged ({why}): {remedy}")


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"{path} is missing: the {what} of this run cannot be read") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _damaged(path, str(exc)) from None
    if not isinstance(data, dict):
        raise _damaged(path, f"a JSON {type(data).__name__}, not an object")
    return data


# What a cell's metrics.json holds: a number (or null) under every key but these. A run is
# read against it, so a damaged figure is named instead of computed with.
_METRIC_TEXT = frozenset({"status", "loop", "behind_schedule", "generator_reason", "lag_error", "e2e_refused"})
_METRIC_FLAGS = frozenset({"generator_bound"})
_METRIC_NUMBER_TABLES = frozenset({"produce", "e2e", "commit", "send_delay", "cpu_s", "client_cpu_us_per_record",
                                   "out_of_range", "requests_per_1k", "records_by_schema_id"})  # name -> number (a latency: percentile -> ms)
_METRIC_OBJECTS = frozenset({"client_log_counts", "generator_thread", "resources", "turns", "capacity",
                             "placement", "clock", "agents"})  # the last three: a cell run over Trogdor agents
_METRIC_LISTS = frozenset({"schema_versions"})  # an Avro cell's schema versions, one object each


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(name: str) -> str:
    """A key of a damaged file, on one line."""
    return json.dumps(name)[1:-1]


def _not_finite(value: Any, where: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"'{_shown(where)}' is {value}, not a finite number"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return next((found for key, v in items if (found := _not_finite(v, f"{where}.{key}"))), None)


def _misshapen(metrics: dict) -> str | None:
    """What in a cell's metrics does not have its declared type, or is not a finite number; None if all do."""
    for key, value in metrics.items():
        if value is None:
            continue
        wanted, kind = (("text", str) if key in _METRIC_TEXT else ("true or false", bool) if key in _METRIC_FLAGS
                        else ("an object", dict) if key in _METRIC_NUMBER_TABLES | _METRIC_OBJECTS
                        else ("a list", list) if key in _METRIC_LISTS else ("a number", None))
        if not (isinstance(value, kind) if kind else _is_number(value)):
            return f"'{_shown(key)}' is {json.dumps(value)[:40]}, not {wanted}"
        if key in _METRIC_NUMBER_TABLES:
            bad = next((k for k, v in value.items() if v is not None and not _is_number(v)), None)
            if bad is not None:
                return f"'{_shown(key)}.{_shown(bad)}' is {json.dumps(value[bad])[:40]}, not a number"
        found = _not_finite(value, key)
        if found:
            return found
    return None


# What every finished cell's params.json holds, whatever the schema version.
_PARAMS_SHAPE = {"cell_id": str, "repetition": int, "ordinal": int, "mode": str, "topics": list}
_LAG_REQUIRED = ("t_s", "phase", "topic", "partition", "hw_lag", "lso_lag")  # older runs lack the rest

# Loaders for older result formats, keyed by the version they upgrade from (pyperf's lesson).
_MIGRATIONS: dict[int, Any] = {}


def migrate(manifest: dict, path: Path) -> dict:
    version = manifest.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadInput(f"{path} has no schema_version: not an eosbench run")
    if version < 1 or (version < SCHEMA_VERSION and version not in _MIGRATIONS):
        raise BadInput(f"{path} has schema_version {version}, which no eosbench wrote: the manifest is damaged")
    if version > SCHEMA_VERSION:
        raise BadInput(f"{path} was written by a newer eosbench (schema {version}, this one reads up to {SCHEMA_VERSION}): upgrade eosbench")
    while version < SCHEMA_VERSION:
        manifest = _MIGRATIONS[version](manifest)
        version = manifest["schema_version"]
    return manifest
