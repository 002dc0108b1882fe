"""serialization avro: Avro order events through a real schema registry (the embedded Apicurio
Registry that eosbench starts itself), its schema faults accounted for exactly, and the bad inputs
around it refused with one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench import schemas
from bench.analysis import summary
from bench.cell.derive import schema_checks
from bench.cell.spec import CellSpec
from bench.errors import BadInput
from bench.registry.embedded import Registry
from bench.registry.target import RegistryTarget, connect, redact_url
from bench.roles.protocol import ClientLogResult, ConsumerResult, ProducerResult, SchemaUse

from tests.conftest import LOOPBACK, eosbench, listening_addresses


@pytest.mark.parametrize("size", [schemas.minimum_size(), 100, 1024, 10_240])
def test_every_avro_value_is_exactly_message_size_bytes_in_every_schema_version(size):
    for version in schemas.SCHEMAS:
        sizes = {schemas.WIRE_HEADER + schemas.encoded_size(t, version) for t in schemas.templates(version, size)}
        assert sizes == {size}, (version, sizes)


def test_a_refused_schema_read_back_and_an_unknown_schema_id_break_the_guarantee():
    """Negative control of the enforcement check: plant, in the reader's account, one record of the
    refused batch and records under a schema id no producer was given."""
    states = np.full(300, 1, dtype=np.uint8)
    states[100:150] = 2  # FAILED: the batch tried with the refused schema
    producer = ProducerResult(0, states.tobytes(), 300, 1.0, 250, 250, 0, 0, 0, 0, 0.1, 0.1, 0.0, {}, ClientLogResult([], {}, 0),
                              schemas=[SchemaUse(1, None, 7, None, 0, 100), SchemaUse(3, 2.0, None, "HTTP 409", 100, 50),
                                       SchemaUse(1, None, 7, None, 150, 150)])
    clean = ConsumerResult({0: np.r_[0:100, 150:300]}, 250, False, 250, 0.1, {}, ClientLogResult([], {}, 0), schema_ids={7: 250})
    planted = ConsumerResult({0: np.r_[0:101, 150:300]}, 251, False, 251, 0.1, {}, ClientLogResult([], {}, 0),
                             schema_ids={7: 250, 9: 1})
    spec = CellSpec(mode="at_least_once", serialization="avro")
    assert schema_checks(spec, [producer], clean)["schema_refused_written"] == 0
    found = schema_checks(spec, [producer], planted)
    assert found["schema_refused_written"] == 1 and found["schema_foreign_records"] == 1 and found["schema_refused_records"] == 50
    row = {"cell_id": "c", "repetition": 1, "mode": "at_least_once", "duplicates": 0, "lost": 0, "unexpected": 1, **found}
    broken = summary.broken_guarantees(pd.DataFrame([row]))
    assert any("refused were read" in line for line in broken) and any("no producer was given" in line for line in broken)


def test_the_schema_layer_is_priced_per_mode_and_as_a_stack_paired_by_repetition():
    from bench.analysis.serialization import avro_against_bytes

    rows = []
    for rep, drift in ((1, 1.0), (2, 0.8), (3, 1.1)):  # the machine drifts; the pairs cancel it
        for mode, serialization, msgs in (("at_least_once", "bytes", 100_000), ("at_least_once", "avro", 50_000),
                                          ("transactional", "bytes", 80_000), ("transactional", "avro", 40_000)):
            rows.append({"cell_id": f"{mode}-{serialization}", "repetition": rep, "mode": mode, "topology": "produce",
                         "serialization": serialization, "transaction_size": 100 if mode == "transactional" else None,
                         "status": "ok", "throughput_msgs": msgs * drift, "e2e_p99_ms": 10.0,
                         "producer_cpu_us_per_record": 3.0 if serialization == "bytes" else 12.0})
    table = avro_against_bytes(pd.DataFrame(rows), "at_least_once").set_index(["contrast", "cell"])
    assert table.loc[("avro vs bytes", "at_least_once-avro"), "overhead_pct"] == pytest.approx(50)
    assert table.loc[("avro vs bytes", "transactional-avro"), "overhead_pct"] == pytest.approx(50)
    stack = table.loc[("transactional + avro vs at_least_once + bytes", "transactional-avro")]
    assert stack["overhead_pct"] == pytest.approx(60) and stack["base_cell"] == "at_least_once-bytes" and stack["pairs"] == 3
    assert stack["base_producer_cpu_us"] == 3.0 and stack["producer_cpu_us"] == 12.0
    assert len(table) == 3


def test_registry_credentials_never_reach_what_is_recorded():
    target = RegistryTarget({"url": "https://alice:s3cret@registry.example:8081", "basic.auth.user.info": "alice:s3cret"})
    recorded = json.dumps(target.describe())
    assert "s3cret" not in recorded and "alice" not in recorded
    assert redact_url("http://registry:8081") == "http://registry:8081"


@pytest.mark.parametrize("url, shown", [
    ("https://alice:p@ss@registry:8081/api", "https://[redacted]@registry:8081/api"),  # a password holding '@'
    ("https://alice:pa/ss@registry:8081", "https://[redacted]@registry:8081"),        # ... or '/'
    ("alice:s3cret@registry:8081", "[redacted]@registry:8081"),                        # no scheme
    ("https://registry:8081/apis?token=s3cret&tenant=t", "https://registry:8081/apis?token=[redacted]&tenant=[redacted]"),
    ("https://registry:8081/apis/ccompat/v7", "https://registry:8081/apis/ccompat/v7"),  # nothing to hide: kept whole
])
def test_a_registry_url_is_shown_without_any_credential_it_holds(url, shown):
    assert redact_url(url) == shown


def test_a_registry_url_refused_for_its_form_is_named_without_its_password():
    with pytest.raises(BadInput) as refused:
        connect("alice:s3cret@registry:8081", {})
    assert "s3cret" not in str(refused.value) and "[redacted]@registry:8081" in str(refused.value)


def _profile(tmp_path: Path, **workload) -> Path:
    path = tmp_path / "avro.yaml"
    path.write_text(yaml.safe_dump({
        "description": "avro", "workload": {"message_size": 1024, "warmup_s": 1, "duration_s": 3, "serialization": "avro", **workload},
        "repeat": 1, "warmup_max_s": 0}))
    return path


def test_serialization_json_is_refused_with_one_line(tmp_path):
    result = eosbench("validate", str(_profile(tmp_path, serialization="json")))
    assert result.returncode == 2 and "'workload.serialization' must be bytes or avro, not 'json'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_avro_where_eosbench_has_no_avro_serializer_is_refused(tmp_path):
    result = eosbench("validate", str(_profile(tmp_path, mode="streams_exactly_once_v2", topology="process")))
    assert result.returncode == 2 and "serialization avro" in result.stderr and "Kafka Streams" in result.stderr
    result = eosbench("validate", str(_profile(tmp_path, message_size=50)))
    assert result.returncode == 2 and f"at least {schemas.minimum_size()} with serialization avro" in result.stderr


def test_an_unreachable_schema_registry_is_one_line_and_exit_3_before_anything_is_written(tmp_path):
    result = eosbench("run", str(_profile(tmp_path)), "--schema-registry", "http://127.0.0.1:9/apis/ccompat/v7",
                      "--results-dir", str(tmp_path / "results"))
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines() == [l for l in result.stderr.strip().splitlines() if "cannot reach a schema registry" in l]
    assert not (tmp_path / "results").exists()


def test_no_java_21_for_the_embedded_registry_is_one_line_and_exit_3(tmp_path):
    java17 = next(p for p in Path("/usr/lib/jvm").glob("*17*") if (p / "bin" / "java").exists())
    result = eosbench("registry", "up", env={"JAVA_HOME": str(java17), "EOSBENCH_JVM_DIRS": str(tmp_path),
                                             "EOSBENCH_STATE_DIR": str(tmp_path / "state")})
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1 and "needs Java 21+ and none was found" in result.stderr


@pytest.mark.network  # Apicurio Registry comes from Maven Central the first time
def test_registry_up_serves_the_confluent_api_on_loopback_only_until_down(tmp_path):
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    env = {"EOSBENCH_STATE_DIR": str(tmp_path)}
    up = eosbench("registry", "up", env=env)
    try:
        assert up.returncode == 0, up.stderr
        url = up.stdout.strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/apis/ccompat/v7")
        assert "ready in" in up.stderr
        client = SchemaRegistryClient({"url": url})
        assert client.get_subjects() == []
        # version 3 of the order event is what FULL refuses and the registry's default (BACKWARD) lets through
        for subject, compatibility in (("default-value", None), ("full-value", "FULL")):
            if compatibility:
                client.set_compatibility(subject, compatibility)
            client.register_schema(subject, Schema(schemas.schema_text(1), "AVRO"))
            if compatibility:
                with pytest.raises(SchemaRegistryError) as refused:
                    client.register_schema(subject, Schema(schemas.schema_text(schemas.INCOMPATIBLE), "AVRO"))
                assert refused.value.http_status_code == 409
                client.register_schema(subject, Schema(schemas.schema_text(schemas.COMPATIBLE), "AVRO"))
            else:
                client.register_schema(subject, Schema(schemas.schema_text(schemas.INCOMPATIBLE), "AVRO"))
            assert len(client.get_versions(subject)) == 2
        state = json.loads((tmp_path / "registry.json").read_text())
        assert listening_addresses(state["pid"]) <= LOOPBACK, "the registry listens beyond 127.0.0.1"
        status = eosbench("registry", "status", env=env)
        assert f"url: {url}" in status.stdout
    finally:
        down = eosbench("registry", "down", env=env)
    assert "stopped Apicurio Registry" in down.stdout
    assert not Registry(**state).is_running() and not (tmp_path / "registry.json").exists()


@pytest.mark.broker
@pytest.mark.network
def test_avro_cells_price_the_schema_layer_and_keep_a_refused_schema_out_of_the_topic(bootstrap_servers, tmp_path):
    from confluent_kafka import Consumer

    profile = tmp_path / "avro.yaml"
    profile.write_text(yaml.safe_dump({
        "description": "schema layer",
        "workload": {"mode": "transactional", "message_size": 512, "partitions": 2, "warmup_s": 1, "duration_s": 3,
                     "transaction_size": 500},
        "sweep": {"serialization": ["bytes", "avro"]}, "repeat": 1, "warmup_max_s": 0,
        "faults": [{"kind": "schema_change", "at_s": 0.5, "compatible": True},
                   {"kind": "schema_change", "at_s": 1.0, "compatible": False},
                   {"kind": "registry_pause", "at_s": 1.5, "duration_s": 1}]}))
    result = eosbench("run", str(profile), "--bootstrap-servers", bootstrap_servers, "--results-dir", str(tmp_path), "--run-id", "avro",
                      "--keep-topics")
    assert result.returncode == 0, result.stderr
    assert "schema registry: Apicurio Registry 3.3.3 at http://127.0.0.1:" in result.stderr
    manifest = json.loads((tmp_path / "avro" / "manifest.json").read_text())
    assert manifest["schema_registry"]["embedded"] and manifest["schema_registry"]["start_s"] > 0
    assert "avro vs bytes" in result.stdout
    frame = pd.read_csv(tmp_path / "avro" / "summary.csv")
    assert (frame["status"] == "ok").all() and (frame["duplicates"] == 0).all() and (frame["lost"] == 0).all()
    assert (frame["unexpected"] == 0).all() and (frame["torn_transactions"] == 0).all()  # a refused batch tears no transaction
    avro = frame[frame["serialization"] == "avro"]
    assert len(avro) == 1 and (avro["schema_refused_records"] > 0).all()
    assert (avro["schema_refused_written"] == 0).all() and (avro["schema_foreign_records"] == 0).all()
    assert (avro["undecodable"] == 0).all() and (avro["serialize_errors"] == 0).all()
    assert (avro["registry_outage_records"] > 0).all(), "records stopped while the registry was frozen"
    assert (frame.loc[frame["serialization"] == "bytes", "schema_refused_records"].isna()).all()
    for cell in avro["cell_id"]:
        metrics = json.loads((tmp_path / "avro" / "cells" / cell / "r1" / "metrics.json").read_text())
        versions = {v["version"]: v for v in metrics["schema_versions"]}
        assert versions[2]["schema_id"] and versions[2]["records"] > 0 and versions[3]["schema_id"] is None
        assert "409" in versions[3]["refused"]
        read = {int(k): v for k, v in metrics["records_by_schema_id"].items()}
        assert set(read) == {versions[1]["schema_id"], versions[2]["schema_id"]}  # the refused schema has no id to be read under
        assert sum(read.values()) == metrics["consumed"] == metrics["acked"]
    # the kept topic and subject: FULL compatibility, versions 1 and 2 only, values of exactly message_size bytes
    params = json.loads((tmp_path / "avro" / "cells" / avro["cell_id"].iloc[0] / "r1" / "params.json").read_text())
    topic = params["topics"][0]
    assert not (Path(os.environ["EOSBENCH_STATE_DIR"]) / "runs" / "avro" / "registry.json").exists(), "the run's registry outlived it"
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"check-{topic}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values = [m.value() for m in consumer.consume(200, 20) if m.error() is None]
    consumer.close()
    assert values and {len(v) for v in values} == {512} and {v[0] for v in values} == {0}  # Confluent wire format
