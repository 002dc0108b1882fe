"""Profiles are validated strictly: every mistake is one line naming key and file, exit 2,
and nothing is written under results/."""

import json
import socket
import textwrap
import threading
import time

import pytest

from bench import profile as profiles
from bench.errors import BadInput
from bench.sweep import plan
from tests.conftest import REPO, eosbench

GOOD = """
description: test
workload: {topology: produce, warmup_s: 0, duration_s: 1}
sweep:
  mode: [at_least_once, idempotent, transactional]
  transaction_size: [10, 100]
  partitions: [1, 4]
repeat: 2
baseline: at_least_once
"""


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


TXN = GOOD.replace("mode: [at_least_once, idempotent, transactional]", "mode: [at_least_once, transactional]")
# Ten levels of ten aliases each, anchored inside the sweep list itself: 10**10 values once expanded.
BOMB = "[&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], " + ", ".join(
    f"&{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(9)) + "]"

# kind -> (what the one line says, profile text)
BAD = {
    "unknown top-level key": ("unknown key 'repeats'", GOOD.replace("repeat: 2", "repeats: 2")),
    "unknown workload key": ("unknown key 'workload.partitons'", GOOD.replace("topology: produce,", "topology: produce, partitons: 1,")),
    "misspelled mode": ("'sweep.mode' must be one of", GOOD.replace("idempotent]", "idempotant]").replace("idempotent,", "idempotant,")),
    "empty sweep list": ("'sweep.partitions' must be a non-empty list", GOOD.replace("partitions: [1, 4]", "partitions: []")),
    "repeat zero": ("'repeat' must be a whole number from 1 to 100", GOOD.replace("repeat: 2", "repeat: 0")),
    "string for a number": ("'workload.duration_s' must be a number > 0", GOOD.replace("duration_s: 1", "duration_s: ten")),
    "duplicate key": ("duplicate key 'repeat'", GOOD + "repeat: 3\n"),
    "not YAML": ("is not valid YAML", "workload: {topology: [produce\n"),
    "not a mapping": ("a profile is a mapping", "- just\n- a list\n"),
    "negative rate": ("'workload.rate' must be 'max', 'find' or a number", GOOD.replace("topology: produce,", "topology: produce, rate: -5,")),
    "transaction_size zero": ("'sweep.transaction_size' must be a whole number from 1", GOOD.replace("[10, 100]", "[0, 100]")),
    "baseline not run": ("'baseline' 'at_most_once' is not among", GOOD.replace("baseline: at_least_once", "baseline: at_most_once")),
    "mode without its topology": ("mode exactly_once_v2 cannot run in topology produce", GOOD.replace("transactional]", "exactly_once_v2]")),
    "three brokers wanted as two": ("'kafka.brokers' must be 1 or 3", GOOD + "kafka: {brokers: 2}\n"),
    "a storage eosbench does not know": ("'kafka.storage' must be disk or memory, not 'ssd'", GOOD + "kafka: {storage: ssd}\n"),
    "message larger than Kafka accepts": ("'workload.message_size' must be a whole number from 24 to 1,047,564",
                                          GOOD.replace("topology: produce,", "topology: produce, message_size: 2000000,")),
    "unknown fault": ("'faults[0].kind' must be one of", GOOD + "faults: [{kind: nuke, at_s: 1}]\n"),
    "a capacity search under faults": ("rate 'find' searches the rate a mode sustains in steady state: it cannot run with faults",
                                       GOOD.replace("topology: produce,", "topology: produce, rate: find,") + "faults: [{kind: consumer_pause, at_s: 0.5, duration_s: 0.2}]\n"),
    "a schema change without Avro": ("faults[0]: schema_change needs serialization avro",
                                     GOOD + "faults: [{kind: schema_change, at_s: 0.5}]\n"),
    "a registry pause without its length": ("'faults[0].duration_s' must say how long the registry_pause lasts",
                                            GOOD.replace("topology: produce,", "topology: produce, serialization: avro,")
                                            + "faults: [{kind: registry_pause, at_s: 0.5}]\n"),
    "a schema change neither compatible nor not": ("'faults[0].compatible' must be true",
                                                   GOOD.replace("topology: produce,", "topology: produce, serialization: avro,")
                                                   + "faults: [{kind: schema_change, at_s: 0.5, compatible: maybe}]\n"),
    "a schema registry property the client does not know": ("the schema registry client refuses its properties",
                                                            GOOD + "client: {schema.registry.bogus.key: x}\n"),
    "the schema registry's url as a client property": ("give --schema-registry URL instead",
                                                        GOOD + "client: {schema.registry.url: 'http://r:8081'}\n"),
    "launcher trogdor on a Kafka without Trogdor": ("launcher trogdor needs Kafka's Trogdor, and Kafka 4.4.0 releases none",
                                                    GOOD.replace("topology: produce,", "topology: produce, launcher: trogdor,")
                                                    + 'kafka: {version: "4.4.0"}\n'),
    "a Kafka older than the embedded broker runs": ("Kafka 3.8.1 is not supported: the embedded broker runs Kafka 3.9 or later",
                                                     GOOD + 'kafka: {version: ["3.9.1", "3.8.1"]}\n'),
    "transactions v2 on a Kafka without the feature": ("transaction_version 2 needs Kafka 4.0 or later, and the profile runs Kafka 3.9.1",
                                                       GOOD.replace("topology: produce,", "topology: produce, transaction_version: 2,")
                                                       + 'kafka: {version: "3.9.1"}\n'),
    "the consumer group protocol on a Kafka without it": ("group_protocol consumer needs Kafka 4.0 or later",
                                                          GOOD.replace("topology: produce,", "topology: produce, group_protocol: consumer,")
                                                          + 'kafka: {version: ["4.1.1", "3.9.1"]}\n'),
    "a trogdor section and no cell with launcher trogdor": ("'trogdor' places the roles of cells with launcher trogdor",
                                                           GOOD + "trogdor: {agents: 3}\n"),
    "an unknown trogdor key": ("unknown key 'trogdor.agent'",
                               GOOD.replace("topology: produce,", "topology: produce, launcher: trogdor,") + "trogdor: {agent: 3}\n"),
    "trogdor agents neither a count nor names": ("'trogdor.agents' must be how many agents to start (1 to 16) or a list",
                                                 GOOD.replace("topology: produce,", "topology: produce, launcher: trogdor,") + "trogdor: {agents: 40}\n"),
    "a placement of a role that does not exist": ("unknown key 'trogdor.placement.sampler'",
                                                  GOOD.replace("topology: produce,", "topology: produce, launcher: trogdor,")
                                                  + "trogdor: {placement: {sampler: agent-0}}\n"),
    "a Trogdor process stop without its agents": ("'faults[0].agents' must list the Trogdor agents",
                                                  GOOD.replace("topology: produce,", "topology: produce, launcher: trogdor,")
                                                  + "faults: [{kind: trogdor_process_stop, at_s: 0.5, duration_s: 1}]\n"),
    "a Trogdor process stop and no Trogdor": ("a trogdor_process_stop fault runs through Trogdor",
                                              GOOD + "faults: [{kind: trogdor_process_stop, at_s: 0.5, duration_s: 0.2, agents: [agent-0]}]\n"),
    "an objective of zero": ("'workload.slo_p99_ms' must be a number >= 0.1", GOOD.replace("topology: produce,", "topology: produce, slo_p99_ms: 0,")),
    # the reproductions: guarantees overridden past validation
    "idempotence switched off under transactional": ("client property 'enable.idempotence' would change what mode transactional means",
                                                     TXN + "client: {enable.idempotence: 'false'}\n"),
    "acks 0 under transactional": ("client property 'acks' would change what mode at_least_once means", TXN + "client: {acks: '0'}\n"),
    "read_uncommitted under transactional": ("client property 'isolation.level' would change what mode transactional means",
                                             TXN + "client: {isolation.level: read_uncommitted}\n"),
    "max.in.flight alias": ("client property 'max.in.flight' is set by eosbench: set workload.max_in_flight", GOOD + "client: {max.in.flight: 50}\n"),
    # the reproductions: absurd or hostile values
    "alias bomb under a sweep": ("expands to more than 100,000 values", GOOD.replace("partitions: [1, 4]", f"partitions: {BOMB}")),
    "a billion repetitions": ("'repeat' must be a whole number from 1 to 100", GOOD.replace("repeat: 2", "repeat: 1000000000")),
    "a sweep of 300 x 300 x 100": ("the sweep makes up to 54,000,000 cell repetitions (at most 10,000)", GOOD.replace(
        "transaction_size: [10, 100]\n  partitions: [1, 4]",
        f"transaction_size: {list(range(1, 301))}\n  partitions: {list(range(1, 301))}\n  message_size: {list(range(24, 124))}")),
    "infinite duration": ("'workload.duration_s' must be a number > 0", GOOD.replace("duration_s: 1", "duration_s: .inf")),
    "empty file": ("is empty", ""),
    "a version that is a mapping": ("'kafka.version' must be a Kafka release", GOOD + "kafka: {version: {a: 1}}\n"),
    "100,000 partitions": ("'sweep.partitions' must be a whole number from 1 to 4,096", GOOD.replace("partitions: [1, 4]", "partitions: [1, 100000]")),
    "a transaction of 10**12 records": ("'sweep.transaction_size' must be a whole number from 1 to 1,000,000", GOOD.replace("[10, 100]", "[10, 1000000000000]")),
    "a rate of 1e-300": ("'workload.rate' must be 'max', 'find' or a number >= 1", GOOD.replace("topology: produce,", "topology: produce, rate: 1.0e-300,")),
    "a fault after the window": ("faults[0].at_s 30 lies after the measured window (1 s)", GOOD + "faults: [{kind: consumer_pause, at_s: 30, duration_s: 1}]\n"),
    "a complex key": ("a key must be a plain name", GOOD + "? [a, b]\n: 1\n"),
    # more of our own
    "acks alias": ("client property 'request.required.acks' (an alias of acks) would change what mode at_least_once means",
                                    GOOD + "client: {request.required.acks: 1}\n"),
    "retries alias under at_least_once": ("client property 'message.send.max.retries' (an alias of retries)", GOOD + "client: {message.send.max.retries: 0}\n"),
    "a transactional.id of our own": ("client property 'transactional.id' is set by eosbench", GOOD + "client: {transactional.id: mine}\n"),
    "a group.id of our own": ("client property 'group.id' is set by eosbench", GOOD + "client: {group.id: mine}\n"),
    "a group.protocol of our own": ("client property 'group.protocol' is set by eosbench: set workload.group_protocol", GOOD + "client: {group.protocol: consumer}\n"),
    "bootstrap servers in the profile": ("client property 'bootstrap.servers' is set by eosbench: give --bootstrap-servers",
                                         GOOD + "client: {bootstrap.servers: 'host:9092'}\n"),
    "a misspelled client property": ('librdkafka refuses the configuration: No such configuration property: "lingr.ms"',
                                     GOOD + "client: {lingr.ms: 5}\n"),
    "an impossible client value": ("librdkafka refuses the configuration: Invalid value", GOOD + "client: {compression.type: brotli}\n"),
    "a client value that is a list": ("'client.linger.ms' must be a single value", GOOD + "client: {linger.ms: [1, 2]}\n"),
    "an unquoted version": ("'kafka.version' must be a Kafka release such as \"4.1.1\" (quoted)", GOOD + "kafka: {version: 4.1}\n"),
    "a broker count that is a boolean": ("'kafka.brokers' must be 1 or 3, not True", GOOD + "kafka: {brokers: true}\n"),
    "a duration that is not a number": ("'workload.duration_s' must be a number > 0", GOOD.replace("duration_s: 1", "duration_s: .nan")),
    "a negative warm-up": ("'workload.warmup_s' must be a number >= 0", GOOD.replace("warmup_s: 0", "warmup_s: -1")),
    "a thousand producers": ("'workload.producers' must be a whole number from 1 to 64", GOOD.replace("topology: produce,", "topology: produce, producers: 1000,")),
    "ten in flight with idempotence": ("max_in_flight must be 1..5 with idempotence", GOOD.replace("topology: produce,", "topology: produce, max_in_flight: 10,")),
    "a transaction longer than its timeout": ("transaction_ms 120000 is not shorter than transaction.timeout.ms (60000)",
                                              GOOD.replace("topology: produce,", "topology: produce, transaction_ms: 120000,")),
    "every transaction aborted": ("'workload.abort_ratio' must be a number in [0, 1)", GOOD.replace("topology: produce,", "topology: produce, abort_ratio: 1.0,")),
    "two thousand sweep values": ("'sweep.transaction_size' lists 2,000 values (at most 1,000)", GOOD.replace("[10, 100]", str(list(range(1, 2001))))),
    "faults as a mapping": ("'faults' must be a list", GOOD + "faults: {kind: pause}\n"),
    "a fault that lasts forever": ("'faults[0].duration_s' must be a number >= 0 and <= 3,600 seconds",
                                   GOOD + "faults: [{kind: consumer_pause, at_s: 0.5, duration_s: .inf}]\n"),
    "a description that is a list": ("'description' must be one line of text", GOOD.replace("description: test", "description: [a, b]")),
    "an unknown order": ("'order' must be interleaved, sequential or alternating", GOOD + "order: random\n"),
    # order alternating: eosbench's own producers take turns, closed loop, no fault (bench.cell.turns)
    "a turn length without alternating": ("'slot_s' is the length of a turn under order alternating", GOOD + "slot_s: 2\n"),
    "a turn of a tenth of a second": ("'slot_s' must be a number of seconds from 0.5 to 60", GOOD + "order: alternating\nslot_s: 0.1\n"),
    "taking turns in open loop": ("order alternating needs rate max (closed loop), not 5000",
                                  GOOD.replace("topology: produce,", "topology: produce, rate: 5000,") + "order: alternating\n"),
    "taking turns through a processor": ("order alternating needs topology produce",
                                         GOOD.replace("topology: produce", "topology: process").replace(
                                             "mode: [at_least_once, idempotent, transactional]", "mode: [at_least_once, exactly_once_v2]")
                                         + "order: alternating\n"),
    "taking turns with Java producers": ("order alternating needs driver librdkafka",
                                         GOOD.replace("topology: produce,", "topology: produce, driver: java,") + "order: alternating\n"),
    "transactions longer than a turn": ("transaction_ms 500 is not shorter than a turn (slot_s 0.5)",
                                        GOOD.replace("topology: produce,", "topology: produce, transaction_ms: 500,") + "order: alternating\nslot_s: 0.5\n"),
    "taking turns under a fault": ("order alternating cannot run faults",
                                   GOOD + "order: alternating\nfaults: [{kind: consumer_pause, at_s: 0.5, duration_s: 0.2}]\n"),
    "processor kill without a processor": ("processor_kill needs topology process", GOOD + "faults: [{kind: processor_kill, at_s: 0.5}]\n"),
    "a processor zombie of a Kafka Streams application": (
        "processor_zombie acts on eosbench's own processor, and streams_exactly_once_v2 is a Kafka Streams application",
        "description: t\nworkload: {topology: process, duration_s: 2}\nsweep: {mode: [at_least_once, streams_exactly_once_v2]}\n"
        "baseline: at_least_once\nfaults: [{kind: processor_zombie, at_s: 0.5, duration_s: 1}]\n"),
    "a processor zombie under the consumer group protocol": (
        "processor_zombie runs under group_protocol classic only, not consumer",
        "description: t\nworkload: {topology: process, duration_s: 2}\nsweep: {mode: [at_least_once, exactly_once_v2], "
        "group_protocol: [classic, consumer]}\nbaseline: at_least_once\nfaults: [{kind: processor_zombie, at_s: 0.5, duration_s: 1}]\n"),
    "a numeric top-level key": ("unknown key '1'", GOOD + "1: x\n"),
    "a Python object tag": ("is not valid YAML", GOOD + "x: !!python/object:os.system {}\n"),
    "a replication factor of 99": ("'workload.replication_factor' must be a whole number from 1 to 16, or null",
                                   GOOD.replace("topology: produce,", "topology: produce, replication_factor: 99,")),
    # sections and values of the wrong type, by principle: every one has its type
    "a workload that is a number": ("'workload' must be a mapping, not int 0", GOOD.replace(
        "workload: {topology: produce, warmup_s: 0, duration_s: 1}", "workload: 0")),
    "a kafka section that is a list": ("'kafka' must be a mapping, not list []", GOOD + "kafka: []\n"),
    "a client section that is a number": ("'client' must be a mapping, not int 0", GOOD + "client: 0\n"),
    "a sweep that is text": ("'sweep' must be a mapping, not str", GOOD.replace(
        "sweep:\n  mode: [at_least_once, idempotent, transactional]\n  transaction_size: [10, 100]\n  partitions: [1, 4]\n",
        "sweep: modes\n").replace("baseline: at_least_once\n", "")),
    "faults that are a number": ("'faults' must be a list", GOOD + "faults: 0\n"),
    "faults that are false": ("'faults' must be a list", GOOD + "faults: false\n"),
    "a trogdor placement that is a list": ("'trogdor.placement' must be a mapping, not list",
                                           GOOD.replace("topology: produce,", "topology: produce, launcher: trogdor,") + "trogdor: {placement: [a]}\n"),
    "a repeat that is a boolean": ("'repeat' must be a whole number from 1 to 100, not True", GOOD.replace("repeat: 2", "repeat: true")),
    "a repeat of two and a half": ("'repeat' must be a whole number from 1 to 100, not 2.5", GOOD.replace("repeat: 2", "repeat: 2.5")),
    "a warm-up bound that is text": ("'warmup_max_s' must be a number of seconds from 0 to 3600", GOOD + "warmup_max_s: long\n"),
    "a description of two lines": ("'description' must be one line of text", GOOD.replace("description: test", 'description: "a\\nb"')),
    "a trogdor python that is a number": ("'trogdor.python' must be the path of a Python",
                                          GOOD.replace("topology: produce,", "topology: produce, launcher: trogdor,") + "trogdor: {python: 3}\n"),
    # every given value runs, or the profile is refused
    "a workload key that is also swept": ("'transaction_size' is both in workload and swept",
                                          GOOD.replace("topology: produce,", "topology: produce, transaction_size: 5,")),
    "partitions fixed and swept": ("'partitions' is both in workload and swept", GOOD.replace("topology: produce,", "topology: produce, partitions: 2,")),
    "a sweep value given twice": ("'sweep.transaction_size' lists a value twice", GOOD.replace("[10, 100]", "[10, 10]")),
    # strings are exact
    "a mode in capitals": ("'sweep.mode' must be one of", GOOD.replace("idempotent,", "Idempotent,")),
    "a mode with a trailing space": ("not 'idempotent '", GOOD.replace("idempotent,", "'idempotent ',")),
    "a storage in capitals": ("'kafka.storage' must be disk or memory, not 'Disk'", GOOD + "kafka: {storage: Disk}\n"),
    "an order in capitals": ("'order' must be interleaved, sequential or alternating, not 'Alternating'", GOOD + "order: Alternating\n"),
    "a baseline in capitals": ("'baseline' 'At_least_once' is not among", GOOD.replace("baseline: at_least_once", "baseline: At_least_once")),
    "a fault kind in capitals": ("'faults[0].kind' must be one of", GOOD + "faults: [{kind: Pause, at_s: 0.5, duration_s: 0.2}]\n"),
    "a version with a trailing space": ("'kafka.version' must be a Kafka release", GOOD + "kafka: {version: '4.1.1 '}\n"),
    "a version listed twice": ("a list of distinct ones", GOOD + "kafka: {version: ['4.1.1', '4.1.1']}\n"),
    # nesting is bounded, and a refusal is one line
    "600 nested lists": ("nests mappings and lists more than 16 deep (line 10)", GOOD + "x: " + "[" * 600 + "]" * 600 + "\n"),
    "deep nesting made of aliases": ("nests mappings and lists more than 16 deep (YAML aliases?)",
                                     GOOD + "x: &deep " + "[" * 10 + "]" * 10 + "\ny: " + "[" * 9 + "*deep" + "]" * 9 + "\n"),
    "a key holding a newline": ("unknown key 'a\\nb'", GOOD + '"a\\nb": 1\n'),
    "a key holding a tab and a bell": ("unknown key 'a\\tb\\x07'", GOOD + '"a\\tb\\a": 1\n'),
    # values fit the cluster and the window, faults included, also against each other
    "a replication factor above the brokers": ("replication_factor 3 needs 3 brokers and the embedded cluster has 1",
                                               GOOD.replace("topology: produce,", "topology: produce, replication_factor: 3,")),
    "a fault that outlasts the window": ("faults[0] lasts until 5.5 s, after the measured window (1 s)",
                                         GOOD + "faults: [{kind: consumer_pause, at_s: 0.5, duration_s: 5}]\n"),
    "a fault that outlasts the shortest swept window": ("faults[0] lasts until 3 s, after the measured window (2 s)",
                                                        GOOD.replace("duration_s: 1}", "}").replace("partitions: [1, 4]", "partitions: [1, 4]\n  duration_s: [2, 10]")
                                                        + "faults: [{kind: consumer_pause, at_s: 1, duration_s: 2}]\n"),
    "two pauses of one broker at once": ("faults[0] (pause) and faults[1] (kill) act on the same broker at once",
                                         GOOD + "faults: [{kind: pause, at_s: 0.1, duration_s: 0.5}, {kind: kill, at_s: 0.3, duration_s: 0.2}]\n"),
    "a consumer paused twice over": ("faults[0] (consumer_pause) and faults[1] (consumer_pause) act on the same consumer",
                                     GOOD + "faults: [{kind: consumer_pause, at_s: 0.1, duration_s: 0.5}, {kind: consumer_pause, at_s: 0.1, duration_s: 0.1}]\n"),
    "a producer killed while a zombie": ("faults[0] (zombie) and faults[1] (producer_kill) act on the same producer",
                                         GOOD + "faults: [{kind: zombie, at_s: 0.1, duration_s: 0.5}, {kind: producer_kill, at_s: 0.3}]\n"),
    "a broker id that is not one": ("'faults[0].target' must be 'leader' or a broker id", GOOD + "faults: [{kind: pause, at_s: 0.5, duration_s: 1, target: 7}]\n"),
}


