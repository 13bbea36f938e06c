"""Charts of the Goals and Compensation pages (pure: DataFrame in, alt.Chart out).

Every chart has a title, axis titles in business words and money in the workspace currency.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .base import ACCENT, HEIGHT, SECONDARY, STATUS_COLORS, TARGET_COLOR, layer, money_axis, money_tooltip, titled

FLAG_COLORS = {"ok": STATUS_COLORS["won"], "stretch": SECONDARY, "above plausible": STATUS_COLORS["lost"],
               "no quota": "#9e9e9e"}
#: Height of one rep's row in charts that list reps (every rep is named).
ROW = 22
REP_AXIS = alt.Axis(labelOverlap=False, labelLimit=220)


def target_comparison(frame: pd.DataFrame, currency: str) -> alt.Chart:
    """Team target options side by side: ``frame`` columns ``label, value, low, high`` (low
    and high only for the landing zone, the P10-P90 band)."""
    data = frame.copy()
    base = alt.Chart(data)
    bars = base.mark_bar(color=ACCENT, opacity=0.85).encode(
        x=alt.X("value:Q", axis=money_axis(currency, f"Team bookings for the period ({currency})")),
        y=alt.Y("label:N", title=None, sort=None, axis=alt.Axis(labelOverlap=False, labelLimit=320)),
        tooltip=[alt.Tooltip("label:N", title="What"), money_tooltip("value:Q", "Amount", currency),
                 money_tooltip("low:Q", "P10", currency), money_tooltip("high:Q", "P90", currency)])
    band = base.transform_filter("isValid(datum.low)").mark_rule(color="black", strokeWidth=2).encode(
        x=alt.X("low:Q"), x2=alt.X2("high:Q"), y=alt.Y("label:N", sort=None))
    return titled(layer(bars, band).properties(height=max(120, 45 * len(data))),
                  "Team target options", "Bars: amount; black line: the landing zone's 80% range (P10-P90)")


def quota_realism(table: pd.DataFrame, currency: str) -> alt.Chart:
    """Each rep's quota (bar, coloured by realism) against the simulated bookings range (P10-P90
    line, P50 dot). ``table``: rep, quota, p10, p50, p90, p_attain, flag."""
    data = table.copy()
    data["realism"] = data["flag"].replace("", "ok")
    data = data.sort_values("quota", ascending=False)
    order = list(data["rep"])
    y = alt.Y("rep:N", title="Rep", sort=order, axis=REP_AXIS)
    tips = [alt.Tooltip("rep:N", title="Rep"), money_tooltip("quota:Q", "Quota", currency),
            alt.Tooltip("p_attain:Q", title="Chance of reaching quota", format=".1%"),
            money_tooltip("p10:Q", "Bookings P10", currency), money_tooltip("p50:Q", "Bookings P50", currency),
            money_tooltip("p90:Q", "Bookings P90", currency), alt.Tooltip("realism:N", title="Realism")]
    bars = alt.Chart(data).mark_bar(opacity=0.75).encode(
        x=alt.X("quota:Q", axis=money_axis(currency, f"Quota and simulated bookings ({currency})")), y=y,
        color=alt.Color("realism:N", title="Realism", scale=alt.Scale(domain=list(FLAG_COLORS), range=list(FLAG_COLORS.values())),
                        legend=alt.Legend(orient="top")),
        tooltip=tips)
    rng = alt.Chart(data).mark_rule(color="black").encode(x=alt.X("p10:Q"), x2=alt.X2("p90:Q"), y=y, tooltip=tips)
    mid = alt.Chart(data).mark_point(color="black", filled=True, size=30).encode(x=alt.X("p50:Q"), y=y, tooltip=tips)
    return titled(layer(bars, rng, mid).properties(height=max(HEIGHT, ROW * len(data))),
                  "Quotas against what each rep is likely to book",
                  "Bar: quota; line: simulated bookings P10-P90; dot: median")


def attainment_probabilities(table: pd.DataFrame) -> alt.Chart:
    """Probability of attainment per rep, with the 50% line."""
    data = table.copy()
    data["realism"] = data["flag"].replace("", "ok")
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("rep:N", title="Rep", sort="-y", axis=alt.Axis(labelOverlap=False, labelLimit=220, labelAngle=-60)),
        y=alt.Y("p_attain:Q", title="Probability of reaching quota", axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("realism:N", title="Realism", scale=alt.Scale(domain=list(FLAG_COLORS), range=list(FLAG_COLORS.values())),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("rep:N", title="Rep"), alt.Tooltip("p_attain:Q", title="Chance of reaching quota", format=".1%")])
    half = alt.Chart(pd.DataFrame({"y": [0.5]})).mark_rule(color=TARGET_COLOR, strokeDash=[4, 4]).encode(y=alt.Y("y:Q"))
    return titled(layer(bars, half).properties(height=HEIGHT), "Probability of attainment by rep",
                  "Dashed line: a coin flip; most teams see 50-70% of reps reach quota")


def payout_curve(curve: pd.DataFrame, cliffs: pd.DataFrame, currency: str, plan_name: str = "") -> alt.Chart:
    """Payout against attainment (``curve``: attainment, payout), cliffs marked in red
    (``cliffs``: attainment, before, after, what; payouts as multiples of target incentive
    get converted by the page)."""
    line = alt.Chart(curve).mark_line(color=ACCENT, strokeWidth=2.5).encode(
        x=alt.X("attainment:Q", title="Attainment of quota", axis=alt.Axis(format=".0%")),
        y=alt.Y("payout:Q", axis=money_axis(currency, f"Commission ({currency})")),
        tooltip=[alt.Tooltip("attainment:Q", title="Attainment", format=".1%"), money_tooltip("payout:Q", "Commission", currency)])
    quota = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(color=TARGET_COLOR, strokeDash=[4, 4]).encode(x=alt.X("x:Q"))
    layers = [line, quota]
    if len(cliffs):
        c = cliffs.copy()
        rules = alt.Chart(c).mark_rule(color=STATUS_COLORS["lost"], strokeWidth=2).encode(
            x=alt.X("attainment:Q"), y=alt.Y("before_payout:Q"), y2=alt.Y2("after_payout:Q"),
            tooltip=[alt.Tooltip("what:N", title="Cliff"), alt.Tooltip("attainment:Q", title="At", format=".0%"),
                     money_tooltip("before_payout:Q", "Just below", currency), money_tooltip("after_payout:Q", "At the point", currency)])
        dots = alt.Chart(c).mark_point(color=STATUS_COLORS["lost"], size=70, filled=True).encode(
            x=alt.X("attainment:Q"), y=alt.Y("after_payout:Q"))
        layers += [rules, dots]
    title = f"Payout curve{': ' + plan_name if plan_name else ''}"
    return titled(layer(*layers).properties(height=HEIGHT), title,
                  "Commission at each attainment (SPIFs excluded); red: cliffs where pay jumps; dashed: quota")


def payouts_by_rep(payouts: pd.DataFrame, currency: str) -> alt.Chart:
    """Commission and SPIFs per rep (stacked bars, one row per rep), reps ordered by attainment."""
    p = payouts.copy()
    long = p.melt(id_vars=["rep", "attainment"], value_vars=["commission", "spif"], var_name="part", value_name="amount")
    long["part"] = long["part"].map({"commission": "Commission", "spif": "SPIFs"})
    order = list(p.sort_values("attainment", ascending=False, na_position="last")["rep"])
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y("rep:N", title="Rep", sort=order, axis=REP_AXIS),
        x=alt.X("amount:Q", axis=money_axis(currency, f"Payout ({currency})"), stack="zero"),
        color=alt.Color("part:N", title="", scale=alt.Scale(domain=["Commission", "SPIFs"], range=[ACCENT, SECONDARY]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("rep:N", title="Rep"), alt.Tooltip("attainment:Q", title="Attainment", format=".1%"),
                 alt.Tooltip("part:N", title="Part"), money_tooltip("amount:Q", "Amount", currency)])
    return titled(chart.properties(height=max(HEIGHT, ROW * len(p))), "Payout per rep",
                  "Ordered by attainment: pay should fall from top to bottom")


def cost_distribution(totals: np.ndarray, currency: str, p90: float | None = None) -> alt.Chart:
    """Histogram of simulated total plan cost, with the P90 line."""
    data = pd.DataFrame({"cost": np.asarray(totals, dtype=float)})
    hist = alt.Chart(data).mark_bar(color=ACCENT, opacity=0.8).encode(
        x=alt.X("cost:Q", bin=alt.Bin(maxbins=40), axis=money_axis(currency, f"Total plan cost for the period ({currency})")),
        y=alt.Y("count():Q", title="Simulations"),
        tooltip=[alt.Tooltip("count():Q", title="Simulations")])
    layers = [hist]
    if p90 is not None:
        rule = alt.Chart(pd.DataFrame({"x": [p90], "label": ["P90"]})).mark_rule(color=STATUS_COLORS["lost"], strokeWidth=2).encode(
            x=alt.X("x:Q"), tooltip=[money_tooltip("x:Q", "P90 cost", currency)])
        layers.append(rule)
    return titled(layer(*layers).properties(height=HEIGHT), "Simulated plan cost",
                  "Red line: P90, the cost exceeded in one period out of ten")


def plan_comparison(table: pd.DataFrame, plans: list[str], currency: str) -> alt.Chart:
    """Total pay per rep under each plan, side by side (``table`` from compare_plans), one row per rep."""
    long = table.melt(id_vars=["rep", "attainment"], value_vars=plans, var_name="plan", value_name="pay")
    order = list(table.sort_values("attainment", ascending=False, na_position="last")["rep"])
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y("rep:N", title="Rep", sort=order, axis=REP_AXIS),
        yOffset=alt.YOffset("plan:N"),
        x=alt.X("pay:Q", axis=money_axis(currency, f"Total pay ({currency})")),
        color=alt.Color("plan:N", title="Plan", legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("rep:N", title="Rep"), alt.Tooltip("plan:N", title="Plan"),
                 alt.Tooltip("attainment:Q", title="Attainment", format=".1%"), money_tooltip("pay:Q", "Pay", currency)])
    return titled(chart.properties(height=max(HEIGHT, (8 + 8 * len(plans)) * len(table))), "Pay per rep under each plan",
                  "Same bookings, different plans; reps ordered by attainment")
