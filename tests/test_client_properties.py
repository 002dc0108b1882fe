"""Client properties: every credential librdkafka takes is redacted, each role gets the properties
of its kind of client, and aliases are compared as the property they stand for. Pure logic."""

import pytest

from bench.client_properties import REDACTED, canonical, for_client, is_secret, redact, same_value, to_java
from bench.parameters import transactions_protocol

# Every property of librdkafka's CONFIGURATION.md whose value is a credential or key material.
CREDENTIALS = [
    "sasl.password", "sasl.oauthbearer.config", "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.client.credentials.client.secret", "sasl.oauthbearer.assertion.private.key.passphrase",
    "sasl.oauthbearer.assertion.private.key.pem", "sasl.oauthbearer.extensions", "ssl.key.password", "ssl.key.pem",
    "ssl_key", "ssl.keystore.password",
    # the shapes of credential names in other clients (Java's, a schema registry's, a plugin's)
    "sasl.jaas.config", "basic.auth.user.info.password", "schema.registry.secret", "my.api.token", "bearer.auth.credentials",
    "ssl.truststore.password", "some.private.key",
]
NOT_SECRETS = ["sasl.username", "sasl.mechanism", "security.protocol", "ssl.ca.location", "linger.ms", "client.id", "acks",
               "sasl.oauthbearer.client.id", "sasl.kerberos.service.name", "bootstrap.servers", "compression.type"]


@pytest.mark.parametrize("name", CREDENTIALS)
def test_a_credential_is_redacted(name):
    assert is_secret(name)
    assert redact({name: "hunter2", "linger.ms": "5"}) == {name: REDACTED, "linger.ms": "5"}


@pytest.mark.parametrize("name", NOT_SECRETS)
def test_an_ordinary_property_is_kept_so_results_say_what_ran(name):
    assert not is_secret(name)


def test_each_kind_of_client_gets_only_its_properties():
    client = {"batch.size": "2048", "linger.ms": "5", "fetch.min.bytes": "1000", "isolation.level": "read_committed",
              "security.protocol": "SSL", "client.rack": "a"}
    assert for_client(client, "producer") == {"batch.size": "2048", "linger.ms": "5", "security.protocol": "SSL", "client.rack": "a"}
    assert for_client(client, "consumer") == {"fetch.min.bytes": "1000", "isolation.level": "read_committed",
                                              "security.protocol": "SSL", "client.rack": "a"}
    assert for_client(client, "admin") == {"security.protocol": "SSL", "client.rack": "a"}


def test_aliases_and_spellings_of_one_value_compare_as_librdkafka_reads_them():
    assert canonical("max.in.flight") == "max.in.flight.requests.per.connection"
    assert canonical("acks") == canonical("request.required.acks")
    assert same_value("acks", "all") == same_value("request.required.acks", "-1")
    assert same_value("enable.idempotence", True) == same_value("enable.idempotence", "TRUE") == "true"
    assert same_value("retries", "0") != same_value("retries", "2147483647")
    assert same_value("auto.offset.reset", "smallest") == same_value("auto.offset.reset", "earliest")


def test_a_credential_printed_by_a_client_log_line_is_cut_out():
    import logging

    from bench.roles import ClientLog

    log = ClientLog("producer-0", {"sasl.password": "hunter2", "linger.ms": "5"})
    log.logger.log(logging.DEBUG, "%s [%s] %s", "CONF", "rdkafka#producer-1", "sasl.password = hunter2, linger.ms = 5")
    assert log.result().lines[0].endswith("CONF [rdkafka#producer-1] sasl.password = [redacted], linger.ms = 5")
    assert log.result().counts == {"DEBUG/CONF": 1}


def test_the_java_driver_gets_each_librdkafka_property_under_its_java_name_and_refuses_what_java_lacks():
    producer = to_java({"bootstrap.servers": "h:9092", "request.required.acks": "-1", "message.send.max.retries": "7",
                        "queue.buffering.max.ms": "20", "queue.buffering.max.kbytes": "1024", "max.in.flight": "1",
                        "message.timeout.ms": "60000", "statistics.interval.ms": "1000", "enable.idempotence": "true"}, "producer")
    assert producer == {"bootstrap.servers": "h:9092", "acks": "all", "retries": "7", "linger.ms": "20", "buffer.memory": "1048576",
                        "max.in.flight.requests.per.connection": "1", "delivery.timeout.ms": "60000", "enable.idempotence": "true"}
    consumer = to_java({"bootstrap.servers": "h:9092", "fetch.wait.max.ms": "50", "isolation.level": "read_committed"}, "consumer")
    assert consumer == {"bootstrap.servers": "h:9092", "fetch.max.wait.ms": "50", "isolation.level": "read_committed"}
    secure = to_java({"bootstrap.servers": "h:9093", "security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
                      "sasl.username": "u", "sasl.password": "p"}, "producer")
    assert secure["sasl.mechanism"] == "SCRAM-SHA-512" and "ScramLoginModule" in secure["sasl.jaas.config"]
    assert "sasl.password" not in secure and redact(secure)["sasl.jaas.config"] == "[redacted]"
    with pytest.raises(ValueError, match="'batch.num.messages' has no counterpart in Kafka's Java producer"):
        to_java({"bootstrap.servers": "h:9092", "batch.num.messages": "500"}, "producer")


def test_only_the_java_client_on_a_transaction_version_2_cluster_speaks_transactions_v2():
    assert [transactions_protocol("java", level) for level in (1, 2, None)] == [1, 2, None]
    assert [transactions_protocol("librdkafka", level) for level in (1, 2, None)] == [1, 1, 1]  # no KIP-890 in librdkafka