def invoke(*args: str):
    """The real command line, in this process (hundreds of bad profiles in seconds)."""
    from click.testing import CliRunner

    from bench.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_profile_is_refused_with_one_line_and_nothing_written(tmp_path, kind):
    says, text = BAD[kind]
    path = write(tmp_path, text)
    results = tmp_path / "results"
    for args in (["validate", str(path)], ["run", str(path), "--results-dir", str(results)]):
        result = invoke(*args)
        assert result.exit_code == 2, (kind, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and str(path) in lines[0], (kind, lines)
        assert "Traceback" not in result.output
    assert not results.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]


def test_a_profile_larger_than_a_mebibyte_or_not_text_is_refused_unread(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 120_000)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for path, says in ((big, "larger than 1 MiB"), (binary, "not a text file")):
        result = invoke("validate", str(path))
        assert result.exit_code == 2 and says in result.stderr, result.output


# --set KEY=VALUE -> what the one line says
BAD_SET = {
    "partitions=0": "'sweep.partitions' must be a whole number from 1",
    "workload=0": "'workload' must be a mapping, not int 0",
    "kafka=[]": "'kafka' must be a mapping, not list []",
    "nope=1": "unknown key 'workload.nope'",
    "mode=idempotant": "'sweep.mode' must be one of",
    "repeat=many": "'repeat' must be a whole number from 1 to 100, not 'many'",
    "client.linger.ms=[1, 2]": "'client.linger.ms' must be a single value",
    "kafka.brokers=2": "'kafka.brokers' must be 1 or 3, not 2",
    "faults=x": "'faults' must be a list",
    "workload.transaction_size=5": "'transaction_size' is both in workload and swept",
    "sweep.partitions=[]": "'sweep.partitions' must be a non-empty list",
    "duration_s=.inf": "'workload.duration_s' must be a number > 0",
    "x=" + "[" * 40 + "]" * 40: "--set x: nests mappings and lists more than 16 deep",
    "client.sasl.password": "--set takes KEY=VALUE: 'client.sasl.password' has no '='",
    "replication_factor=3": "replication_factor 3 needs 3 brokers",
    "order=Alternating": "'order' must be interleaved, sequential or alternating, not 'Alternating'",
    "description=[a]": "'description' must be one line of text",
}


