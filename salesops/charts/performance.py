"""Charts of the Team and Reps pages (pure: domain objects or frames in, alt.Chart out).

Every chart has a title, axis titles in business words and money in the workspace currency;
the page adds a one-line caption under each. Charts that list reps name every one of them:
their height grows with the number of reps and labels are never cut. Data passes through
:func:`_data` first: no ``attrs`` (pandas writes them into the Arrow metadata as JSON, and a
NaN there is invalid JSON for the browser) and no infinities.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .. import metrics
from .base import ACCENT, CATEGORY_SCHEME, HEIGHT, SECONDARY, STATUS_COLORS, TARGET_COLOR, layer, money_axis, money_tooltip, titled

#: Trend KPIs whose per-group values add up (stacked bars); the others are grouped bars.
ADDITIVE = {"won_amount", "won_count", "open_pipeline", "pipeline_created_amount", "lost_count", "open_count"}
#: Name of the point selection on trend bars (the page reads ``event.selection[BAR_SELECTION]``).
BAR_SELECTION = "bar"
#: Colours for up to five compared reps (tableau10 without its grey).
REP_COLORS = ["#4E79A7", "#F28E2B", "#E15759", "#59A14F", "#B07AA1", "#76B7B2", "#EDC948", "#FF9DA7", "#9C755F"]
FREQ_WORDS = {"W": "Week", "M": "Month", "Q": "Fiscal quarter", "Y": "Fiscal year"}
#: Height of one rep's row in a chart that lists reps, and room for their names.
ROW = 22
LABEL_LIMIT = 400


def _data(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """A clean copy for a chart: only ``columns``, no attrs, infinities as missing."""
    out = (frame[columns] if columns is not None else frame).copy()
    out.attrs = {}
    num = out.select_dtypes(include=[np.number]).columns
    if len(num):
        out[num] = out[num].replace([np.inf, -np.inf], np.nan)
    return out


def _rep_axis(title: str = "Rep") -> alt.Axis:
    return alt.Axis(title=title, labelLimit=LABEL_LIMIT)


def value_axis(kind: str, title: str, currency: str) -> alt.Axis:
    if kind in ("money", "money_per_day"):
        return money_axis(currency, f"{title} ({currency}{' per day' if kind == 'money_per_day' else ''})")
    if kind == "pct":
        return alt.Axis(title=title, format=".0%")
    if kind == "ratio":
        return alt.Axis(title=f"{title} (x)", format=".1f")
    if kind == "days":
        return alt.Axis(title=f"{title} (days)", format=",.0f")
    return alt.Axis(title=title, format=",.0f")


def value_tooltip(field: str, kind: str, title: str, currency: str) -> alt.Tooltip:
    if kind in ("money", "money_per_day"):
        return money_tooltip(f"{field}:Q", title, currency)
    if kind == "pct":
        return alt.Tooltip(f"{field}:Q", title=title, format=".1%")
    if kind == "ratio":
        return alt.Tooltip(f"{field}:Q", title=title, format=".2f")
    return alt.Tooltip(f"{field}:Q", title=title, format=",.0f")


def kpi_trend(trend, currency: str, split_label: str | None = None, selectable: bool = True) -> alt.Chart:
    """Bars of one KPI per period (a salesops.trends.Trend), coloured by group when split;
    additive KPIs stack, rates sit side by side. Periods not started yet are pale. Clicking a
    bar selects (period, group) under the selection :data:`BAR_SELECTION`."""
    k = metrics.KPIS[trend.kpi]
    data = _data(trend.frame, ["period_start", "period", metrics.GROUP, "kind", trend.kpi]).rename(columns={trend.kpi: "value"})
    data["value"] = data["value"].astype(float)
    split = trend.by is not None
    x_title = FREQ_WORDS.get(trend.freq, "Period")
    n_periods = data["period"].nunique()
    enc = {
        "x": alt.X("period:N", title=x_title, sort=alt.SortField("period_start"),
                   axis=alt.Axis(labelAngle=-40 if n_periods > 8 else 0, labelLimit=LABEL_LIMIT)),
        "y": alt.Y("value:Q", axis=value_axis(k.kind, k.label, currency), stack="zero" if trend.kpi in ADDITIVE else None),
        "tooltip": [alt.Tooltip("period:N", title=x_title), alt.Tooltip(f"{metrics.GROUP}:N", title=split_label or "Group"),
                    value_tooltip("value", k.kind, k.label, currency), alt.Tooltip("kind:N", title="Period")],
    }
    if split:
        enc["color"] = alt.Color(f"{metrics.GROUP}:N", title=split_label, scale=alt.Scale(scheme=CATEGORY_SCHEME),
                                 legend=alt.Legend(orient="top", labelLimit=LABEL_LIMIT, columns=4))
        if trend.kpi not in ADDITIVE:
            enc["xOffset"] = alt.XOffset(f"{metrics.GROUP}:N")
    else:
        enc["color"] = alt.ColorValue(STATUS_COLORS["won"] if trend.kpi == "won_amount" else ACCENT)
    chart = alt.Chart(data).mark_bar(cornerRadiusTopLeft=2, cornerRadiusTopRight=2).encode(**enc)
    chart = chart.encode(fillOpacity=alt.FillOpacityValue(**alt.condition(alt.datum.kind == "not started", alt.value(0.35), alt.value(1.0))))
    if selectable:
        sel = alt.selection_point(name=BAR_SELECTION, fields=["period", metrics.GROUP], on="click", clear="dblclick")
        chart = chart.add_params(sel).encode(opacity=alt.OpacityValue(**alt.condition(sel, alt.value(1.0), alt.value(0.4))))
    by = f" by {split_label.lower()}" if split and split_label else ""
    return titled(chart.properties(height=HEIGHT), f"{k.label} by {x_title.lower()}{by}",
                  "Click a bar to list the deals behind it; double-click to clear. Pale: not started yet.")


def pacing_chart(pacing, currency: str) -> alt.Chart:
    """Cumulative bookings this period against an even pace to the target, last year's shape
    scaled to the target, and last year's bookings (a salesops.trends.Pacing)."""
    p, ly = pacing.period, pacing.last_year
    names = {"won_to_date": f"Booked in {p.label}", "target_line": f"Even pace to the {pacing.target.label}",
             "last_year_curve_to_target": f"{ly.label}'s shape, scaled to the target",
             "last_year_to_date": f"Booked in {ly.label}"}
    frame = _data(pacing.frame)
    cols = [c for c in names if c in frame.columns and frame[c].notna().any()]
    long = frame.melt(["day", "date"], value_vars=cols, var_name="series", value_name="amount").dropna(subset=["amount"])
    long["series"] = long["series"].map(names)
    domain = [names[c] for c in cols]
    colors = {"won_to_date": ACCENT, "target_line": TARGET_COLOR, "last_year_curve_to_target": SECONDARY,
              "last_year_to_date": "#9E9E9E"}
    dashes = {"won_to_date": [1, 0], "target_line": [6, 4], "last_year_curve_to_target": [2, 2], "last_year_to_date": [1, 0]}
    chart = alt.Chart(long).mark_line(strokeWidth=2.2).encode(
        x=alt.X("date:T", title=f"Day of {p.label}", axis=alt.Axis(format="%d %b")),
        y=alt.Y("amount:Q", axis=money_axis(currency, f"Cumulative bookings ({currency})")),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=domain, range=[colors[c] for c in cols]),
                        legend=alt.Legend(orient="top", columns=2, labelLimit=LABEL_LIMIT)),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=domain, range=[dashes[c] for c in cols]), legend=None),
        tooltip=[alt.Tooltip("date:T", title="Day", format="%d %b %Y"), alt.Tooltip("series:N", title="Line"),
                 money_tooltip("amount:Q", "Cumulative bookings", currency)],
    )
    return titled(chart.properties(height=HEIGHT), f"Pacing inside {p.label}",
                  "Booked to date against the target and against last year's shape of the period.")


