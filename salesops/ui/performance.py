"""Cached loaders of the Team and Reps pages.

Everything is keyed on (database path, data version, parameters) and bounded with
``max_entries``. The expensive pass over the deals (the rep/day cube of
:func:`salesops.performance.rep_day_cube`) runs once per data version; a filter or period
change on the Reps page is then a small groupby over the cube. Filters arrive as a tuple of
(column, values) pairs, as the sidebar holds them.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import streamlit as st

from .. import performance as P
from .. import schema as S
from ..periods import FiscalCalendar, Period
from . import context

Filters = tuple  # ((column, (value, ...)), ...)


def filters_key(ctx: context.PageContext) -> Filters:
    """The sidebar filters as a hashable cache-key part (the same key the page context uses)."""
    return ctx.filter_key


def _workspace(db: str, version: int) -> context.Workspace:
    return context.load_workspace(db, version)


def _mask(frame: pd.DataFrame, filters: Filters) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for col, values in filters:
        if values and col in frame.columns:
            mask &= frame[col].isin(values)
    return mask


def filtered_deals(db: str, version: int, filters: Filters) -> pd.DataFrame:
    """The workspace's deals (roster fields attached) limited by the sidebar filters: the
    page context's own cached frame, so one filtered copy serves every page."""
    return context._filtered(db, version, filters)


@st.cache_data(max_entries=4, show_spinner="Summing deals per rep and day…")
def rep_cube(db: str, version: int) -> pd.DataFrame:
    """The rep/day cube of the whole workspace, with manager and team: once per data version."""
    ws = _workspace(db, version)
    return P.with_roster_fields(P.rep_day_cube(ws.deals), ws.reps)


def _cube(db: str, version: int, filters: Filters) -> pd.DataFrame:
    cube = rep_cube(db, version)
    if not any(v for _, v in filters):
        return cube
    return cube[_mask(cube, filters)]


def _owners(db: str, version: int, filters: Filters) -> list[str] | None:
    """Reps the filters leave: None without a filter (everyone). Read from the cube (small),
    plus rostered reps matching the filters who have no deals yet."""
    if not any(v for _, v in filters):
        return None
    ws = _workspace(db, version)
    owners = set(_cube(db, version, filters)[S.OWNER].unique())
    if not ws.reps.empty:  # rostered reps with no deals still belong to their team
        r = ws.reps.rename(columns={S.NAME: S.OWNER})
        keep = _mask(r, tuple((c, v) for c, v in filters if c in (S.OWNER, S.TEAM, S.REGION)))
        owners |= set(r.loc[keep, S.OWNER])
    return sorted(owners)


@st.cache_data(max_entries=32, show_spinner=False)
def leaderboard(db: str, version: int, filters: Filters, start: date, end: date, as_of: date,
                fiscal_start: int) -> tuple[pd.DataFrame, dict]:
    """(leaderboard frame, its attrs: ``team`` row, peer ``teams``, ``months``) for the period
    and filters."""
    ws = _workspace(db, version)
    lb = P.leaderboard(_cube(db, version, filters), start, end, as_of, reps=ws.reps, targets=ws.targets,
                       calendar=FiscalCalendar(fiscal_start), owners=_owners(db, version, filters))
    attrs = dict(lb.attrs)
    lb.attrs = {}  # pandas deep-copies attrs on every operation: keep the frame light for the page
    return lb, attrs


@st.cache_data(max_entries=32, show_spinner=False)
def coaching(db: str, version: int, filters: Filters, start: date, end: date, as_of: date, fiscal_start: int,
             elapsed_share: float | None, currency: str, label: str) -> pd.DataFrame:
    lb, attrs = leaderboard(db, version, filters, start, end, as_of, fiscal_start)
    lb.attrs.update(attrs)
    return P.coaching_flags(lb, elapsed_share=elapsed_share, currency=currency, period_label=label)


@st.cache_data(max_entries=16, show_spinner=False)
def rep_trends(db: str, version: int, filters: Filters, owners: tuple, start: date, end: date) -> pd.DataFrame:
    return P.rep_trends(_cube(db, version, filters), list(owners), start, end)


@st.cache_data(max_entries=16, show_spinner=False)
def rep_funnel(db: str, version: int, owner: str, start: date, end: date) -> pd.DataFrame:
    return P.rep_funnel(_workspace(db, version).deals, owner, start, end)