@pytest.mark.parametrize("item", BAD_SET)
def test_a_bad_set_value_is_refused_like_a_bad_profile(tmp_path, item):
    path = write(tmp_path, GOOD)
    for args in (["validate", str(path)], ["run", str(path), "--results-dir", str(tmp_path / "results")]):
        result = invoke(*args, "--set", item)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and BAD_SET[item] in lines[0], (item, result.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]


@pytest.mark.parametrize("run_id", ["../../etc", "a/b", "..", ".hidden", "a\nb", "a b", "", "x" * 200])
def test_a_run_id_is_one_safe_path_component_and_resume_stays_in_the_results_directory(tmp_path, run_id):
    path = write(tmp_path, GOOD)
    for resume in ([], ["--resume"]):
        result = invoke("run", str(path), "--results-dir", str(tmp_path / "results"), "--run-id", run_id, *resume)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and "must be one path component" in lines[0], (run_id, result.output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]


def test_a_mistyped_set_names_its_key_and_never_echoes_what_may_be_a_secret(tmp_path):
    result = invoke("validate", str(write(tmp_path, GOOD)), "--set", "client.sasl.password:hunter2")
    assert result.exit_code == 2 and "hunter2" not in result.output
    assert result.stderr.strip().endswith("--set takes KEY=VALUE: 'client.sasl.password...' has no '='")


