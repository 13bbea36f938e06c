"""Charts of the Team and Reps pages (pure: DataFrame in, alt.Chart out).

Every chart has a title, axis titles in business words and money in the workspace currency;
the page adds a one-line caption under each.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .base import ACCENT, CATEGORY_SCHEME, HEIGHT, SECONDARY, STATUS_COLORS, TARGET_COLOR, money_axis, money_tooltip, titled

#: Trend KPIs whose per-group values add up (stacked bars); the others are grouped bars.
ADDITIVE = {"won_amount", "won_count", "open_pipeline", "pipeline_created_amount"}
#: Name of the point selection on trend bars (the page reads ``event.selection[BAR_SELECTION]``).
BAR_SELECTION = "bar"
#: Colours for up to five compared reps (tableau10 without its grey).
REP_COLORS = ["#4E79A7", "#F28E2B", "#E15759", "#59A14F", "#B07AA1", "#76B7B2", "#EDC948", "#FF9DA7", "#9C755F"]
FREQ_WORDS = {"W": "Week", "M": "Month", "Q": "Fiscal quarter", "Y": "Fiscal year"}


def _value_axis(kind: str, title: str, currency: str) -> alt.Axis:
    if kind == "money":
        return money_axis(currency, f"{title} ({currency})")
    if kind == "pct":
        return alt.Axis(title=title, format=".0%")
    if kind == "ratio":
        return alt.Axis(title=f"{title} (x)", format=".1f")
    return alt.Axis(title=title, format=",.0f")


def _value_tooltip(field: str, kind: str, title: str, currency: str) -> alt.Tooltip:
    if kind == "money":
        return money_tooltip(f"{field}:Q", title, currency)
    if kind == "pct":
        return alt.Tooltip(f"{field}:Q", title=title, format=".1%")
    if kind == "ratio":
        return alt.Tooltip(f"{field}:Q", title=title, format=".2f")
    return alt.Tooltip(f"{field}:Q", title=title, format=",.0f")


def kpi_trend(series: pd.DataFrame, kpi: str, name: str, kind: str, currency: str, freq: str,
              split_label: str | None = None, selectable: bool = True) -> alt.Chart:
    """Bars of one KPI per period (``series`` from performance.kpi_series), coloured by group
    when split; additive KPIs stack, ratios sit side by side. Clicking a bar selects
    (period_start, group) under the selection :data:`BAR_SELECTION`."""
    data = series[["period_start", "period", "group", kpi]].rename(columns={kpi: "value"}).copy()
    data["value"] = data["value"].astype(float)
    split = split_label is not None and data["group"].nunique() > 0 and data["group"].ne("all").any()
    x_title = FREQ_WORDS.get(freq, "Period")
    base = alt.Chart(data)
    enc = {
        "x": alt.X("period:N", title=x_title, sort=alt.SortField("period_start"), axis=alt.Axis(labelAngle=-40 if len(data["period"].unique()) > 8 else 0)),
        "y": alt.Y("value:Q", axis=_value_axis(kind, name, currency), stack="zero" if kpi in ADDITIVE else None),
        "tooltip": [alt.Tooltip("period:N", title=x_title), alt.Tooltip("group:N", title=split_label or "Group"),
                    _value_tooltip("value", kind, name, currency)],
    }
    if split:
        enc["color"] = alt.Color("group:N", title=split_label, scale=alt.Scale(scheme=CATEGORY_SCHEME), legend=alt.Legend(orient="top"))
        if kpi not in ADDITIVE:
            enc["xOffset"] = alt.XOffset("group:N")
    else:
        enc["color"] = alt.value(STATUS_COLORS["won"] if kpi == "won_amount" else ACCENT)
    chart = base.mark_bar(cornerRadiusTopLeft=2, cornerRadiusTopRight=2).encode(**enc)
    if selectable:
        sel = alt.selection_point(name=BAR_SELECTION, fields=["period_start", "period", "group"], on="click", clear="dblclick")
        chart = chart.add_params(sel).encode(opacity=alt.condition(sel, alt.value(1.0), alt.value(0.45)))
    by = f" by {split_label.lower()}" if split else ""
    return titled(chart.properties(height=HEIGHT), f"{name} by {x_title.lower()}{by}",
                  "Click a bar to list the deals behind it; double-click to clear.")


def pacing_chart(pace: pd.DataFrame, currency: str, period_label: str, last_year_label: str) -> alt.Chart:
    """Cumulative bookings this period vs the target line, last year's curve scaled to the
    target, and last year's actual bookings (``pace`` from performance.pacing)."""
    names = {"won_to_date": f"Booked in {period_label}", "target_line": "Even pace to target",
             "last_year_curve_to_target": "Last year's shape, scaled to target",
             "last_year_to_date": f"Booked in {last_year_label}"}
    cols = [c for c in names if c in pace.columns and pace[c].notna().any()]
    long = pace.melt(["day", "date"], value_vars=cols, var_name="series", value_name="amount").dropna(subset=["amount"])
    long["series"] = long["series"].map(names)
    domain = [names[c] for c in cols]
    colors = {"won_to_date": ACCENT, "target_line": TARGET_COLOR, "last_year_curve_to_target": SECONDARY, "last_year_to_date": "#9E9E9E"}
    dashes = {"won_to_date": [1, 0], "target_line": [6, 4], "last_year_curve_to_target": [2, 2], "last_year_to_date": [1, 0]}
    chart = alt.Chart(long).mark_line(strokeWidth=2.2).encode(
        x=alt.X("date:T", title="Day of the period", axis=alt.Axis(format="%d %b")),
        y=alt.Y("amount:Q", axis=money_axis(currency, f"Cumulative bookings ({currency})")),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=domain, range=[colors[c] for c in cols]), legend=alt.Legend(orient="top", columns=2)),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=domain, range=[dashes[c] for c in cols]), legend=None),
        tooltip=[alt.Tooltip("date:T", title="Day", format="%d %b %Y"), alt.Tooltip("series:N", title="Line"),
                 money_tooltip("amount:Q", "Cumulative bookings", currency)],
    )
    return titled(chart.properties(height=HEIGHT), f"Pacing inside {period_label}",
                  "Booked to date against the target and against last year's curve.")


