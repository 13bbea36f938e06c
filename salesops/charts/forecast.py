"""Forecast charts: history and forecast with its range, backtest error by cut-off, Prophet's
components, and the landing zone. Pure builders: DataFrame in, alt.Chart out."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .base import ACCENT, CATEGORY_SCHEME, HEIGHT, SECONDARY, STATUS_COLORS, TARGET_COLOR, layer, money_axis, money_tooltip, titled

FREQ_FORMAT = {"W": "%d %b %Y", "M": "%b %Y", "Q": "%b %Y"}


def _value_axis(money: bool, currency: str, title: str) -> alt.Axis:
    return money_axis(currency, f"{title} ({currency})") if money else alt.Axis(title=title, format=",.0f")


def _tip(field: str, title: str, money: bool, currency: str) -> alt.Tooltip:
    return money_tooltip(field, title, currency) if money else alt.Tooltip(field, title=title, format=",.1f")


def forecast_frame(history: pd.DataFrame, forecast: pd.DataFrame) -> pd.DataFrame:
    """One long frame for :func:`forecast_chart`: period_start, value, lower, upper, series
    ("Actual", "Forecast" or "Booked so far"). ``history``: period_start, y; ``forecast``:
    period_start, yhat, yhat_lower, yhat_upper (and booked_to_date for a started period). The
    forecast line starts from the last actual so the two join."""
    h = pd.DataFrame({"period_start": pd.to_datetime(history["period_start"]), "value": history["y"].astype(float),
                      "lower": np.nan, "upper": np.nan, "series": "Actual"})
    f = pd.DataFrame({"period_start": pd.to_datetime(forecast["period_start"]), "value": forecast["yhat"].astype(float),
                      "lower": forecast["yhat_lower"].astype(float), "upper": forecast["yhat_upper"].astype(float),
                      "series": "Forecast"})
    if not h.empty and not f.empty:
        join = h.iloc[[-1]].assign(series="Forecast", lower=h["value"].iloc[-1], upper=h["value"].iloc[-1])
        f = pd.concat([join, f], ignore_index=True)
    parts = [h, f]
    if "booked_to_date" in forecast.columns:  # the started period: what is booked so far
        started = forecast[forecast["booked_to_date"].astype(float) > 0]
        parts.append(pd.DataFrame({"period_start": pd.to_datetime(started["period_start"]),
                                   "value": started["booked_to_date"].astype(float), "lower": np.nan, "upper": np.nan,
                                   "series": "Booked so far"}))
    return pd.concat([p for p in parts if not p.empty], ignore_index=True)


def forecast_chart(frame: pd.DataFrame, *, currency: str, money: bool, freq: str, title: str, subtitle: str,
                   level: float = 0.8, measure_label: str = "Bookings") -> alt.Chart:
    """Actuals as a solid line, the forecast dashed with its ``level`` range as a band, and a
    diamond at what a started period has booked so far."""
    fmt = FREQ_FORMAT.get(freq, "%b %Y")
    x = alt.X("period_start:T", title="Period", axis=alt.Axis(format=fmt))
    band = alt.Chart(frame[frame["series"] == "Forecast"]).mark_area(opacity=0.18, color=SECONDARY).encode(
        x=x, y=alt.Y("lower:Q", axis=_value_axis(money, currency, measure_label)), y2=alt.Y2("upper:Q"))
    booked = alt.Chart(frame[frame["series"] == "Booked so far"]).mark_point(shape="diamond", size=90, filled=True,
                                                                          color=ACCENT).encode(
        x=x, y=alt.Y("value:Q", axis=_value_axis(money, currency, measure_label)),
        tooltip=[alt.Tooltip("period_start:T", title="Period starting", format="%d %b %Y"),
                 _tip("value:Q", "Booked so far", money, currency)])
    lines = alt.Chart(frame[frame["series"] != "Booked so far"]).mark_line(point=True, strokeWidth=2.2).encode(
        x=x, y=alt.Y("value:Q", axis=_value_axis(money, currency, measure_label)),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=["Actual", "Forecast"], range=[ACCENT, SECONDARY]),
                        legend=alt.Legend(orient="top")),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=["Actual", "Forecast"], range=[[1, 0], [6, 4]]), legend=None),
        tooltip=[alt.Tooltip("period_start:T", title="Period starting", format="%d %b %Y"), alt.Tooltip("series:N", title="Line"),
                 _tip("value:Q", measure_label, money, currency), _tip("lower:Q", f"Low ({level:.0%} range)", money, currency),
                 _tip("upper:Q", f"High ({level:.0%} range)", money, currency)],
    )
    return titled(layer(band, lines, booked).properties(height=HEIGHT), title, subtitle)


def backtest_error_chart(by_cutoff: pd.DataFrame, labels: dict, recommended: str | None, horizon_words: str) -> alt.Chart:
    """Each model's MAPE at every backtest cut-off (``by_cutoff``: model, cutoff, mape)."""
    data = by_cutoff.assign(model_label=by_cutoff["model"].map(labels).fillna(by_cutoff["model"]))
    data = data.assign(recommended=np.where(data["model"] == recommended, "recommended", "other"))
    chart = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("cutoff:T", title="Trained up to (cut-off)", axis=alt.Axis(format="%b %Y")),
        y=alt.Y("mape:Q", title="Average error (MAPE)", axis=alt.Axis(format="%")),
        color=alt.Color("model_label:N", title="Model", scale=alt.Scale(scheme=CATEGORY_SCHEME), legend=alt.Legend(orient="top")),
        strokeWidth=alt.StrokeWidth("recommended:N", scale=alt.Scale(domain=["recommended", "other"], range=[4, 1.5]), legend=None),
        tooltip=[alt.Tooltip("model_label:N", title="Model"), alt.Tooltip("cutoff:T", title="Cut-off", format="%d %b %Y"),
                 alt.Tooltip("mape:Q", title="MAPE", format=".1%"), alt.Tooltip("bias:Q", title="Bias", format="+.1%")],
    )
    return titled(chart.properties(height=HEIGHT), "Backtest error by cut-off",
                  f"Each point: the model trained up to that date, scored on the next {horizon_words}. Lower is better.")


