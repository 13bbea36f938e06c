"""Charts of the quarterly review (the page, the deck, the PDF and the HTML draw the same
specs). Pure: DataFrame in, alt.Chart out; every chart has a title and business axis labels."""
from __future__ import annotations

import altair as alt
import pandas as pd

from .base import ACCENT, HEIGHT, STATUS_COLORS, TARGET_COLOR, layer, money_axis, money_tooltip, titled


def for_screen(chart):
    """The chart in type a room can read on a projector (and in the printed deck)."""
    return chart.configure_axis(labelFontSize=14, titleFontSize=14, grid=True, gridOpacity=0.4).configure_legend(
        labelFontSize=14).configure_title(fontSize=19, subtitleFontSize=13).configure_view(strokeWidth=0)


def group_bookings(frame: pd.DataFrame, currency: str, group_label: str, title: str, subtitle: str | None = None) -> alt.Chart:
    """Horizontal bars of bookings per group with the group's target as a tick.

    ``frame``: group, won_amount, target, attainment (metrics.kpis by a field)."""
    data = frame[["group", "won_amount", "target", "attainment"]].copy()
    data["group"] = data["group"].astype(str)
    height = max(HEIGHT - 60, 34 * len(data))
    base = alt.Chart(data).encode(y=alt.Y("group:N", title=group_label, sort="-x", axis=alt.Axis(labelLimit=320, labelOverlap=False)))
    bars = base.mark_bar(color=STATUS_COLORS["won"], cornerRadiusTopRight=3, cornerRadiusBottomRight=3).encode(
        x=alt.X("won_amount:Q", axis=money_axis(currency, f"Bookings ({currency})")),
        tooltip=[alt.Tooltip("group:N", title=group_label), money_tooltip("won_amount:Q", "Bookings", currency),
                 money_tooltip("target:Q", "Target", currency), alt.Tooltip("attainment:Q", title="Attainment", format=".1%")])
    ticks = base.mark_tick(color=TARGET_COLOR, thickness=3, size=26).encode(x=alt.X("target:Q"))
    return titled(layer(bars, ticks).properties(height=height), title, subtitle)


