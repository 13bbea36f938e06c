"""What every page needs: the workspace (cached per database and data version), the sidebar's
choices as one :class:`~salesops.filters.Filters`, and cached calls of domain functions.

``app.py`` draws the shared sidebar (:func:`sidebar`) before running the page; the page calls
:func:`page_context` and then one domain function per section through :func:`compute`, which
caches the result on (database, data version, filters, arguments). Pages never filter,
aggregate or query themselves.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from .. import auth, store, workspace
from ..errors import SalesopsError
from ..filters import FIELDS, LABELS, Filters
from ..periods import FiscalCalendar, Period
from ..workspace import Workspace

# session-state keys of the shared sidebar; they are also the URL's query parameters
# (?period=2026Q3&as_of=2026-08-15&region=EMEA), so a link opens the same view
K_AS_OF = "as_of"
K_PERIOD_KIND = "period_kind"
K_PERIOD = "period"
K_RANGE = "range"
K_FISCAL = "_sb_fiscal_start"     # the fiscal-year start the period label was chosen under
K_URL_READ = "_sb_url_read"       # the link's parameters were checked (once per session)
K_URL_NOTES = "_sb_url_notes"
K_FILTERS = {name: name for name in FIELDS}
BIND = "query-params"
PERIOD_KINDS = {"Quarter": "Q", "Month": "M", "Year": "Y", "Custom range": None}
#: The sidebar fields shown (segment, industry, company size and territory join when the
#: workspace has them: the territory once a plan is active).
SIDEBAR_FIELDS = ("region", "team", "rep", "segment", "industry", "size_band", "territory")
OPTIONAL_FIELDS = ("segment", "industry", "size_band", "territory")
K_SEARCH = "sb_search"
#: Where a search hit opens: the page and the query parameter it reads.
SEARCH_TARGETS = {"account": ("views/segments.py", "account"), "deal": ("views/segments.py", "deal"),
                  "rep": ("views/reps.py", "rep")}


@dataclass
class PageContext:
    """The workspace and the sidebar's :class:`Filters` for the page being drawn."""

    ws: Workspace
    filters: Filters

    @property
    def db(self) -> str:
        return self.ws.path

    @property
    def version(self) -> int:
        return self.ws.version

    @property
    def workspace(self) -> Workspace:
        return self.ws

    @property
    def settings(self):
        return self.ws.settings

    @property
    def calendar(self) -> FiscalCalendar:
        return self.ws.settings.calendar

    @property
    def currency(self) -> str:
        return self.ws.settings.currency

    @property
    def period(self) -> Period:
        return self.filters.period

    @property
    def as_of(self) -> date:
        return self.filters.as_of

    @property
    def empty(self) -> bool:
        return self.ws.empty

    @property
    def filter_text(self) -> str:
        return self.filters.describe()

    @property
    def deals(self) -> pd.DataFrame:
        """The full deal rows inside the filters (every period)."""
        return self.filters.deals(self.ws)


def db_path() -> str:
    return str(store.default_db_path())


@st.cache_resource(max_entries=2, show_spinner="Loading the workspace…")
def load_workspace(db: str, version: int) -> Workspace:
    """The workspace of ``db`` at ``version`` (the version is the cache key)."""
    return workspace.load(db)


def current_workspace() -> Workspace:
    db = db_path()
    return load_workspace(db, store.data_version(db))


# --- cached domain calls ------------------------------------------------------------------------
def _resolve(path: str):
    module, _, name = path.rpartition(".")
    if not module.startswith("salesops."):
        raise ValueError(f"not a salesops function: {path}")
    obj = importlib.import_module(module)
    for part in name.split("/"):
        obj = getattr(obj, part)
    return obj


@st.cache_data(max_entries=128, show_spinner=False)
def _call(path: str, db: str, version: int, filters: Filters, args: tuple, kwargs: tuple):
    # the workspace as the filters' scope may see it: the scope is in the key (it is part of filters)
    return _resolve(path)(load_workspace(db, version).scoped(filters.scope), filters, *args, **dict(kwargs))


@st.cache_data(max_entries=32, show_spinner=False)
def _team_totals(db: str, version: int, filters: Filters):
    from ..overview import team_totals

    return team_totals(load_workspace(db, version), filters)  # aggregates only: reads the whole workspace


def team_totals(ctx: PageContext) -> dict | None:
    """A rep's team totals beside their own (overview.team_totals); None for other users."""
    return _team_totals(ctx.db, ctx.version, ctx.filters)


def user_scope(full: Workspace):
    """The acting user's scope on the whole workspace's roster (None for an admin)."""
    return auth.current().scope(full.reps)


def compute(fn, ctx: PageContext, *args, filters: Filters | None = None, **kwargs):
    """``fn(ws, filters, *args, **kwargs)`` for a salesops domain function, cached on
    (database, data version, filters, arguments). Arguments must be hashable values."""
    return _call(f"{fn.__module__}.{fn.__qualname__.replace('.', '/')}", ctx.db, ctx.version,
                 filters or ctx.filters, tuple(args), tuple(sorted(kwargs.items())))


