"""A comparison between two runs as a self-contained HTML page (plotly.js inlined)."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go
import plotly.offline

from bench.analysis.columns import COMPARED
from bench.analysis.compare import Comparison, method
from bench.report.page import STYLE, table_html

_COLOURS = {"regression": "#c0392b", "improvement": "#27ae60", "~": "#95a5a6", "within": "#7f8c8d", "?": "#bdc3c7",
            "not gated": "#d5dbe0"}


def build_html(result: Comparison, tables: list[tuple[str, list[str], list[list[str]]]]) -> str:
    versions = "".join(f"<li>{html.escape(k)}: {html.escape(str(a))} &rarr; {html.escape(str(b))}</li>" for k, (a, b) in result.versions.items())
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>eosbench compare {html.escape(result.base_label)} vs {html.escape(result.new_label)}</title>",
        f"<style>{STYLE}</style><script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head><body>",
        f"<h1>{html.escape(result.new_label)} against {html.escape(result.base_label)}</h1>",
        *(f"<p class='banner'><b>Gate failed</b>: {html.escape(failure)}</p>" for failure in result.failures),
        f"<p class='answer'>{len(result.regressions)} regression(s) beyond {result.max_regression_pct:g}%"
        + (": " + html.escape("; ".join(result.regressions)) if result.regressions else "") + "</p>",
        f"<ul>{versions or '<li>same broker, client and eosbench versions</li>'}</ul>",
        f"<ul class='warn'>{warnings}</ul>" if warnings else "",
    ]
    for metric in sorted((c for c in COMPARED if c.chart), key=lambda c: c.table_rank):
        heading, axis = metric.chart
        if fig := _bars(result, metric.name, axis.format(baseline=result.baseline)):
            out += [f"<h2>{heading}</h2>",
                    fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig-compare-{metric.name}", config={"displaylogo": False})]
    out.append("<p class='caption'>Red: a regression (significant and beyond the dotted minimum effect); green: an improvement; "
               f"grey: not significant or within the minimum. Whiskers are 95% simultaneous intervals. "
               f"{html.escape(method(result.design))}.</p>")
    for title, headers, rows in tables:
        out += [f"<h2>{html.escape(title)}</h2>", table_html(rows, headers)]
    return "\n".join(out + ["</body></html>"])


def _bars(result: Comparison, name: str, axis: str) -> go.Figure | None:
    """Each cell's change in one metric, coloured by its verdict."""
    pairs = [(c.cell_id, ch) for c in result.cells if (ch := c.changes().get(name))]
    if not pairs:
        return None
    fig = go.Figure()
    fig.add_bar(
        x=[cell for cell, _ in pairs], y=[ch.change_pct for _, ch in pairs],
        marker_color=[_COLOURS[ch.verdict] for _, ch in pairs],
        error_y=dict(type="data", visible=True,
                     array=[0 if math.isnan(ch.ci_high_pct) else ch.ci_high_pct - ch.change_pct for _, ch in pairs],
                     arrayminus=[0 if math.isnan(ch.ci_low_pct) else ch.change_pct - ch.ci_low_pct for _, ch in pairs]),
        text=[ch.verdict if ch.verdict != "within" else "" for _, ch in pairs], textposition="outside",
    )
    for level in (-result.max_regression_pct, result.max_regression_pct):
        fig.add_hline(y=level, line_dash="dot", line_color="grey")
    fig.update_layout(template="plotly_white", height=420, yaxis_title=axis, xaxis_title="cell")
    return fig
