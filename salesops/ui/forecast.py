"""Forecast page glue: cached runs, the Prophet tuning fragment, and the session keys.

Each section is one domain call (salesops.outlook) through context.compute, cached on
(database, data version, the sidebar's filters, every setting), so the page and the CLI compute
the same numbers from the same inputs.
"""
from __future__ import annotations

import json
from datetime import date

import pandas as pd
import streamlit as st

from .. import audit, outlook, store
from ..errors import InputError
from ..forecasting import ProphetParams, recommended_params
from .context import PageContext, compute

MEASURES = {"Bookings (won amount)": "won_amount", "Deals won (count)": "won_count"}
FREQS = {"Month": "M", "Quarter": "Q", "Week": "W"}
BY = {"Whole team": None, "Region": "region", "Manager": "manager", "Team": "team", "Rep": "owner", "Segment": "segment"}
MODEL_CHOICES = {"Auto (recommended)": "auto", "Prophet": "prophet", "Seasonal naive": "seasonal_naive",
                 "ETS": "ets", "Theta": "theta", "ARIMA": "arima", "Ensemble": "ensemble"}
VIEWS = ("Time-series forecast", "Quarter landing zone", "Accuracy of saved forecasts")

K = "fc_"
P = "fcp_"
PROPHET_KEYS = ("growth", "cap", "mode", "yearly", "yearly_order", "quarterly", "quarterly_order", "cps", "cpr",
                "holidays", "events", "interval", "outliers")
GROWTH_LABELS = {"Linear": "linear", "Flat": "flat", "Logistic (with a ceiling)": "logistic"}
OUTLIER_LABELS = {"Clip to a robust range": "clip", "Leave out of the fit": "drop", "Keep as they are": "keep"}


# --- Prophet's knobs ------------------------------------------------------------------------------
def _state_from_params(p: ProphetParams) -> dict:
    return {
        "growth": next(k for k, v in GROWTH_LABELS.items() if v == p.growth),
        "cap": float(p.cap or 0.0), "mode": p.seasonality_mode, "yearly": p.yearly, "yearly_order": int(p.yearly_order),
        "quarterly": p.quarterly, "quarterly_order": int(p.quarterly_order), "cps": float(p.changepoint_prior_scale),
        "cpr": float(p.changepoint_range), "holidays": p.holidays_country or "",
        "events": "\n".join(f"{e['date']}, {e['name']}, {e.get('kind', 'once')}" for e in p.events),
        "interval": float(p.interval_width), "outliers": next(k for k, v in OUTLIER_LABELS.items() if v == p.outliers),
    }


def reset_prophet(freq: str) -> None:
    """Put every Prophet knob back to the recommended setting (a button callback)."""
    for k, v in _state_from_params(recommended_params(freq)).items():
        st.session_state[P + k] = v


def on_freq_change() -> None:
    """The frequency changed: Prophet's recommended settings differ by frequency, so reset them."""
    reset_prophet(FREQS.get(st.session_state.get(K + "freq"), "M"))


def ensure_prophet_state(freq: str) -> None:
    if any(P + k not in st.session_state for k in PROPHET_KEYS):
        reset_prophet(freq)