def attainment_bars(lb: pd.DataFrame, currency: str, period_label: str) -> alt.Chart:
    """Horizontal bars of attainment (or bookings when no rep has a target) per rep, every rep
    named, 100% marked."""
    has_target = lb["attainment"].notna().any()
    data = _data(lb, ["owner", "attainment", "won_amount", "target"])
    field, axis = ("attainment", alt.Axis(title="Attainment (bookings / target)", format=".0%")) if has_target \
        else ("won_amount", money_axis(currency, f"Bookings ({currency})"))
    data["bar"] = data[field].fillna(0.0)
    bars = alt.Chart(data).mark_bar().encode(
        y=alt.Y("owner:N", axis=_rep_axis(), sort=alt.SortField("bar", order="descending")),
        x=alt.X("bar:Q", axis=axis),
        color=alt.ColorValue(**alt.condition(alt.datum.attainment >= 1, alt.value(STATUS_COLORS["won"]), alt.value(ACCENT)))
        if has_target else alt.ColorValue(ACCENT),
        tooltip=[alt.Tooltip("owner:N", title="Rep"), alt.Tooltip("attainment:Q", title="Attainment", format=".1%"),
                 money_tooltip("won_amount:Q", "Bookings", currency), money_tooltip("target:Q", "Target", currency)],
    )
    layers = [bars]
    if has_target:
        layers.append(alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(color=TARGET_COLOR, strokeDash=[5, 3]).encode(x=alt.X("x:Q")))
    return titled(layer(*layers).properties(height=alt.Step(ROW)),
                  f"{'Attainment' if has_target else 'Bookings'} by rep, {period_label}",
                  "Dashed line: 100% of each rep's own target." if has_target else "No rep has a target: bookings.")