def attainment_bars(lb: pd.DataFrame, currency: str, period_label: str) -> alt.Chart:
    """Horizontal bars of attainment (or bookings when no targets) per rep, 100% marked."""
    has_target = lb["attainment"].notna().any()
    data = lb[["owner", "attainment", "won_amount", "target", "small_sample"]].copy()
    field, axis = ("attainment", alt.Axis(title="Attainment (bookings / target)", format=".0%")) if has_target \
        else ("won_amount", money_axis(currency, f"Bookings ({currency})"))
    data[field] = data[field].fillna(0.0)
    bars = alt.Chart(data).mark_bar().encode(
        y=alt.Y("owner:N", title="Rep", sort=alt.SortField(field, order="descending")),
        x=alt.X(f"{field}:Q", axis=axis),
        color=alt.condition(alt.datum.attainment >= 1, alt.value(STATUS_COLORS["won"]), alt.value(ACCENT)) if has_target else alt.value(ACCENT),
        tooltip=[alt.Tooltip("owner:N", title="Rep"), alt.Tooltip("attainment:Q", title="Attainment", format=".0%"),
                 money_tooltip("won_amount:Q", "Bookings", currency), money_tooltip("target:Q", "Target", currency)],
    )
    layers = [bars]
    if has_target:
        layers.append(alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(color=TARGET_COLOR, strokeDash=[5, 3]).encode(x="x:Q"))
    return titled(alt.layer(*layers).properties(height=alt.Step(22)),
                  f"{'Attainment' if has_target else 'Bookings'} by rep, {period_label}",
                  "Dashed line: 100% of target." if has_target else "No targets loaded: ranked by bookings.")


def win_rate_intervals(lb: pd.DataFrame, team_rate: float | None, period_label: str) -> alt.Chart:
    """Each rep's win rate with its 80% interval and the team's rate: wide bars = small samples."""
    data = lb[lb["win_rate"].notna()][["owner", "win_rate", "win_rate_low", "win_rate_high", "won_count", "lost_count", "small_sample"]].copy()
    data["closed"] = data["won_count"] + data["lost_count"]
    data["sample"] = np.where(data["small_sample"], "Small sample", "Enough deals")
    base = alt.Chart(data).encode(y=alt.Y("owner:N", title="Rep", sort=alt.SortField("win_rate", order="descending")))
    rule = base.mark_rule(strokeWidth=2, color="#90A4AE").encode(
        x=alt.X("win_rate_low:Q", title="Win rate (80% interval)", axis=alt.Axis(format=".0%")), x2="win_rate_high:Q")
    dots = base.mark_point(filled=True, size=70).encode(
        x="win_rate:Q",
        color=alt.Color("sample:N", title=None, scale=alt.Scale(domain=["Enough deals", "Small sample"], range=[ACCENT, SECONDARY]), legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("owner:N", title="Rep"), alt.Tooltip("win_rate:Q", title="Win rate", format=".0%"),
                 alt.Tooltip("win_rate_low:Q", title="Low (80%)", format=".0%"), alt.Tooltip("win_rate_high:Q", title="High (80%)", format=".0%"),
                 alt.Tooltip("won_count:Q", title="Won"), alt.Tooltip("closed:Q", title="Closed")],
    )
    layers = [rule, dots]
    if team_rate is not None and np.isfinite(team_rate):
        layers.append(alt.Chart(pd.DataFrame({"x": [team_rate]})).mark_rule(color=TARGET_COLOR, strokeDash=[5, 3]).encode(x="x:Q"))
    return titled(alt.layer(*layers).properties(height=alt.Step(22)),
                  f"Win rate by rep with its uncertainty, {period_label}", "Lines: 80% interval (Beta); dashed: the team's rate.")