def parse_events(text: str) -> tuple:
    """Lines "YYYY-MM-DD, name, once|step" -> event dicts (InputError naming the bad line)."""
    events = []
    for i, line in enumerate(str(text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2:
            raise InputError(f"event line {i} ({line.strip()!r}): write date, name[, once|step]")
        kind = parts[2].lower() if len(parts) > 2 and parts[2] else "once"
        try:
            date.fromisoformat(parts[0])
        except ValueError:
            raise InputError(f"event line {i}: {parts[0]!r} is not a date (YYYY-MM-DD)") from None
        events.append({"name": parts[1], "date": parts[0], "kind": kind})
    return tuple(events)


def params_from_state() -> ProphetParams:
    s = st.session_state
    growth = GROWTH_LABELS[s[P + "growth"]]
    return ProphetParams(
        growth=growth, cap=(float(s[P + "cap"]) or None) if growth == "logistic" else None,
        seasonality_mode=s[P + "mode"], yearly=bool(s[P + "yearly"]), yearly_order=int(s[P + "yearly_order"]),
        quarterly=bool(s[P + "quarterly"]), quarterly_order=int(s[P + "quarterly_order"]),
        changepoint_prior_scale=float(s[P + "cps"]), changepoint_range=float(s[P + "cpr"]),
        holidays_country=(s[P + "holidays"] or "").strip().upper() or None, events=parse_events(s[P + "events"]),
        interval_width=float(s[P + "interval"]), outliers=OUTLIER_LABELS[s[P + "outliers"]],
    ).validate()


@st.fragment
def prophet_controls(freq: str, money_unit: str) -> None:
    """Prophet's knobs. Changing them reruns only this panel; "Apply" refits."""
    c = st.columns(3)
    c[0].selectbox("Trend growth", list(GROWTH_LABELS), key=P + "growth",
                   help="Linear: a trend that can bend at changepoints. Flat: no trend. Logistic: growth that levels off at a ceiling.")
    c[0].number_input(f"Ceiling per period for logistic growth ({money_unit}, 0 = 1.5x the highest)", min_value=0.0,
                      key=P + "cap", disabled=st.session_state.get(P + "growth") != "Logistic (with a ceiling)")
    c[0].segmented_control("Seasonality mode", ["additive", "multiplicative"], key=P + "mode",
                           help="Multiplicative when the seasonal swing grows with the business.")
    c[1].toggle("Yearly seasonality", key=P + "yearly")
    c[1].slider("Yearly Fourier order", 1, 10, key=P + "yearly_order", help="Higher = wigglier seasonality (risks overfitting).")
    c[1].toggle("Quarterly seasonality", key=P + "quarterly", help="A quarter-end rush that repeats every quarter.")
    c[1].slider("Quarterly Fourier order", 1, 4, key=P + "quarterly_order")
    c[2].select_slider("Trend flexibility (changepoint prior scale)", options=[0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0],
                       key=P + "cps", help="Higher lets the trend change direction more easily.")
    c[2].slider("Changepoint range (share of history)", 0.5, 1.0, step=0.05, key=P + "cpr")
    c[2].slider("Interval width", 0.5, 0.95, step=0.05, key=P + "interval", help="The coverage of the forecast range, for every model.")
    c2 = st.columns([1, 2, 1])
    c2[0].text_input("Holidays of country (ISO code, blank = none)", key=P + "holidays", max_chars=3,
                     help="From the holidays package; each holiday counts in the period that contains it.")
    c2[1].text_area("Custom events, one per line: date, name, once|step", key=P + "events", height=80,
                    placeholder="2025-03-01, price change, step\n2024-11-15, big conference, once",
                    help="once: a one-off effect in that period. step: a lasting change from that date (a price change).")
    c2[2].radio("Outliers", list(OUTLIER_LABELS), key=P + "outliers")
    b = st.columns([1.6, 1, 2.4])
    b[0].button("Reset to recommended", on_click=reset_prophet, args=(freq,), key=K + "reset", icon=":material/restart_alt:")
    if b[1].button("Apply", type="primary", key=K + "apply", icon=":material/play_arrow:"):
        st.rerun(scope="app")


# --- what the page shows of a result ------------------------------------------------------------
def running_split(result, group: str) -> dict | None:
    """The started period of ``group``: total, booked so far, the forecast rest, its range and
    the usual share booked by this day; None when no forecast period has started."""
    if result.running is None:
        return None
    fc = result.forecast[(result.forecast["group"] == group) & (result.forecast["period_start"] == result.running["period_start"])]
    if fc.empty:
        return None
    r = fc.iloc[0]
    return {"total": float(r["yhat"]), "booked": float(r["booked_to_date"]), "rest": float(r["forecast_rest"]),
            "low": float(r["yhat_lower"]), "high": float(r["yhat_upper"]), "share": result.running["share"],
            "as_of": result.running["as_of"]}


def band_words(result) -> str:
    """The chart's subtitle: the model and what its band is, with its measured coverage."""
    from ..forecasting import MODEL_LABELS

    text = f"{MODEL_LABELS.get(result.model, result.model)}; band: the {result.level:.0%} range"
    if result.coverage is not None:
        text += f", which held {result.coverage:.0%} of the actuals when the backtests were checked against it"
    elif result.interval != "conformal":
        text += " (the model's own, not checked against past errors)"
    text += "."
    if result.running is not None:
        text += " The diamond: what the started period has booked so far."
    return text


def forecast_table(forecast: pd.DataFrame) -> pd.DataFrame:
    """The forecast rows of one series with the running period's split, business column names."""
    return pd.DataFrame({"Period": pd.to_datetime(forecast["period_start"]).dt.date, "Forecast": forecast["yhat"],
                         "Low": forecast["yhat_lower"], "High": forecast["yhat_upper"],
                         "Booked so far": forecast["booked_to_date"], "Still to come": forecast["forecast_rest"]})


# --- the page's sections: one cached domain call each ----------------------------------------------
def forecast(ctx: PageContext, *, freq: str, horizon: int, measure: str, by: str | None, train_until: date | None,
             model: str, params: ProphetParams, include_prophet: bool):
    """outlook.forecast for the page's settings (cached on the filters and every setting)."""
    return compute(outlook.forecast, ctx, freq=freq, horizon=int(horizon), measure=measure, by=by, train_until=train_until,
                   model=model, params_json=json.dumps(params.to_dict(), sort_keys=True),
                   include_prophet=bool(include_prophet))


def landing_for(ctx: PageContext, period_label: str) -> dict:
    """The landing zone of ``period_label`` for the sidebar's slice and as-of date: the same
    function (and so the same number) as the Overview's and the Goals page's."""
    return compute(outlook.landing_zone, ctx, filters=ctx.filters.with_period(ctx.calendar.parse(period_label)))


def history(ctx: PageContext) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per saved forecast and model, per model, per saved landing zone)."""
    return compute(outlook.forecast_history, ctx)


def save(ctx: PageContext, name: str, result) -> tuple[int, int]:
    from ..forecasting import save_run

    with audit.action("forecast", f"saved forecast {name!r}"), store.connect(ctx.db, write=True) as conn:
        return save_run(conn, name, result, filters=ctx.filters.as_dict())


def save_landing_zone(ctx: PageContext, name: str, result: dict) -> tuple[int, int]:
    from ..forecasting import save_landing

    with audit.action("forecast", f"saved landing zone {name!r}"), store.connect(ctx.db, write=True) as conn:
        return save_landing(conn, name, result, filters=ctx.filters.as_dict())
