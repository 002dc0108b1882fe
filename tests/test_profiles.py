"""Profiles are validated strictly: every mistake is one line naming key and file, exit 2,
and nothing is written under results/."""

import textwrap

import pytest

from bench import profile as profiles
from bench.errors import BadInput
from bench.sweep import plan
from tests.conftest import REPO, eosbench

GOOD = """
description: test
workload: {topology: produce, partitions: 1, warmup_s: 0, duration_s: 1}
sweep:
  mode: [at_least_once, idempotent, transactional]
  transaction_size: [10, 100]
  partitions: [1, 4]
repeat: 2
baseline: at_least_once
"""


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


BAD = {
    "unknown top-level key": ("unknown key 'repeats'", GOOD.replace("repeat: 2", "repeats: 2")),
    "unknown workload key": ("unknown key 'workload.partitons'", GOOD.replace("partitions: 1,", "partitons: 1,")),
    "misspelled mode": ("'sweep.mode' must be one of", GOOD.replace("idempotent]", "idempotant]").replace("idempotent,", "idempotant,")),
    "empty sweep list": ("'sweep.partitions' must be a non-empty list", GOOD.replace("partitions: [1, 4]", "partitions: []")),
    "repeat zero": ("'repeat' must be a whole number >= 1", GOOD.replace("repeat: 2", "repeat: 0")),
    "string for a number": ("'workload.duration_s' must be a number > 0, not 'ten'", GOOD.replace("duration_s: 1", "duration_s: ten")),
    "duplicate key": ("duplicate key 'repeat'", GOOD + "repeat: 3\n"),
    "not YAML": ("is not valid YAML", "workload: {topology: [produce\n"),
    "not a mapping": ("a profile is a mapping", "- just\n- a list\n"),
    "negative rate": ("'workload.rate' must be 'max' or a number", GOOD.replace("partitions: 1,", "partitions: 1, rate: -5,")),
    "transaction_size zero": ("'sweep.transaction_size' must be a whole number >= 1", GOOD.replace("[10, 100]", "[0, 100]")),
    "baseline not run": ("'baseline' 'at_most_once' is not among", GOOD.replace("baseline: at_least_once", "baseline: at_most_once")),
    "mode without its topology": ("mode exactly_once_v2 cannot run in topology produce", GOOD.replace("transactional]", "exactly_once_v2]")),
    "three brokers wanted as two": ("'kafka.brokers' must be 1 or 3", GOOD + "kafka: {brokers: 2}\n"),
    "message larger than Kafka accepts": ("larger than a Kafka broker accepts", GOOD.replace("partitions: 1,", "partitions: 1, message_size: 2000000,")),
    "unknown fault": ("'faults[0].kind' must be one of", GOOD + "faults: [{kind: nuke, at_s: 1}]\n"),
}


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_profile_is_refused_with_one_line_and_nothing_written(tmp_path, kind):
    says, text = BAD[kind]
    path = write(tmp_path, text)
    results = tmp_path / "results"
    for args in (["validate", str(path)], ["run", str(path), "--results-dir", str(results)]):
        result = eosbench(*args)
        assert result.returncode == 2, (kind, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and str(path) in lines[0], (kind, lines)
    assert not results.exists()


def test_a_missing_profile_file_is_named(tmp_path):
    result = eosbench("run", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml does not exist" in result.stderr


def test_a_parameter_that_does_not_apply_to_a_mode_does_not_multiply_its_cells(tmp_path):
    cells = plan(profiles.load(write(tmp_path, GOOD)))
    ids = [c.cell_id for c in cells if c.repetition == 1]
    assert ids == [
        "at_least_once-p1", "idempotent-p1", "transactional-ts10-p1",
        "at_least_once-p4", "idempotent-p4", "transactional-ts10-p4",
        "transactional-ts100-p1", "transactional-ts100-p4",
    ]
    assert len(cells) == 2 * len(ids)
    assert {c.spec.transaction_size for c in cells if c.spec.mode != "transactional"} == {None}


def test_interleaved_runs_every_cell_before_the_next_repetition_and_sequential_repeats_in_place(tmp_path):
    interleaved = plan(profiles.load(write(tmp_path, GOOD)))
    assert [c.repetition for c in interleaved] == [1] * 8 + [2] * 8
    sequential = plan(profiles.load(write(tmp_path, GOOD + "order: sequential\n")))
    assert [c.repetition for c in sequential][:4] == [1, 2, 1, 2]
    assert [c.ordinal for c in sequential] == list(range(1, 17))


def test_set_overrides_workload_sweep_and_top_level_keys(tmp_path):
    p = profiles.load(write(tmp_path, GOOD), ["rate=500", "mode=transactional", "repeat=1", "kafka.version=4.0.0", "sweep.partitions=[2]"])
    assert p.workload["rate"] == 500
    assert p.sweep["mode"] == ["transactional"] and p.sweep["partitions"] == [2]
    assert p.repeat == 1 and p.kafka_versions == ("4.0.0",)
    assert profiles.load(write(tmp_path, GOOD), ["client.security.protocol=SASL_SSL"]).client == {"security.protocol": "SASL_SSL"}
    with pytest.raises(BadInput, match="must be 'max' or a number"):
        profiles.load(write(tmp_path, GOOD), ["rate=fast"])


@pytest.mark.parametrize("shipped", sorted((REPO / "profiles").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_profile_is_valid_and_described(shipped):
    result = eosbench("validate", str(shipped))
    assert result.returncode == 0, result.stderr
    assert profiles.load(shipped).description.strip()


def test_several_kafka_versions_run_in_blocks_that_alternate_every_repetition(tmp_path):
    p = profiles.load(write(tmp_path, GOOD), ["sweep.transaction_size=[10]", "sweep.partitions=[1]"], kafka_version="4.0.0,4.1.1")
    cells = plan(p)
    blocks = [(c.repetition, c.kafka_version) for c in cells]
    assert blocks == [(1, "4.0.0")] * 3 + [(1, "4.1.1")] * 3 + [(2, "4.1.1")] * 3 + [(2, "4.0.0")] * 3
    assert cells[0].cell_id == "at_least_once-p1-k4.0.0" and cells[2].cell_id == "transactional-ts10-p1-k4.0.0"
    with pytest.raises(BadInput, match="distinct versions"):
        profiles.load(write(tmp_path, GOOD + "kafka: {version: ['4.1.1', '4.1.1']}\n"))