@st.cache_data(max_entries=32, show_spinner=False)
def _options(db: str, version: int, filters: Filters) -> dict[str, list[str]]:
    return filters.options(load_workspace(db, version).scoped(filters.scope))


@st.cache_data(max_entries=64, show_spinner="Searching (the first search after a big import indexes every name)…")
def _search(db: str, version: int, text: str):
    from .. import search

    return search.find(db, text)


def shown_fields(ws: Workspace) -> list[str]:
    """The sidebar's filter fields for this workspace (optional ones only when it has values)."""
    return [n for n in SIDEBAR_FIELDS if n not in OPTIONAL_FIELDS or ws.values(FIELDS[n])]


#: A search link's marker: it opens one thing, so the other cuts are cleared (then it is dropped).
K_FROM_SEARCH = "from_search"


def _filters_from_url(ws: Workspace) -> None:
    """A search hit's link (``?rep=Ann%20Lee&from_search=1``) sets that filter and clears the
    others, once; the filter itself stays in the address (it is bound to the URL)."""
    if K_FROM_SEARCH not in st.query_params:
        return
    for name in FIELDS:
        values = _url_values(K_FILTERS[name])
        st.session_state[K_FILTERS[name]] = values
    del st.query_params[K_FROM_SEARCH]


def search_box(ws: Workspace) -> None:
    """The sidebar's "find anything" box: accounts, reps and deals by a few letters of a name;
    each hit is a link to the page that shows it."""
    from . import widgets

    sb = st.sidebar
    text = sb.text_input("Find an account, deal or rep", key=K_SEARCH, placeholder="a few letters of a name",
                         help="Searches every account, rep and deal name (and deal ids) by the start of each word.")
    if not text or not text.strip():
        return
    try:
        from ..search import within

        hits = within(ws, _search(ws.path, ws.version, text.strip()))
    except SalesopsError as exc:
        sb.caption(widgets.plain(str(exc)))
        return
    if not hits:
        sb.caption(widgets.plain(f"Nothing matches “{text.strip()}”."))
        return
    from ..search import KIND_LABELS

    for h in hits:
        page, param = SEARCH_TARGETS[h.kind]
        label = f"{KIND_LABELS[h.kind]}: {h.label}"
        sb.page_link(page, label=widgets.plain(label[:80]), query_params={param: h.key, K_FROM_SEARCH: "1"},
                     help=widgets.plain(h.detail) if h.detail else None,
                     icon={"account": ":material/apartment:", "rep": ":material/person:", "deal": ":material/handshake:"}[h.kind])


# --- the sidebar ---------------------------------------------------------------------------------
def _period_options(cal: FiscalCalendar, ws: Workspace, freq: str) -> list[Period]:
    start = ws.first_close or ws.as_of - timedelta(days=365)
    end = cal.shift(cal.period_of(ws.as_of, "Y"), 1).end
    return list(reversed(cal.periods_between(start, end, freq)))


def _selected_period(cal: FiscalCalendar, as_of: date) -> Period:
    kind = st.session_state.get(K_PERIOD_KIND) or "Quarter"
    freq = PERIOD_KINDS.get(kind, "Q")
    if freq:
        label = st.session_state.get(K_PERIOD)
        if label and st.session_state.get(K_FISCAL) == cal.start_month:
            try:
                return cal.parse(label)
            except SalesopsError:
                pass
        return cal.period_of(as_of, freq)
    rng = st.session_state.get(K_RANGE)
    if isinstance(rng, (tuple, list)) and len(rng) == 2 and rng[0] and rng[1]:
        s, e = rng
        return Period(s, e, f"{s.isoformat()}..{e.isoformat()}", "range")
    return cal.quarter_of(as_of)


def _filters(ws: Workspace) -> Filters:
    """The sidebar's filters on ``ws`` (scoped: Workspace.scoped) within its scope."""
    cal = ws.settings.calendar
    as_of = st.session_state.get(K_AS_OF) or ws.as_of
    if not isinstance(as_of, date):
        as_of = ws.as_of
    fields = {name: tuple(st.session_state.get(K_FILTERS[name]) or ()) for name in shown_fields(ws)}
    return Filters.make(ws, period=_selected_period(cal, as_of), as_of=as_of, scope=getattr(ws, "scope", None), **fields)


def _url_values(key: str) -> list[str]:
    """The values a link gives for ``key`` (repeated or comma-separated)."""
    try:
        raw = st.query_params.get_all(key)
    except Exception:  # noqa: BLE001 - a bound parameter may not be readable on some versions
        raw = []
    return [v.strip() for item in raw for v in str(item).split(",") if v.strip()]


