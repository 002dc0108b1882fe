"""The embedded broker really does transactions: read_committed sees only what was committed."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer

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
