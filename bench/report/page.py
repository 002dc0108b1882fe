"""The report page: one self-contained HTML file (plotly.js inlined, no other host contacted) and
a Markdown summary beside it for pull requests and wikis."""

from __future__ import annotations

import datetime as dt
import html
import math

import plotly.offline

from bench.analysis import contrast, model, planning
from bench.analysis.launchers import trogdor_against_local
from bench.analysis.serialization import avro_against_bytes
from bench.analysis.transaction_protocols import v2_against_v1
from bench import modes
from bench.analysis.headline import answer
from bench.analysis.columns import BY_NAME, CAPACITY, COSTS, RESOURCES, view
from bench.errors import BadInput
from bench.parameters import DEFAULT_TRANSACTION_MS, TRANSACTION_VERSION, transactions_protocol
from bench.formatting import change_text, overhead_text
from bench.report.data import RunData
from bench.report.figures import all_figures, capacity_table

STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 24px 48px; color: #1d2733; line-height: 1.45; }
h1 { margin-bottom: 0; } h2 { margin-top: 2.2em; border-bottom: 1px solid #dde3ea; padding-bottom: 4px; }
.sub { color: #5b6b7c; margin-top: 4px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e6ebf0; text-align: right; }
th:first-child, td:first-child, td.l, th.l { text-align: left; }
th { background: #f4f6f9; }
.caption { color: #44505c; font-size: 13px; max-width: 900px; }
.banner { background: #fff4e5; border: 1px solid #f0b35a; padding: 10px 14px; margin: 16px 0; }
.answer { background: #eef6ff; border: 1px solid #9cc2ef; padding: 10px 14px; margin: 16px 0; }
.warn li { color: #8a4b00; }
code { background: #f4f6f9; padding: 1px 4px; }
"""


def build_html(data: RunData) -> str:
    m = data.manifest
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>eosbench report {html.escape(data.run_id)}</title>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<style>{STYLE}</style>",
        f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script>",
        "</head><body>",
        f"<h1>What exactly-once costs: run {html.escape(data.run_id)}</h1>",
        f"<p class='sub'>{html.escape(m['profile'].get('description') or '')}<br>{_when(m)} · "
        f"Kafka {html.escape(str((m.get('broker') or {}).get('version', 'external')))} · librdkafka "
        f"{html.escape(str(m.get('environment', {}).get('librdkafka')))} · {m.get('environment', {}).get('host', {}).get('cores')} cores</p>",
    ]
    if data.partial:
        parts.append(f"<div class='banner'><b>Partial run</b>: status <code>{html.escape(str(m.get('status')))}</code>, "
                     f"{len(data.summary)} of {data.planned} planned cell repetitions finished. Figures show what finished.</div>")
    parts += _headline(data)
    for figure in all_figures(data):
        parts.append(f"<h2 id='{figure.key}'>{html.escape(figure.title)}</h2>")
        parts.append(figure.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-{figure.key}",
                                           config={"displaylogo": False, "responsive": True}))
        parts.append(f"<p class='caption'>{html.escape(figure.caption)}</p>")
    parts += _capacity(data)
    parts += _streams(data)
    parts += _client_stacks(data)
    parts += _schema_layer(data)
    parts += _launchers(data)
    parts += _contrasts(data)
    parts += _resources(data)
    parts += _lag_thresholds(data)
    parts += _guarantees(data)
    parts += _environment(data)
    parts.append("</body></html>")
    return "\n".join(parts)


def _when(manifest: dict) -> str:
    started = manifest.get("started")
    return dt.datetime.fromtimestamp(started, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if started else ""


def _headline(data: RunData) -> list[str]:
    out = ["<h2 id='headline'>Headline</h2>"]
    if data.overhead.empty:
        out.append("<p>No baseline to compare against in this run.</p>")
        return out
    for curve in data.curves:
        out += [f"<p class='answer'>{html.escape(line)}</p>" for line in model.sentences(curve)]
    out.append(f"<p class='answer'>{html.escape(answer(data.overhead))}</p>")
    out.append(table_html(headline_rows(data), ["cell", "mode", "msg/s", f"{data.baseline} msg/s", "overhead [95% CI]", "e2e p99 Δ ms", "flags"]))
    return out


def headline_rows(data: RunData) -> list[list[str]]:
    return [[r.cell_id, r.mode, f"{r.throughput_msgs:,.0f}", f"{r.baseline_throughput_msgs:,.0f}", overhead_text(r),
             f"{r.e2e_p99_delta_ms:+.1f}" if not _nan(r.e2e_p99_delta_ms) else "-",
             "; ".join(filter(None, [str(r.flags), _note(r)]))]
            for r in data.overhead.itertuples()]


def _note(row) -> str:
    return row.interval_note if isinstance(getattr(row, "interval_note", None), str) else ""


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _capacity(data: RunData) -> list[str]:
    table = capacity_table(data)
    if table.empty:
        return []
    shown = view(CAPACITY)
    rows = [[r.mode, r.cell_id, *(m.text(getattr(r, m.name)) for m in shown), str(r.flags)] for r in table.itertuples()]
    return ["<h2 id='capacity'>Capacity</h2>",
            "<p class='caption'>The highest throughput each mode sustained in this run and the latency it came with "
            "(open-loop cells count only if they delivered at least 95% of the asked rate).</p>",
            table_html(rows, ["mode", "cell", *(m.label for m in shown), "flags"])]


def _streams(data: RunData) -> list[str]:
    """What exactly_once_v2 costs a Kafka Streams application: every processor cell of the run
    (Streams and eosbench's own Python processor), its throughput, latency and processor CPU per
    record, the overhead against the baseline, and whether per-key state came out exact."""
    cells = data.cells
    if cells.empty or not cells["mode"].map(lambda m: modes.MODES[m].streams_guarantee is not None).any():
        return []
    cells = cells[cells["topology"] == "process"]
    overheads = {r.cell_id: r for r in data.overhead.itertuples()} if not data.overhead.empty else {}
    rows = []
    for r in cells.itertuples():
        o = overheads.get(r.cell_id)
        streams = modes.MODES[r.mode].streams_guarantee is not None
        rows.append([r.cell_id, r.mode, (r.state if streams else "python processor"),
                     f"{r.transaction_ms:g}" if not _nan(r.transaction_ms) else f"{DEFAULT_TRANSACTION_MS:g} (default)",
                     f"{r.throughput_msgs:,.0f}", overhead_text(o) if o else "baseline" if r.mode == data.baseline else "-",
                     *(view_metric.text(getattr(r, view_metric.name)) for view_metric in _STREAMS_SHOWN),
                     f"{r.aggregates_wrong:,.0f}" if streams and r.state == "stateful" else "-"])
    eos = data.overhead[data.overhead["mode"] == "streams_exactly_once_v2"] if not data.overhead.empty else data.overhead
    return ["<h2 id='streams'>What exactly_once_v2 costs a Kafka Streams application</h2>",
            *([f"<p class='answer'>streams_exactly_once_v2 against {html.escape(str(data.baseline))}: "
               f"{html.escape(answer(eos))}</p>"] if not eos.empty else []),
            "<p class='caption'>A real Kafka Streams application (eosbench's jvm/ module, the run's Kafka version) between "
            "the producers and the verifying consumer; the commit interval is the cell's transaction_ms "
            "(commit.interval.ms). Its throughput is what it processed in the window; stateful cells count per key "
            "in a RocksDB store with a changelog, every update forwarded, and 'aggregates wrong' is how many keys' final "
            "counts (read as the verifying consumer reads) differ from their acknowledged input. Intervals 95%, "
            "simultaneous over the run's cells.</p>",
            table_html(rows, ["cell", "mode", "topology", "commit interval ms", "msg/s", f"overhead vs {data.baseline} [95% CI]",
                              *(m.label for m in _STREAMS_SHOWN), "aggregates wrong"])]


def _client_stacks(data: RunData) -> list[str]:
    """librdkafka (transactions v1) and Kafka's Java clients at transaction.version 1 and 2 side
    by side: each transactional cell's overhead against the baseline of its own driver, its commit
    latency, and the AddPartitionsToTxn round trips its producers made per transaction, as the
    brokers counted them. Shown for runs that have Java-driver cells or set transaction_version."""
    cells = data.cells
    if cells.empty or "driver" not in cells or not ((cells["driver"] == "java").any() or cells["transaction_version"].notna().any()):
        return []
    cluster_level = ((data.manifest.get("broker") or {}).get("features") or {}).get(TRANSACTION_VERSION)
    overheads = {r.cell_id: r for r in data.overhead.itertuples()} if not data.overhead.empty else {}
    rows = []
    for r in cells[cells["mode"].map(lambda m: modes.MODES[m].transactional_producer)].itertuples():
        level = cluster_level if _nan(r.transaction_version) else int(r.transaction_version)
        protocol = transactions_protocol(r.driver, level)
        o = overheads.get(r.cell_id)
        add, end = getattr(r, "requests_per_1k_add_partitions_to_txn", None), getattr(r, "requests_per_1k_end_txn", None)
        rows.append([r.cell_id, r.driver, "-" if level is None else str(level), "?" if protocol is None else f"v{protocol}",
                     f"{r.transaction_size:,.0f}" if not _nan(r.transaction_size) else "-", f"{r.throughput_msgs:,.0f}",
                     overhead_text(o) if o else "-", BY_NAME["commit_p99_ms"].text(r.commit_p99_ms),
                     f"{add / end:.2f}" if not (_nan(add) or _nan(end) or not end) else "-"])
    pairs = [[r.driver, f"{r.transaction_size:,.0f}" if not _nan(r.transaction_size) else "-", f"{r.ratio:.2f}",
              f"[{r.low:.2f}, {r.high:.2f}]" if not _nan(r.low) else "-", str(r.repetitions)]
             for r in v2_against_v1(data.summary).itertuples()]
    paired = (["<p class='caption'>transaction.version 2 against 1, the same cell otherwise: throughput ratio (v2 / v1), "
               "paired by repetition (the cells ran side by side), geometric mean with its 95% t interval. A librdkafka "
               "ratio is the control: its producers speak v1 at either level.</p>",
               table_html(pairs, ["driver", "records per transaction", "throughput v2 / v1", "95% CI", "repetitions"])]
              if pairs else [])
    return ["<h2 id='client-stacks'>Two client stacks, two transactions protocols</h2>",
            "<p class='caption'>Transactional cells by client stack: librdkafka (confluent-kafka), which speaks the "
            "transactions protocol v1 only, and Kafka's own Java clients, which speak v2 (KIP-890: partitions added by "
            "their leaders, no AddPartitionsToTxn round trip, an epoch bump per commit) where the cluster has "
            "transaction.version 2 finalized. Each overhead is against the baseline cell of the same driver in the same "
            "repetition (95% intervals, simultaneous over the run's cells); 'AddPartitionsToTxn per transaction' counts "
            "the producers' requests as the brokers saw them (JMX; brokers' own v4+ requests are counted apart).</p>",
            table_html(rows, ["cell", "driver", "transaction.version", "protocol", "records per transaction", "msg/s",
                              f"overhead vs {data.baseline} [95% CI]", "commit p99 ms", "AddPartitionsToTxn per transaction"]),
            *paired]


def _schema_layer(data: RunData) -> list[str]:
    """Avro through the schema registry against raw bytes, and the schema faults of the Avro cells;
    shown for runs with Avro cells."""
    cells = data.cells
    if cells.empty or "serialization" not in cells or not (cells["serialization"] == "avro").any():
        return []
    rows = [[r.contrast, r.cell, f"{r.base_msgs:,.0f}", f"{r.msgs:,.0f}", change_text(r.overhead_pct, r.ci_low_pct, r.ci_high_pct),
             str(r.pairs), f"{r.base_producer_cpu_us:.1f} / {r.producer_cpu_us:.1f}", f"{r.base_consumer_cpu_us:.1f} / {r.consumer_cpu_us:.1f}",
             f"{r.base_e2e_p99_ms:,.1f} / {r.e2e_p99_ms:,.1f}"]
            for r in avro_against_bytes(data.summary, data.baseline).itertuples()]
    columns = ["schema_refused_records", "schema_refused_written", "schema_foreign_records", "serialize_errors", "registry_outage_records"]
    runs = data.summary[(data.summary["serialization"] == "avro") & (data.summary["status"] == "ok")]
    checks = [[cell_id, *("-" if _nan(v) else f"{v:,.0f}" for v in r)]
              for cell_id, r in runs.groupby("cell_id", sort=False)[columns].sum(min_count=1).iterrows()]
    registry = data.manifest.get("schema_registry") or {}
    where = (f"the embedded {registry.get('product')} {registry.get('version')}" if registry.get("embedded")
             else f"the registry at {registry.get('url')}")
    return ["<h2 id='schema-layer'>What the schema layer costs</h2>",
            f"<p class='caption'>Avro order events (bench.schemas) serialized by the producers and decoded by every reader "
            f"with confluent-kafka's Avro serializer, their schemas in {html.escape(where)} under subject compatibility FULL, "
            "against raw bytes of the same size; and each mode with Avro against the baseline mode with bytes, the stack as "
            "deployed. Overhead = 100 x (1 - throughput / base throughput), paired by repetition, 95% interval per row; "
            "client CPU per record and end-to-end p99 are base / Avro.</p>",
            table_html(rows, ["contrast", "cell", "base msg/s", "msg/s", "overhead [95% CI]", "pairs", "producer CPU us/rec",
                              "consumer CPU us/rec", "e2e p99 ms"]),
            "<p class='caption'>Enforcement, per Avro cell (repetitions added): records the producers tried with a schema the "
            "registry refused (never sent), how many of them were read (must be 0), records read under a schema id no "
            "producer was given (must be 0), records that could not be serialized, and records sent while a registry_pause "
            "fault froze the registry.</p>",
            table_html(checks, ["cell", "refused schema: records tried", "read", "unknown schema id: records read",
                                "serialization errors", "sent while the registry was frozen"])]


def _launchers(data: RunData) -> list[str]:
    """Cells whose roles ran on Trogdor agents against their local twins; shown for runs with both."""
    contrasts = trogdor_against_local(data.summary)
    if contrasts.empty:
        return []
    trogdor = data.manifest.get("trogdor") or {}
    rows = [[r.cell, f"{r.base_msgs:,.0f}", f"{r.msgs:,.0f}", change_text(r.change_pct, r.ci_low_pct, r.ci_high_pct), str(r.pairs),
             f"{r.base_e2e_p99_ms:,.1f} / {r.e2e_p99_ms:,.1f}"] for r in contrasts.itertuples()]
    return ["<h2 id='trogdor'>Roles on Trogdor agents against local processes</h2>",
            f"<p class='caption'>The same cells with their roles run as Trogdor ExternalCommand tasks on the agents "
            f"{html.escape(', '.join(trogdor.get('agents', [])))} of {html.escape(str(trogdor.get('url')))}, and as processes of "
            "the run. Change = 100 x (trogdor / local throughput - 1), paired by repetition, 95% interval per row; "
            "end-to-end p99 is local / trogdor.</p>",
            table_html(rows, ["cell", "local msg/s", "trogdor msg/s", "change [95% CI]", "pairs", "e2e p99 ms"])]


def _contrasts(data: RunData) -> list[str]:
    """The declared contrasts without a section of their own (bench.analysis.contrast), for the run's cells."""
    contrasts = contrast.generic(data.summary)
    if contrasts.empty:
        return []
    rows = [[r.contrast, r.cell, f"{r.base_msgs:,.0f}", f"{r.msgs:,.0f}",
             change_text(100 * (r.ratio - 1), 100 * (r.low - 1), 100 * (r.high - 1)), str(r.pairs),
             f"{r.base_e2e_p99_ms:,.1f} / {r.e2e_p99_ms:,.1f}"] for r in contrasts.itertuples()]
    return ["<h2 id='contrasts'>One setting against another</h2>",
            "<p class='caption'>Cells that differ in one setting only, paired by repetition (they ran side by side): "
            "change = 100 x (throughput / base throughput - 1), 95% interval per row; end-to-end p99 is base / new.</p>",
            table_html(rows, ["contrast", "cell", "base msg/s", "msg/s", "change [95% CI]", "pairs", "e2e p99 ms"])]


_STREAMS_SHOWN = tuple(BY_NAME[name] for name in ("e2e_p50_ms", "e2e_p99_ms", "processor_cpu_us_per_record"))

PLANNING_RATE = 100_000  # records/s: the load the report's capacity table prices


def _resources(data: RunData) -> list[str]:
    """What each mode cost the cluster per record, its overhead in those units against the
    baseline, and what 100,000 records/s would take; left out for runs without broker costs."""
    cells = data.cells
    if cells.empty or planning.REQUIRED not in cells or cells[planning.REQUIRED].isna().all():
        return []
    shown = view(RESOURCES)
    rows = [[r.cell_id, r.mode, *(m.text(getattr(r, m.name)) for m in shown),
             f"{100 * r.broker_cpu_cv:.1f}%" if r.repetitions > 1 and not _nan(r.broker_cpu_cv) else "-"]
            for r in cells.itertuples()]
    out = ["<h2 id='resources'>What exactly-once costs the cluster</h2>",
           "<p class='caption'>Per record of the measured window, read from the brokers (CPU from their processes or JMX, "
           "requests from JMX, log bytes from DescribeLogDirs); '-' where not measured. Request counts and log bytes per "
           "record repeat to within a few percent; broker CPU per record still varies across repetitions (a broker gets "
           "cheaper for minutes after its start: the run's warm-up rounds are in its manifest), hence its cv.</p>",
           table_html(rows, ["cell", "mode", *(m.label for m in shown), "broker CPU cv"])]
    if not data.overhead.empty:
        costs = [[r.cell_id, r.mode, *(change_text(getattr(r, f"{c.name}_overhead_pct"), getattr(r, f"{c.name}_ci_low_pct"),
                                                   getattr(r, f"{c.name}_ci_high_pct"))
                                       if not _nan(getattr(r, f"{c.name}_overhead_pct")) else "-" for c in COSTS)]
                 for r in data.overhead.itertuples()]
        out += [f"<p class='caption'>Overhead per record against {html.escape(str(data.baseline))} in the same repetition "
                "(positive: the mode costs more), 95% intervals.</p>",
                table_html(costs, ["cell", "mode", *(c.label for c in COSTS)])]
    try:
        headers, plan_rows = planning.table(planning.plan(data.summary, PLANNING_RATE, data.baseline), data.baseline)
    except BadInput:
        return out
    out += [f"<p class='caption'>What {PLANNING_RATE:,} records/s would take, per cell ({html.escape(planning.METHOD)}; "
            "<code>eosbench capacity RUN --rate R</code> for another load).</p>", table_html(plan_rows, headers)]
    return out


def _lag_thresholds(data: RunData) -> list[str]:
    recs = list(data.lag_recommendations.values())
    if not recs:
        return []
    rows = [[r.cell_id, f"{r.warning_records:,}", f"{r.critical_records:,}", f"{r.warning_seconds:g}", f"{r.critical_seconds:g}",
             f"{r.detection_records_s:g} / {r.detection_seconds_s:g}",
             "-" if r.transaction_overhead_share is None else f"{r.transaction_overhead_share:.0%}",
             "closed loop: upper bound" if r.closed_loop else ""] for r in recs]
    return ["<h2 id='lag'>Consumer-lag alert thresholds</h2>",
            f"<p class='caption'>Recommended from the measured lag (eosbench lag {html.escape(data.run_id)}). {html.escape(recs[0].rule)}. "
            "Detection is the time from a full consumer stall to crossing critical. Transaction overhead is the share of the "
            "high-watermark lag that a read_committed consumer cannot read (open transactions, commit markers).</p>",
            table_html(rows, ["cell", "warning records", "critical records", "warning s", "critical s", "detection s (records / time)",
                          "transaction overhead", "note"])]


_CHECKS = (
    ("torn_transactions", "committed transactions of which some records were read but not all"),
    ("partial_events", "events (one record per topic) read in some of their topics only"),
    ("aggregates_wrong", "keys whose final per-key count differs from their acknowledged input"),
    ("schema_refused_written", "records tried with a schema the registry refused that were read anyway"),
    ("schema_foreign_records", "records read under a schema id no producer was given"),
)


def _guarantees(data: RunData) -> list[str]:
    s = data.summary
    if s.empty:
        return []
    counted = ["sent", "acked", "consumed", "duplicates", "lost"]
    caption = ("Every record carries an eosbench-id and is accounted for after each cell: duplicates are receptions beyond "
               "the first, lost are acknowledged records never consumed (all repetitions added)")
    for column, meaning in _CHECKS:  # a column only where the run checked it
        if column in s and s[column].notna().any():
            counted.append(column)
            caption += f"; {column.replace('_', ' ')}: {meaning}"
    g = s.groupby("mode", sort=False)[counted].sum(min_count=1).reset_index()
    rows = [[r.mode, *("-" if _nan(getattr(r, c)) else f"{getattr(r, c):,.0f}" for c in counted)] for r in g.itertuples()]
    return ["<h2 id='guarantees'>Guarantees</h2>", f"<p class='caption'>{caption}.</p>",
            table_html(rows, ["mode", *(c.replace("_", " ") for c in counted)])]


def _environment(data: RunData) -> list[str]:
    m = data.manifest
    env = m.get("environment", {})
    host = env.get("host", {})
    broker = m.get("broker") or {}
    rows = [
        ["host", f"{host.get('cpu_model')}, {host.get('cores')} cores, {host.get('memory_gb')} GB, {host.get('os')}"],
        ["python / confluent-kafka / librdkafka", f"{env.get('python')} / {env.get('confluent_kafka')} / {env.get('librdkafka')}"],
        ["broker", f"Kafka {broker.get('version', 'external')}, {broker.get('brokers', '?')} broker(s), {broker.get('source', broker.get('bootstrap_servers', ''))}"],
        ["eosbench", f"{env.get('eosbench', {}).get('version')} ({env.get('eosbench', {}).get('git_commit') or 'no git'})"],
        ["order", f"{m.get('order')}, {m['profile'].get('repeat')} repetition(s)"],
        ["status", str(m.get("status"))],
    ]
    out = ["<h2 id='environment'>Environment</h2>", table_html(rows, ["", ""], left=True)]
    warnings = data.warnings()
    out.append("<h2 id='warnings'>Stability warnings</h2>")
    out.append("<ul class='warn'>" + "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul>" if warnings else "<p>None.</p>")
    return out


def table_html(rows: list[list[str]], headers: list[str], left: bool = False) -> str:
    cls = " class='l'" if left else ""
    head = "".join(f"<th{cls}>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td{cls}>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def build_markdown(data: RunData) -> str:
    lines = [f"# eosbench run {data.run_id}", "", data.manifest["profile"].get("description") or "", ""]
    if data.partial:
        lines += [f"**Partial run** ({data.manifest.get('status')}): {len(data.summary)} of {data.planned} cell repetitions.", ""]
    for curve in data.curves:
        lines += [*model.sentences(curve), ""]
    if not data.overhead.empty:
        lines += [answer(data.overhead), "",
                  f"| cell | mode | msg/s | {data.baseline} msg/s | overhead [95% CI] | e2e p99 Δ ms | flags |",
                  "|---|---|---:|---:|---:|---:|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in headline_rows(data)]
        lines.append("")
    env = data.manifest.get("environment", {})
    lines.append(f"Kafka {(data.manifest.get('broker') or {}).get('version', 'external')}, librdkafka {env.get('librdkafka')}, "
                 f"{env.get('host', {}).get('cores')} cores; overhead = 100 x (1 - throughput / baseline); '~' not significant.")
    return "\n".join(lines) + "\n"