def quadrant_scatter(quad: pd.DataFrame, currency: str, period_label: str) -> alt.Chart:
    """Win rate vs average deal size, sized by closed deals, split at the team medians."""
    mw, ms = quad.attrs.get("median_win_rate", np.nan), quad.attrs.get("median_deal_size", np.nan)
    pts = alt.Chart(quad).mark_circle(opacity=0.75).encode(
        x=alt.X("avg_deal_size:Q", axis=money_axis(currency, f"Average deal size ({currency})"), scale=alt.Scale(zero=False)),
        y=alt.Y("win_rate:Q", title="Win rate", axis=alt.Axis(format=".0%"), scale=alt.Scale(zero=False)),
        size=alt.Size("closed:Q", title="Closed deals", scale=alt.Scale(range=[40, 600])),
        color=alt.Color("quadrant:N", title=None, scale=alt.Scale(scheme=CATEGORY_SCHEME), legend=alt.Legend(orient="top", columns=2)),
        tooltip=[alt.Tooltip("owner:N", title="Rep"), alt.Tooltip("win_rate:Q", title="Win rate", format=".0%"),
                 money_tooltip("avg_deal_size:Q", "Average deal", currency), alt.Tooltip("closed:Q", title="Closed deals"),
                 money_tooltip("won_amount:Q", "Bookings", currency), alt.Tooltip("quadrant:N", title="Quadrant")],
    )
    # name only the reps worth a look: the five largest and the five smallest books
    ranked = quad.sort_values("won_amount")
    named = pd.concat([ranked.head(5), ranked.tail(5)]).drop_duplicates("owner")
    labels = alt.Chart(named).mark_text(align="left", dx=8, fontSize=10, color="#555").encode(
        x="avg_deal_size:Q", y="win_rate:Q", text="owner:N")
    layers = [pts, labels]
    if np.isfinite(mw):
        layers.append(alt.Chart(pd.DataFrame({"y": [mw]})).mark_rule(color=TARGET_COLOR, strokeDash=[4, 4]).encode(y="y:Q"))
    if np.isfinite(ms):
        layers.append(alt.Chart(pd.DataFrame({"x": [ms]})).mark_rule(color=TARGET_COLOR, strokeDash=[4, 4]).encode(x="x:Q"))
    return titled(alt.layer(*layers).properties(height=HEIGHT + 80), f"Win rate vs deal size, {period_label}",
                  "Dashed lines: the team medians; bubble size: closed deals; names on the five largest and smallest books.")


def rep_trend_chart(trends: pd.DataFrame, metric: str, title: str, kind: str, currency: str) -> alt.Chart:
    """Monthly ``metric`` of the chosen reps against the team median (dashed)."""
    data = trends[["month", "series", metric]].rename(columns={metric: "value"}).dropna(subset=["value"])
    data["is_team"] = np.where(data["series"] == "Team median", "Team median", "Rep")
    reps = sorted(set(data["series"]) - {"Team median"})
    domain = reps + ["Team median"]
    palette = REP_COLORS[: len(reps)] + [TARGET_COLOR]  # the team median is always grey
    chart = alt.Chart(data).mark_line(point=True, strokeWidth=2).encode(
        x=alt.X("month:T", title="Month", axis=alt.Axis(format="%b %Y")),
        y=alt.Y("value:Q", axis=_value_axis(kind, title, currency)),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=domain, range=palette), legend=alt.Legend(orient="top")),
        strokeDash=alt.StrokeDash("is_team:N", scale=alt.Scale(domain=["Rep", "Team median"], range=[[1, 0], [5, 4]]), legend=None),
        tooltip=[alt.Tooltip("month:T", title="Month", format="%b %Y"), alt.Tooltip("series:N", title="Rep"),
                 _value_tooltip("value", kind, title, currency)],
    )
    return titled(chart.properties(height=HEIGHT), f"{title} by month vs the team median", "Dashed: the median rep that month.")


