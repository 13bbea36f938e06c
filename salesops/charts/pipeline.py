"""Pipeline charts: the movement waterfall, the stage funnel, time-to-close curves and the
hygiene score over time. Pure: DataFrame in, alt.Chart out."""
from __future__ import annotations

import altair as alt
import pandas as pd

from .. import formats
from ..pipeline import STEP_LABELS, STEP_SIGN, STEPS
from .base import ACCENT, HEIGHT, STATUS_COLORS, TARGET_COLOR, layer, money_axis, money_tooltip, titled

KIND_COLORS = {"Total": ACCENT, "Adds": STATUS_COLORS["won"], "Takes away": STATUS_COLORS["lost"]}


def waterfall_bars(waterfall: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The bar geometry of the waterfall: one row per step in order with label, y0, y1 (the
    running total before and after), kind (Total / Adds / Takes away), amount (signed effect),
    count and text (compact money)."""
    amounts = waterfall.set_index("step")["amount"].to_dict()
    counts = waterfall.set_index("step")["count"].to_dict()
    rows, running = [], 0.0
    for step in STEPS:
        a = float(amounts.get(step, 0.0) or 0.0)
        if STEP_SIGN[step] == 0:
            y0, y1, effect, kind = 0.0, a, a, "Total"
            running = a
        else:
            effect = a if step == "amount_changed" else STEP_SIGN[step] * a
            y0, y1 = running, running + effect
            running = y1
            kind = "Adds" if effect >= 0 else "Takes away"
        sign = "" if kind == "Total" else ("+" if effect >= 0 else "-")
        rows.append({"step": step, "label": STEP_LABELS[step], "y0": y0, "y1": y1, "kind": kind, "amount": effect,
                     "count": int(counts.get(step, 0)), "text": sign + formats.money(abs(effect), currency),
                     "top": max(y0, y1)})
    return pd.DataFrame(rows)


def waterfall_chart(waterfall: pd.DataFrame, currency: str, title: str, subtitle: str | None = None) -> alt.Chart:
    """The movement waterfall: Start of period, what added and took away, End."""
    bars = waterfall_bars(waterfall, currency)
    order = [STEP_LABELS[s] for s in STEPS]
    base = alt.Chart(bars).encode(x=alt.X("label:N", sort=order, title="Pipeline movement",
                                          axis=alt.Axis(labelAngle=-30, labelOverlap=False, labelLimit=140)))
    rect = base.mark_bar(size=44, cornerRadius=2).encode(
        y=alt.Y("y0:Q", axis=money_axis(currency, f"Open pipeline in the period ({currency})")),
        y2=alt.Y2("y1:Q"),
        color=alt.Color("kind:N", title=None, scale=alt.Scale(domain=list(KIND_COLORS), range=list(KIND_COLORS.values())),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("label:N", title="Step"), money_tooltip("amount:Q", "Amount", currency),
                 alt.Tooltip("count:Q", title="Deals")],
    )
    text = base.mark_text(dy=-8, fontSize=11, color="#333").encode(y=alt.Y("top:Q"), text=alt.Text("text:N"))
    return titled(layer(rect, text).properties(height=HEIGHT + 40), title, subtitle)


def funnel_chart(funnel: pd.DataFrame, title: str = "Stage funnel: deals reaching each stage") -> alt.Chart:
    """Horizontal bars of deals that reached each stage, labelled with the conversion onward.

    ``funnel``: stage, reached, conversion (from :func:`salesops.pipeline.funnel`)."""
    f = funnel.copy()
    f["conv_text"] = [("" if pd.isna(c) else f"{formats.pct(c)} move on") for c in f["conversion"]]
    f["reached_text"] = [f"{int(r):,}" for r in f["reached"]]
    order = list(f["stage"])
    base = alt.Chart(f).encode(y=alt.Y("stage:N", sort=order, title="Stage",
                                       axis=alt.Axis(labelOverlap=False, labelLimit=180)))
    bars = base.mark_bar(color=ACCENT, cornerRadiusEnd=3).encode(
        x=alt.X("reached:Q", title="Deals that reached the stage"),
        tooltip=[alt.Tooltip("stage:N", title="Stage"), alt.Tooltip("reached:Q", title="Reached", format=","),
                 alt.Tooltip("conversion:Q", title="Moved on (of decided)", format=".0%"),
                 alt.Tooltip("median_days:Q", title="Median days in stage", format=".0f")],
    )
    label = base.mark_text(align="left", dx=4, fontSize=11, color="#333").encode(
        x=alt.X("reached:Q"), text=alt.Text("conv_text:N"))
    return titled(layer(bars, label).properties(height=max(180, 44 * len(f))), title,
                  "Bar: deals at or beyond the stage. Label: share of decided deals that moved on.")


def current_stages_chart(stages: pd.DataFrame, currency: str) -> alt.Chart:
    """Deals by current stage (when no history allows a funnel)."""
    order = list(stages["stage"])
    chart = alt.Chart(stages).mark_bar(cornerRadiusEnd=3).encode(
        y=alt.Y("stage:N", sort=order, title="Current stage", axis=alt.Axis(labelOverlap=False, labelLimit=180)),
        x=alt.X("deals:Q", title="Deals"),
        color=alt.Color("status:N", title="Status", scale=alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values()))),
        tooltip=[alt.Tooltip("stage:N", title="Stage"), alt.Tooltip("deals:Q", title="Deals", format=","),
                 money_tooltip("amount:Q", "Amount", currency)],
    )
    return titled(chart.properties(height=max(180, 36 * len(stages))), "Deals by current stage",
                  "Without stage history only final stages are known: no stage-to-stage conversion.")


def time_to_close_chart(curve: pd.DataFrame, group_title: str = "Segment", max_days: int | None = None) -> alt.Chart:
    """Share of deals still open N days after creation, one step line per group."""
    c = curve if max_days is None else curve[curve["days"] <= max_days]
    chart = alt.Chart(c).mark_line(interpolate="step-after", strokeWidth=2.2).encode(
        x=alt.X("days:Q", title="Days since the deal was created"),
        y=alt.Y("share_open:Q", title="Share of deals still open", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("group:N", title=group_title, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("group:N", title=group_title), alt.Tooltip("days:Q", title="Days"),
                 alt.Tooltip("share_open:Q", title="Still open", format=".0%"), alt.Tooltip("at_risk:Q", title="Deals still open then")],
    )
    return titled(chart.properties(height=HEIGHT), f"Time to close by {group_title.lower()}",
                  "Open deals count until today and then drop out (Kaplan-Meier), so young pipeline does not look fast.")


def hygiene_trend_chart(by_import: pd.DataFrame, who: str | None = None) -> alt.Chart:
    """The hygiene score (share of clean open deals) at every snapshot, for the team or ``who``."""
    t = by_import.copy()
    t["as_of"] = pd.to_datetime(t["as_of"])
    chart = alt.Chart(t).mark_line(point=True, strokeWidth=2.2, color=ACCENT).encode(
        x=alt.X("as_of:T", title="Snapshot (import) date", axis=alt.Axis(format="%d %b %Y")),
        y=alt.Y("score:Q", title="Clean open deals", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip("as_of:T", title="Snapshot", format="%d %b %Y"), alt.Tooltip("score:Q", title="Clean", format=".0%"),
                 alt.Tooltip("open_count:Q", title="Open deals"), alt.Tooltip("dirty_share:Q", title="Pipeline in dirty deals", format=".0%")],
    )
    return titled(chart.properties(height=HEIGHT - 60), "Hygiene score at each import" + (f": {who}" if who else ""),
                  "Share of open deals with no problem, judged as of each snapshot's date.")


def hygiene_checks_chart(checks: pd.DataFrame) -> alt.Chart:
    """Open deals flagged by each check."""
    chart = alt.Chart(checks).mark_bar(color=STATUS_COLORS["lost"], cornerRadiusEnd=3).encode(
        y=alt.Y("label:N", sort="-x", title="Problem", axis=alt.Axis(labelOverlap=False, labelLimit=240)),
        x=alt.X("count:Q", title="Open deals"),
        tooltip=[alt.Tooltip("label:N", title="Problem"), alt.Tooltip("count:Q", title="Deals")],
    )
    return titled(chart.properties(height=max(180, 36 * len(checks))), "What makes deals dirty")


def push_histogram(push: pd.DataFrame) -> alt.Chart:
    """Open deals by the number of times their close date was pushed."""
    counts = push.groupby("push_count").size().reset_index(name="deals")
    chart = alt.Chart(counts).mark_bar(color=TARGET_COLOR).encode(
        x=alt.X("push_count:O", title="Times the close date was pushed", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("deals:Q", title="Open deals"),
        tooltip=[alt.Tooltip("push_count:O", title="Pushes"), alt.Tooltip("deals:Q", title="Deals")],
    )
    return titled(chart.properties(height=HEIGHT - 80), "Slippage: how often close dates move")
