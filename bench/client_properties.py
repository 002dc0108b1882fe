"""librdkafka client properties: which client each one is for, their aliases, and which carry secrets.

Facts from librdkafka's CONFIGURATION.md (the C/P column: C consumer, P producer, * both):
- a producer-only property given to a consumer makes librdkafka print CONFWARN on every
  consumer, so each role gets only the properties of its kind of client;
- several properties have aliases (`max.in.flight` is `max.in.flight.requests.per.connection`,
  `acks` is `request.required.acks`), so a mode's fixed properties are compared by their
  canonical name, or a profile could override a guarantee under another name;
- credentials are redacted by name before anything is written, and so is a fault's shell command.
This module imports nothing that talks to Kafka: results and analysis use it too.
"""

from __future__ import annotations

import hashlib
import re
from typing import Mapping

# alias -> canonical name (CONFIGURATION.md: "Alias for `...`")
ALIASES = {
    "bootstrap.servers": "metadata.broker.list",
    "max.in.flight": "max.in.flight.requests.per.connection",
    "sasl.mechanism": "sasl.mechanisms",
    "sasl.oauthbearer.client.credentials.client.id": "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.credentials.client.secret": "sasl.oauthbearer.client.secret",
    "max.partition.fetch.bytes": "fetch.message.max.bytes",
    "linger.ms": "queue.buffering.max.ms",
    "retries": "message.send.max.retries",
    "compression.type": "compression.codec",
    "acks": "request.required.acks",
    "delivery.timeout.ms": "message.timeout.ms",
}

# Properties of one kind of client only (the C and P rows, aliases included); all others are '*'.
CONSUMER_ONLY = frozenset({
    "group.id", "group.instance.id", "partition.assignment.strategy", "session.timeout.ms",
    "heartbeat.interval.ms", "group.protocol.type", "group.protocol", "group.remote.assignor",
    "coordinator.query.interval.ms", "max.poll.interval.ms", "enable.auto.commit", "auto.commit.interval.ms",
    "enable.auto.offset.store", "queued.min.messages", "queued.max.messages.kbytes", "fetch.wait.max.ms",
    "fetch.queue.backoff.ms", "fetch.message.max.bytes", "max.partition.fetch.bytes", "fetch.max.bytes",
    "fetch.min.bytes", "fetch.error.backoff.ms", "offset.store.method", "isolation.level", "consume_cb",
    "rebalance_cb", "offset_commit_cb", "enable.partition.eof", "check.crcs", "auto.commit.enable",
    "auto.offset.reset", "offset.store.path", "offset.store.sync.interval.ms", "consume.callback.max.messages",
})
PRODUCER_ONLY = frozenset({
    "transactional.id", "transaction.timeout.ms", "enable.idempotence", "enable.gapless.guarantee",
    "queue.buffering.max.messages", "queue.buffering.max.kbytes", "queue.buffering.max.ms", "linger.ms",
    "message.send.max.retries", "retries", "queue.buffering.backpressure.threshold", "compression.codec",
    "compression.type", "batch.num.messages", "batch.size", "delivery.report.only.error", "dr_cb", "dr_msg_cb",
    "sticky.partitioning.linger.ms", "request.required.acks", "acks", "request.timeout.ms", "message.timeout.ms",
    "delivery.timeout.ms", "queuing.strategy", "produce.offset.report", "partitioner", "partitioner_cb",
    "msg_order_cmp", "compression.level",
})

# Properties whose value is a credential or key material (CONFIGURATION.md), and the shapes of
# names that carry one in any client (a plugin's, a future librdkafka's).
SECRET_PROPERTIES = frozenset({
    "sasl.password", "sasl.oauthbearer.config", "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.client.credentials.client.secret", "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem", "sasl.oauthbearer.extensions", "ssl.key.password",
    "ssl.key.pem", "ssl_key", "ssl.keystore.password", "sasl.jaas.config",
    "schema.registry.basic.auth.user.info",  # user:password of the schema registry (bench.registry.target)
})
_SECRET_SHAPE = re.compile(r"(password|passwd|secret|passphrase|token|credential|jaas|private|(^|[._])key($|[._])|\.pem$)", re.IGNORECASE)
REDACTED = "[redacted]"
# The schema registry client's properties (bench.registry.target) travel among the client properties
# under this prefix; no Kafka client gets them.
REGISTRY_PREFIX = "schema.registry."

# A fault's shell command may carry credentials (curl -u, a bearer token): a record keeps its
# program and a digest of the whole, enough to tell two runs' commands apart.
_COMMAND_KEYS = ("command", "end_command")


def recorded_command(command: str) -> str:
    program = (command.split() or [""])[0]
    return f"{program} {REDACTED} (sha256 {hashlib.sha256(command.encode()).hexdigest()[:12]})"


def recorded_fault(fault: dict) -> dict:
    """A fault as results, logs and the terminal may show it."""
    return {k: recorded_command(v) if k in _COMMAND_KEYS and isinstance(v, str) else v for k, v in fault.items()}


_BOOLEAN = {"true": "true", "t": "true", "1": "true", "false": "false", "f": "false", "0": "false"}
_BOOLEAN_PROPERTIES = frozenset({"enable.idempotence", "enable.auto.commit", "enable.auto.offset.store", "enable.partition.eof"})
_SAME_VALUE = {
    "request.required.acks": {"all": "-1"},
    "auto.offset.reset": {"smallest": "earliest", "beginning": "earliest", "largest": "latest", "end": "latest"},
}


def canonical(name: str) -> str:
    """The property's own name when `name` is an alias of it."""
    return ALIASES.get(name, name)


