"""The Avro records of `serialization: avro`: an order event with realistic fields, in three
versions, and values whose encoded size is exactly a cell's `message_size`.

eosbench's record id and send stamp (bench.metrics.RECORD_PREFIX, 24 bytes) are the first field,
a `fixed(24)`: Avro writes a fixed as its raw bytes, so in the Confluent wire format (magic byte,
4-byte schema id, Avro body) the id sits at byte 5, where a delivery report reads it back without
decoding the record. Readers decode every record (that is the cost being priced) and take the id
from the decoded field.

Versions, under subject compatibility FULL:
- 1, the schema every cell starts with;
- 2, a FULL-compatible change: a new optional field with a default (old readers skip it, new
  readers fill it in for old records);
- 3, an incompatible change: `quantity` dropped, a field without a default. BACKWARD compatibility
  (the registries' default) allows it, since new readers ignore the field; FULL refuses it, since
  a consumer still on version 1 cannot read such a record: so its refusal shows FULL in force.
"""

from __future__ import annotations

import io
import json
import random
from functools import lru_cache

import fastavro

from bench.metrics import PREFIX_SIZE

SERIALIZATIONS = ("bytes", "avro")
WIRE_HEADER = 5  # Confluent wire format: magic byte 0, then the schema id (int32, big-endian)
ID_OFFSET = WIRE_HEADER  # where eosbench's id starts in an Avro value (the first field, a fixed)
TEMPLATES = 64  # distinct field values, so batches do not compress to nothing
COMPATIBLE, INCOMPATIBLE = 2, 3  # the versions a schema_change fault registers

_V1_FIELDS = [
    {"name": "eosbench_id", "type": {"type": "fixed", "name": "EosbenchId", "size": PREFIX_SIZE},
     "doc": "eosbench's record id and intended send time (cell, producer, sequence, monotonic ns)"},
    {"name": "order_id", "type": "string"},
    {"name": "customer_id", "type": "long"},
    {"name": "sku", "type": "string"},
    {"name": "quantity", "type": "int"},
    {"name": "unit_price_cents", "type": "long"},
    {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD", "GBP", "JPY"]}},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["PLACED", "PAID", "SHIPPED", "CANCELLED"]}},
    {"name": "created_at_ms", "type": "long"},
    {"name": "note", "type": "string", "doc": "free text; its length makes the value message_size bytes"},
]


def _schema(fields: list[dict]) -> dict:
    return {"type": "record", "name": "OrderEvent", "namespace": "eosbench", "fields": fields}


SCHEMAS: dict[int, dict] = {
    1: _schema(_V1_FIELDS),
    COMPATIBLE: _schema([*_V1_FIELDS, {"name": "coupon_code", "type": ["null", "string"], "default": None}]),
    INCOMPATIBLE: _schema([f for f in _V1_FIELDS if f["name"] != "quantity"]),
}


def schema_text(version: int) -> str:
    return json.dumps(SCHEMAS[version], separators=(",", ":"))


@lru_cache(maxsize=None)
def _parsed(version: int):
    return fastavro.parse_schema(SCHEMAS[version])


def encoded_size(record: dict, version: int) -> int:
    """Bytes of the record's Avro body (without the wire header)."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, _parsed(version), record)
    return out.tell()


def minimum_size() -> int:
    """The smallest value (wire header included) records of every version can have: notes empty."""
    return WIRE_HEADER + max(encoded_size(t, v) for v in SCHEMAS for t in _fields(v))


def templates(version: int, message_size: int) -> list[dict]:
    """TEMPLATES records of `version` (eosbench_id still to fill in), each with a note long enough
    that the whole value, wire header included, is exactly `message_size` bytes."""
    out = []
    for record in _fields(version):
        empty = encoded_size(record, version)  # a 0-length note costs its one length byte
        room = message_size - WIRE_HEADER - empty + 1
        note = next((n for n in range(room, max(room - 6, -1), -1) if _varint_size(n) + n == room), None)
        if note is None or note < 0:
            raise ValueError(f"message_size {message_size} is below the {minimum_size()} bytes an Avro order event takes")
        out.append({**record, "note": _text(len(out), note)})
    return out


def _fields(version: int) -> list[dict]:
    """The field values of the templates (note empty), the same for every cell."""
    rng = random.Random(version)
    records = []
    for i in range(TEMPLATES):
        record = {
            "eosbench_id": bytes(PREFIX_SIZE), "order_id": f"ord-{rng.randrange(10**12):012d}",
            "customer_id": rng.randrange(1, 10**9), "sku": f"SKU-{rng.randrange(10**6):06d}", "quantity": rng.randrange(1, 20),
            "unit_price_cents": rng.randrange(100, 10**6), "currency": rng.choice(["EUR", "USD", "GBP", "JPY"]),
            "status": rng.choice(["PLACED", "PAID", "SHIPPED", "CANCELLED"]), "created_at_ms": 1_795_000_000_000 + i * 1_000,
            "note": "",
        }
        if version == COMPATIBLE:
            record["coupon_code"] = f"SAVE{rng.randrange(100)}" if i % 4 == 0 else None
        if version == INCOMPATIBLE:
            del record["quantity"]
        records.append(record)
    return records


def _text(seed: int, length: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(length))


def _varint_size(n: int) -> int:
    """Bytes of Avro's zig-zag varint of a non-negative long."""
    z, size = n << 1, 1
    while z >= 0x80:
        z >>= 7
        size += 1
    return size