def read_link(ws: Workspace) -> list[str]:
    """Check the parameters of the link the session opened with, once: valid values go into
    the sidebar's state; an invalid one falls back to the default and is named in a note."""
    notes: list[str] = []
    cal = ws.settings.calendar
    kind = _url_values(K_PERIOD_KIND)
    if kind:
        if kind[0] in PERIOD_KINDS:
            st.session_state[K_PERIOD_KIND] = kind[0]
        else:
            notes.append(f"the link's period kind {kind[0]!r} is not one of {', '.join(PERIOD_KINDS)}")
    as_of = _url_values(K_AS_OF)
    if as_of:
        try:
            st.session_state[K_AS_OF] = date.fromisoformat(as_of[0])
        except ValueError:
            notes.append(f"the link's as-of date {as_of[0]!r} is not a date (YYYY-MM-DD)")
    period = _url_values(K_PERIOD)
    if period:
        freq = PERIOD_KINDS.get(st.session_state.get(K_PERIOD_KIND) or "Quarter") or "Q"
        labels = [p.label for p in _period_options(cal, ws, freq)]
        if period[0] in labels:
            st.session_state[K_PERIOD] = period[0]
            st.session_state[K_FISCAL] = cal.start_month
        else:
            notes.append(f"the link's period {period[0]!r} is not a period of this workspace")
    probe = Filters.make(ws)
    options = probe.options(ws)
    for name in FIELDS:
        wanted = _url_values(K_FILTERS[name])
        if not wanted:
            continue
        known = [v for v in wanted if v in options[name]]
        unknown = [v for v in wanted if v not in options[name]]
        st.session_state[K_FILTERS[name]] = known
        if unknown:
            notes.append(f"the link's {LABELS[name].lower()} {', '.join(repr(u) for u in unknown)} is not in this workspace")
    return notes


def sidebar() -> None:
    """Draw the shared sidebar: the workspace, as-of date, period, filters, data freshness.
    Every choice is bound to the URL."""
    try:
        full = current_workspace()
    except SalesopsError as exc:
        from .widgets import plain_message

        st.sidebar.error(plain_message(str(exc)))
        return
    ws = full.scoped(user_scope(full))
    cal = ws.settings.calendar
    sb = st.sidebar
    sb.text(ws.settings.workspace_name or "Workspace")
    read_only = store.read_only_reason(ws.path)
    if read_only:
        sb.warning(f"Read-only: {read_only}. Pages show the data; nothing can be saved.", icon=":material/lock:")
    if ws.empty:
        sb.info("No deals yet: import a CRM export or load the demo workspace.")
        return
    _filters_from_url(ws)
    search_box(ws)
    if not st.session_state.get(K_URL_READ):
        st.session_state[K_URL_READ] = True
        st.session_state[K_URL_NOTES] = read_link(ws)
    for note in st.session_state.get(K_URL_NOTES) or []:
        sb.warning(f"{note[0].upper()}{note[1:]}; the default is shown instead.", icon=":material/link_off:")
    sb.date_input("As of", value=ws.as_of, key=K_AS_OF, format="DD.MM.YYYY", bind=BIND,
                  help="Treat this day as today: every number counts what was known by then, and the current "
                       "period's pace is measured from here. Defaults to the date of the newest data.")
    kind = sb.segmented_control("Period", list(PERIOD_KINDS), default="Quarter", key=K_PERIOD_KIND, bind=BIND)
    freq = PERIOD_KINDS.get(kind or "Quarter")
    as_of = st.session_state.get(K_AS_OF) or ws.as_of
    if freq:
        options = _period_options(cal, ws, freq)
        labels = [p.label for p in options]
        current = cal.period_of(as_of, freq).label
        if st.session_state.get(K_PERIOD) not in labels or st.session_state.get(K_FISCAL) != cal.start_month:
            st.session_state[K_PERIOD] = current if current in labels else labels[0]
        st.session_state[K_FISCAL] = cal.start_month
        sb.selectbox("Which", labels, key=K_PERIOD, label_visibility="collapsed", bind=BIND,
                     help=f"The {(kind or 'Quarter').lower()} of the as-of date is {current}.")
    else:
        q = cal.quarter_of(as_of)
        sb.date_input("Range", value=(q.start, q.end), key=K_RANGE, label_visibility="collapsed", format="DD.MM.YYYY",
                      bind=BIND)
    f = _filters(ws)
    options = _options(ws.path, ws.version, f)
    shown = shown_fields(ws)
    with sb.expander("Filters", expanded=any(st.session_state.get(K_FILTERS[n]) for n in shown)):
        for name in shown:
            key = K_FILTERS[name]
            if key in st.session_state:
                st.session_state[key] = [v for v in st.session_state[key] if v in options[name]]
            st.multiselect(LABELS[name], options[name], key=key, placeholder="All", bind=BIND)
    sb.text(freshness_text(ws))


def freshness_text(ws: Workspace) -> str:
    s = ws.summary
    text = f"Data as of {ws.as_of:%d %b %Y} · {s['deals']:,} deals"
    if s.get("last_import_at"):
        text += f" · last import {str(s['last_import_at'])[:16].replace('T', ' ')} UTC"
    return text


def page_context() -> PageContext:
    """The workspace and the sidebar's filters for the page being drawn."""
    full = current_workspace()
    ws = full.scoped(user_scope(full))
    return PageContext(ws=ws, filters=_filters(ws))
