"""Charts of the Segments and Territories pages: expected value per deal-day by segment, the
ideal-customer-profile heat map, the books per rep and a what-if's before/after."""
from __future__ import annotations

import altair as alt
import pandas as pd

from .. import formats
from .base import ACCENT, SECONDARY, TARGET_COLOR, layer, money_axis, money_label_expr, money_tooltip, titled

ROW_HEIGHT = 22


def _label_col(frame: pd.DataFrame, dims: list[str]) -> pd.Series:
    return frame[dims].astype(str).agg(" · ".join, axis=1)


def value_by_segment(rows: pd.DataFrame, dims: list[str], dim_label: str, currency: str) -> alt.Chart:
    """Horizontal bars: expected value per deal-day (shrunk) of each segment, small samples
    paler; ``rows``: segments.segment_kpis rows."""
    d = pd.DataFrame({"segment": _label_col(rows, dims), "value": rows["expected_value_per_day_shrunk"],
                      "raw": rows["expected_value_per_day"], "win_rate": rows["win_rate_shrunk"],
                      "closed": rows["closed_count"], "sample": rows["small_sample"].map({True: "small sample", False: "enough deals"})})
    d = d.dropna(subset=["value"])
    chart = alt.Chart(d).mark_bar(cornerRadiusEnd=3).encode(
        y=alt.Y("segment:N", title=dim_label, sort="-x", axis=alt.Axis(labelLimit=320)),
        x=alt.X("value:Q", axis=money_axis(currency, f"Expected value per deal-day ({currency})")),
        color=alt.Color("sample:N", title=None, scale=alt.Scale(domain=["enough deals", "small sample"], range=[ACCENT, "#90CAF9"]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("segment:N", title=dim_label), money_tooltip("value:Q", "Per deal-day (shrunk)", currency),
                 money_tooltip("raw:Q", "Per deal-day (as measured)", currency),
                 alt.Tooltip("win_rate:Q", title="Win rate (shrunk)", format=".1%"), alt.Tooltip("closed:Q", title="Closed deals")],
    )
    return titled(chart.properties(height=alt.Step(ROW_HEIGHT)),
                  f"Expected value per deal-day by {dim_label.lower()}",
                  "Win rate x average deal / sales cycle, small samples shrunk toward the overall rate.")


def profile_heatmap(cells: pd.DataFrame, dims: tuple[str, str], labels: tuple[str, str], currency: str,
                    orders: tuple[list, list] | None = None) -> alt.Chart:
    """The ideal customer profile: one cell per combination, coloured by expected value per
    deal-day (shrunk), labelled with the number of closed deals; cells with too few deals to
    trust are hatched grey instead of coloured."""
    a, b = dims
    d = pd.DataFrame({"row": cells[a].astype(str), "col": cells[b].astype(str),
                      "value": cells["expected_value_per_day_shrunk"], "win_rate": cells["win_rate_shrunk"],
                      "low": cells["win_rate_low"], "high": cells["win_rate_high"], "closed": cells["closed_count"],
                      "deal": cells["avg_deal_size_shrunk"], "cycle": cells["avg_cycle_days_shrunk"],
                      "trusted": cells["trusted"].map({True: "enough deals", False: "too few deals to trust"})})
    d["text"] = d["closed"].map(lambda n: f"{int(n):,}")
    d["value_text"] = d["value"].map(lambda v: formats.money(v, currency))
    sort_x = orders[1] if orders else None
    sort_y = orders[0] if orders else None
    base = alt.Chart(d).encode(
        x=alt.X("col:N", title=labels[1], sort=sort_x, axis=alt.Axis(labelAngle=-30, labelLimit=200)),
        y=alt.Y("row:N", title=labels[0], sort=sort_y, axis=alt.Axis(labelLimit=220)))
    tooltip = [alt.Tooltip("row:N", title=labels[0]), alt.Tooltip("col:N", title=labels[1]),
               alt.Tooltip("value_text:N", title="Expected per deal-day"),
               alt.Tooltip("win_rate:Q", title="Win rate (shrunk)", format=".1%"),
               alt.Tooltip("low:Q", title="Win rate, 80% interval from", format=".1%"),
               alt.Tooltip("high:Q", title="Win rate, 80% interval to", format=".1%"),
               money_tooltip("deal:Q", "Average deal", currency), alt.Tooltip("cycle:Q", title="Sales cycle (days)", format=",.0f"),
               alt.Tooltip("closed:Q", title="Closed deals"), alt.Tooltip("trusted:N", title="Sample")]
    trusted = base.transform_filter(alt.datum.trusted == "enough deals").mark_rect(stroke="white").encode(
        color=alt.Color("value:Q", title=f"Per deal-day ({currency})", scale=alt.Scale(scheme="blues"),
                        legend=alt.Legend(orient="right", labelExpr=money_label_expr(currency))), tooltip=tooltip)
    few = base.transform_filter(alt.datum.trusted != "enough deals").mark_rect(color="#EEEEEE", stroke="white").encode(tooltip=tooltip)
    dark = float(d.loc[d["trusted"] == "enough deals", "value"].quantile(0.75)) if (d["trusted"] == "enough deals").any() else 0.0
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("text:N"), tooltip=tooltip,
        color=alt.ColorValue(**alt.condition((alt.datum.value > dark) & (alt.datum.trusted == "enough deals"), alt.value("white"),
                                             alt.value("#333333"))))
    return titled(layer(few, trusted, text).properties(height=alt.Step(34)),
                  f"Ideal customer profile: {labels[0].lower()} x {labels[1].lower()}",
                  "Colour: expected value per deal-day (shrunk). Number: closed deals. Grey: too few deals to trust.")