def same_value(name: str, value: object) -> str:
    """A value as librdkafka reads it, so that `acks=-1` and `acks=all` compare equal."""
    text = str(value).strip().lower() if isinstance(value, (bool, str)) else str(value)
    name = canonical(name)
    if name in _BOOLEAN_PROPERTIES:
        text = _BOOLEAN.get(text, text)
    return _SAME_VALUE.get(name, {}).get(text, text)


def for_client(config: Mapping[str, str], kind: str) -> dict[str, str]:
    """The properties a client of `kind` (producer, consumer or admin) takes."""
    excluded = {"producer": CONSUMER_ONLY, "consumer": PRODUCER_ONLY, "admin": CONSUMER_ONLY | PRODUCER_ONLY}[kind]
    return {k: v for k, v in config.items() if k not in excluded and not k.startswith(REGISTRY_PREFIX)}


def is_secret(name: str) -> bool:
    return name in SECRET_PROPERTIES or bool(_SECRET_SHAPE.search(name))


def redact(config: Mapping[str, object]) -> dict[str, object]:
    """The configuration with every credential replaced, ready to be written or shown."""
    return {k: (REDACTED if is_secret(k) else v) for k, v in config.items()}


def java_connection_properties(config: dict[str, str]) -> dict[str, str]:
    """A librdkafka configuration's connection and security properties as Java's clients read
    them (the resource probe, the Kafka Streams application), renamed where the two clients name
    them differently."""
    out = {"bootstrap.servers": config["bootstrap.servers"]}
    for name in ("security.protocol", "ssl.endpoint.identification.algorithm"):
        if name in config:
            out[name] = config[name]
    mechanism = config.get("sasl.mechanisms") or config.get("sasl.mechanism")
    if mechanism:
        out["sasl.mechanism"] = mechanism
        if "sasl.username" in config:
            module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mechanism == "PLAIN"
                      else "org.apache.kafka.common.security.scram.ScramLoginModule")
            user, password = (_jaas_quoted(config["sasl.username"]), _jaas_quoted(config.get("sasl.password", "")))
            out["sasl.jaas.config"] = f'{module} required username="{user}" password="{password}";'
    if "ssl.ca.location" in config:
        out["ssl.truststore.type"], out["ssl.truststore.location"] = "PEM", config["ssl.ca.location"]
    return out


def _jaas_quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# librdkafka's name (canonical, see ALIASES) -> the Java clients' name, where they differ; properties
# both clients know by one name pass as they are (JAVA_SHARED), and the rest have no Java counterpart.
_TO_JAVA = {
    "metadata.broker.list": "bootstrap.servers", "request.required.acks": "acks", "message.send.max.retries": "retries",
    "queue.buffering.max.ms": "linger.ms", "compression.codec": "compression.type", "message.timeout.ms": "delivery.timeout.ms",
    "fetch.wait.max.ms": "fetch.max.wait.ms", "fetch.message.max.bytes": "max.partition.fetch.bytes",
}
JAVA_SHARED = frozenset({
    "client.id", "enable.idempotence", "transactional.id", "transaction.timeout.ms", "max.in.flight.requests.per.connection",
    "batch.size", "request.timeout.ms", "compression.level", "isolation.level", "enable.auto.commit", "auto.offset.reset",
    "group.id", "group.instance.id", "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms", "fetch.min.bytes",
    "fetch.max.bytes", "partition.assignment.strategy", "group.protocol", "reconnect.backoff.ms", "reconnect.backoff.max.ms",
    "retry.backoff.ms", "retry.backoff.max.ms", "socket.connection.setup.timeout.ms", "metadata.max.age.ms",
    "connections.max.idle.ms", "client.rack", "security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password",
    "ssl.ca.location", "ssl.endpoint.identification.algorithm",
})
# librdkafka-only properties eosbench itself sets, which mean nothing to a Java client
_LIBRDKAFKA_INTERNAL = frozenset({"statistics.interval.ms"})


def to_java(config: Mapping[str, str], kind: str) -> dict[str, str]:
    """A librdkafka producer or consumer configuration as Kafka's Java client of that kind reads it
    (the `java` driver): names translated, `queue.buffering.max.kbytes` as `buffer.memory` bytes,
    connection and security properties as java_connection_properties gives them. A property with
    no Java counterpart is refused (ValueError, naming it), never dropped silently."""
    plain = {k: str(v) for k, v in config.items()}
    out = java_connection_properties({**plain, "bootstrap.servers": plain.get("bootstrap.servers") or plain.get("metadata.broker.list", "")})
    for key, value in config.items():
        name = canonical(key)
        if name in ("metadata.broker.list", "security.protocol", "ssl.endpoint.identification.algorithm", "sasl.mechanisms",
                    "sasl.mechanism", "sasl.username", "sasl.password", "ssl.ca.location") or name in _LIBRDKAFKA_INTERNAL:
            continue  # the connection, translated above; or eosbench's own librdkafka plumbing
        if name == "queue.buffering.max.kbytes":
            out["buffer.memory"] = str(int(value) * 1024)
        elif name in _TO_JAVA:
            out[_TO_JAVA[name]] = same_value(name, value) if name == "request.required.acks" else str(value)
        elif key in JAVA_SHARED or name in JAVA_SHARED:
            out[key if key in JAVA_SHARED else name] = str(value)
        else:
            raise ValueError(f"client property '{key}' has no counterpart in Kafka's Java {kind} (driver java): drop it, "
                             "or give the Java name of what it sets")
    if out.get("acks") == "-1":
        out["acks"] = "all"
    return out
