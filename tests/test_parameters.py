"""Each workload parameter is declared once (bench/parameters.py) and everything else derives from it;
a transaction's length means one thing in both topologies."""

from __future__ import annotations

import dataclasses

import pytest

from bench import modes, parameters
from bench.cell.spec import CellSpec
from bench.errors import BadInput
from bench.parameters import DEFAULT_TRANSACTION_MS, DEFAULT_TRANSACTION_SIZE, transaction_bounds
from bench.profile import load
from bench.sweep import cell_specs


def test_the_cell_spec_has_one_field_per_declared_parameter_and_the_profiles_defaults():
    fields = {f.name: f.default for f in dataclasses.fields(CellSpec)}
    assert list(fields) == parameters.NAMES + ["faults"]
    for p in parameters.PARAMETERS[1:]:
        assert fields[p.name] == p.to_cell(p.default), p.name


def test_a_profile_without_a_workload_gets_every_declared_default(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("sweep:\n  mode: [at_least_once]\n")
    assert load(path).workload == {p.name: p.default for p in parameters.PARAMETERS}


@pytest.mark.parametrize("size, ms, bounds", [
    (None, None, (DEFAULT_TRANSACTION_SIZE, DEFAULT_TRANSACTION_MS)),  # both defaults: whichever comes first
    (1000, None, (1000, None)),   # a size alone has no time bound
    (None, 50.0, (None, 50.0)),   # an interval alone has no size bound
    (10, 5.0, (10, 5.0)),
])
def test_a_transaction_ends_at_the_first_bound_it_reaches(size, ms, bounds):
    assert transaction_bounds(size, ms) == bounds
    assert CellSpec("transactional", transaction_size=size, transaction_ms=ms).transaction_bounds() == bounds


def test_commit_parameters_shape_transactional_producers_and_every_processor_only():
    assert parameters.shapes("transaction_size", modes.MODES["transactional"], "produce")
    assert not parameters.shapes("transaction_size", modes.MODES["idempotent"], "produce")
    assert parameters.shapes("transaction_ms", modes.MODES["at_least_once"], "process")
    assert not parameters.shapes("abort_ratio", modes.MODES["exactly_once_v2"], "process")


def test_cell_ids_use_each_parameters_declared_abbreviation(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("sweep:\n  mode: [idempotent, transactional]\n  transaction_size: [10, 100]\n  rate: [max, 500]\n")
    ids = [cell_id for cell_id, _ in cell_specs(load(path))]
    # transaction_size does not multiply idempotent's cells: its second value adds no idempotent cell
    assert ids == ["idempotent-rmax", "transactional-ts10-rmax", "idempotent-r500", "transactional-ts10-r500",
                   "transactional-ts100-rmax", "transactional-ts100-r500"]


@pytest.mark.parametrize("field, value, message", [
    ("partitions", 0, "partitions must be a whole number from 1 to 4,096, not 0"),
    ("abort_ratio", 1.0, "abort_ratio must be a number in [0, 1), not 1.0"),
    ("rate", -5, "rate must be 'max', 'find' or a number >= 1"),
    ("topology", "pipeline", "topology must be produce or process, not 'pipeline'"),
])
def test_a_cell_spec_out_of_its_declared_range_is_refused(field, value, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        CellSpec("at_least_once", **{field: value}).check()


@pytest.mark.broker
@pytest.mark.parametrize("spec, most, least", [
    # neither bound given: a producer's transaction also ends after 100 ms (it had no time bound before)
    (CellSpec("transactional", message_size=100, rate=200, warmup_s=0.5, duration_s=3), None, 20),
    # a size alone: the processor commits by size only (it always added a 100 ms bound before)
    (CellSpec("exactly_once_v2", topology="process", message_size=100, rate=1000, warmup_s=0.5, duration_s=3,
              transaction_size=1000), 5, None),
], ids=["producer-default-bounds", "processor-size-alone"])
def test_producer_and_processor_end_transactions_by_the_same_rule(bootstrap_servers, spec, most, least):
    from bench.cell.phases import run_cell
    from bench.cell.spec import Target

    outcome = run_cell(spec, Target(bootstrap_servers), 1, f"test-bounds-{spec.mode}")
    assert outcome.status == "ok", outcome.status
    # 3.5 s: 100 ms bounds make ~35 transactions; 3,500 records by 1,000 make 3 or 4
    transactions = outcome.metrics["transactions"]
    assert (most is None or transactions <= most) and (least is None or transactions >= least), transactions
