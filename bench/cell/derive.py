"""A cell's metrics, derived from what its roles reported: the accounting of every record, the
measured window's throughput, latencies, transactions, CPU, and whether the generator or a broker
quota, not Kafka's capacity, set the pace. Written to the cell's metrics.json."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np

from bench import fault_kinds
from bench.cell.spec import CellSpec
from bench.cell.turns import Turns
from bench.metrics import ABORTED, ACKED, PENDING, REQUEST_TYPES, Accounting, LatencySeries, atomicity, expected_aggregates, stream
from bench.roles.protocol import ClientLogResult, ConsumerResult, ProcessorResult, ProducerResult, ProducerSpec, Timeline
from bench.roles.threads import ThreadDemand

GENERATOR_CPU_LIMIT = 0.9  # share of the window a producer thread wanted a CPU (or, unmeasured, of one core its process used) above which the generator, not Kafka, sets the pace


def metrics(spec: CellSpec, producers: list[ProducerResult], processor: ProcessorResult | None, consumer: ConsumerResult,
            cpu_s: dict[str, float], latencies: dict[str, LatencySeries], timeline: Timeline,
            turns: Turns | None = None, turn: int = 0) -> dict[str, Any]:
    """`turns`: the cell took turn `turn` of an alternating group; its figures are over its own
    measured turns (their total length is the throughput's denominator), per turn under `turns`."""
    states = {r.producer_index: np.frombuffer(r.states, dtype=np.uint8) for r in producers}
    accounting = Accounting.of_topics(states, consumer.ids, spec.fan_out)
    window_records = measured_records(producers, processor)
    lengths = turn_lengths(producers) if turns else []
    duration = sum(lengths) if turns else timeline.duration_s
    throughput = window_records / duration
    transactions = [processor] if processor else producers
    cpu_share = max((r.cpu_window_s / duration for r in producers), default=0.0)
    out: dict[str, Any] = {
        **asdict(accounting),
        "window_records": window_records,
        "throughput_msgs": throughput,
        "throughput_mb": throughput * spec.message_size / 1e6,
        "transactions": sum(r.transactions for r in transactions),
        "aborts": sum(r.aborts for r in transactions),
        "aborts_on_purpose": sum(r.aborts_on_purpose for r in producers),
        "rewinds": processor.rewinds if processor else 0,
        "fenced_producers": sum(r.fenced for r in producers),  # zombies refused by the brokers
        **refused_commits(producers),
        "consumer_window_msgs": consumer.window_received / duration,
        "cpu_s": {name: round(s, 3) for name, s in cpu_s.items()},
        "generator_cpu_share": round(cpu_share, 3),
        "backlog": sum(r.backlog for r in producers),  # open loop: scheduled, never sent in the window
        # throttle time the brokers imposed for a quota, summed over requests (so it can pass 1.0 with
        # several requests in flight), per producer, as a share of the window
        "throttled_share": round(sum(r.throttle_ms for r in producers) / (1000 * duration * len(producers)), 3),
        "loop": "closed" if spec.rate is None else "open",
        "out_of_range": {k: s.out_of_range for k, s in latencies.items()},
        **aggregates(states, consumer),
        **transaction_checks(spec, producers, states, consumer),
        **schema_checks(spec, producers, consumer),
    }
    out.update(transaction_shape(producers))
    for kind, series in latencies.items():
        out[kind] = series.percentiles_ms()
    if turns:
        # `window`: the group's timeline start, shared by the cells that took turns together and by no others
        counts = turn_records(producers, states)
        out["turns"] = {**turns.record(turn), "window": timeline.start_ns,
                        "seconds": [round(t, 4) for t in lengths], "records": counts,
                        "throughput_msgs": [round(n / length, 1) for n, length in zip(counts, lengths)]}
    # A fault stalls sends by design: then only the generator-bound test can tell that the generator was the limit.
    send_delay = LatencySeries() if spec.faults else latencies["send_delay"]
    busiest = busiest_thread(producers)
    out["generator_thread"] = {**asdict(busiest), "demand": round(busiest.demand, 3)} if busiest else None
    out["generator_bound"], out["generator_reason"] = generator_bound(cpu_share, busiest)
    out["behind_schedule"] = behind_schedule(cpu_share, send_delay, out["generator_bound"])
    return out


def transaction_shape(producers: list[ProducerResult]) -> dict[str, float]:
    """The measured transactions' mean records and mean distinct partitions: what a transaction
    really was, which the cost model reads (a turn's end commits early, so under order alternating
    a transaction_size larger than a turn holds is cut; a keyless transaction touches the partitions
    librdkafka's sticky partitioner moved through while it was open, not every partition)."""
    sizes, touched = [], []
    for r in producers:
        if r.committed is None or r.committed_partitions is None or not len(r.committed):
            continue
        edges = np.asarray(r.committed).reshape(-1, 2)
        measured = edges[:, 0] >= (r.turn_edges[0] if r.turn_edges else 0)
        sizes.append(edges[measured, 1] - edges[measured, 0])
        touched.append(np.asarray(r.committed_partitions)[measured])
    if not sizes or not sum(len(s) for s in sizes):
        return {}
    return {"records_per_transaction": round(float(np.concatenate(sizes).mean()), 2),
            "partitions_per_transaction": round(float(np.concatenate(touched).mean()), 3)}


def turn_lengths(producers: list[ProducerResult]) -> list[float]:
    """How long each measured turn lasted: from its first send until the last of its producers had
    its records acknowledged (its transaction committed), which is the turn's slot plus that tail."""
    rounds = min((len(r.turn_seconds) for r in producers), default=0)
    return [max(r.turn_seconds[k] for r in producers) for k in range(rounds)]


def turn_records(producers: list[ProducerResult], states: dict[int, np.ndarray]) -> list[int]:
    """Records acknowledged (committed) of each measured turn, all producers together: those each
    sent in its turn. Over the turn's length (`turn_lengths`) they are the turn's throughput."""
    per_producer = []
    for r in producers:
        edges, acked = r.turn_edges, states[r.producer_index] == ACKED
        per_producer.append([int(acked[edges[i]:edges[i + 1]].sum()) for i in range(0, len(edges), 2)])
    rounds = min((len(counts) for counts in per_producer), default=0)
    return [sum(counts[k] for counts in per_producer) for k in range(rounds)]


def turn_resource_costs(spec: CellSpec, records: list[int], broker_cpu_s: list[float | None] | None) -> dict[str, Any]:
    """Broker costs of a cell that took turns: its turns' broker CPU (bench.cell.turn_costs) over
    their records, the turns where a node restarted left out; the other broker figures (requests,
    log bytes) are read at the window's edges only, which the group's modes share: not measured."""
    why = "not measured: under order alternating only the brokers' process CPU is read at every turn's edge"
    if not broker_cpu_s:
        return resource_costs(spec, 0, None, why + " (this cluster's processes are not eosbench's)")
    kept = [(n, cpu) for n, cpu in zip(records, broker_cpu_s) if cpu is not None]
    window = {"broker_cpu_s": {"turns": round(sum(cpu for _, cpu in kept), 3)}, "cpu_source": "proc, at every turn's edge",
              "requests": None, "requests_note": why, "log_bytes": None, "log_note": why, "turns_measured": len(kept)}
    return resource_costs(spec, sum(n for n, _ in kept), window, why)


def measured_records(producers: list[ProducerResult], processor: ProcessorResult | None) -> int:
    """The records that count for the window's throughput: acknowledged (committed, for a
    transactional producer) in topology produce; committed by the processor in topology process,
    or, when the processor cannot tell (Kafka Streams commits on its own schedule, up to once in
    10 s here, which would make a commit count lumpy), processed by it in the window: the same
    rate in steady state, since everything processed is committed at the next commit."""
    if processor is None:
        return sum(r.window_acked for r in producers)
    return processor.window_processed if processor.window_committed is None else processor.window_committed


def with_predecessors(result: ProcessorResult, window_records: int) -> ProcessorResult:
    """A restarted processor's result with what its killed predecessors had counted in the window
    (their last progress report, up to a second old: a lower bound)."""
    if result.window_committed is None:
        return replace(result, window_processed=(result.window_processed or 0) + window_records)
    return replace(result, window_committed=result.window_committed + window_records)


def recovery(faults: list[dict], processor: ProcessorResult, timeline: Timeline) -> None:
    """The last processor_kill's or processor_zombie's recovery time, into its record: from the
    fault to the first commit of the processor that took over (the output it committed is visible
    from then on). The first of several successors is itself struck and its result lost with it,
    so only the last fault is timed; a successor that never committed leaves `recovery_s` null."""
    last = next((f for f in reversed(faults) if fault_kinds.KINDS[f["kind"]].replaces_processor), None)
    if last is not None:
        first = processor.first_commit_ns
        last["recovery_s"] = None if first is None else round((first - timeline.measure_start_ns) / 1e9 - last["start_s"], 3)


def with_zombie(successor: ProcessorResult, zombie: ProcessorResult) -> ProcessorResult:
    """The processor's result with its zombie's (a processor_zombie fault): both processed and
    committed records of the window, the zombie before it froze and after it rejoined the group.
    CPU time and latencies stay each one's own: the zombie keeps its entry in the cell's results."""
    return replace(successor, processed=successor.processed + zombie.processed,
                   window_committed=successor.window_committed + zombie.window_committed,
                   transactions=successor.transactions + zombie.transactions, aborts=successor.aborts + zombie.aborts,
                   rewinds=successor.rewinds + zombie.rewinds)


def reconstructed(spec: ProducerSpec, announced: list[tuple[int, int]], consumed: dict[int, np.ndarray], topics: int,
                  sent_at_least: int = 0) -> ProducerResult:
    """A producer killed by a fault, as far as it can be known from outside: the transactions it
    announced before committing them are committed (the last one only if any of its records was
    read: it may have died while committing it), and everything after them was aborted by its
    successor's init_transactions; without transactions, an event read in any topic was written,
    and one read nowhere has an unknown fate (neither acknowledged nor lost). `sent_at_least`: the
    last progress it reported, so records it sent after its last commit count as aborted even when
    none of them is read."""
    index = spec.producer_index
    read = [consumed.get(stream(t, index), np.zeros(0, dtype=np.int64)) for t in range(topics)]
    top = max([sent_at_least] + [end for _, end in announced] + [int(r.max()) + 1 for r in read if len(r)])
    read_anywhere = np.zeros(top, dtype=bool)
    for r in read:
        read_anywhere[r[r >= 0]] = True
    transactional = "transactional.id" in spec.config
    states = np.full(top, ABORTED if transactional else PENDING, dtype=np.uint8)
    committed: list[int] = []
    if transactional:
        for i, (first, end) in enumerate(announced):
            if i < len(announced) - 1 or read_anywhere[first:end].any():
                states[first:end] = ACKED
                committed += [first, end]
    else:
        states[read_anywhere] = ACKED
    return ProducerResult(
        producer_index=index, states=states.tobytes(), sent=top, elapsed_s=0.0, window_acked=0, acked_during_window=0,
        backlog=0, transactions=len(committed) // 2, aborts=0, aborts_on_purpose=0, cpu_window_s=0.0, cpu_total_s=0.0,
        throttle_ms=0.0, histograms={}, client_log=ClientLogResult([], {}, 0),
        committed=np.asarray(committed, dtype=np.int64) if transactional else None, reconstructed=True,
    )


def transaction_checks(spec: CellSpec, producers: list[ProducerResult], states: dict[int, np.ndarray],
                       consumer: ConsumerResult) -> dict[str, Any]:
    """Torn transactions (transactional producers) and partial events (fan-out), bench.metrics.atomicity."""
    committed = {r.producer_index: r.committed if r.refused is None else np.concatenate([r.committed, r.refused])
                 for r in producers if r.committed is not None}
    if not committed and spec.fan_out == 1:
        return {}
    found = atomicity(states, committed, consumer.ids, spec.fan_out)
    return {k: v for k, v in found.items()
            if (k != "torn_transactions" or committed) and (k != "partial_events" or spec.fan_out > 1)}


def refused_commits(producers: list[ProducerResult]) -> dict[str, Any]:
    """Commits Kafka refused with an error the client holds as fatal that is no fence (the Java
    producer's InvalidTxnStateException): a finding about Kafka, counted with the first error, the
    producer replaced and the load gone on (eosbench.ProducerRole). Nothing where there were none."""
    refused = [r for r in producers if r.refused is not None and len(r.refused)]
    if not refused:
        return {}
    return {"refused_commits": sum(len(r.refused) // 2 for r in refused), "refusal": refused[0].refusal}


def aggregates(states: dict[int, np.ndarray], consumer: ConsumerResult) -> dict[str, Any]:
    """Behind a stateful processor: how many keys' final counts differ from the count of their
    acknowledged input records, and by how many records in all (above 0: input counted twice in
    state; below: input missing from it). Nothing for a stateless cell."""
    if consumer.aggregates is None:
        return {}
    expected = expected_aggregates(states, len(consumer.aggregates))
    return {"aggregates_wrong": int((consumer.aggregates != expected).sum()),
            "aggregate_excess": int(consumer.aggregates.sum() - expected.sum())}


def schema_checks(spec: CellSpec, producers: list[ProducerResult], consumer: ConsumerResult) -> dict[str, Any]:
    """What reached the topics of an Avro cell, schema by schema (nothing for serialization bytes):

    - schema_versions: each version the producers tried, its registry id or the registry's refusal,
      and the records sent with it (or refused with it, never sent);
    - records_by_schema_id: records the verifying consumer read per writer schema id;
    - schema_refused_written: records tried with a refused schema that were read anyway (must be 0);
    - schema_foreign_records: records read under a schema id no producer was given (topology
      produce, must be 0); undecodable: records the registry's schemas could not decode (must be 0);
    - serialize_errors: records that could not be serialized for another reason (the registry
      unreachable when it had to be asked), never sent.
    """
    if spec.serialization != "avro":
        return {}
    versions: dict[int, dict] = {}
    refused_written = 0
    for r in producers:
        for use in r.schemas:
            seen = versions.setdefault(use.version, {"version": use.version, "at_s": use.at_s, "schema_id": use.schema_id,
                                                     "refused": use.refused, "records": 0})
            seen["records"] += use.records
            seen["schema_id"] = seen["schema_id"] or use.schema_id
            if use.refused:
                for t in range(spec.fan_out):
                    seqs = consumer.ids.get(stream(t, r.producer_index), np.zeros(0, dtype=np.int64))
                    refused_written += int(np.count_nonzero((seqs >= use.first) & (seqs < use.first + use.records)))
    read = {int(k): int(v) for k, v in (consumer.schema_ids or {}).items()}
    given = {v["schema_id"] for v in versions.values() if v["schema_id"] is not None}
    return {
        "schema_versions": sorted(versions.values(), key=lambda v: (v["at_s"] is not None, v["at_s"] or 0)),
        "records_by_schema_id": {str(k): v for k, v in sorted(read.items())},
        "schema_refused_records": sum(v["records"] for v in versions.values() if v["refused"]),
        "schema_refused_written": refused_written,
        "schema_foreign_records": sum(n for k, n in read.items() if k not in given) if spec.topology == "produce" else 0,
        "undecodable": consumer.undecodable,
        "serialize_errors": sum(r.serialize_errors for r in producers),
    }


def client_cpu_per_record(cpu_s: dict[str, float], handled: dict[str, int]) -> dict[str, float]:
    """Each client role's CPU microseconds per record it handled over its whole life (set-up and
    drain included, alike for every mode): a producer per record sent, the processor per record
    processed, the verifying consumer per record received."""
    return {role: round(1e6 * cpu_s[role] / n, 3) for role, n in handled.items() if n and role in cpu_s}


def resource_costs(spec: CellSpec, records: int, window: dict | None, why_not: str) -> dict[str, Any]:
    """The brokers' costs of the measured window per record (bench.cell.resources.Window), and the
    window's raw figures under `resources`; a figure that was not measured is None, never a guess.

    `records` are those the brokers took during the window (acknowledged, or committed by the
    processor, between its edges), not the records due in it: an open-loop producer that fell
    behind sends in the window records that were due before it (seen: 2,582 log bytes per 1 KB
    record when counted against the records due, 1,047 against those appended).

    Log bytes per record count one replica of each partition of the cell's topics (what a record
    costs the log; the disk holds it replication-factor times), and include the record batches'
    headers and the transaction markers; the overhead is what lies beyond the value's bytes.
    """
    out: dict[str, Any] = {"resources": {**window, "records": records} if window else {"note": why_not}}
    cpu = (window or {}).get("broker_cpu_s")
    requests = (window or {}).get("requests")
    log = (window or {}).get("log_bytes")
    out["broker_cpu_us_per_record"] = 1e6 * sum(cpu.values()) / records if cpu and records else None
    out["broker_cpu_ms_per_mb"] = 1e3 * sum(cpu.values()) / (records * spec.message_size / 1e6) if cpu and records else None
    out["log_bytes_per_record"] = log["cell"] / records if log and records else None
    out["log_replicated_bytes_per_record"] = log["cell_replicas"] / records if log and records else None
    out["log_overhead_bytes_per_record"] = out["log_bytes_per_record"] - spec.message_size if out["log_bytes_per_record"] else None
    out["internal_log_bytes_per_record"] = (sum(v for k, v in log.items() if k.startswith("__")) / records
                                            if log and records else None)
    out["requests_per_1k"] = ({kind: 1000 * requests.get(kind, 0) / records for kind in REQUEST_TYPES}
                              if requests is not None and records else None)
    return out


# End-to-end latency across hosts is timed on one clock to within the offset's uncertainty
# (bench.trogdor.launcher); past this it would be mostly clock error, and is left out.
CROSS_HOST_CLOCK_LIMIT_US = 1_000.0


def cross_host_latency_refused(clock: dict | None) -> str:
    """Why the cell's end-to-end latencies are left out ('' when they are kept)."""
    if not clock or clock["same_host"] or clock["e2e_uncertainty_us"] <= CROSS_HOST_CLOCK_LIMIT_US:
        return ""
    return (f"producers and readers ran on hosts whose clocks are known to +-{clock['e2e_uncertainty_us']:,.0f} us only "
            f"(more than {CROSS_HOST_CLOCK_LIMIT_US:,.0f} us): end-to-end latency not reported")


def agents(placement: dict[str, dict], results: dict, duration_s: float) -> dict[str, dict]:
    """Per Trogdor agent: its host, the roles it ran, their CPU, its producers' CPU in the measured
    window as a share of one core, and whether they kept every core of the host busy (a
    generator-bound agent; `generator_bound` looks at each producer alone)."""
    out: dict[str, dict] = {}
    for name, where in sorted(placement.items()):
        agent = out.setdefault(where["agent"], {"host": where["host"], "cpus": where["cpus"], "roles": [], "cpu_s": 0.0,
                                                "producer_cpu_share": 0.0})
        agent["roles"].append(name)
        result = results.get(name)
        if result is not None and not getattr(result, "reconstructed", False):
            agent["cpu_s"] = round(agent["cpu_s"] + result.cpu_total_s, 3)
            if isinstance(result, ProducerResult):
                agent["producer_cpu_share"] = round(agent["producer_cpu_share"] + result.cpu_window_s / duration_s, 3)
    for agent in out.values():
        agent["generator_bound"] = agent["producer_cpu_share"] >= GENERATOR_CPU_LIMIT * agent["cpus"]
    return out


def busiest_thread(producers: list[ProducerResult]) -> ThreadDemand | None:
    """Of every producer's busiest thread in the window, the one that most wanted a CPU; None
    unless every producer that ran measured its threads."""
    measured = [r.busiest_thread for r in producers if not r.reconstructed]
    if not measured or None in measured:
        return None
    return max(measured, key=lambda t: t.demand)


def generator_bound(cpu_share: float, busiest: ThreadDemand | None) -> tuple[bool, str]:
    """The load generator, not Kafka, set the pace: a producer thread that wanted a CPU all the
    window (it never waited for Kafka; bench.roles.threads); where threads were not measured, a
    producer process near a full core."""
    if busiest is not None:
        if busiest.demand >= GENERATOR_CPU_LIMIT:
            return True, (f"a producer thread ({busiest.name}) wanted a CPU {busiest.demand:.0%} of the window ({busiest.on_cpu:.0%} on one): "
                          "it never waited for Kafka; add producers or use a bigger machine")
        return False, ""
    if cpu_share >= GENERATOR_CPU_LIMIT:
        return True, f"a producer process used {cpu_share:.0%} of a core: add producers or use a bigger machine"
    return False, ""


def behind_schedule(cpu_share: float, send_delay: LatencySeries, generator_bound: bool) -> str:
    """Why an open-loop producer fell ever further behind its schedule, or '' if it did not.

    With a core to spare the producer was waiting, on librdkafka's full queue or on a commit:
    Kafka did not take the rate (saturated, or throttled by a quota). A generator-bound producer
    did not keep it itself, which `generator_bound` already says.
    """
    means = [h.get_mean_value() for _, h in sorted(send_delay.intervals.items())]
    if len(means) < 6:
        return ""
    third = len(means) // 3
    early, late = np.mean(means[:third]), np.mean(means[-third:])
    if late <= 10_000 or late <= 2 * early:
        return ""
    who = "the generator" if generator_bound else "Kafka (saturated, or throttled by a quota)"
    return (f"send delay grew from {early / 1000:.1f} ms to {late / 1000:.1f} ms with the producer at {cpu_share:.0%} "
            f"of a core: {who} did not keep the rate")