@st.cache_data(max_entries=16, show_spinner=False)
def rep_deals(db: str, version: int, owner: str, start: date, end: date) -> pd.DataFrame:
    """A rep's deals closing (or created) in the period, largest first."""
    d = _workspace(db, version).deals
    d = d[d[S.OWNER] == owner]
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    d = d[d[S.CLOSE_DATE].between(s, e) | d[S.CREATED_DATE].between(s, e)]
    cols = [c for c in (S.NAME, S.ACCOUNT, S.STAGE, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.SEGMENT, S.PRODUCT) if c in d.columns]
    return d[cols].sort_values(S.AMOUNT, ascending=False, ignore_index=True)


@st.cache_data(max_entries=8, show_spinner="Reading the new-hire cohorts…")
def ramp(db: str, version: int, as_of: date, history_start: date) -> dict:
    """Cohort curve, ramp curve, per-rep ramp table, ramped-rep equivalents and productivity."""
    ws = _workspace(db, version)
    deals, reps = ws.deals, ws.reps
    curve = P.ramp_curve(deals, reps, as_of)
    months = np.arange(0, max(len(curve.factors), 1) + 1)
    curve_frame = pd.DataFrame({"month": months, "ramp_factor": np.append(curve.factors, 1.0)[: len(months)]})
    return {
        "cohort": P.cohort_curve(deals, reps, as_of),
        "curve": curve_frame, "method": curve.method, "reason": curve.reason,
        "reps": P.rep_ramp(deals, reps, as_of),
        "equivalents": P.ramped_rep_equivalents(deals, reps, as_of),
        "headcount": len(P.ramp_factors(deals, reps, as_of)),
        "productivity": P.productivity_per_ramped_rep(deals, reps, history_start, as_of),
    }


@st.cache_data(max_entries=16, show_spinner=False)
def hierarchy(db: str, version: int, filters: Filters, start: date, end: date) -> pd.DataFrame:
    ws = _workspace(db, version)
    return P.hierarchy(_cube(db, version, filters), start, end, reps=ws.reps, targets=ws.targets)


# --- Team page -----------------------------------------------------------------------------
@st.cache_data(max_entries=32, show_spinner="Computing the KPIs over time…")
def kpi_series(db: str, version: int, filters: Filters, fiscal_start: int, freq: str, start: date, end: date,
               by: str | None) -> pd.DataFrame:
    ws = _workspace(db, version)
    return P.kpi_series(filtered_deals(db, version, filters), FiscalCalendar(fiscal_start), freq, start, end,
                        by=by, targets=ws.targets, reps=ws.reps)


@st.cache_data(max_entries=32, show_spinner=False)
def compare(db: str, version: int, filters: Filters, fiscal_start: int, period: tuple, as_of: date) -> tuple[pd.DataFrame, dict]:
    """(comparison table, its attrs: period labels and to_date_days)."""
    ws = _workspace(db, version)
    cmp_ = P.compare_periods(filtered_deals(db, version, filters), FiscalCalendar(fiscal_start), Period(*period),
                             as_of=as_of, targets=_scoped_targets(ws, db, version, filters), reps=ws.reps)
    return cmp_, dict(cmp_.attrs)


def _scoped_targets(ws: context.Workspace, db: str, version: int, filters: Filters) -> pd.DataFrame:
    """Targets of the reps the filters leave (all targets without a filter)."""
    owners = _owners(db, version, filters)
    t = ws.targets
    if owners is None or t.empty:
        return t
    return t[(t[S.SCOPE] == "owner") & t[S.SCOPE_NAME].isin(owners)]


@st.cache_data(max_entries=32, show_spinner=False)
def pacing(db: str, version: int, filters: Filters, fiscal_start: int, period: tuple, as_of: date) -> tuple[pd.DataFrame, dict]:
    ws = _workspace(db, version)
    frame = P.pacing(filtered_deals(db, version, filters), FiscalCalendar(fiscal_start), Period(*period), as_of,
                     targets=_scoped_targets(ws, db, version, filters))
    return frame, {**frame.attrs, **P.pacing_summary(frame, as_of)}


@st.cache_data(max_entries=16, show_spinner=False)
def deals_behind(db: str, version: int, filters: Filters, fiscal_start: int, freq: str, period_start,
                 kpi: str, by: str | None, group: str | None) -> pd.DataFrame:
    return P.deals_behind(filtered_deals(db, version, filters), FiscalCalendar(fiscal_start), freq, period_start,
                          kpi=kpi, by=by, group=group)


def period_tuple(p: Period) -> tuple:
    return (p.start, p.end, p.label, p.kind)
