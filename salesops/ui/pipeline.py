"""Cached Pipeline-page results, keyed on (database, data version, sidebar filters, parameters).

The sidebar filters (region, team, rep) select deals from the current workspace; snapshot and
history rows follow those deals, and rows of deals no longer in the workspace (removed since)
follow their owner in the snapshot."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from .. import hygiene, pipeline, store
from .. import schema as S
from .context import PageContext, _filtered, load_workspace


def filters_key(ctx: PageContext) -> tuple:
    return tuple((k, tuple(v)) for k, v in ctx.filters.items())


def _active(filters: tuple) -> bool:
    return any(v for _, v in filters)


def _deals(db: str, version: int, filters: tuple) -> pd.DataFrame:
    return _filtered(db, version, filters) if _active(filters) else load_workspace(db, version).deals


def _restrict(frame: pd.DataFrame, db: str, version: int, filters: tuple) -> pd.DataFrame:
    """Rows (snapshots or history) of the deals the sidebar filters select."""
    if not _active(filters) or frame.empty:
        return frame
    deals = _deals(db, version, filters)
    every = load_workspace(db, version).deals
    keep = frame[S.OPPORTUNITY_ID].isin(deals[S.OPPORTUNITY_ID])
    if S.OWNER in frame.columns:
        gone = ~frame[S.OPPORTUNITY_ID].isin(every[S.OPPORTUNITY_ID])
        keep |= gone & frame[S.OWNER].isin(deals[S.OWNER].dropna().unique())
    return frame[keep]


def _load(db: str, what: str, as_of: str | None = None) -> pd.DataFrame:
    with store.connect(db) as conn:
        if what == "snapshots":
            return store.load_snapshots(conn, as_of)
        if what == "history":
            return store.load_stage_history(conn)
        raise ValueError(what)


def _rules(db: str) -> dict:
    with store.connect(db) as conn:
        return store.stage_rules(conn)


# --- movement ------------------------------------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner="Comparing the two snapshots…")
def _movement(db: str, version: int, filters: tuple, start: date, end: date, from_date: str, to_date: str) -> pipeline.Movement:
    s1 = _restrict(_load(db, "snapshots", from_date), db, version, filters)
    s2 = _restrict(_load(db, "snapshots", to_date), db, version, filters)
    m = pipeline.movement(s1, s2, start, end, from_date=from_date, to_date=to_date)
    deals = pipeline.attach_names(m.deals, load_workspace(db, version).deals)
    every = _load(db, "snapshots")
    upto = every[(every[S.AS_OF] <= pd.Timestamp(to_date)) & every[S.OPPORTUNITY_ID].isin(deals[S.OPPORTUNITY_ID])]
    pushes = pipeline.push_counts(upto).set_index(S.OPPORTUNITY_ID)["push_count"]
    deals["push_count"] = deals[S.OPPORTUNITY_ID].map(pushes).fillna(0).astype(int)
    m.deals = deals
    return m


def movement(ctx: PageContext, from_date: str, to_date: str) -> pipeline.Movement:
    return _movement(ctx.db, ctx.version, filters_key(ctx), ctx.period.start, ctx.period.end, from_date, to_date)


# --- funnel, leaks, time to close ------------------------------------------------------------------
@dataclass
class FunnelView:
    kind: str
    note: str
    funnel: pd.DataFrame
    current: pd.DataFrame
    leak: dict | None
    deals: int


@st.cache_data(max_entries=8)
def _history(db: str, version: int, filters: tuple) -> tuple[str, str, pd.DataFrame]:
    hist = _restrict(_load(db, "history"), db, version, filters)
    snaps = None
    if hist.empty:
        snaps = _restrict(_load(db, "snapshots"), db, version, filters)
    src = pipeline.funnel_source(hist, snaps)
    return src.kind, src.note, src.history


@st.cache_data(max_entries=16, show_spinner="Building the funnel…")
def _funnel(db: str, version: int, filters: tuple, as_of: date) -> FunnelView:
    kind, note, hist = _history(db, version, filters)
    rules = _rules(db)
    deals = _deals(db, version, filters)
    if kind == "none":
        return FunnelView(kind, note, pd.DataFrame(), pipeline.funnel_from_current(deals, rules), None, len(deals))
    f = pipeline.funnel(hist, rules, as_of)
    return FunnelView(kind, note, f, pd.DataFrame(), pipeline.team_leak(f), int(hist[S.OPPORTUNITY_ID].nunique()))


def funnel(ctx: PageContext) -> FunnelView:
    return _funnel(ctx.db, ctx.version, filters_key(ctx), ctx.as_of)


@st.cache_data(max_entries=16, show_spinner="Finding where deals leak…")
def _leaks(db: str, version: int, filters: tuple, by: str, min_decided: int, as_of: date) -> pd.DataFrame:
    kind, _, hist = _history(db, version, filters)
    if kind == "none":
        return pd.DataFrame(columns=pipeline.LEAK_COLUMNS)
    return pipeline.leaks(hist, _rules(db), _deals(db, version, filters), by, min_decided=min_decided, as_of=as_of)


def leaks(ctx: PageContext, by: str, min_decided: int) -> pd.DataFrame:
    return _leaks(ctx.db, ctx.version, filters_key(ctx), by, min_decided, ctx.as_of)


@st.cache_data(max_entries=16)
def _time_to_close(db: str, version: int, filters: tuple, by: str | None, as_of: date) -> pd.DataFrame:
    return pipeline.time_to_close(_deals(db, version, filters), as_of, by=by)


def time_to_close(ctx: PageContext, by: str | None) -> pd.DataFrame:
    return _time_to_close(ctx.db, ctx.version, filters_key(ctx), by, ctx.as_of)


# --- risk -----------------------------------------------------------------------------------------
@st.cache_data(max_entries=16, show_spinner="Checking deals at risk…")
def _risk(db: str, version: int, filters: tuple, as_of: date, stale_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    snaps = _load(db, "snapshots")
    snaps = _restrict(snaps[snaps[S.AS_OF] <= pd.Timestamp(as_of)], db, version, filters)
    hist = _restrict(_load(db, "history"), db, version, filters)
    hist = hist[hist[S.ENTERED_AT] <= pd.Timestamp(as_of)]
    deals = _deals(db, version, filters)
    risk = pipeline.at_risk(deals, snaps, as_of, stale_days=stale_days, history=hist)
    push = pipeline.push_counts(snaps)
    open_ids = deals.loc[deals[S.STATUS] == S.OPEN, S.OPPORTUNITY_ID]
    push = push[push[S.OPPORTUNITY_ID].isin(open_ids)]
    return risk, push


def risk(ctx: PageContext, stale_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _risk(ctx.db, ctx.version, filters_key(ctx), ctx.as_of, stale_days)


# --- hygiene ----------------------------------------------------------------------------------------
@dataclass
class HygieneView:
    issues: pd.DataFrame
    score: dict
    by_rep: pd.DataFrame
    by_import: pd.DataFrame
    stale_measured: bool


@st.cache_data(max_entries=16, show_spinner="Scoring CRM hygiene…")
def _hygiene(db: str, version: int, filters: tuple, as_of: date, stale_days: int) -> HygieneView:
    snaps = _restrict(_load(db, "snapshots"), db, version, filters)
    hist = _restrict(_load(db, "history"), db, version, filters)
    deals = _deals(db, version, filters)
    rules = _rules(db)
    issues = hygiene.deal_issues(deals, rules, as_of, snapshots=snaps, history=hist, stale_days=stale_days)
    upto = snaps[snaps[S.AS_OF] <= pd.Timestamp(as_of)] if not snaps.empty else snaps
    return HygieneView(issues, hygiene.scorecard(issues), hygiene.by_rep(issues),
                       hygiene.by_import(upto, rules, deals=deals, history=hist, stale_days=stale_days),
                       hygiene.stale_measurable(upto, hist))


def hygiene_view(ctx: PageContext, stale_days: int) -> HygieneView:
    return _hygiene(ctx.db, ctx.version, filters_key(ctx), ctx.as_of, stale_days)


@st.cache_data(max_entries=8, show_spinner="Scoring every import per rep…")
def _hygiene_trend_by_rep(db: str, version: int, filters: tuple, as_of: date, stale_days: int) -> pd.DataFrame:
    snaps = _restrict(_load(db, "snapshots"), db, version, filters)
    snaps = snaps[snaps[S.AS_OF] <= pd.Timestamp(as_of)] if not snaps.empty else snaps
    hist = _restrict(_load(db, "history"), db, version, filters)
    return hygiene.by_import(snaps, _rules(db), deals=_deals(db, version, filters), history=hist,
                             stale_days=stale_days, by=S.OWNER)


def hygiene_trend_by_rep(ctx: PageContext, stale_days: int) -> pd.DataFrame:
    """The score of every import per rep (computed only when a rep's trend is asked for)."""
    return _hygiene_trend_by_rep(ctx.db, ctx.version, filters_key(ctx), ctx.as_of, stale_days)