def wins_and_losses(trend: pd.DataFrame, freq_word: str = "quarter") -> alt.Chart:
    """Deals won and lost per period (bars) with the win rate (line, right axis).

    ``trend``: period, won_count, lost_count, win_rate (metrics.series)."""
    data = trend[["period", "won_count", "lost_count", "win_rate"]].copy()
    long = data.melt(["period", "win_rate"], ["won_count", "lost_count"], var_name="outcome", value_name="deals")
    long["outcome"] = long["outcome"].map({"won_count": "Won", "lost_count": "Lost"})
    x = alt.X("period:N", title=f"Fiscal {freq_word}", sort=None, axis=alt.Axis(labelAngle=0))
    bars = alt.Chart(long).mark_bar().encode(
        x=x, xOffset=alt.XOffset("outcome:N", sort=["Won", "Lost"]),
        y=alt.Y("deals:Q", title="Deals closed"),
        color=alt.Color("outcome:N", title=None, scale=alt.Scale(domain=["Won", "Lost"],
                                                                 range=[STATUS_COLORS["won"], STATUS_COLORS["lost"]]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("period:N", title="Period"), alt.Tooltip("outcome:N", title="Outcome"),
                 alt.Tooltip("deals:Q", title="Deals")])
    line = alt.Chart(data).mark_line(color=ACCENT, point=True, strokeWidth=2.5).encode(
        x=x, y=alt.Y("win_rate:Q", title="Win rate", axis=alt.Axis(format="%", orient="right")),
        tooltip=[alt.Tooltip("period:N", title="Period"), alt.Tooltip("win_rate:Q", title="Win rate", format=".1%")])
    return titled(layer(bars, line).resolve_scale(y="independent").properties(height=HEIGHT),
                  f"Deals won and lost by {freq_word}", "Bars: deals closed. Blue line: win rate (right axis).")


def movers(frame: pd.DataFrame, currency: str, title: str, subtitle: str | None = None) -> alt.Chart:
    """Diverging bars of the change in bookings per rep against the comparison period.

    ``frame``: owner, change (money), won_amount."""
    data = frame[["owner", "change", "won_amount"]].copy()
    data["owner"] = data["owner"].astype(str)
    data["direction"] = ["Up" if c >= 0 else "Down" for c in data["change"]]
    height = max(HEIGHT - 60, 30 * len(data))
    chart = alt.Chart(data).mark_bar().encode(
        y=alt.Y("owner:N", title="Rep", sort="-x", axis=alt.Axis(labelLimit=320, labelOverlap=False)),
        x=alt.X("change:Q", axis=money_axis(currency, f"Change in bookings ({currency})")),
        color=alt.Color("direction:N", title=None, legend=None,
                        scale=alt.Scale(domain=["Up", "Down"], range=[STATUS_COLORS["won"], STATUS_COLORS["lost"]])),
        tooltip=[alt.Tooltip("owner:N", title="Rep"), money_tooltip("change:Q", "Change", currency),
                 money_tooltip("won_amount:Q", "Bookings", currency)])
    return titled(chart.properties(height=height), title, subtitle)


def calls_vs_actual(calls: pd.DataFrame, currency: str, title: str, subtitle: str | None = None) -> alt.Chart:
    """Each call's 80% range (P10–P90) and median against what landed (a green rule).

    ``calls``: call (label), p10, p50, p90, actual (the same for every row, NaN while running)."""
    data = calls[["call", "p10", "p50", "p90", "actual"]].copy()
    data["call"] = data["call"].astype(str)
    y = alt.Y("call:N", title=None, sort=None, axis=alt.Axis(labelLimit=260, labelOverlap=False))
    rng = alt.Chart(data).mark_bar(size=26, color="#90CAF9", cornerRadius=3).encode(
        y=y, x=alt.X("p10:Q", scale=alt.Scale(zero=False, nice=True),
                     axis=money_axis(currency, f"Bookings of the period ({currency})")), x2=alt.X2("p90:Q"),
        tooltip=[alt.Tooltip("call:N", title="Call"), money_tooltip("p10:Q", "P10", currency),
                 money_tooltip("p50:Q", "Median call", currency), money_tooltip("p90:Q", "P90", currency)])
    mid = alt.Chart(data).mark_tick(color=ACCENT, thickness=4, size=30).encode(y=y, x=alt.X("p50:Q"))
    layers = [rng, mid]
    landed = data.dropna(subset=["actual"]).head(1)
    if not landed.empty:
        layers.append(alt.Chart(landed).mark_rule(color=STATUS_COLORS["won"], strokeWidth=3).encode(
            x=alt.X("actual:Q"), tooltip=[money_tooltip("actual:Q", "Landed", currency)]))
    return titled(layer(*layers).properties(height=max(180, 70 * len(data))), title, subtitle)


def landing_vs_target(zone: pd.DataFrame, currency: str, title: str, subtitle: str | None = None) -> alt.Chart:
    """Stacked bar of where the period will land (booked, pipeline, new) with the 80% range
    and the target.

    ``zone``: part (label), amount, p10, p90, target (one row per part; the range and the
    target repeat)."""
    data = zone[["part", "amount", "p10", "p90", "target"]].copy()
    data["row"] = "Likely landing"
    data["order"] = range(len(data))
    parts = list(data["part"])
    colours = [STATUS_COLORS["won"], ACCENT, "#90CAF9"][:len(parts)]
    bars = alt.Chart(data).mark_bar(size=46).encode(
        y=alt.Y("row:N", title=None),
        x=alt.X("amount:Q", stack="zero", axis=money_axis(currency, f"Bookings of the period ({currency})")),
        color=alt.Color("part:N", title=None, sort=parts, scale=alt.Scale(domain=parts, range=colours),
                        legend=alt.Legend(orient="top")),
        order=alt.Order("order:Q"),
        tooltip=[alt.Tooltip("part:N", title="Part"), money_tooltip("amount:Q", "Amount", currency)])
    one = data.head(1)
    band = alt.Chart(one).mark_rule(color="#263238", strokeWidth=2).encode(
        y=alt.Y("row:N"), x=alt.X("p10:Q"), x2=alt.X2("p90:Q"),
        tooltip=[money_tooltip("p10:Q", "P10", currency), money_tooltip("p90:Q", "P90", currency)])
    layers = [bars, band]
    if one["target"].notna().all():
        layers.append(alt.Chart(one).mark_tick(color=TARGET_COLOR, thickness=4, size=70).encode(
            y=alt.Y("row:N"), x=alt.X("target:Q"), tooltip=[money_tooltip("target:Q", "Target", currency)]))
    return titled(layer(*layers).properties(height=150), title, subtitle)