COMPONENT_LABELS = {"trend": "Trend", "yearly": "Yearly seasonality", "quarterly": "Quarterly seasonality",
                    "holidays": "Holidays and events", "extra_regressors_additive": "Lasting changes (steps)",
                    "extra_regressors_multiplicative": "Lasting changes (steps)"}


def components_frame(components: pd.DataFrame) -> pd.DataFrame:
    """Prophet's components (ds, trend, yearly, ...) as long rows: ds, component, value."""
    cols = [c for c in COMPONENT_LABELS if c in components.columns and components[c].abs().sum() > 0]
    if "trend" in components.columns and "trend" not in cols:
        cols.insert(0, "trend")
    long = components.melt("ds", value_vars=cols, var_name="component", value_name="value")
    long["component"] = long["component"].map(COMPONENT_LABELS)
    return long


def components_chart(components: pd.DataFrame, *, currency: str, money: bool, multiplicative: bool = False) -> alt.Chart:
    """Prophet's trend and seasonalities, one small chart each (stacked vertically)."""
    long = components_frame(components)
    y_title = "Effect" if not multiplicative else "Effect (trend in units, others as a share)"
    chart = alt.Chart(long).mark_line(color=ACCENT, strokeWidth=2).encode(
        x=alt.X("ds:T", title="Period", axis=alt.Axis(format="%b %Y")),
        y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=",.0f" if not multiplicative else ",.2~f")),
        tooltip=[alt.Tooltip("component:N", title="Component"), alt.Tooltip("ds:T", title="Period", format="%b %Y"),
                 alt.Tooltip("value:Q", title="Effect", format=",.2f")],
    ).properties(height=140, width=620).facet(
        row=alt.Row("component:N", title=None, sort=list(dict.fromkeys(COMPONENT_LABELS.values())))
    ).resolve_scale(y="independent")
    return titled(chart, "What Prophet sees: trend and seasonality",
                  "The forecast is the sum of these parts (the product, in multiplicative mode).")


def landing_frame(samples: np.ndarray, bins: int = 40) -> pd.DataFrame:
    """A histogram of simulated period bookings: start, end, share."""
    s = np.asarray(samples, dtype=float)
    counts, edges = np.histogram(s, bins=bins)
    return pd.DataFrame({"start": edges[:-1], "end": edges[1:], "share": counts / max(len(s), 1)})


def landing_chart(samples: np.ndarray, p10: float, p50: float, p90: float, target: float | None, *,
                  currency: str, period_label: str) -> alt.Chart:
    """Where the period may land: the simulated outcomes, P10/P50/P90 and the target."""
    hist = landing_frame(samples)
    bars = alt.Chart(hist).mark_bar(color=STATUS_COLORS["open"], opacity=0.55).encode(
        x=alt.X("start:Q", axis=money_axis(currency, f"Bookings in {period_label} ({currency})"), bin="binned"),
        x2=alt.X2("end:Q"), y=alt.Y("share:Q", title="Share of simulated outcomes", axis=alt.Axis(format="%")),
        tooltip=[money_tooltip("start:Q", "From", currency), money_tooltip("end:Q", "To", currency),
                 alt.Tooltip("share:Q", title="Share", format=".1%")])
    marks = [{"value": p10, "label": "P10"}, {"value": p50, "label": "P50 (likely)"}, {"value": p90, "label": "P90"}]
    if target:
        marks.append({"value": float(target), "label": "Target"})
    rules = alt.Chart(pd.DataFrame(marks)).mark_rule(strokeWidth=2.5).encode(
        x=alt.X("value:Q"),
        color=alt.Color("label:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["P10", "P50 (likely)", "P90", "Target"],
                                        range=[SECONDARY, STATUS_COLORS["won"], SECONDARY, TARGET_COLOR])),
        strokeDash=alt.StrokeDash("label:N", legend=None, scale=alt.Scale(domain=["P10", "P50 (likely)", "P90", "Target"],
                                                                            range=[[5, 3], [1, 0], [5, 3], [2, 2]])),
        tooltip=[alt.Tooltip("label:N", title="Mark"), money_tooltip("value:Q", "Bookings", currency)])
    return titled(layer(bars, rules).properties(height=260), f"Landing zone for {period_label}",
                  "Simulated outcomes of open deals, new business and model error; 80% of them fall between P10 and P90.")


def landing_parts_frame(result: dict) -> pd.DataFrame:
    """The pipeline view's parts for a stacked bar: part, amount, order."""
    return pd.DataFrame({"part": ["Closed won", "Open pipeline (learned odds)", "New business to come"],
                         "amount": [result["closed_won"], result["open_expected"], result["new_expected"]],
                         "order": [0, 1, 2]})