def win_rate_intervals(lb: pd.DataFrame, team_rate: float | None, period_label: str) -> alt.Chart:
    """Each rep's win rate with its 80% interval and the team's rate: long lines = few deals."""
    data = _data(lb[lb["win_rate"].notna()], ["owner", "win_rate", "win_rate_low", "win_rate_high", "won_count",
                                               "lost_count", "small_sample"])
    data["closed"] = data["won_count"] + data["lost_count"]
    data["sample"] = np.where(data["small_sample"], "Few closed deals", "Enough deals")
    base = alt.Chart(data).encode(y=alt.Y("owner:N", axis=_rep_axis(), sort=alt.SortField("win_rate", order="descending")))
    rule = base.mark_rule(strokeWidth=2, color="#90A4AE").encode(
        x=alt.X("win_rate_low:Q", title="Win rate (80% interval)", axis=alt.Axis(format=".0%")), x2=alt.X2("win_rate_high:Q"))
    dots = base.mark_point(filled=True, size=70).encode(
        x=alt.X("win_rate:Q"),
        color=alt.Color("sample:N", title=None, scale=alt.Scale(domain=["Enough deals", "Few closed deals"],
                                                                range=[ACCENT, SECONDARY]), legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("owner:N", title="Rep"), alt.Tooltip("win_rate:Q", title="Win rate", format=".1%"),
                 alt.Tooltip("win_rate_low:Q", title="Low (80%)", format=".1%"),
                 alt.Tooltip("win_rate_high:Q", title="High (80%)", format=".1%"),
                 alt.Tooltip("won_count:Q", title="Won"), alt.Tooltip("closed:Q", title="Closed")],
    )
    layers = [rule, dots]
    if team_rate is not None and np.isfinite(team_rate):
        layers.append(alt.Chart(pd.DataFrame({"x": [float(team_rate)]})).mark_rule(color=TARGET_COLOR, strokeDash=[5, 3])
                      .encode(x=alt.X("x:Q")))
    return titled(layer(*layers).properties(height=alt.Step(ROW)),
                  f"Win rate by rep with its uncertainty, {period_label}",
                  "Lines: 80% interval (Beta); dashed: the team's rate.")


