"""Overview charts: bookings trend against target, and the pace inside the period."""
from __future__ import annotations

import altair as alt
import pandas as pd

from .base import ACCENT, HEIGHT, STATUS_COLORS, TARGET_COLOR, layer, money_axis, money_tooltip, titled


def bookings_vs_target(trend: pd.DataFrame, currency: str, freq_word: str = "quarter") -> alt.Chart:
    """Bars of won bookings per period with the target as a tick line.

    ``trend``: period (label), won_amount, won_count, target, kind ("actual", "in progress",
    "not started")."""
    trend = trend[["period", "won_amount", "won_count", "target", "kind"]]
    base = alt.Chart(trend).encode(x=alt.X("period:N", title=f"Fiscal {freq_word}", sort=None, axis=alt.Axis(labelAngle=0)))
    bars = base.mark_bar(size=34, cornerRadiusTopLeft=3, cornerRadiusTopRight=3).encode(
        y=alt.Y("won_amount:Q", axis=money_axis(currency, f"Bookings ({currency})")),
        color=alt.Color("kind:N", title=None, scale=alt.Scale(domain=["actual", "in progress", "not started"],
                                                              range=[STATUS_COLORS["won"], "#81C784", "#BDBDBD"]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("period:N", title="Period"), money_tooltip("won_amount:Q", "Bookings", currency),
                 alt.Tooltip("won_count:Q", title="Deals won"), money_tooltip("target:Q", "Target", currency)],
    )
    target = base.mark_tick(color=TARGET_COLOR, thickness=3, size=44).encode(y=alt.Y("target:Q"))
    return titled(layer(bars, target).properties(height=HEIGHT),
                  f"Bookings by {freq_word} vs target", "Bars: won amount. Grey ticks: the target.")


def pace_chart(cumulative: pd.DataFrame, currency: str, period_label: str) -> alt.Chart:
    """Cumulative bookings day by day against the straight-line pace to target."""
    long = cumulative.melt("day", value_vars=["won_to_date", "target_pace"], var_name="series", value_name="amount")
    long["series"] = long["series"].map({"won_to_date": "Booked to date", "target_pace": "Pace to target"})
    long = long.dropna(subset=["amount"])
    chart = alt.Chart(long).mark_line(interpolate="step-after", strokeWidth=2.5).encode(
        x=alt.X("day:T", title="Day of the period", axis=alt.Axis(format="%d %b")),
        y=alt.Y("amount:Q", axis=money_axis(currency, f"Cumulative bookings ({currency})")),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=["Booked to date", "Pace to target"], range=[ACCENT, TARGET_COLOR]),
                        legend=alt.Legend(orient="top")),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=["Booked to date", "Pace to target"], range=[[1, 0], [6, 4]]), legend=None),
        tooltip=[alt.Tooltip("day:T", title="Day", format="%d %b %Y"), alt.Tooltip("series:N", title="Line"), money_tooltip("amount:Q", "Amount", currency)],
    )
    return titled(chart.properties(height=HEIGHT), f"Pace inside {period_label}",
                  "Booked to date against an even pace to the period's target.")
