"""What every page needs: the database, the cached workspace, and the sidebar's choices.

``app.py`` draws the shared sidebar (:func:`sidebar`) before running the page; the page calls
:func:`page_context` to read the same choices. The workspace is cached per (database, data
version) as one shared read-only object: pages must not modify its frames in place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from .. import metrics, store
from .. import schema as S
from ..errors import SalesopsError
from ..periods import FiscalCalendar, Period

# session-state keys of the shared sidebar
K_AS_OF = "sb_as_of"
K_PERIOD_KIND = "sb_period_kind"
K_PERIOD = "sb_period"
K_RANGE = "sb_range"
K_FILTERS = {S.REGION: "sb_f_region", S.TEAM: "sb_f_team", S.OWNER: "sb_f_owner"}
FILTER_LABELS = {S.REGION: "Region", S.TEAM: "Team", S.OWNER: "Rep"}
PERIOD_KINDS = {"Quarter": "Q", "Month": "M", "Year": "Y", "Custom range": None}


@dataclass
class Workspace:
    """Everything loaded from the database once per data version (read-only)."""

    deals: pd.DataFrame          # all opportunities, roster fields attached
    reps: pd.DataFrame
    targets: pd.DataFrame
    accounts: pd.DataFrame
    snapshot_dates: list[str]
    summary: dict
    settings: dict
    as_of: date                  # the as-of date of the data
    filter_options: dict = field(default_factory=dict)   # field -> sorted distinct values
    first_close: date | None = None

    @property
    def empty(self) -> bool:
        return self.deals.empty


@dataclass
class PageContext:
    db: str
    version: int
    settings: dict
    calendar: FiscalCalendar
    currency: str
    period: Period
    as_of: date
    filters: dict[str, list[str]]
    workspace: Workspace
    empty: bool
    extra: dict = field(default_factory=dict)

    @property
    def filter_key(self) -> tuple:
        """The filters as a hashable cache key."""
        return tuple((k, tuple(v)) for k, v in self.filters.items())

    @property
    def deals(self) -> pd.DataFrame:
        """The deals inside the sidebar filters (not cut by period); computed on first use,
        cached per (database, data version, filters)."""
        return self.workspace.deals if self.empty else _filtered(self.db, self.version, self.filter_key)

    @property
    def targets(self) -> pd.DataFrame:
        """The targets of the reps inside the sidebar filters."""
        return self.workspace.targets if self.empty else _filtered_targets(self.db, self.version, self.filter_key)

    @property
    def filter_text(self) -> str:
        parts = [f"{FILTER_LABELS[k]}: {', '.join(v)}" for k, v in self.filters.items() if v]
        return "; ".join(parts) if parts else "whole team"


def db_path() -> str:
    return str(store.default_db_path())


@st.cache_resource(max_entries=2, show_spinner="Loading the workspace…")
def load_workspace(db: str, version: int) -> Workspace:
    """The whole workspace for ``db`` at ``version`` (the version is only a cache key)."""
    with store.connect(db) as conn:
        deals = store.load_deals(conn)
        reps = store.load_reps(conn)
        targets = store.load_targets(conn)
        accounts = store.load_accounts(conn)
        snaps = store.snapshot_dates(conn)
        summary = store.workspace_summary(conn)
        settings = store.get_settings(conn)
        as_of_text = store.data_as_of(conn, summary)
    deals = metrics.attach_roster(deals, reps)
    options = {col: sorted(str(v) for v in deals[col].dropna().unique() if v != "") for col in K_FILTERS if col in deals}
    first = deals[S.CLOSE_DATE].min() if not deals.empty else pd.NaT
    return Workspace(deals, reps, targets, accounts, snaps, summary, settings,
                     date.fromisoformat(as_of_text) if as_of_text else date.today(), options,
                     first.date() if pd.notna(first) else None)


@st.cache_resource(max_entries=8)
def _filtered(db: str, version: int, filters: tuple) -> pd.DataFrame:
    """The deals inside ``filters`` ((field, values) pairs; empty values = no filter). With no
    filter this is the workspace's own frame, not a copy."""
    deals = load_workspace(db, version).deals
    if not any(values for _, values in filters):
        return deals
    mask = pd.Series(True, index=deals.index)
    for col, values in filters:
        if values:
            mask &= deals[col].isin(values)
    return deals[mask]