def quadrant_scatter(quad, currency: str, period_label: str) -> alt.Chart:
    """Win rate against average deal size (a salesops.leaderboard.Quadrants), sized by closed
    deals, split at the medians; the five largest and five smallest books are named."""
    data = _data(quad.reps)
    mw, ms = quad.median_win_rate, quad.median_deal_size
    pts = alt.Chart(data).mark_circle(opacity=0.75).encode(
        x=alt.X("avg_deal_size:Q", axis=money_axis(currency, f"Average deal size ({currency})"), scale=alt.Scale(zero=False)),
        y=alt.Y("win_rate:Q", title="Win rate", axis=alt.Axis(format=".0%"), scale=alt.Scale(zero=False)),
        size=alt.Size("closed:Q", title="Closed deals", scale=alt.Scale(range=[40, 600])),
        color=alt.Color("quadrant:N", title=None, scale=alt.Scale(scheme=CATEGORY_SCHEME),
                        legend=alt.Legend(orient="top", columns=2, labelLimit=LABEL_LIMIT)),
        tooltip=[alt.Tooltip("owner:N", title="Rep"), alt.Tooltip("win_rate:Q", title="Win rate", format=".1%"),
                 money_tooltip("avg_deal_size:Q", "Average deal", currency), alt.Tooltip("closed:Q", title="Closed deals"),
                 money_tooltip("won_amount:Q", "Bookings", currency), alt.Tooltip("quadrant:N", title="Quadrant")],
    )
    ranked = data.sort_values("won_amount")
    named = pd.concat([ranked.head(5), ranked.tail(5)]).drop_duplicates("owner")
    labels = alt.Chart(named).mark_text(align="left", dx=8, fontSize=10, color="#555").encode(
        x=alt.X("avg_deal_size:Q"), y=alt.Y("win_rate:Q"), text=alt.Text("owner:N"))
    layers = [pts, labels]
    if np.isfinite(mw):
        layers.append(alt.Chart(pd.DataFrame({"y": [mw]})).mark_rule(color=TARGET_COLOR, strokeDash=[4, 4]).encode(y=alt.Y("y:Q")))
    if np.isfinite(ms):
        layers.append(alt.Chart(pd.DataFrame({"x": [ms]})).mark_rule(color=TARGET_COLOR, strokeDash=[4, 4]).encode(x=alt.X("x:Q")))
    return titled(layer(*layers).properties(height=HEIGHT + 80), f"Win rate vs deal size, {period_label}",
                  "Dashed lines: the medians; bubble size: closed deals; names on the five largest and smallest books.")


def rep_trend_chart(trends: pd.DataFrame, metric: str, title: str, kind: str, currency: str, median_label: str) -> alt.Chart:
    """Monthly ``metric`` of the chosen reps against the median rep (dashed)."""
    data = _data(trends, ["month", "series", metric]).rename(columns={metric: "value"}).dropna(subset=["value"])
    data["is_median"] = np.where(data["series"] == median_label, "median", "rep")
    reps = sorted(set(data["series"]) - {median_label})
    domain = reps + [median_label]
    palette = REP_COLORS[: len(reps)] + [TARGET_COLOR]
    chart = alt.Chart(data).mark_line(point=True, strokeWidth=2).encode(
        x=alt.X("month:T", title="Month", axis=alt.Axis(format="%b %Y")),
        y=alt.Y("value:Q", axis=value_axis(kind, title, currency)),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=domain, range=palette),
                        legend=alt.Legend(orient="top", labelLimit=LABEL_LIMIT)),
        strokeDash=alt.StrokeDash("is_median:N", scale=alt.Scale(domain=["rep", "median"], range=[[1, 0], [5, 4]]), legend=None),
        tooltip=[alt.Tooltip("month:T", title="Month", format="%b %Y"), alt.Tooltip("series:N", title="Rep"),
                 value_tooltip("value", kind, title, currency)],
    )
    return titled(chart.properties(height=HEIGHT), f"{title} by month against the median rep",
                  "Dashed: the median rep that month.")


