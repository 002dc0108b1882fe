"""The embedded broker's cluster id: Kafka's StorageTool reads an id beginning with '-' as an
option, so about one start in 64 failed by chance before the id generator drew again."""

import base64
import re
import uuid

from bench.broker import cluster


def test_no_cluster_id_begins_with_a_dash_over_many_draws():
    ids = [cluster.new_cluster_id() for _ in range(20_000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_draw_that_would_begin_with_a_dash_is_drawn_again(monkeypatch):
    dash = uuid.UUID(bytes=b"\xf8" + bytes(15))  # 111110.. : base64url's 63rd letter, '-'
    assert base64.urlsafe_b64encode(dash.bytes).decode().startswith("-")
    draws = iter([dash, uuid.UUID(int=42)])
    monkeypatch.setattr(cluster.uuid, "uuid4", lambda: next(draws))
    assert cluster.new_cluster_id() == base64.urlsafe_b64encode(uuid.UUID(int=42).bytes).decode().rstrip("=")
