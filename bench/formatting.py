"""How a percentage and its interval read: the same in the terminal, in Markdown and in HTML; and
figures made fit for JSON."""

from __future__ import annotations

import math


def _rounded(value: float) -> float:
    return round(value, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


def signed(value: float) -> str:
    """+1.2 / -3.4, and never '-0.0' for a change that rounds to nothing."""
    return f"{_rounded(value):+.1f}"


def percent(value: float) -> str:
    """12.3%, and never '-0.0%'."""
    return f"{_rounded(value):.1f}%"


def change_text(pct: float, low: float | None, high: float | None) -> str:
    text = f"{signed(pct)}%"
    if low is not None and not math.isnan(low):
        text += f" [{signed(low)}, {signed(high)}]"
    return text


def overhead_text(row) -> str:
    """A row of the overhead table: the overhead, its interval (or why there is none), and `~` when
    not significant."""
    text = change_text(row.overhead_pct, row.ci_low_pct, row.ci_high_pct)
    if math.isnan(row.ci_low_pct):
        text += " [no interval]"
    return text + ("" if row.significant else " ~")


def finite(value):
    """Plain data for JSON: every NaN or infinity becomes None (JSON has neither), at any depth."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
