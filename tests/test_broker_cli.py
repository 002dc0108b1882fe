"""`eosbench broker`: lifecycle, cluster sizes, versions, and one-line errors for bad input."""

import time
import uuid

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicCollection
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic

from tests.conftest import eosbench


@pytest.fixture
def own_state(tmp_path):
    """A private state directory so these brokers never meet the session's or the user's."""
    env = {"EOSBENCH_STATE_DIR": str(tmp_path)}
    yield env
    eosbench("broker", "down", env=env)


@pytest.mark.broker
def test_up_twice_is_harmless_and_down_leaves_nothing_behind(own_state, tmp_path):
    first = eosbench("broker", "up", env=own_state)
    assert first.returncode == 0, first.stderr
    bootstrap = first.stdout.strip()
    assert bootstrap.startswith("127.0.0.1:")

    second = eosbench("broker", "up", env=own_state)
    assert second.returncode == 0 and second.stdout.strip() == bootstrap
    assert "already running" in second.stderr

    status = eosbench("broker", "status", env=own_state)
    assert "Kafka 4.1.1" in status.stdout and "1/1 broker(s) running" in status.stdout
    assert "INFO" in eosbench("broker", "logs", env=own_state).stdout

    quota = ("--entity-type", "clients", "--entity-name", "eosbench-transactional-producer")
    planted = eosbench("broker", "tool", "kafka-configs", "--alter", *quota, "--add-config", "producer_byte_rate=1048576", env=own_state)
    assert planted.returncode == 0, planted.stderr
    described = eosbench("broker", "tool", "kafka-configs", "--describe", *quota, env=own_state)
    assert "producer_byte_rate=1048576" in described.stdout

    down = eosbench("broker", "down", env=own_state)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not list((tmp_path / "clusters").iterdir()), "data directory left behind"
    again = eosbench("broker", "down", env=own_state)
    assert again.returncode == 0 and "no embedded broker is running" in again.stdout
    orphan_tool = eosbench("broker", "tool", "kafka-topics", "--list", env=own_state)
    assert orphan_tool.returncode == 3 and "no embedded broker is running" in orphan_tool.stderr


def _described_config(admin: AdminClient, resource: ConfigResource) -> dict:
    """The topic's configuration, once the broker asked knows the topic: a new topic reaches the
    other brokers' metadata caches a moment after the controller confirms it."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return admin.describe_configs([resource])[resource].result(30)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.broker
def test_three_brokers_accept_transactional_writes_with_min_insync_replicas_two_by_default(own_state):
    up = eosbench("broker", "up", "--brokers", "3", env=own_state)
    assert up.returncode == 0, up.stderr
    bootstrap = up.stdout.strip()
    assert len(bootstrap.split(",")) == 3
    name = f"rf3-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 3, 3)])[name].result(30)  # no topic-level setting: the cluster's default applies
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    isr = _described_config(admin, resource)["min.insync.replicas"]
    assert isr.value == "2" and isr.source != ConfigSource.DYNAMIC_TOPIC_CONFIG.value  # a cluster default, not the topic's

    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": name, "acks": "all"})
    producer.init_transactions(60)
    producer.begin_transaction()
    for i in range(100):
        producer.produce(name, value=str(i).encode(), partition=i % 3)
    producer.commit_transaction(60)

    described = admin.describe_topics(TopicCollection([name]))[name].result(30)
    assert all(len(p.replicas) == 3 for p in described.partitions)


@pytest.mark.broker
@pytest.mark.network
def test_the_oldest_supported_kafka_runs_and_status_reports_it(own_state):
    """3.9, the last 3.x line: ready means a transactional producer completed init_transactions()."""
    up = eosbench("broker", "up", "--kafka-version", "3.9.1", env=own_state)
    assert up.returncode == 0, up.stderr
    assert "Kafka 3.9.1" in eosbench("broker", "status", env=own_state).stdout


@pytest.mark.parametrize("args, env, code, says", [
    (["--kafka-version", "9.9.9"], {}, 2, "does not exist on Maven Central"),
    (["--kafka-version", "banana"], {}, 2, "is not a Kafka version"),
    (["--kafka-version", "3.8.1"], {}, 2, "is not supported: the embedded broker runs Kafka 3.9 or later"),
    (["--brokers", "2"], {}, 2, "must be 1 or 3"),
    (["--storage", "ssd"], {}, 2, "'ssd' is not one of 'disk', 'memory'"),
    (["--kafka-home", "/tmp"], {}, 2, "is not a Kafka distribution"),
    ([], {"PATH": "/nonexistent", "JAVA_HOME": ""}, 3, "no java found"),
])
def test_bad_input_gets_one_line_and_the_documented_exit_code(own_state, args, env, code, says):
    result = eosbench("broker", "up", *args, env={**own_state, **env})
    assert result.returncode == code
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
