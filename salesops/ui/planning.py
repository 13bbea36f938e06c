"""Cached loaders and shared pieces of the Goals and Compensation pages.

Caches are keyed on (database path, data version, parameters) and bounded. Plans travel
through the caches as JSON text (hashable); periods as (start, end, label, kind) tuples.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from .. import compensation as C
from .. import goals as G
from .. import schema as S
from .. import store
from ..periods import Period
from . import context

PLANS_DIR = store.PROJECT_ROOT / "data" / "plans"
PeriodT = tuple  # (start, end, label, kind)


def period_tuple(p: Period) -> PeriodT:
    return (p.start, p.end, p.label, p.kind)


def period_of(t: PeriodT) -> Period:
    return Period(*t)


def filters_key(ctx: context.PageContext) -> tuple:
    return tuple((k, tuple(v)) for k, v in sorted(ctx.filters.items()))


def team_reps(ctx: context.PageContext) -> list[str] | None:
    """Reps the sidebar filters leave (None = no filter: everyone)."""
    if not any(ctx.filters.values()):
        return None
    ws = ctx.workspace
    names = set(ctx.deals[S.OWNER].dropna())
    if not ws.reps.empty:
        r = ws.reps
        mask = pd.Series(True, index=r.index)
        for col, values in ctx.filters.items():
            if values:
                key = S.NAME if col == S.OWNER else col
                if key in r.columns:
                    mask &= r[key].isin(values)
        names |= set(r.loc[mask, S.NAME])
    return sorted(names)


def _ws(db: str, version: int) -> context.Workspace:
    return context.load_workspace(db, version)


# --- goals --------------------------------------------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner="Learning each rep's bookings from history…")
def bookings_model(db: str, version: int, period_t: PeriodT, lookback: int, reps_key: tuple | None) -> G.BookingsModel:
    ws = _ws(db, version)
    model = G.fit_bookings_model(ws.deals, ws.reps, period_of(period_t), lookback_periods=lookback)
    if reps_key is not None:
        keep = [i for i, r in enumerate(model.reps) if r in set(reps_key)]
        model = G.subset_model(model, keep)
    return model


@st.cache_data(max_entries=16, show_spinner="Simulating bookings…")
def bookings_sims(db: str, version: int, period_t: PeriodT, lookback: int, reps_key: tuple | None,
                  n_sims: int, seed: int) -> dict:
    model = bookings_model(db, version, period_t, lookback, reps_key)
    return G.simulate_bookings(model, n_sims=n_sims, seed=seed)


@st.cache_data(max_entries=16, show_spinner="Working out the team target options…")
def target_options(db: str, version: int, period_t: PeriodT, fiscal_start: int, reps_key: tuple | None = None) -> dict:
    """Last year's bookings for the same period and the bottom-up capacity target (of the
    reps in ``reps_key`` when the sidebar filters the team)."""
    from ..periods import FiscalCalendar

    ws = _ws(db, version)
    deals, reps = ws.deals, ws.reps
    if reps_key is not None:
        deals = deals[deals[S.OWNER].isin(reps_key)]
        reps = reps[reps[S.NAME].isin(reps_key)] if not reps.empty else reps
    period = period_of(period_t)
    cal = FiscalCalendar(fiscal_start)
    last = cal.same_last_year(period)
    out = {"last_year": G.bookings_in(deals, last.start, last.end), "last_year_label": last.label}
    try:
        out["bottom_up"] = G.bottom_up_target(deals, reps, period)
    except Exception as exc:  # noqa: BLE001 - the capacity estimate is optional; say why it is missing
        out["bottom_up"] = {"target": float("nan"), "error": str(exc)}
    return out


@st.cache_data(max_entries=8, show_spinner="Reading the forecast landing zone…")
def forecast_landing(db: str, version: int, period_t: PeriodT) -> dict | None:
    """The forecast's landing zone for the period when salesops.forecasting provides one."""
    from ..periods import FiscalCalendar

    ws = _ws(db, version)
    with store.connect(db) as conn:
        snaps = store.load_snapshots(conn)
        history = store.load_stage_history(conn)
    res = G.landing_zone(ws.deals, period_of(period_t), as_of=ws.as_of, snapshots=snaps, targets=ws.targets,
                         calendar=FiscalCalendar(int(ws.settings["fiscal_year_start_month"])), stage_history=history)
    if res is None or res.get("source") != "forecast":
        return None
    out = {k: res[k] for k in ("p10", "p50", "p90") if k in res}
    if res.get("samples") is not None:
        out["samples"] = np.asarray(res["samples"], dtype=float)
    out["source"] = "forecast"
    return out


def saved_list(db: str, table: str, kind: str | None = None) -> pd.DataFrame:
    """Saved documents (not cached: a save must show at once)."""
    with store.connect(db) as conn:
        return store.list_documents(conn, table, kind=kind)


def load_saved(db: str, table: str, name: str, version: int | None = None) -> dict | None:
    with store.connect(db) as conn:
        return store.load_document(conn, table, name, version)


def save(db: str, table: str, name: str, payload: dict, kind: str | None = None) -> int:
    with store.connect(db, write=True) as conn:
        _, version = store.save_document(conn, table, name, payload, kind=kind)
    return version


def publish(db: str, period: Period, quotas: pd.Series) -> int:
    with store.connect(db, write=True) as conn:
        return G.publish_targets(conn, period, quotas)


# --- compensation -------------------------------------------------------------------------------------
def sample_plans() -> dict[str, dict]:
    """The sample plans shipped in data/plans, by plan name."""
    out = {}
    for f in sorted(Path(PLANS_DIR).glob("*.json")):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
            out[str(doc.get("name") or f.stem)] = doc
        except (OSError, ValueError):
            continue
    return out


@st.cache_data(max_entries=32, show_spinner="Computing payouts…")
def payouts(db: str, version: int, plan_json: str, period_t: PeriodT, reps_key: tuple | None) -> C.PayoutResult:
    ws = _ws(db, version)
    plan = C.parse_plan(json.loads(plan_json))
    with store.connect(db) as conn:
        snaps = store.load_snapshots(conn)
    return C.compute_payouts(plan, ws.deals, period_of(period_t), reps=ws.reps, snapshots=snaps,
                             rep_names=list(reps_key) if reps_key is not None else None)


def simulate(db: str, version: int, plan: C.Plan, period: Period, lookback: int, reps_key: tuple | None, *,
             n_sims: int, seed: int, win_rate_uplift: float, deal_size_change: float, extra_hires: int,
             team_samples=None, progress=None) -> C.SimulationResult:
    """Monte Carlo of the plan's cost (not cached: it runs behind a button with a progress bar)."""
    model = bookings_model(db, version, period_tuple(period), lookback, reps_key)
    return C.simulate_plan(plan, model, period, n_sims=n_sims, seed=seed, win_rate_uplift=win_rate_uplift,
                           deal_size_change=deal_size_change, extra_hires=extra_hires,
                           team_samples=team_samples, progress=progress)


def plan_json(plan_doc: dict) -> str:
    return json.dumps(plan_doc, sort_keys=True, default=str)
