"""serialization avro in the roles: confluent-kafka's AvroSerializer and AvroDeserializer with a
schema registry, on the order events of bench.schemas.

Producers serialize each record (the serializer registers its schema under `<topic>-value` on first
use and caches the id, as a deployed producer does); every reader decodes each record with the
writer schema its id names, and counts records per schema id, so a cell can say exactly which
schemas reached its topics.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from confluent_kafka import Message
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from bench import schemas
from bench.roles.protocol import SchemaUse

_REFUSED = (409, 422)  # incompatible with the subject's compatibility rule; an invalid schema
# TopicNameStrategy (`<topic>-value`), named: confluent-kafka 2.16's default (ASSOCIATED) first asks the
# registry's associations API, which Confluent Platform has and Apicurio answers 404; on the embedded
# registry a producer then hung in that request for minutes (seen twice, its cell never ended)
_SERDE = {"subject.name.strategy.type": "TOPIC"}
REQUEST_TIMEOUT_S = 30  # a registry that does not answer fails a request, never hangs a role (unless set otherwise)


def registry_client(registry: dict) -> SchemaRegistryClient:
    return SchemaRegistryClient({"timeout": REQUEST_TIMEOUT_S, **registry})


class _Version:
    """One schema version's serializer and record templates."""

    def __init__(self, client: SchemaRegistryClient, version: int, message_size: int, at_s: float | None, first: int):
        self.version, self.at_s, self.first = version, at_s, first
        self.serialize = AvroSerializer(client, schemas.schema_text(version), conf=_SERDE)
        self.templates = schemas.templates(version, message_size)
        self.schema_id: int | None = None
        self.records = 0

    def values(self, context: SerializationContext, seq: int, ids: list[bytes]) -> list[bytes]:
        templates, serialize, n = self.templates, self.serialize, len(self.templates)
        return [serialize({**templates[(seq + i) % n], "eosbench_id": record_id}, context) for i, record_id in enumerate(ids)]

    def use(self, refused: str | None = None) -> SchemaUse:
        return SchemaUse(self.version, self.at_s, self.schema_id, refused, self.first, self.records)


class AvroValues:
    """A producer's record values as Avro order events, one serializer per topic written."""

    id_offset = schemas.ID_OFFSET

    def __init__(self, registry: dict, topics: list[str], message_size: int):
        self.client = registry_client(registry)
        self.message_size = message_size
        self.contexts = [SerializationContext(topic, MessageField.VALUE) for topic in topics]
        self.current = _Version(self.client, 1, message_size, None, 0)
        self.trying: _Version | None = None  # a version asked for and not yet accepted by the registry
        self.uses: list[SchemaUse] = []       # finished uses: refused versions, and versions replaced by a newer one
        self.errors = 0  # records that could not be serialized (ProducerResult.serialize_errors)

    def change(self, version: int, at_s: float, seq: int) -> None:
        """From the next batch on, write `version` (a schema_change fault)."""
        self.trying = _Version(self.client, version, self.message_size, at_s, seq)

    def batch(self, seq: int, ids: list[bytes]) -> list[list[bytes]] | None:
        """The batch's values for each topic; None when the registry refused the version being
        tried, or serialization failed: the batch is then never sent, and its records FAILED."""
        version = self.trying or self.current
        try:
            values = [version.values(context, seq, ids) for context in self.contexts]
        except SchemaRegistryError as exc:
            if version is self.trying and exc.http_status_code in _REFUSED:
                version.records = len(ids)
                self.uses.append(version.use(refused=f"HTTP {exc.http_status_code}: {exc.error_message}"[:500]))
                self.trying = None
                return None
            self.errors += len(ids)
            return None
        except Exception:  # the registry unreachable while a schema had to be registered or looked up
            self.errors += len(ids)
            return None
        if version is self.trying:
            self.uses.append(self.current.use())
            self.current, self.trying = version, None
        if version.schema_id is None:
            version.schema_id = int.from_bytes(values[0][0][1:schemas.WIRE_HEADER], "big")
        version.records += len(ids)
        return values

    @staticmethod
    def encoder(registry: dict, topic: str):
        """Record -> value for `topic` with version 1 (a processor's output: it writes the schema
        it was built with, whatever version it read)."""
        serialize = AvroSerializer(registry_client(registry), schemas.schema_text(1), conf=_SERDE)
        context = SerializationContext(topic, MessageField.VALUE)
        return lambda record: serialize(record, context)

    def result(self) -> list[SchemaUse]:
        """Every version tried, in order, the one in use last."""
        return [*self.uses, self.current.use()]


class AvroReader:
    """Decodes a reader's records and counts them per writer schema id."""

    def __init__(self, registry: dict, topics: list[str]):
        self.decode = AvroDeserializer(registry_client(registry), conf=_SERDE)
        self.contexts = {topic: SerializationContext(topic, MessageField.VALUE) for topic in topics}
        self.schema_ids: Counter = Counter()
        self.undecodable = 0

    def records(self, messages: list[Message]) -> tuple[list[Message], list[dict]]:
        """The messages that decoded, and their records; the others are counted as undecodable."""
        kept, records = [], []
        for message in messages:
            try:
                record = self.decode(message.value(), self.contexts[message.topic()])
            except Exception:  # an unknown schema id, a truncated or foreign value
                self.undecodable += 1
                continue
            kept.append(message)
            records.append(record)
        if kept:
            ids, counts = np.unique(np.frombuffer(b"".join(m.value()[1:schemas.WIRE_HEADER] for m in kept), dtype=">u4"),
                                    return_counts=True)
            self.schema_ids.update(dict(zip(ids.tolist(), counts.tolist())))
        return kept, records

    @staticmethod
    def ids(records: list[dict]) -> list[bytes]:
        """eosbench's id of each record (bench.metrics.RECORD_PREFIX), from its first field."""
        return [record["eosbench_id"] for record in records]
