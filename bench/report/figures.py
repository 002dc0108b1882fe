"""The report's figures, each a plotly Figure built from RunData and a caption saying how to read it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bench.analysis.columns import CAPACITY, VIEWS
from bench.report.data import RunData

NINES = (50.0, 90.0, 99.0, 99.9, 99.99)
_LAYOUT = dict(template="plotly_white", height=420, margin=dict(l=60, r=20, t=50, b=50), font=dict(size=12))


@dataclass(frozen=True)
class Figure:
    key: str
    title: str
    caption: str
    figure: go.Figure


def all_figures(data: RunData) -> list[Figure]:
    builders = (cost_curve, overhead_bars, overhead_heatmap, throughput_by_transaction_size, cost_of_fan_out, latency_spectrum,
                commit_latency, time_series)
    return [f for build in builders if (f := build(data)) is not None]


_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def cost_curve(data: RunData) -> Figure | None:
    """The answer as one figure: overhead against records per transaction (log x), a line per
    partition count with its bootstrap band, the measured points with their intervals, the
    10-30% band, and the crossings with their intervals."""
    curves = data.curves
    if not curves:
        return None
    fig = go.Figure()
    fig.add_hrect(y0=10, y1=30, fillcolor="#f2c14e", opacity=0.18, line_width=0, annotation_text="10-30%",
                  annotation_position="top left")
    floors = [r.measured_pct for curve in curves for r in curve.residuals if not math.isfinite(r.n)]
    colour = 0
    for curve in curves:
        low, high = curve.n_range
        grid = np.exp(np.linspace(math.log(low), math.log(high), 120))
        prefix = "" if len(curves) == 1 else f"{curve.family.get('message_size')} B, "
        for p in curve.partitions:
            c = _PALETTE[colour % len(_PALETTE)]
            colour += 1
            label = f"{prefix}{p} partition{'s' if p > 1 else ''}"
            band = [curve.predict(float(n), p) for n in grid]
            fig.add_scatter(x=np.concatenate([grid, grid[::-1]]), y=[b.high for b in band] + [b.low for b in band][::-1],
                            fill="toself", fillcolor=c, opacity=0.15, line_width=0, hoverinfo="skip", showlegend=False)
            fig.add_scatter(x=grid, y=[b.value for b in band], mode="lines", line=dict(color=c), name=f"{label}: model")
            points = [r for r in curve.residuals if r.partitions == p and math.isfinite(r.n)]
            fig.add_scatter(x=[r.n for r in points], y=[r.measured_pct for r in points], mode="markers", marker=dict(color=c, size=8),
                            error_y=dict(type="data", array=[r.measured_high_pct - r.measured_pct for r in points],
                                         arrayminus=[r.measured_pct - r.measured_low_pct for r in points]),
                            text=[r.cell_id for r in points], name=f"{label}: measured")
            for r in (r for r in curve.residuals if r.partitions == p and not math.isfinite(r.n)):
                fig.add_hline(y=r.measured_pct, line_dash="dash", line_color=c, opacity=0.6,
                              annotation_text=f"idempotent, {label}: {r.measured_pct:.1f}%",
                              annotation_position="top right" if r.measured_pct == max(floors) else "bottom right")
            for crossing in (x for x in curve.crossings if x.partitions == p and x.status == "inside"):
                n = crossing.n
                fig.add_scatter(x=[n.value], y=[crossing.target_pct], mode="markers", marker=dict(symbol="diamond", size=11, color=c),
                                error_x=dict(type="data", symmetric=False, array=[min(n.high, high) - n.value],
                                             arrayminus=[n.value - max(n.low, low)]),
                                name=f"{label}: {crossing.target_pct:g}% at {n.value:,.0f}", showlegend=False,
                                hovertext=f"{crossing.target_pct:g}% from {n.value:,.0f} [{n.low:,.0f}, {n.high:,.0f}]")
    fig.update_layout(**_LAYOUT, xaxis_type="log", xaxis_title="records per transaction (as measured)",
                      yaxis_title=f"throughput overhead vs {data.baseline} (%)")
    verdicts = "; ".join(c.verdict for c in curves)
    return Figure("cost-curve", "What exactly-once costs across transaction sizes",
                  f"Overhead = 100 x (1 - throughput / {data.baseline} throughput). Points: each measured cell with its 95% "
                  f"interval (its own paired turns). Lines: the model {curves[0].form} fitted to all points at once, "
                  "with its 95% band from a bootstrap of rounds; drawn only across the measured range. Dashed: idempotence "
                  f"alone, the curve's floor. Diamonds: where the overhead falls to 30% and 10%, with their intervals. {verdicts}.", fig)


def overhead_bars(data: RunData) -> Figure | None:
    o = data.overhead
    if o.empty:
        return None
    fig = go.Figure()
    for mode, rows in o.groupby("mode", sort=False):
        low = (rows["overhead_pct"] - rows["ci_low_pct"]).fillna(0)
        high = (rows["ci_high_pct"] - rows["overhead_pct"]).fillna(0)
        fig.add_bar(
            name=mode, x=rows["cell_id"], y=rows["overhead_pct"],
            error_y=dict(type="data", array=high, arrayminus=low, visible=True),
            text=[f"{v:+.1f}%{'' if s else ' ~'}{' ⚑' if f else ''}" for v, s, f in zip(rows["overhead_pct"], rows["significant"], rows["flags"])],
            textposition="outside",
        )
    for level in (10, 30):
        fig.add_hline(y=level, line_dash="dot", line_color="grey", annotation_text=f"{level}%")
    fig.update_layout(**_LAYOUT, yaxis_title=f"throughput overhead vs {data.baseline} (%)", xaxis_title="cell", barmode="group")
    return Figure("overhead", "Overhead of each mode against its baseline",
                  f"Each bar is 100 x (1 - throughput / {data.baseline} throughput) for the matching cell; whiskers are the "
                  "95% interval over repetitions (over paired turns under order alternating), simultaneous over the run's cells "
                  "(a cell with fewer than 3 of them has none); '~' marks a difference that is not significant (Holm) and ⚑ a flagged cell. "
                  "Above the dotted lines a mode costs more than 10% or 30%.", fig)


def overhead_heatmap(data: RunData) -> Figure | None:
    o = data.overhead
    if o.empty or o["transaction_size"].nunique() < 2 or o["partitions"].nunique() < 2:
        return None
    modes = list(o["mode"].unique())
    top = max(30.0, float(np.nanmax(o["overhead_pct"])))
    fig = make_subplots(rows=1, cols=len(modes), subplot_titles=modes, shared_yaxes=True)
    for i, mode in enumerate(modes, start=1):
        rows = o[o["mode"] == mode]
        grid = rows.pivot_table(index="partitions", columns="transaction_size", values="overhead_pct", aggfunc="mean")
        flagged = rows.assign(mark=rows["flags"].astype(bool) | ~rows["significant"]).pivot_table(
            index="partitions", columns="transaction_size", values="mark", aggfunc="max")
        text = [[("" if math.isnan(v) else f"{v:.0f}%" + ("*" if flagged.loc[p, t] else "")) for t, v in zip(grid.columns, row)]
                for p, row in zip(grid.index, grid.values)]
        fig.add_trace(go.Heatmap(
            z=grid.values, x=[str(int(c)) for c in grid.columns], y=[str(int(p)) for p in grid.index], text=text,
            texttemplate="%{text}", colorscale="RdYlGn_r", zmin=0, zmax=top, showscale=(i == len(modes)),
            colorbar=dict(title="overhead %"),
        ), row=1, col=i)
        fig.update_xaxes(title_text="transaction size (records)", type="category", row=1, col=i)
    fig.update_yaxes(title_text="partitions", type="category", row=1, col=1)
    fig.update_layout(**_LAYOUT)
    return Figure("heatmap", "Where EOS costs more than 10% and 30%",
                  "Throughput overhead against the baseline for every transaction size and partition count; green is cheap, "
                  "red is expensive. '*' marks a cell whose figure is not significant or is flagged (unstable or generator-bound).", fig)


def throughput_by_transaction_size(data: RunData) -> Figure | None:
    c = data.cells
    if c.empty or c["transaction_size"].nunique() < 2:
        return None
    fig = go.Figure()
    with_size = c[c["transaction_size"].notna()]
    for (mode, partitions), rows in with_size.groupby(["mode", "partitions"]):
        rows = rows.sort_values("transaction_size")
        fig.add_scatter(x=rows["transaction_size"], y=rows["throughput_msgs"], mode="lines+markers",
                        name=f"{mode}, {partitions} partition(s)",
                        error_y=dict(type="data", array=rows["throughput_sd"].fillna(0), visible=True))
    for row in c[c["transaction_size"].isna()].itertuples():
        fig.add_hline(y=row.throughput_msgs, line_dash="dash", line_width=1,
                      annotation_text=f"{row.mode}, {row.partitions} partition(s)", annotation_position="top left")
    fig.update_layout(**_LAYOUT, xaxis_type="log", xaxis_title="transaction size (records, log)", yaxis_title="throughput (msg/s)",
                      legend=dict(orientation="h", y=-0.2))
    return Figure("throughput", "Throughput against transaction size",
                  "One line per mode and partition count; error bars are the standard deviation over repetitions. "
                  "Dashed lines are the modes without transactions at each partition count: the gap is the cost.", fig)


def cost_of_fan_out(data: RunData) -> Figure | None:
    """Overhead and commit latency against the number of topics each event (and so each transaction) writes to."""
    o, c = data.overhead, data.cells
    if o.empty or "fan_out" not in o or o["fan_out"].nunique() < 2:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"throughput overhead vs {data.baseline} (%)", "commit latency p99 (ms)"))
    for (mode, size), rows in o.groupby(["mode", "transaction_size"], dropna=False, sort=False):
        rows = rows.sort_values("fan_out")
        label = mode if pd.isna(size) else f"{mode}, {int(size)} events/transaction"
        fig.add_scatter(x=rows["fan_out"], y=rows["overhead_pct"], mode="lines+markers", name=label, legendgroup=label,
                        error_y=dict(type="data", array=(rows["ci_high_pct"] - rows["overhead_pct"]).fillna(0),
                                     arrayminus=(rows["overhead_pct"] - rows["ci_low_pct"]).fillna(0), visible=True),
                        row=1, col=1)
        commits = c[(c["mode"] == mode) & ((c["transaction_size"] == size) if not pd.isna(size) else c["transaction_size"].isna())]
        commits = commits.sort_values("fan_out")
        fig.add_scatter(x=commits["fan_out"], y=commits["commit_p99_ms"], mode="lines+markers", name=label, legendgroup=label,
                        showlegend=False, row=1, col=2)
    ticks = sorted(o["fan_out"].unique())
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(int(t)) for t in ticks], title_text="topics per event")
    fig.update_layout(**_LAYOUT, legend=dict(orientation="h", y=-0.25))
    return Figure("fan-out", "What writing each event to several topics costs",
                  "Left: throughput overhead (records/s, every topic's records counted) against the baseline writing the same "
                  "topics without transactions, with 95% intervals; right: commit latency p99. Each topic an event writes to "
                  "adds partitions to the transaction, so more AddPartitionsToTxn entries and more commit markers.", fig)


def _nines(p: float) -> float:
    return -math.log10(1 - p / 100.0)


def latency_spectrum(data: RunData) -> Figure | None:
    if data.cells.empty:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("produce latency", "end-to-end latency"))
    ticks = [_nines(p) for p in NINES]
    for col, kind in enumerate(("produce", "e2e"), start=1):
        for cell_id in data.cells["cell_id"]:
            hist = data.histogram(cell_id, kind)
            if not hist.get_total_count():
                continue
            ps = sorted(set(np.linspace(0, 99.99, 200).tolist() + list(NINES)))
            values = hist.get_percentile_to_value_dict(ps)  # one pass over the counts, not one per percentile
            fig.add_scatter(x=[_nines(p) for p in ps], y=[values.get(p, 0) / 1000 for p in ps],
                            mode="lines", name=cell_id, legendgroup=cell_id, showlegend=(col == 1), row=1, col=col)
        fig.update_xaxes(tickvals=ticks, ticktext=[f"{p:g}" for p in NINES], title_text="percentile", row=1, col=col)
        fig.update_yaxes(type="log", title_text="ms (log)", row=1, col=col)
    fig.update_layout(**_LAYOUT)
    loop = set(data.summary.get("loop", pd.Series(dtype=str)).dropna())
    note = " These are closed-loop latencies (queueing at maximum throughput included)." if loop == {"closed"} else ""
    return Figure("spectrum", "Latency percentile spectrum",
                  "Latency (log scale) at each percentile, on a 'nines' axis so the tail gets room: 50, 90, 99, 99.9, 99.99. "
                  "All repetitions' HdrHistograms merged; end-to-end latency is measured from the intended send time." + note, fig)


def commit_latency(data: RunData) -> Figure | None:
    c = data.cells
    rows = c[c["commit_p99_ms"].notna()] if not c.empty else c
    if rows.empty:
        return None
    fig = go.Figure()
    s = data.summary[data.summary["commit_p50_ms"].notna()]
    grouped = s.groupby(["mode", "transaction_size", "transaction_ms", "partitions"], dropna=False)[["commit_p50_ms", "commit_p99_ms"]].mean().reset_index()
    for (mode, size, ms), r in grouped.groupby(["mode", "transaction_size", "transaction_ms"], dropna=False):
        r = r.sort_values("partitions")
        label = f"{mode}, " + (f"{int(size)} records" if not pd.isna(size) else f"{ms:g} ms")
        fig.add_scatter(x=r["partitions"], y=r["commit_p99_ms"], mode="lines+markers", name=f"{label} p99")
        fig.add_scatter(x=r["partitions"], y=r["commit_p50_ms"], mode="lines+markers", name=f"{label} p50", line_dash="dot")
    ticks = sorted(grouped["partitions"].unique())
    fig.update_layout(**_LAYOUT, xaxis_title="partitions written per transaction", yaxis_title="commit latency (ms)", yaxis_rangemode="tozero")
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(int(t)) for t in ticks])
    return Figure("commit", "Commit latency against partitions per transaction",
                  "Duration of commit_transaction() (with send_offsets_to_transaction for exactly_once_v2, or flush and offset "
                  "commit for at_least_once processors), p50 dotted and p99 solid: each partition in a transaction adds a commit marker to write.", fig)


def time_series(data: RunData) -> Figure | None:
    if data.summary.empty:
        return None
    ok = data.summary[data.summary["status"] == "ok"]
    first = ok.sort_values("repetition").drop_duplicates("cell_id")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("records per second", "consumer lag (records)"))
    buttons, trace_cells, shapes_by_cell = [], [], []
    for row in first.itertuples():
        kind = "e2e" if row.topology == "process" else "produce"
        series = data.interval_counts(row.cell_id, row.repetition, kind)
        fig.add_scatter(x=series.index, y=series.values, name=f"{row.cell_id} throughput", mode="lines", row=1, col=1, visible=False)
        trace_cells.append(row.cell_id)
        lag = data.lag(row.cell_id, row.repetition)
        if not lag.empty:
            final = data.params(row.cell_id, row.repetition)["topics"][-1]
            totals = lag[lag["topic"] == final].groupby("t_s")[["hw_lag", "lso_lag"]].sum()
            for col, label in (("hw_lag", "high-watermark lag"), ("lso_lag", "last-stable-offset lag")):
                fig.add_scatter(x=totals.index, y=totals[col], name=f"{row.cell_id} {label}", mode="lines", row=2, col=1, visible=False)
                trace_cells.append(row.cell_id)
        windows = data.params(row.cell_id, row.repetition).get("fault_windows") or []
        shapes = [dict(type="rect", xref="x2", yref="paper", x0=w["start_s"], x1=w["end_s"], y0=0, y1=1,
                       fillcolor="red", opacity=0.12, line_width=0) for w in windows]
        recommendation = data.lag_recommendations.get(row.cell_id)
        if recommendation:
            shapes += [dict(type="line", xref="x2 domain", x0=0, x1=1, yref="y2", y0=level, y1=level,
                            line=dict(color=color, dash="dash", width=1))
                       for level, color in ((recommendation.warning_records, "orange"), (recommendation.critical_records, "red"))]
        shapes_by_cell.append(shapes)
    cells = list(first["cell_id"])
    for cell_id, shapes in zip(cells, shapes_by_cell):
        buttons.append(dict(label=f"{cell_id} r1", method="update",
                            args=[{"visible": [c == cell_id for c in trace_cells]}, {"shapes": shapes}]))
    for i, c in enumerate(trace_cells):
        fig.data[i].visible = c == cells[0]
    fig.update_layout(**{**_LAYOUT, "height": 520}, shapes=shapes_by_cell[0] if shapes_by_cell else [],
                      updatemenus=[dict(buttons=buttons, direction="down", x=0, xanchor="left", y=1.18, yanchor="top")])
    fig.update_xaxes(title_text="seconds into the measured window", row=2, col=1)
    return Figure("timeseries", "Throughput and lag through each cell",
                  "Pick a cell (first repetition). Top: records acknowledged per second (processed, for topology process). "
                  "Bottom: lag of the verifying consumer; the high-watermark lag (what kafka-consumer-groups.sh shows) includes "
                  "open transactions that a read_committed reader cannot read yet, the last-stable-offset lag does not. "
                  "Dashed lines are the recommended warning (orange) and critical (red) thresholds of `eosbench lag`; "
                  "shaded spans are injected faults.", fig)


def capacity_table(data: RunData) -> pd.DataFrame:
    """Highest sustainable throughput per mode, and the latency it came with.

    Open-loop cells count as sustained when they delivered at least 95% of the asked rate;
    closed-loop cells are their own maximum. Flagged cells are listed with their flags.
    """
    c = data.cells
    if c.empty:
        return pd.DataFrame()
    rate = pd.to_numeric(c["rate"], errors="coerce")
    sustained = c[rate.isna() | (c["throughput_msgs"] >= 0.95 * rate)]
    best = sustained.sort_values("throughput_msgs", ascending=False).drop_duplicates("mode")
    return best[["mode", "cell_id", *VIEWS[CAPACITY], "flags"]]