def funnel_chart(funnel: pd.DataFrame, owner: str, period_label: str) -> alt.Chart:
    """A rep's created -> closed -> won counts beside the median rep."""
    f = _data(funnel)
    long = pd.concat([
        pd.DataFrame({"step": f["step"], "who": owner, "deals": f["count"].astype(float)}),
        pd.DataFrame({"step": f["step"], "who": "Median rep", "deals": f["median_count"].astype(float)}),
    ])
    chart = alt.Chart(long).mark_bar().encode(
        x=alt.X("step:N", title="Funnel step (deals created in the period)", sort=["Created", "Closed", "Won"],
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("deals:Q", title="Deals"),
        color=alt.Color("who:N", title=None, scale=alt.Scale(domain=[owner, "Median rep"], range=[ACCENT, "#B0BEC5"]),
                        legend=alt.Legend(orient="top", labelLimit=LABEL_LIMIT)),
        xOffset=alt.XOffset("who:N", sort=[owner, "Median rep"]),
        tooltip=[alt.Tooltip("step:N", title="Step"), alt.Tooltip("who:N", title="Who"),
                 alt.Tooltip("deals:Q", title="Deals", format=",.1f")],
    )
    return titled(chart.properties(height=HEIGHT - 60), f"{owner}'s funnel, {period_label}", "Beside the median rep.")


def cohort_chart(cohort: pd.DataFrame, currency: str) -> alt.Chart:
    """Average bookings by month since hire of new reps, against the tenured reps' median month."""
    data = _data(cohort)
    data["month"] = data["k"].astype(int) + 1
    bars = alt.Chart(data).mark_bar(color=ACCENT).encode(
        x=alt.X("month:O", title="Month since hire", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("mean_won_amount:Q", axis=money_axis(currency, f"Bookings per new rep ({currency})")),
        tooltip=[alt.Tooltip("month:O", title="Month since hire"), money_tooltip("mean_won_amount:Q", "Average bookings", currency),
                 money_tooltip("median_won_amount:Q", "Median bookings", currency), alt.Tooltip("reps:Q", title="Reps observed"),
                 alt.Tooltip("share_of_tenured:Q", title="Share of a tenured rep", format=".1%")],
    )
    layers = [bars]
    med = data["tenured_median"].dropna()
    if len(med):
        layers.append(alt.Chart(pd.DataFrame({"y": [float(med.iloc[0])]})).mark_rule(color=TARGET_COLOR, strokeDash=[5, 3],
                                                                                    strokeWidth=2).encode(y=alt.Y("y:Q")))
    return titled(layer(*layers).properties(height=HEIGHT - 40), "New-hire bookings by month since hire",
                  "Dashed: the tenured reps' median month.")


def ramp_curve_chart(curve: pd.DataFrame) -> alt.Chart:
    """The ramp factor by month of tenure (share of a tenured rep's productivity)."""
    chart = alt.Chart(_data(curve)).mark_line(point=True, color=ACCENT, interpolate="step-after").encode(
        x=alt.X("month:Q", title="Month since hire", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("ramp_factor:Q", title="Share of full productivity", axis=alt.Axis(format=".0%"),
                scale=alt.Scale(domain=[0, 1.05])),
        tooltip=[alt.Tooltip("month:Q", title="Month since hire"), alt.Tooltip("ramp_factor:Q", title="Ramp factor", format=".1%")],
    )
    return titled(chart.properties(height=HEIGHT - 40), "Ramp curve", "The expected share of a tenured rep's productivity.")


def hierarchy_bars(h: pd.DataFrame, currency: str, level: str, period_label: str) -> alt.Chart:
    """Bookings (and target ticks where there is one) of every team, manager or rep, every one named."""
    data = _data(h[h["level"] == level], ["name", "parent", "won_amount", "target", "attainment", "target_label"])
    word = {"team": "Team", "manager": "Manager", "rep": "Rep"}[level]
    base = alt.Chart(data).encode(y=alt.Y("name:N", axis=_rep_axis(word), sort=alt.SortField("won_amount", order="descending")))
    bars = base.mark_bar(color=STATUS_COLORS["won"]).encode(
        x=alt.X("won_amount:Q", axis=money_axis(currency, f"Bookings ({currency})")),
        tooltip=[alt.Tooltip("name:N", title=word), alt.Tooltip("parent:N", title="Reports to"),
                 money_tooltip("won_amount:Q", "Bookings", currency), money_tooltip("target:Q", "Target", currency),
                 alt.Tooltip("target_label:N", title="Target basis"),
                 alt.Tooltip("attainment:Q", title="Attainment", format=".1%")])
    layers = [bars]
    has_target = bool(data["target"].notna().any())
    if has_target:
        layers.append(base.mark_tick(color=TARGET_COLOR, thickness=3).encode(x=alt.X("target:Q")))
    return titled(layer(*layers).properties(height=alt.Step(26)),
                  f"Bookings by {word.lower()}, {period_label}",
                  "Grey ticks: target." if has_target else "No target is set at this level.")