@st.cache_resource(max_entries=8)
def _filtered_targets(db: str, version: int, filters: tuple) -> pd.DataFrame:
    """Targets restricted to the reps the filters select: reps on the roster whose region,
    team and name match, plus owners of the filtered deals. Team-wide targets are dropped
    when a filter is on."""
    ws = load_workspace(db, version)
    if not any(values for _, values in filters) or ws.targets.empty:
        return ws.targets
    reps = ws.reps
    mask = pd.Series(True, index=reps.index)
    for col, values in filters:
        if values:
            mask &= reps[S.NAME if col == S.OWNER else col].isin(values) if (S.NAME if col == S.OWNER else col) in reps else False
    owners = set(reps.loc[mask, S.NAME]) | set(_filtered(db, version, filters)[S.OWNER].dropna())
    t = ws.targets
    return t[(t[S.SCOPE] == "owner") & t[S.SCOPE_NAME].isin(owners)]


def current_workspace() -> tuple[str, int, Workspace]:
    db = db_path()
    version = store.data_version(db)
    return db, version, load_workspace(db, version)


def _period_options(cal: FiscalCalendar, ws: Workspace, freq: str) -> list[Period]:
    start = ws.first_close or ws.as_of - timedelta(days=365)
    end = cal.shift(cal.period_of(ws.as_of, "Y"), 1).end
    return list(reversed(cal.periods_between(start, end, freq)))


def sidebar() -> None:
    """Draw the shared sidebar: data freshness, as-of date, period, filters."""
    try:
        db, version, ws = current_workspace()
    except SalesopsError as exc:
        st.sidebar.error(str(exc))
        return
    cal = FiscalCalendar(int(ws.settings["fiscal_year_start_month"]))
    sb = st.sidebar
    sb.caption(ws.settings.get("workspace_name") or "Workspace")
    if ws.empty:
        sb.info("No deals yet: import a CRM export or load the demo workspace.")
        return
    sb.date_input("As of", value=ws.as_of, key=K_AS_OF, help="Treat this day as 'today': the current quarter and its pace are measured from here. Defaults to the date of the newest data.")
    kind = sb.segmented_control("Period", list(PERIOD_KINDS), default="Quarter", key=K_PERIOD_KIND)
    freq = PERIOD_KINDS.get(kind or "Quarter")
    as_of = st.session_state.get(K_AS_OF) or ws.as_of
    if freq:
        options = _period_options(cal, ws, freq)
        labels = [p.label for p in options]
        current = cal.period_of(as_of, freq).label
        if st.session_state.get(K_PERIOD) not in labels:
            st.session_state[K_PERIOD] = current if current in labels else labels[0]
        sb.selectbox("Which", labels, key=K_PERIOD, label_visibility="collapsed")
    else:
        q = cal.quarter_of(as_of)
        sb.date_input("Range", value=(q.start, q.end), key=K_RANGE, label_visibility="collapsed")
    with sb.expander("Filters", expanded=any(st.session_state.get(k) for k in K_FILTERS.values())):
        for col, key in K_FILTERS.items():
            options = ws.filter_options.get(col, [])
            if key in st.session_state:
                st.session_state[key] = [v for v in st.session_state[key] if v in options]
            st.multiselect(FILTER_LABELS[col], options, key=key, placeholder="All")
    sb.caption(freshness_text(ws))


def freshness_text(ws: Workspace) -> str:
    s = ws.summary
    text = f"Data as of {ws.as_of:%d %b %Y} · {s['deals']:,} deals"
    if s.get("last_import_at"):
        text += f" · last import {str(s['last_import_at'])[:16].replace('T', ' ')} UTC"
    return text


def _selected_period(cal: FiscalCalendar, as_of: date) -> Period:
    kind = st.session_state.get(K_PERIOD_KIND) or "Quarter"
    freq = PERIOD_KINDS.get(kind, "Q")
    if freq:
        label = st.session_state.get(K_PERIOD)
        if label:
            try:
                return cal.parse(label) if freq != "Y" or cal.start_month == 1 else cal.parse(label.replace("FY", ""))
            except SalesopsError:
                pass
        return cal.period_of(as_of, freq)
    rng = st.session_state.get(K_RANGE)
    if isinstance(rng, (tuple, list)) and len(rng) == 2 and rng[0] and rng[1]:
        s, e = rng
        return Period(s, e, f"{s.isoformat()}..{e.isoformat()}", "range")
    return cal.quarter_of(as_of)


def page_context() -> PageContext:
    """The database, workspace and sidebar choices for the page being drawn."""
    db, version, ws = current_workspace()
    cal = FiscalCalendar(int(ws.settings["fiscal_year_start_month"]))
    as_of = st.session_state.get(K_AS_OF) or ws.as_of
    period = _selected_period(cal, as_of)
    filters = {col: list(st.session_state.get(key) or []) for col, key in K_FILTERS.items()}
    return PageContext(db=db, version=version, settings=ws.settings, calendar=cal,
                       currency=str(ws.settings.get("currency") or "USD"), period=period, as_of=as_of,
                       filters=filters, workspace=ws, empty=ws.empty)


def db_exists(path: str | Path) -> bool:
    return Path(path).exists()