def funnel_chart(funnel: pd.DataFrame, owner: str, period_label: str) -> alt.Chart:
    """A rep's created -> closed -> won counts beside the team's median rep."""
    long = pd.concat([
        pd.DataFrame({"step": funnel["step"], "who": owner, "deals": funnel["count"].astype(float)}),
        pd.DataFrame({"step": funnel["step"], "who": "Team median rep", "deals": funnel["team_median_count"].astype(float)}),
    ])
    chart = alt.Chart(long).mark_bar().encode(
        x=alt.X("step:N", title="Funnel step (deals created in the period)", sort=["Created", "Closed", "Won"], axis=alt.Axis(labelAngle=0)),
        y=alt.Y("deals:Q", title="Deals"),
        color=alt.Color("who:N", title=None, scale=alt.Scale(domain=[owner, "Team median rep"], range=[ACCENT, "#B0BEC5"]), legend=alt.Legend(orient="top")),
        xOffset=alt.XOffset("who:N", sort=[owner, "Team median rep"]),
        tooltip=[alt.Tooltip("step:N", title="Step"), alt.Tooltip("who:N", title="Who"), alt.Tooltip("deals:Q", title="Deals", format=",.1f")],
    )
    return titled(chart.properties(height=HEIGHT - 60), f"{owner}'s funnel, {period_label}", "Beside the median rep of the team.")


def cohort_chart(cohort: pd.DataFrame, currency: str) -> alt.Chart:
    """Average bookings by month since hire of new reps, against the tenured reps' median month."""
    data = cohort.assign(month=cohort["k"].astype(int) + 1)
    bars = alt.Chart(data).mark_bar(color=ACCENT).encode(
        x=alt.X("month:O", title="Month since hire", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("mean_won_amount:Q", axis=money_axis(currency, f"Average bookings per new rep ({currency})")),
        tooltip=[alt.Tooltip("month:O", title="Month since hire"), money_tooltip("mean_won_amount:Q", "Average bookings", currency),
                 money_tooltip("median_won_amount:Q", "Median bookings", currency), alt.Tooltip("reps:Q", title="Reps observed"),
                 alt.Tooltip("share_of_tenured:Q", title="Share of a tenured rep", format=".0%")],
    )
    layers = [bars]
    med = data["tenured_median"].dropna()
    if len(med):
        layers.append(alt.Chart(pd.DataFrame({"y": [float(med.iloc[0])]})).mark_rule(color=TARGET_COLOR, strokeDash=[5, 3], strokeWidth=2).encode(y="y:Q"))
    return titled(alt.layer(*layers).properties(height=HEIGHT - 40), "New-hire bookings by month since hire",
                  "Dashed: the tenured reps' median month.")


def ramp_curve_chart(curve: pd.DataFrame) -> alt.Chart:
    """The ramp factor by month of tenure (share of a tenured rep's productivity)."""
    chart = alt.Chart(curve).mark_line(point=True, color=ACCENT, interpolate="step-after").encode(
        x=alt.X("month:Q", title="Month since hire", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("ramp_factor:Q", title="Share of a tenured rep's productivity", axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, 1.05])),
        tooltip=[alt.Tooltip("month:Q", title="Month since hire"), alt.Tooltip("ramp_factor:Q", title="Ramp factor", format=".0%")],
    )
    return titled(chart.properties(height=HEIGHT - 80), "Ramp curve", "The expected share of full productivity by tenure.")


def hierarchy_bars(h: pd.DataFrame, currency: str, level: str, period_label: str) -> alt.Chart:
    """Bookings (and target ticks) of every team or manager."""
    data = h[h["level"] == level][["name", "parent", "won_amount", "target", "attainment"]].copy()
    word = {"team": "Team", "manager": "Manager", "rep": "Rep"}[level]
    base = alt.Chart(data).encode(y=alt.Y("name:N", title=word, sort=alt.SortField("won_amount", order="descending")))
    bars = base.mark_bar(color=STATUS_COLORS["won"]).encode(
        x=alt.X("won_amount:Q", axis=money_axis(currency, f"Bookings ({currency})")),
        tooltip=[alt.Tooltip("name:N", title=word), alt.Tooltip("parent:N", title="Reports to"),
                 money_tooltip("won_amount:Q", "Bookings", currency), money_tooltip("target:Q", "Target", currency),
                 alt.Tooltip("attainment:Q", title="Attainment", format=".0%")])
    ticks = base.mark_tick(color=TARGET_COLOR, thickness=3).encode(x="target:Q")
    return titled(alt.layer(bars, ticks).properties(height=alt.Step(26)),
                  f"Bookings by {word.lower()}, {period_label}", "Grey ticks: target.")
