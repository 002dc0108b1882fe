"""The embedded broker really does transactions: read_committed sees only what was committed."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from bench.roles import client_errors_unmasked

pytestmark = pytest.mark.broker


def _read_all(bootstrap: str, topic: str, isolation: str, expected: int) -> list[bytes]:
    """Everything the consumer gets: until `expected` arrived, then two more seconds for extras."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest", "isolation.level": isolation, "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            values.append(msg.value())
        if len(values) >= expected:
            deadline = min(deadline, time.monotonic() + 2)
    consumer.close()
    return values


def test_read_committed_sees_only_committed_records_while_read_uncommitted_sees_both(bootstrap_servers, topic):
    producer = Producer({"bootstrap.servers": bootstrap_servers, "transactional.id": f"t-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, value=f"committed-{i}".encode())
    producer.commit_transaction(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, value=f"aborted-{i}".encode())
    producer.flush(30)
    producer.abort_transaction(30)

    committed = _read_all(bootstrap_servers, topic, "read_committed", 5)
    everything = _read_all(bootstrap_servers, topic, "read_uncommitted", 8)

    assert sorted(committed) == [f"committed-{i}".encode() for i in range(5)]
    assert sorted(everything) == sorted([f"committed-{i}".encode() for i in range(5)] + [f"aborted-{i}".encode() for i in range(3)])


def _fenced_mid_transaction(bootstrap: str, topic: str) -> Producer:
    """A transactional producer with records of an open transaction in flight, fenced off by a
    newer instance with its transactional.id: its next produce request meets the fence."""
    config = {"bootstrap.servers": bootstrap, "transactional.id": f"t-{uuid.uuid4().hex[:8]}", "linger.ms": 5}
    zombie = Producer(config)
    zombie.init_transactions(30)
    zombie.begin_transaction()
    zombie.produce(topic, value=b"before the fence")
    assert zombie.flush(30) == 0
    Producer(config).init_transactions(30)
    for i in range(100):
        zombie.produce(topic, value=b"after the fence", on_delivery=lambda err, msg: msg.value())
    return zombie


def test_a_fence_met_in_a_produce_response_reaches_the_caller_as_the_fence(bootstrap_servers, topic):
    """confluent-kafka leaves the fatal error pending while it serves the delivery reports of the
    same poll, so the first one raises SystemError; `client_errors_unmasked` gives back the fence
    that the producer role handles. Should the client stop masking it, the first half fails and
    the wrapper can go."""
    with pytest.raises(SystemError, match="returned a result with an exception set") as masked:
        _fenced_mid_transaction(bootstrap_servers, topic).flush(30)
    assert isinstance(masked.value.__cause__, KafkaException)

    with pytest.raises(KafkaException) as unmasked, client_errors_unmasked():
        _fenced_mid_transaction(bootstrap_servers, topic).flush(30)
    error = unmasked.value.args[0]
    assert error.fatal() and error.code() == KafkaError._FENCED, error
