"""A comparison between two runs as a self-contained HTML page (plotly.js inlined)."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go
import plotly.offline

from bench.analysis.compare import METHOD, Comparison
from bench.report.page import STYLE, table_html

_COLOURS = {"regression": "#c0392b", "improvement": "#27ae60", "~": "#95a5a6", "within": "#7f8c8d", "?": "#bdc3c7"}


def build_html(result: Comparison, rows: list[list[str]], headers: list[str]) -> str:
    fig = go.Figure()
    cells = [c.cell_id for c in result.cells]
    changes = [c.throughput.change_pct for c in result.cells]
    fig.add_bar(
        x=cells, y=changes, marker_color=[_COLOURS[c.throughput.verdict] for c in result.cells],
        error_y=dict(type="data", visible=True,
                     array=[0 if math.isnan(c.throughput.ci_high_pct) else c.throughput.ci_high_pct - c.throughput.change_pct for c in result.cells],
                     arrayminus=[0 if math.isnan(c.throughput.ci_low_pct) else c.throughput.change_pct - c.throughput.ci_low_pct for c in result.cells]),
        text=[c.throughput.verdict if c.throughput.verdict != "within" else "" for c in result.cells], textposition="outside",
    )
    for level in (-result.max_regression_pct, result.max_regression_pct):
        fig.add_hline(y=level, line_dash="dot", line_color="grey")
    fig.update_layout(template="plotly_white", height=420, yaxis_title="throughput change, new vs base (%)", xaxis_title="cell")
    versions = "".join(f"<li>{html.escape(k)}: {html.escape(str(a))} &rarr; {html.escape(str(b))}</li>" for k, (a, b) in result.versions.items())
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
    return "\n".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>eosbench compare {html.escape(result.base_label)} vs {html.escape(result.new_label)}</title>",
        f"<style>{STYLE}</style><script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head><body>",
        f"<h1>{html.escape(result.new_label)} against {html.escape(result.base_label)}</h1>",
        f"<p class='answer'>{len(result.regressions)} regression(s) beyond {result.max_regression_pct:g}%"
        + (": " + html.escape("; ".join(result.regressions)) if result.regressions else "") + "</p>",
        f"<ul>{versions or '<li>same broker, client and eosbench versions</li>'}</ul>",
        f"<ul class='warn'>{warnings}</ul>" if warnings else "",
        "<h2>Throughput change per cell</h2>",
        fig.to_html(full_html=False, include_plotlyjs=False, div_id="fig-compare", config={"displaylogo": False}),
        "<p class='caption'>Red: a regression (significant and beyond the dotted minimum effect); green: an improvement; grey: "
        f"not significant or within the minimum. Whiskers are 95% intervals. {html.escape(METHOD)}.</p>",
        "<h2>All cells</h2>", table_html(rows, headers), "</body></html>",
    ])