def books_per_rep(reps: pd.DataFrame, metric: str, metric_label: str, currency: str, money: bool = True) -> alt.Chart:
    """Bars of one balance metric per rep, with the mean as a rule: the most and least loaded
    books at a glance. ``reps``: territories.Balance.reps."""
    d = reps[["rep", metric, "territories"]].rename(columns={metric: "value"})
    mean = pd.DataFrame({"mean": [d["value"].mean()]})
    x = alt.X("value:Q", axis=money_axis(currency, f"{metric_label} ({currency})") if money else alt.Axis(title=metric_label))
    bars = alt.Chart(d).mark_bar(color=ACCENT, cornerRadiusEnd=3).encode(
        y=alt.Y("rep:N", title="Rep", sort="-x", axis=alt.Axis(labelLimit=240)), x=x,
        tooltip=[alt.Tooltip("rep:N", title="Rep"), alt.Tooltip("territories:N", title="Territories"),
                 money_tooltip("value:Q", metric_label, currency) if money else alt.Tooltip("value:Q", title=metric_label, format=",.1f")])
    rule = alt.Chart(mean).mark_rule(color=TARGET_COLOR, strokeDash=[6, 4], size=2).encode(x=alt.X("mean:Q"))
    return titled(layer(bars, rule).properties(height=alt.Step(ROW_HEIGHT)),
                  f"{metric_label} per rep", "Dashed line: the average book.")


def before_after(reps: pd.DataFrame, metric: str, metric_label: str, currency: str) -> alt.Chart:
    """Each rep's book before and after a what-if (only the reps whose book changes)."""
    changed = reps[reps[f"{metric}_change"].abs() > 1e-9]
    long = pd.concat([pd.DataFrame({"rep": changed["rep"], "when": "Before", "value": changed[f"{metric}_before"]}),
                      pd.DataFrame({"rep": changed["rep"], "when": "After", "value": changed[f"{metric}_after"]})])
    chart = alt.Chart(long).mark_bar().encode(
        y=alt.Y("rep:N", title="Rep", axis=alt.Axis(labelLimit=240)), yOffset=alt.YOffset("when:N", sort=["Before", "After"]),
        x=alt.X("value:Q", axis=money_axis(currency, f"{metric_label} ({currency})")),
        color=alt.Color("when:N", title=None, scale=alt.Scale(domain=["Before", "After"], range=[TARGET_COLOR, SECONDARY]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("rep:N", title="Rep"), alt.Tooltip("when:N", title="Plan"), money_tooltip("value:Q", metric_label, currency)])
    return titled(chart.properties(height=alt.Step(2 * ROW_HEIGHT)),
                  f"{metric_label}: before and after the moves", "Only the reps whose book changes.")
