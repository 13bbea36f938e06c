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
                     "filters": {k: list(v) for k, v in (filters or {}).items() if v}},
        "backtest": result.to_doc()["backtest"],
        "forecasts": fc.to_dict(orient="records"),
    }


def save_run(conn: sqlite3.Connection, name: str, result: ForecastResult, *, filters: dict | None = None) -> tuple[int, int]:
    """Save ``result`` as the next version of ``name`` (inside a write transaction)."""
    return store.save_document(conn, TABLE, name, run_payload(result, filters=filters), kind=KIND)


def load_runs(conn: sqlite3.Connection) -> list[dict]:
    """Every saved forecast run: {id, name, version, created_at, created_by, payload}."""
    listing = store.list_documents(conn, TABLE, kind=KIND)
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
