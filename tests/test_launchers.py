"""Roles join a cell through a launcher: spawned Python processes, or any child process that speaks
the role protocol as JSON lines on stdin/stdout (how a JVM role or a remote generator joins)."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from bench.cell.phases import run_cell
from bench.cell.spec import CellSpec, Target
from bench.errors import CellFailed
from bench.roles.launcher import CommandLauncher, SpawnLauncher
from bench.roles.protocol import (ROLES, ClientLogResult, ConsumerResult, DrainOrder, Kind, LagSpec, LagTarget, ProducerResult,
                                  ProducerSpec, RoleError, Timeline, from_json_line, read_spec, spec_line, to_json_line)

LOG = ClientLogResult(["12:00:00.000 ERROR FAIL"], {"ERROR/FAIL": 1}, 0)


@pytest.mark.parametrize("kind, payload, result_type", [
    (Kind.RESULT, ProducerResult(0, bytes([1, 1, 2, 3]), 4, 1.5, 2, 2, 0, 1, 1, 0, 0.5, 0.7, 0.0,
                                 {"produce": {"intervals": {0: "HISTFAA"}, "out_of_range": 0}}, LOG), ProducerResult),
    (Kind.GO, Timeline(1, 2, 3, 4.5), None),
    (Kind.DRAIN, DrainOrder(10, 5.0, 900.0), None),
    (Kind.ERROR, RoleError("KafkaException: boom", "Traceback ..."), None),
    (Kind.ROWS, [[0.0, "measure", "g", "t", 0, 1, 2, 2, 1, 1, 1, 0.5]], None),
    (Kind.PROGRESS, 1234, None),
])
def test_every_message_survives_a_json_line(kind, payload, result_type):
    line = to_json_line(kind, payload)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    decoded_kind, decoded = from_json_line(line[:-1], result_type)
    assert decoded_kind is kind
    if kind is Kind.RESULT:  # histogram seconds travel as JSON keys (strings): LatencySeries.merge takes either
        assert decoded.states == payload.states and decoded.client_log == payload.client_log and decoded.sent == 4
    else:
        assert decoded == payload


def test_received_ids_keep_their_producer_numbers_and_values():
    result = ConsumerResult({0: np.array([0, 1, 1, 5]), 3: np.array([2**40])}, 5, False, 5, 0.1, {}, LOG)
    _, decoded = from_json_line(to_json_line(Kind.RESULT, result), ConsumerResult)
    assert set(decoded.ids) == {0, 3}
    assert decoded.ids[0].tolist() == [0, 1, 1, 5] and decoded.ids[3].tolist() == [2**40]


def test_a_spec_with_nested_parts_survives_its_line():
    spec = LagSpec("lag-sampler", {"bootstrap.servers": "x"}, 3, [LagTarget("g", "t")])
    assert read_spec(spec_line(spec), ROLES["lag"]) == spec


def test_a_field_the_contract_does_not_know_is_refused():
    with pytest.raises(ValueError, match="no field 'surprise'"):
        from_json_line(b'{"kind":"go","payload":{"start_ns":1,"measure_start_ns":2,"measure_end_ns":3,"epoch_offset_s":0,"surprise":1}}')


@pytest.mark.parametrize("launcher", [SpawnLauncher(), CommandLauncher()], ids=["spawned", "json-lines"])
def test_a_role_that_cannot_start_reports_its_error_and_traceback(launcher):
    spec = ProducerSpec("producer-0", {"bootstrap.servers": "127.0.0.1:1", "linger.ms": "-5"}, "t", 0, 0, 10, None, None, None, 0.0)
    role = launcher.start("producer-0", ROLES["producer"], spec)
    try:
        with pytest.raises(CellFailed) as failure:
            role.expect(Kind.READY, 60)
    finally:
        role.kill()
    assert "queue.buffering.max.ms\" value -5" in str(failure.value) and failure.value.role == "producer-0"
    assert "Traceback" in failure.value.traceback and "KafkaException" in failure.value.traceback


@pytest.mark.parametrize("command, problem", [
    ([sys.executable, "-c", "pass"], "exited (code 0) before 'ready'"),
    ([sys.executable, "-c", "print('hello')"], "not a message of eosbench's role protocol"),
], ids=["exits", "speaks-no-protocol"])
def test_a_child_that_is_not_a_role_fails_the_cell_with_one_line(command, problem):
    role = CommandLauncher(lambda role: command).start("consumer", ROLES["consumer"], None)
    try:
        with pytest.raises(CellFailed, match=re.escape(problem)):
            role.expect(Kind.READY, 30)
    finally:
        role.kill()


@pytest.mark.broker
def test_a_cell_whose_roles_speak_json_lines_accounts_for_every_record(bootstrap_servers):
    spec = CellSpec("transactional", partitions=2, message_size=100, rate=2000, warmup_s=0.5, duration_s=2, abort_ratio=0.2)
    outcome = run_cell(spec, Target(bootstrap_servers), 1, "test-json-lines", launcher=CommandLauncher())
    m = outcome.metrics
    assert outcome.status == "ok", outcome.status
    assert m["acked"] > 0 and m["aborted"] > 0 and m["aborts_on_purpose"] > 0
    assert m["consumed"] == m["acked"] and m["duplicates"] == m["lost"] == m["unexpected"] == 0
    assert m["e2e"]["count"] > 0 and m["commit"]["count"] > 0
    assert set(m["cpu_s"]) == {"producer-0", "consumer", "lag-sampler"}
    assert outcome.lag_rows, "the lag sampler's rows arrive over JSON lines too"
