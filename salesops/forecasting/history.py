"""Saved forecasts and their accuracy once the actuals are in.

A saved run (table ``forecast_runs``, kind ``forecast``) records when it was made, with which
settings, and every model's numbers for every group and period. :func:`accuracy_history`
scores each saved run against the bookings that have since closed: only periods that are over
in the data count, and the deals are filtered the way they were when the run was saved.
"""
from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd

from .. import store
from ..periods import FiscalCalendar
from .backtest import ForecastResult, score
from .series import GROUP, PERIOD_START, actuals, default_train_until

TABLE = "forecast_runs"
KIND = "forecast"
LANDING_KIND = "landing"


def _saved_filters(filters: dict | None) -> dict:
    """The slice a run was made on, as JSON-ready values (lists stay lists, dates become text)."""
    return {k: list(v) if isinstance(v, (list, tuple, set)) else str(v) for k, v in (filters or {}).items() if v}


def run_payload(result: ForecastResult, *, filters: dict | None = None) -> dict:
    """What a saved forecast keeps: settings, the backtest table and every model's numbers."""
    fc = result.forecasts.copy()
    fc[PERIOD_START] = fc[PERIOD_START].dt.strftime("%Y-%m-%d")
    return {
        "created_at": store.now_iso(),
        "settings": {"freq": result.freq, "horizon": result.horizon, "measure": result.measure, "by": result.by,
                     "train_until": None if pd.isna(result.series.train_until) else str(pd.Timestamp(result.series.train_until).date()),
                     "requested": result.requested, "model": result.model, "recommended": result.recommended,
                     "level": result.level, "prophet_params": result.params.to_dict() if result.params else None,
                     "filters": _saved_filters(filters)},
        "backtest": result.to_doc()["backtest"],
        "forecasts": fc.to_dict(orient="records"),
    }


def save_run(conn: sqlite3.Connection, name: str, result: ForecastResult, *, filters: dict | None = None) -> tuple[int, int]:
    """Save ``result`` as the next version of ``name`` (inside a write transaction)."""
    return store.save_document(conn, TABLE, name, run_payload(result, filters=filters), kind=KIND)


def landing_payload(result: dict, *, filters: dict | None = None) -> dict:
    """What a saved landing zone keeps: the period, the as-of date and its numbers."""
    keys = ("period", "closed_won", "open_expected", "new_expected", "p10", "p50", "p90", "target", "kappa")
    out = {k: (None if result.get(k) is None else (result[k] if isinstance(result[k], str) else float(result[k]))) for k in keys}
    out.update(created_at=store.now_iso(), as_of=str(result["as_of"]), period_start=str(result["period_start"]),
               period_end=str(result["period_end"]), filters=_saved_filters(filters))
    return out


def save_landing(conn: sqlite3.Connection, name: str, result: dict, *, filters: dict | None = None) -> tuple[int, int]:
    """Save a :func:`landing` result as the next version of ``name`` (kind ``landing``)."""
    return store.save_document(conn, TABLE, name, landing_payload(result, filters=filters), kind=LANDING_KIND)


def landing_accuracy(runs: list[dict], deals: pd.DataFrame) -> pd.DataFrame:
    """Saved landing zones against what the period booked, once it is over in the data."""
    data_end = default_train_until(deals)
    won = deals[deals["status"] == "won"]
    rows = []
    for run in runs:
        p = run["payload"]
        start, end = pd.Timestamp(p["period_start"]), pd.Timestamp(p["period_end"])
        over = data_end is not None and end <= data_end
        actual = np.nan
        if over:
            mine = _filtered(won, p.get("filters") or {})
            actual = float(mine.loc[mine["close_date"].between(start, end), "amount"].sum())
        rows.append({"run": f"{run['name']} v{run['version']}", "saved": run["created_at"], "period": p["period"],
                     "as_of": p["as_of"], "p10": p["p10"], "p50": p["p50"], "p90": p["p90"], "actual": actual,
                     "error": (p["p50"] / actual - 1) if over and actual else np.nan,
                     "inside": bool(p["p10"] <= actual <= p["p90"]) if over else None})
    return pd.DataFrame(rows, columns=["run", "saved", "period", "as_of", "p10", "p50", "p90", "actual", "error", "inside"])


def load_runs(conn: sqlite3.Connection, kind: str = KIND) -> list[dict]:
    """Every saved run of ``kind`` (forecast or landing): {id, name, version, created_at, created_by, payload}."""
    listing = store.list_documents(conn, TABLE, kind=kind)
    out = []
    for r in listing.itertuples(index=False):
        payload = store.load_document(conn, TABLE, r.name, r.version)
        if payload:
            out.append({"id": r.id, "name": r.name, "version": r.version, "created_at": r.created_at,
                        "created_by": r.created_by, "payload": payload})
    return out


def _filtered(deals: pd.DataFrame, filters: dict) -> pd.DataFrame:
    mask = pd.Series(True, index=deals.index)
    for col, values in (filters or {}).items():
        if values and col in deals.columns:
            mask &= deals[col].isin(values)
    return deals[mask]


def accuracy_history(runs: list[dict], deals: pd.DataFrame, calendar: FiscalCalendar | None = None) -> pd.DataFrame:
    """One row per saved run and model: periods scored so far, MAPE, WAPE, bias, coverage.

    ``runs``: :func:`load_runs`; ``deals``: all deals (with roster fields for grouped runs)."""
    calendar = calendar or FiscalCalendar()
    data_end = default_train_until(deals)
    rows = []
    for run in runs:
        p = run["payload"]
        st = p.get("settings", {})
        fc = pd.DataFrame(p.get("forecasts") or [])
        if fc.empty or data_end is None:
            continue
        fc[PERIOD_START] = pd.to_datetime(fc[PERIOD_START])
        freq = st.get("freq", "M")
        ends = fc[PERIOD_START].map(lambda d: pd.Timestamp(calendar.period_of(d.date(), freq).end))
        fc = fc[ends <= data_end]
        if fc.empty:
            rows.append({"run": f"{run['name']} v{run['version']}", "saved": run["created_at"], "model": st.get("model"),
                         "used": True, "periods": 0, "mape": np.nan, "wape": np.nan, "bias": np.nan, "coverage": np.nan})
            continue
        act = actuals(_filtered(deals, st.get("filters") or {}), freq=freq, measure=st.get("measure", "won_amount"),
                      by=st.get("by"), calendar=calendar)
        for model, part in fc.groupby("model", sort=False):
            merged = part.merge(act, on=[GROUP, PERIOD_START], how="left").fillna({"y": 0.0})
            s = score(merged)
            rows.append({"run": f"{run['name']} v{run['version']}", "saved": run["created_at"], "model": model,
                         "used": model == st.get("model"), "periods": int(merged[PERIOD_START].nunique()),
                         "mape": s["mape"], "wape": s["wape"], "bias": s["bias"], "coverage": s["coverage"]})
    return pd.DataFrame(rows, columns=["run", "saved", "model", "used", "periods", "mape", "wape", "bias", "coverage"])


def accuracy_by_model(history: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy and bias per model over every saved run that has been scored."""
    h = history[history["periods"] > 0]
    if h.empty:
        return pd.DataFrame(columns=["model", "runs", "mape", "bias", "coverage"])
    return (h.groupby("model").agg(runs=("run", "nunique"), mape=("mape", "mean"), bias=("bias", "mean"),
                                   coverage=("coverage", "mean")).reset_index().sort_values("mape"))