def test_the_same_guarantee_under_another_spelling_is_accepted(tmp_path):
    """acks=-1 is acks=all, and True is 'true': only a real change of a mode's meaning is refused."""
    p = profiles.load(write(tmp_path, GOOD + "client: {acks: -1, enable.idempotence: true, linger.ms: 5}\n"), ["sweep.mode=[idempotent, transactional]"])
    assert p.client == {"acks": "-1", "enable.idempotence": "true", "linger.ms": "5"}


@pytest.fixture
def token_endpoint(monkeypatch):
    """A local listener standing in for an OIDC token endpoint: what reaches it is kept (directly,
    whatever HTTP proxy the environment names)."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                received.append(conn.recv(65536))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/token", received
    stop.set()
    thread.join()
    server.close()


def test_validating_an_oidc_profile_sends_its_credentials_nowhere(tmp_path, token_endpoint):
    url, received = token_endpoint
    oidc = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "OAUTHBEARER", "sasl.oauthbearer.method": "oidc",
            "sasl.oauthbearer.token.endpoint.url": url, "sasl.oauthbearer.client.id": "svc",
            "sasl.oauthbearer.client.secret": "s3cret-under-review"}
    path = write(tmp_path, GOOD + "client: " + json.dumps(oidc) + "\n")
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output
    time.sleep(1)
    assert received == []
    # The negative control: a client made with the same properties POSTs them at once.
    from confluent_kafka import Producer

    producer = Producer({**oidc, "bootstrap.servers": "127.0.0.1:1", "log_level": 0})
    deadline = time.monotonic() + 20
    while not received and time.monotonic() < deadline:
        producer.poll(0.1)
    assert received and received[0].startswith(b"POST /token")


def test_a_missing_profile_file_is_named(tmp_path):
    result = eosbench("run", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml does not exist" in result.stderr


def test_a_parameter_that_does_not_apply_to_a_mode_does_not_multiply_its_cells(tmp_path):
    cells = plan(profiles.load(write(tmp_path, GOOD)))
    ids = [c.cell_id for c in cells if c.repetition == 1]
    assert ids == [
        "at_least_once-p1", "idempotent-p1", "transactional-ts10-p1",
        "at_least_once-p4", "idempotent-p4", "transactional-ts10-p4",
        "transactional-ts100-p1", "transactional-ts100-p4",
    ]
    assert len(cells) == 2 * len(ids)
    assert {c.spec.transaction_size for c in cells if c.spec.mode != "transactional"} == {None}


def test_interleaved_runs_every_cell_before_the_next_repetition_and_sequential_repeats_in_place(tmp_path):
    interleaved = plan(profiles.load(write(tmp_path, GOOD)))
    assert [c.repetition for c in interleaved] == [1] * 8 + [2] * 8
    sequential = plan(profiles.load(write(tmp_path, GOOD + "order: sequential\n")))
    assert [c.repetition for c in sequential][:4] == [1, 2, 1, 2]
    assert [c.ordinal for c in sequential] == list(range(1, 17))


def test_set_overrides_workload_sweep_and_top_level_keys(tmp_path):
    p = profiles.load(write(tmp_path, GOOD), ["rate=500", "mode=transactional", "repeat=1", "kafka.version=4.0.0", "sweep.partitions=[2]"])
    assert p.workload["rate"] == 500
    assert p.sweep["mode"] == ["transactional"] and p.sweep["partitions"] == [2]
    assert p.repeat == 1 and p.kafka_versions == ("4.0.0",)
    sasl = ["client.security.protocol=SASL_SSL", "client.sasl.mechanism=PLAIN", "client.sasl.username=u", "client.sasl.password=p"]
    assert profiles.load(write(tmp_path, GOOD), sasl).client == {
        "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "p"}
    with pytest.raises(BadInput, match="must be 'max', 'find' or a number"):
        profiles.load(write(tmp_path, GOOD), ["rate=fast"])


@pytest.mark.parametrize("shipped", sorted((REPO / "bench" / "profiles").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_profile_is_valid_and_described(shipped):
    result = eosbench("validate", str(shipped))
    assert result.returncode == 0, result.stderr
    assert profiles.load(shipped).description.strip()


def test_several_kafka_versions_run_in_blocks_that_alternate_every_repetition(tmp_path):
    p = profiles.load(write(tmp_path, GOOD), ["sweep.transaction_size=[10]", "sweep.partitions=[1]"], kafka_version="4.0.0,4.1.1")
    cells = plan(p)
    blocks = [(c.repetition, c.kafka_version) for c in cells]
    assert blocks == [(1, "4.0.0")] * 3 + [(1, "4.1.1")] * 3 + [(2, "4.1.1")] * 3 + [(2, "4.0.0")] * 3
    assert cells[0].cell_id == "at_least_once-p1-k4.0.0" and cells[2].cell_id == "transactional-ts10-p1-k4.0.0"
    with pytest.raises(BadInput, match="list of distinct ones"):
        profiles.load(write(tmp_path, GOOD + "kafka: {version: ['4.1.1', '4.1.1']}\n"))
