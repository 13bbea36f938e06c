"""The workspace: everything a page, a CLI command, an export or a deck reads, loaded through
one door (:func:`load`), plus the administration behind the Settings page (settings, the rep
roster, the stage map, clearing).

A :class:`Workspace` is read-only and loaded once per (database, data version). It holds the
small tables (reps, targets, accounts, settings) and the deal *facts*: one narrow row per deal
with the columns the KPI engine and the filters need (status, amount, dates, probability,
forecast category, owner and the owner's roster fields). The full deal rows (names, stages,
accounts, every dimension) are read only when something lists or models deals
(:attr:`Workspace.deals`, :meth:`Workspace.deal_rows`), so a page that shows numbers does not
pay for a million rows it never shows.

Use::

    ws = workspace.load(path)           # the CLI, tests, notebooks
    ws.settings.calendar, ws.settings.currency
    f = Filters.for_period(ws, "2026Q3", region=("EMEA",))
    metrics.kpis(ws, f)
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from . import audit
from . import schema as S
from . import store
from .accounts import (ACTIVE_PLAN_KEY, SIZE_BAND, SIZE_BANDS_KEY, TERRITORY, SizeBands, deal_accounts_from,
                       deal_columns, fields_by_account, universe)
from .errors import InputError, Problem
from .memo import Kept
from .periods import FiscalCalendar

CURRENCIES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY", "INR")
#: Shown for a deal whose owner is not on the roster, as its manager and team.
NOT_ON_ROSTER = "(not on roster)"
#: The roster fields every deal carries from its owner (region only where the deal has none).
ROSTER_FIELDS = (S.MANAGER, S.TEAM, S.REGION)
#: How many filtered deal frames a workspace keeps (the last ones asked for).
SLICE_CACHE = 8
#: The audit action (and permission) of saving into each saved-work table.
SAVED_ACTIONS = {"scenarios": "scenario", "comp_plans": "comp_plan", "forecast_runs": "forecast"}
#: The narrow deal columns the KPI engine and the filters read (see :func:`load`).
FACT_COLUMNS = tuple(store.FACT_COLUMNS)
#: The columns of every deal's own row that the landing zone reads (its book of deals, the
#: open deals it lists) and that snapshot and stage-history rows are matched by
#: (:meth:`Workspace.deal_columns`): a few of the row's columns, without every full row.
OUTCOME_COLUMNS = (S.OPPORTUNITY_ID, S.OWNER, S.STAGE, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE)


# --- settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """The workspace settings, typed. ``calendar`` is the fiscal calendar they define."""

    fiscal_year_start_month: int = 1
    currency: str = "USD"
    holiday_country: str = "US"
    workspace_name: str = "My workspace"

    @classmethod
    def from_dict(cls, values: dict) -> "Settings":
        merged = {**S.DEFAULT_SETTINGS, **(values or {})}
        try:
            month = int(merged["fiscal_year_start_month"])
        except (TypeError, ValueError):
            month = 1
        return cls(fiscal_year_start_month=month if 1 <= month <= 12 else 1,
                   currency=str(merged.get("currency") or "USD"),
                   holiday_country=str(merged.get("holiday_country") or ""),
                   workspace_name=str(merged.get("workspace_name") or "My workspace"))

    @property
    def calendar(self) -> FiscalCalendar:
        return FiscalCalendar(self.fiscal_year_start_month)

    def as_dict(self) -> dict:
        return {"fiscal_year_start_month": self.fiscal_year_start_month, "currency": self.currency,
                "holiday_country": self.holiday_country, "workspace_name": self.workspace_name}

    def __getitem__(self, key):  # settings["currency"] keeps working where a dict was passed
        return self.as_dict()[key]

    def get(self, key, default=None):
        return self.as_dict().get(key, default)


# --- the workspace -----------------------------------------------------------------------------------
def attach_roster(deals: pd.DataFrame, reps: pd.DataFrame | None) -> pd.DataFrame:
    """Add the owner's ``manager`` and ``team`` from the roster (:data:`NOT_ON_ROSTER` for
    owners not on it), and fill a blank deal ``region`` with the owner's region. The deal's
    own region wins where it has one: a deal can be tagged to another region than its rep's."""
    out = deals.copy()
    if reps is None or reps.empty:
        for col in (S.MANAGER, S.TEAM):
            out[col] = NOT_ON_ROSTER
        if S.REGION not in out.columns:
            out[S.REGION] = None
        return out
    roster = reps.drop_duplicates(S.NAME).set_index(S.NAME)
    for col in (S.MANAGER, S.TEAM):
        mapped = out[S.OWNER].map(roster[col]) if col in roster.columns else pd.Series(None, index=out.index, dtype=object)
        out[col] = mapped.fillna(NOT_ON_ROSTER)
    rep_region = out[S.OWNER].map(roster[S.REGION]) if S.REGION in roster.columns else pd.Series(None, index=out.index, dtype=object)
    if S.REGION in out.columns:
        blank = out[S.REGION].isna() | (out[S.REGION].astype(object) == "")
        out[S.REGION] = out[S.REGION].astype(object).where(~blank, rep_region)
    else:
        out[S.REGION] = rep_region
    return out


@dataclass
class Workspace:
    """One workspace at one data version (read-only: never modify its frames in place).

    ``facts`` has :data:`FACT_COLUMNS` plus ``manager`` and ``team`` and ``rowid`` (the
    database row), dates as datetime64, sorted by close date. ``deals`` (loaded on first use)
    has every column of ``opportunities`` except ``extra``, with the same roster fields."""

    path: str
    version: int
    settings: Settings
    facts: pd.DataFrame
    reps: pd.DataFrame
    targets: pd.DataFrame
    accounts: pd.DataFrame
    snapshot_dates: list[str]
    summary: dict
    as_of: date                     # the as-of date of the data (store.data_as_of)
    first_close: date | None = None
    #: store.facts_token at this version: results of the deal facts alone are kept by it (None
    #: for a workspace made from frames, which is not kept).
    facts_token: str | None = None
    #: Company-size bands (accounts.SizeBands, from the settings) and the active territory
    #: plan (its saved reference {"name", "version"} and its plan document), if any.
    size_bands: SizeBands = field(default_factory=SizeBands)
    active_plan_ref: dict | None = None
    active_plan_doc: dict | None = None
    #: Per account name: industry, size_band, territory (what every deal takes from its account).
    account_fields: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=[S.INDUSTRY, SIZE_BAND, TERRITORY]))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _deals: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    _extra: dict = field(default_factory=dict, repr=False, compare=False)

    # -- basics -----------------------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return self.facts.empty

    @property
    def calendar(self) -> FiscalCalendar:
        return self.settings.calendar

    @property
    def currency(self) -> str:
        return self.settings.currency

    # -- deal rows, on demand -------------------------------------------------------------------------
    @property
    def deals(self) -> pd.DataFrame:
        """Every deal with all its columns (except ``extra``) and the roster fields; read from
        the database on first use and kept."""
        if self._deals is None:
            with self._lock:
                if self._deals is None:
                    if self.empty:
                        frame = pd.DataFrame({c: pd.Series(dtype=self.facts[c].dtype) if c in self.facts else pd.Series(dtype=object)
                                              for c in (*store.DEAL_COLUMNS, S.MANAGER, S.TEAM)})
                        for col in S.DATE_FIELDS:
                            frame[col] = pd.to_datetime(frame[col])
                        self._deals = frame
                    else:
                        with store.connect(self.path) as conn:
                            raw = store.load_deals(conn, rowid_index=True)
                        self._deals = self.attach_accounts(attach_roster(raw, self.reps))
        return self._deals

    def deal_columns(self, columns: tuple[str, ...] = OUTCOME_COLUMNS) -> pd.DataFrame:
        """Every deal with only these ``columns`` of its row, as :attr:`deals` has them (same
        values, dtypes, rowid index and database order): taken from :attr:`deals` when that is
        loaded, else read once per set of columns. At 1M deals the outcome columns are about
        a tenth of the memory of the full rows."""
        if self._deals is not None or self.empty:
            return self.deals[list(columns)]
        return self._cached("columns:" + ",".join(columns),
                            lambda conn: store.load_deals(conn, rowid_index=True, columns=columns)[list(columns)])

    def attach_accounts(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (deal rows with ``account``) with the fields each deal takes from its
        account: ``industry`` (the account's, else the deal's own), ``size_band`` and
        ``territory`` (the active plan's), as the facts have them."""
        if S.ACCOUNT not in frame.columns:
            return frame
        acc = pd.Categorical(frame[S.ACCOUNT].astype(object).where(frame[S.ACCOUNT].notna() & (frame[S.ACCOUNT].astype(object) != ""), None))
        cols = deal_columns(acc, frame[S.INDUSTRY].to_numpy(dtype=object) if S.INDUSTRY in frame.columns else None,
                            self.account_fields, self.size_bands.labels(self.settings.currency))
        out = frame.copy()
        for col, values in cols.items():
            out[col] = pd.Series(values, index=out.index) if col != S.INDUSTRY else pd.Series(values, index=out.index).astype(object).where(pd.notna(values), None)
        return out

    def account_universe(self) -> pd.DataFrame:
        """Every account (the accounts import and the accounts the deals name: accounts.universe)
        with its ``size_band`` and its ``territory`` under the active plan."""
        def make():
            uni = universe(self.accounts, self._deal_accounts())
            f = self.account_fields
            uni[SIZE_BAND] = self.size_bands.band(uni[self.size_bands.basis].to_numpy(), self.settings.currency)
            uni[TERRITORY] = f[TERRITORY].reindex(uni[S.NAME].astype(str)).to_numpy(dtype=object) if len(f) else None
            return uni
        return self._memo("account_universe", make)

    def _deal_accounts(self) -> pd.DataFrame | None:
        """Per account the deals name: deal count, their most common own industry and region."""
        return self._extra.get("deal_accounts")

    def target_book(self, start, end):
        """The targets pro-rated to [start, end] (:class:`~salesops.targets.TargetBook`), made
        once per workspace and period: a page asks for the same period's targets many times."""
        from .targets import TargetBook

        return self._memo(("target_book", pd.Timestamp(start), pd.Timestamp(end)),
                          lambda: TargetBook(self.targets, start, end))

    def _memo(self, name, make):
        if name not in self._extra:
            value = make()
            with self._lock:
                self._extra.setdefault(name, value)
        return self._extra[name]

    def deal_rows(self, rowids, columns: list[str] | None = None) -> pd.DataFrame:
        """The full rows of the deals with these database ``rowid``s, in the order given
        (for tables that list a few deals without loading them all)."""
        ids = [int(r) for r in rowids]
        cols = columns or list(store.DEAL_COLUMNS)
        if not ids:
            return attach_roster(pd.DataFrame(columns=cols), self.reps).reindex(columns=list(dict.fromkeys([*cols, S.MANAGER, S.TEAM])))
        if self._deals is not None:
            rows = self._deals.loc[ids]
        else:
            derived = (SIZE_BAND, TERRITORY)
            read = [c for c in cols if c not in (S.MANAGER, S.TEAM, *derived)]
            if any(c in cols for c in (S.INDUSTRY, *derived)):
                read = list(dict.fromkeys([*read, S.ACCOUNT, S.INDUSTRY]))
            with store.connect(self.path) as conn:
                rows = store.load_deal_rows(conn, ids, read)
            rows = self.attach_accounts(attach_roster(rows, self.reps))
        keep = list(dict.fromkeys([c for c in cols if c in rows.columns]))
        return rows[keep]

    def snapshots(self) -> pd.DataFrame:
        """Every snapshot row (store.load_snapshots), read once."""
        return self._cached("snapshots", lambda conn: store.load_snapshots(conn))

    def stage_history(self) -> pd.DataFrame:
        return self._cached("stage_history", lambda conn: store.load_stage_history(conn))

    def stage_rules(self) -> dict:
        """The stage map in force ({stage_key: StageRule}: defaults and the user's edits)."""
        return self._cached("stage_rules", lambda conn: store.stage_rules(conn))

    def snapshot(self, as_of: str) -> pd.DataFrame:
        """The snapshot rows of one as-of date."""
        return self._cached(f"snapshot:{as_of}", lambda conn: store.load_snapshots(conn, as_of))

    def slice(self, key, make):
        """A derived frame (the deals of a slice) kept for the last few keys asked for."""
        with self._lock:
            cache = self._extra.setdefault("_slices", {})
            if key in cache:
                cache[key] = cache.pop(key)  # most recently used last
                return cache[key]
        value = make()
        with self._lock:
            cache[key] = value
            while len(cache) > SLICE_CACHE:
                cache.pop(next(iter(cache)))
        return value

    def _cached(self, name: str, read):
        if name not in self._extra:
            with self._lock:
                if name not in self._extra:
                    with store.connect(self.path) as conn:
                        self._extra[name] = read(conn)
        return self._extra[name]

    # -- choices ---------------------------------------------------------------------------------
    def values(self, field_name: str) -> list[str]:
        """The distinct non-blank values of a deal or roster field, sorted (filter options)."""
        key = f"values:{field_name}"
        if key not in self._extra:
            if field_name in self.facts.columns:
                col = self.facts[field_name]
                vals = col.cat.categories if isinstance(col.dtype, pd.CategoricalDtype) else col.dropna().unique()
                out = sorted({str(v) for v in vals if v is not None and str(v) != ""})
                if field_name in (S.TEAM, S.MANAGER):
                    out = [v for v in out if v != NOT_ON_ROSTER] + ([NOT_ON_ROSTER] if NOT_ON_ROSTER in out else [])
            else:
                out = []
            self._extra[key] = out
        return self._extra[key]

    # -- saved work (plans, scenarios, forecasts): the same door ------------------------------------
    def saved(self, table: str, kind: str | None = None) -> pd.DataFrame:
        """Every saved version in ``table`` (not cached: a save must show at once)."""
        with store.connect(self.path) as conn:
            return store.list_documents(conn, table, kind=kind)

    def load_saved(self, table: str, name: str, version: int | None = None) -> dict | None:
        with store.connect(self.path) as conn:
            return store.load_document(conn, table, name, version)

    def save(self, table: str, name: str, payload: dict, kind: str | None = None) -> int:
        """Save ``payload`` as the next version of ``name``; returns the version (audited:
        goal scenarios and comp plans are the admins' and managers')."""
        what = SAVED_ACTIONS.get(table, "write")
        with audit.action(what, f"saved {str(name).strip()!r}") as entry:
            with store.connect(self.path, write=True) as conn:
                _, version = store.save_document(conn, table, name, payload, kind=kind)
                entry.after = {"table": table, "name": str(name).strip(), "version": version, "kind": kind}
                entry.summary = f"saved {str(name).strip()!r} version {version}"
        return version


    # -- the signed-in user's part ---------------------------------------------------------------------
    def facts_key(self, *parts):
        """The key a result of the deal facts alone is kept by (salesops.memo.Kept): the facts
        token, the user's scope and ``parts`` (the filters, the arguments); None, "not
        keepable", for a workspace without a token."""
        return None if self.facts_token is None else (self.facts_token, getattr(self, "scope", None), *parts)

    def scoped(self, scope) -> "Workspace":
        """The workspace as a user with ``scope`` (salesops.auth.Scope; None: everything) may
        see it: the deals, roster, targets, accounts, snapshots and stage history of the scope
        only, so that any function given it cannot show another team's numbers. Kept for the
        last few scopes asked for."""
        if scope is None:
            return self
        return self.slice(("scoped", scope), lambda: _scoped(self, scope))


def _scoped(base: Workspace, scope) -> "ScopedWorkspace":
    from .auth import MANAGER
    from .filters import _mask

    facts = base.facts[_mask(base.facts, scope.cuts())]
    reps = base.reps
    if not reps.empty:
        inside = reps[S.TEAM].astype(str).isin(scope.teams) if scope.role == MANAGER else reps[S.NAME].astype(str).isin(scope.reps)
        reps = reps[inside.to_numpy()].reset_index(drop=True)
    owners = set(reps[S.NAME].astype(str)) | {str(o) for o in facts[S.OWNER].dropna().unique()} | set(scope.reps)
    t = base.targets
    keep = (t[S.SCOPE] == "owner") & t[S.SCOPE_NAME].astype(str).isin(owners)
    if scope.role == MANAGER:
        keep |= (t[S.SCOPE] == "team") & t[S.SCOPE_NAME].astype(str).isin(scope.teams)
    targets = t[keep.to_numpy()].reset_index(drop=True)
    names = {str(a) for a in facts[S.ACCOUNT].dropna().unique()} if S.ACCOUNT in facts.columns else set()
    accounts = base.accounts[base.accounts[S.NAME].astype(str).isin(names).to_numpy()].reset_index(drop=True)
    fields = base.account_fields[base.account_fields.index.astype(str).isin(names)]
    summary = {**base.summary, **_deal_stats(facts), "reps": int(len(reps))}
    ws = ScopedWorkspace(path=base.path, version=base.version, settings=base.settings, facts=facts, reps=reps,
                         targets=targets, accounts=accounts, snapshot_dates=base.snapshot_dates, summary=summary,
                         as_of=base.as_of, first_close=base.first_close, facts_token=base.facts_token,
                         size_bands=base.size_bands,
                         active_plan_ref=base.active_plan_ref, active_plan_doc=base.active_plan_doc,
                         account_fields=fields, base=base, scope=scope)
    deal_acc = base._extra.get("deal_accounts")
    if deal_acc is not None and hasattr(deal_acc, "index"):
        deal_acc = deal_acc[deal_acc.index.astype(str).isin(names)] if len(deal_acc) else deal_acc
    ws._extra["deal_accounts"] = deal_acc
    ws._extra["owners"] = owners
    return ws


@dataclass
class ScopedWorkspace(Workspace):
    """A :class:`Workspace` cut to a user's scope (see :meth:`Workspace.scoped`); deal rows,
    snapshots and stage history are read through the full workspace and cut the same way."""

    base: Workspace | None = None
    scope: object = None

    def scoped(self, scope) -> "Workspace":
        if scope is None or scope == self.scope:
            return self
        return self.base.scoped(scope)

    @property
    def deals(self) -> pd.DataFrame:
        return self._memo("scoped_deals", lambda: self.base.deals[self.base.deals.index.isin(self.facts.index)])

    def deal_columns(self, columns: tuple[str, ...] = OUTCOME_COLUMNS) -> pd.DataFrame:
        def make():
            frame = self.base.deal_columns(columns)
            return frame[frame.index.isin(self.facts.index)]
        return self._memo("scoped_columns:" + ",".join(columns), make)

    def deal_rows(self, rowids, columns: list[str] | None = None) -> pd.DataFrame:
        inside = set(self.facts.index)
        return self.base.deal_rows([r for r in rowids if int(r) in inside], columns)

    def _ids(self) -> set:
        return self._memo("scoped_ids", lambda: set(self.deal_columns()[S.OPPORTUNITY_ID].astype(str)))

    def _cut(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows of a snapshot or stage-history frame of deals inside the scope (a deal no longer
        in the workspace follows its owner in the row)."""
        if frame is None or frame.empty:
            return frame
        keep = frame[S.OPPORTUNITY_ID].astype(str).isin(self._ids())
        if S.OWNER in frame.columns:
            keep |= frame[S.OWNER].astype(str).isin(self._extra["owners"]) & \
                ~frame[S.OPPORTUNITY_ID].astype(str).isin(set(self.base.deal_columns()[S.OPPORTUNITY_ID].astype(str)))
        return frame[keep.to_numpy()]

    def snapshots(self) -> pd.DataFrame:
        return self._memo("scoped_snapshots", lambda: self._cut(self.base.snapshots()))

    def stage_history(self) -> pd.DataFrame:
        return self._memo("scoped_stage_history", lambda: self._cut(self.base.stage_history()))

    def snapshot(self, as_of: str) -> pd.DataFrame:
        return self._memo(f"scoped_snapshot:{as_of}", lambda: self._cut(self.base.snapshot(as_of)))


def _categorical(values) -> pd.Categorical:
    return values if isinstance(values, pd.Categorical) else pd.Categorical(values)


def _facts(frame: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """The deal facts with the roster fields (as :func:`attach_roster` gives them), text as
    categories, sorted by close date and indexed by rowid. The roster is applied per
    category, not per deal."""
    out = frame.copy()
    for col in (S.OWNER, S.REGION, S.SEGMENT, S.STATUS, S.FORECAST_CATEGORY):
        out[col] = _categorical(out[col].array if isinstance(out[col].dtype, pd.CategoricalDtype) else out[col].astype(object).where(out[col].notna() & (out[col].astype(object) != ""), None))
    owner = out[S.OWNER].array
    roster = reps.drop_duplicates(S.NAME).set_index(S.NAME) if reps is not None and not reps.empty else pd.DataFrame()
    owner_names = pd.Index([str(c) for c in owner.categories])
    for col in (S.MANAGER, S.TEAM):
        per_owner = owner_names.map(roster[col]) if col in roster.columns else pd.Index([None] * len(owner_names))
        per_owner = pd.Series(per_owner, dtype=object).where(pd.notna(per_owner), NOT_ON_ROSTER)
        cats = pd.Categorical(per_owner)
        lookup = np.append(cats.codes, -1)  # -1 (a deal without owner) stays missing
        codes = lookup[np.where(owner.codes < 0, len(cats.codes), owner.codes)]
        out[col] = pd.Categorical.from_codes(np.where(owner.codes < 0, cats.categories.get_loc(NOT_ON_ROSTER), codes)
                                             if NOT_ON_ROSTER in cats.categories else codes, cats.categories)
    region = out[S.REGION].array
    rep_region = owner_names.map(roster[S.REGION]) if S.REGION in roster.columns else pd.Index([None] * len(owner_names))
    names = pd.Index(sorted({str(v) for v in list(region.categories) + [r for r in rep_region if pd.notna(r) and r != ""]}))
    deal_codes = names.get_indexer([str(c) for c in region.categories])
    rep_codes = np.append(names.get_indexer([str(r) if pd.notna(r) and r != "" else "\x00" for r in rep_region]), -1)
    codes = np.where(region.codes >= 0, deal_codes[np.clip(region.codes, 0, None)] if len(deal_codes) else -1,
                     rep_codes[np.where(owner.codes < 0, len(rep_codes) - 1, owner.codes)])
    out[S.REGION] = pd.Categorical.from_codes(codes.astype(np.int64), names)
    out = out.sort_values(S.CLOSE_DATE, kind="stable", na_position="last")
    out.index = out["rowid"].to_numpy()
    out.index.name = None
    return out


def _account_fields(facts: pd.DataFrame, accounts: pd.DataFrame, bands: SizeBands, plan_doc: dict | None,
                    currency: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(per-account industry / size band / territory, the deals' accounts) for facts that
    carry ``account`` and the deal's own ``industry``."""
    if S.ACCOUNT not in facts.columns:
        return pd.DataFrame(columns=[S.INDUSTRY, SIZE_BAND, TERRITORY]), None
    own = facts[S.INDUSTRY].array if S.INDUSTRY in facts.columns else None
    deal_acc = deal_accounts_from(facts[S.ACCOUNT].array, own if isinstance(own, pd.Categorical) else None, facts[S.REGION].array)
    uni = universe(accounts, deal_acc)
    assignment = None
    if plan_doc:
        from .territories import active_assignment

        assignment = active_assignment(accounts, deal_acc, bands, plan_doc, currency)
    return fields_by_account(uni, bands, assignment, currency), deal_acc


def _with_account_columns(facts: pd.DataFrame, fields: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """The facts with ``industry`` (the account's, else the deal's own), ``size_band`` and
    ``territory`` as categoricals (mapped per account category)."""
    if S.ACCOUNT not in facts.columns:
        return facts
    own = facts[S.INDUSTRY].array if S.INDUSTRY in facts.columns else None
    cols = deal_columns(facts[S.ACCOUNT].array, own, fields, labels)
    out = facts.copy()
    for col, values in cols.items():
        out[col] = values
    return out


def _deal_stats(facts: pd.DataFrame) -> dict:
    closed = facts.loc[(facts[S.STATUS] != S.OPEN).to_numpy(), S.CLOSE_DATE]
    iso = lambda t: None if pd.isna(t) else pd.Timestamp(t).date().isoformat()  # noqa: E731
    return {"deals": int(len(facts)), "max_close_date": iso(closed.max()), "max_created_date": iso(facts[S.CREATED_DATE].max())}


def load(path: str | Path | None = None) -> Workspace:
    """The workspace in the database at ``path`` (default: SALESOPS_DB or data/salesops.db),
    read in one read transaction."""
    path = str(store.default_db_path() if path is None else path)
    for _ in range(3):  # the deal facts come through a second (columnar) reader: retry if a write fell between
        with store.connect(path) as conn:  # migrates a new or older database first
            version = store.version_of(conn)
        raw = store.load_deal_facts(path, text_columns=(S.ACCOUNT, S.INDUSTRY))
        with store.connect(path) as conn:
            conn.execute("BEGIN")
            try:
                again = store.version_of(conn)
                token = store.facts_token(conn)
                raw_settings = store.get_settings(conn)
                settings = Settings.from_dict(raw_settings)
                plan_ref, plan_doc = _active_plan(conn, raw_settings)
                reps = store.load_reps(conn)
                targets = store.load_targets(conn)
                accounts = store.load_accounts(conn)
                snaps = store.snapshot_dates(conn)
                summary = store.workspace_summary(conn, _deal_stats(raw))
                as_of_text = store.data_as_of(conn, summary)
            finally:
                conn.execute("COMMIT")
        if again == version:
            break
        version = again
    facts = _facts(raw, reps)
    bands = SizeBands.from_setting(raw_settings.get(SIZE_BANDS_KEY))
    fields, deal_acc = _account_fields(facts, accounts, bands, plan_doc, settings.currency)
    facts = _with_account_columns(facts, fields, bands.labels(settings.currency))
    first = facts[S.CLOSE_DATE].min() if not facts.empty else pd.NaT
    ws = Workspace(path=path, version=version, settings=settings, facts=facts, reps=reps, targets=targets,
                   accounts=accounts, snapshot_dates=snaps, summary=summary,
                   as_of=date.fromisoformat(as_of_text) if as_of_text else date.today(),
                   first_close=first.date() if pd.notna(first) else None, facts_token=token,
                   size_bands=bands, active_plan_ref=plan_ref, active_plan_doc=plan_doc, account_fields=fields)
    ws._extra["deal_accounts"] = deal_acc
    return ws


#: The last two workspaces :func:`load_current` loaded, by (file, data version, facts token).
_CURRENT = Kept(2)


def load_current(path: str | Path | None = None) -> Workspace:
    """:func:`load`, kept in the process while the database's data version and facts token
    stay the same (every committed write changes the version): the CLI's commands run one
    after another in one process (``salesops.cli.main`` called from a notebook or a test)
    read the database once, not at each command. A Workspace is read-only, so sharing it is
    safe."""
    path = str(store.default_db_path() if path is None else path)
    version, token = store.versions(path)
    return _CURRENT.get((str(Path(path).resolve()), version, token), lambda: load(path))


def _active_plan(conn, raw_settings: dict) -> tuple[dict | None, dict | None]:
    """The active territory plan's reference and document (None, None without one, or when
    the saved version is gone)."""
    ref = raw_settings.get(ACTIVE_PLAN_KEY)
    if not isinstance(ref, dict) or not ref.get("name"):
        return None, None
    doc = store.load_document(conn, "scenarios", str(ref["name"]), ref.get("version"))
    if not isinstance(doc, dict) or not isinstance(doc.get("plan"), dict):
        return None, None
    return ref, doc["plan"]


def from_frames(deals: pd.DataFrame, *, reps: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                accounts: pd.DataFrame | None = None, settings: dict | None = None, as_of: date | None = None,
                path: str = ":memory:") -> Workspace:
    """A workspace made of frames in memory (tests, notebooks): ``deals`` as store.load_deals
    gives them (missing optional columns are added empty)."""
    d = deals.copy()
    for col in store.DEAL_COLUMNS:
        if col not in d.columns:
            d[col] = np.nan if col in (S.AMOUNT, S.PROBABILITY) else None
    for col in S.DATE_FIELDS:
        d[col] = pd.to_datetime(d[col])
    d[S.AMOUNT] = d[S.AMOUNT].astype(float)
    d[S.PROBABILITY] = d[S.PROBABILITY].astype(float)
    d = d.reset_index(drop=True)
    reps = reps if reps is not None else pd.DataFrame(columns=list(S.REP_COLUMNS))
    if not reps.empty:
        reps = reps.copy()
        for col in (S.HIRE_DATE, S.END_DATE):
            if col in reps.columns:
                reps[col] = pd.to_datetime(reps[col])
        if S.ACTIVE not in reps.columns:
            reps[S.ACTIVE] = True
    t = targets if targets is not None else pd.DataFrame(columns=list(S.TARGET_COLUMNS))
    t = t.copy()
    for col in (S.PERIOD_START, S.PERIOD_END):
        t[col] = pd.to_datetime(t[col])
    full = attach_roster(d, reps)
    facts = d[[*FACT_COLUMNS, S.ACCOUNT, S.INDUSTRY]].copy()
    for col in (S.ACCOUNT, S.INDUSTRY):
        facts[col] = pd.Categorical(facts[col].astype(object).where(facts[col].notna() & (facts[col].astype(object) != ""), None))
    facts.insert(0, "rowid", np.arange(len(facts)))
    facts = _facts(facts, reps)
    acc_table = accounts if accounts is not None else pd.DataFrame(columns=list(S.ACCOUNT_COLUMNS))
    raw_settings = settings or {}
    bands = SizeBands.from_setting(raw_settings.get(SIZE_BANDS_KEY))
    cur = Settings.from_dict(raw_settings).currency
    plan_doc = raw_settings.get("territory_plan")  # tests: {"territory_plan": plan document}
    fields, deal_acc = _account_fields(facts, acc_table, bands, plan_doc, cur)
    facts = _with_account_columns(facts, fields, bands.labels(cur))
    activity = pd.concat([d.loc[d[S.STATUS] != S.OPEN, S.CLOSE_DATE], d[S.CREATED_DATE]]).max()
    first = facts[S.CLOSE_DATE].min() if not facts.empty else pd.NaT
    ws = Workspace(path=path, version=0, settings=Settings.from_dict(settings or {}), facts=facts, reps=reps, targets=t,
                   accounts=acc_table,
                   snapshot_dates=[], summary={"deals": len(d), "reps": len(reps), "last_import_at": None},
                   as_of=as_of or (activity.date() if pd.notna(activity) else date.today()),
                   first_close=first.date() if pd.notna(first) else None,
                   size_bands=bands, active_plan_ref={"name": plan_doc.get("name"), "version": 0} if plan_doc else None,
                   active_plan_doc=plan_doc, account_fields=fields)
    ws._extra["deal_accounts"] = deal_acc
    ws._deals = ws.attach_accounts(full)
    return ws


# --- administration (the Settings page) -------------------------------------------------------------
def validate_roster(frame: pd.DataFrame) -> pd.DataFrame:
    """Check an edited roster (name, manager, team, region, hire_date, end_date, ote,
    base_salary, active) and return it cleaned. Rows are numbered from 1 as shown."""
    problems = []
    out = frame.copy()
    out = out[~out[S.NAME].isna() | out.drop(columns=[S.NAME]).notna().any(axis=1)]
    out[S.NAME] = out[S.NAME].fillna("").astype(str).str.strip()
    for i, name in enumerate(out[S.NAME], start=1):
        if not name:
            problems.append(Problem("a rep needs a name", row=i, column="name"))
    dup = out[S.NAME][out[S.NAME].duplicated() & (out[S.NAME] != "")]
    for name in dup.unique():
        problems.append(Problem("the same rep is listed twice", column="name", value=name))
    for col in (S.HIRE_DATE, S.END_DATE):
        if col in out:
            parsed = pd.to_datetime(out[col], errors="coerce")
            bad = out[col].notna() & parsed.isna()
            for i in [k for k, b in enumerate(bad, start=1) if b]:
                problems.append(Problem("not a date", row=i, column=col, value=out[col].iloc[i - 1]))
            out[col] = parsed
    for col in (S.OTE, S.BASE_SALARY):
        if col in out:
            vals = pd.to_numeric(out[col], errors="coerce")
            neg = vals < 0
            for i in [k for k, b in enumerate(neg, start=1) if b]:
                problems.append(Problem("must not be negative", row=i, column=col, value=out[col].iloc[i - 1]))
            out[col] = vals
    if S.HIRE_DATE in out and S.END_DATE in out:
        before = out[S.END_DATE].notna() & out[S.HIRE_DATE].notna() & (out[S.END_DATE] < out[S.HIRE_DATE])
        for i in [k for k, b in enumerate(before, start=1) if b]:
            problems.append(Problem("the end date is before the hire date", row=i, column="end_date"))
    if problems:
        raise InputError(f"the roster has {len(problems)} problem(s); nothing was saved", problems)
    out[S.ACTIVE] = out.get(S.ACTIVE, True)
    out[S.ACTIVE] = out[S.ACTIVE].fillna(True).astype(bool) & out[S.END_DATE].isna() if S.END_DATE in out else out[S.ACTIVE]
    out[S.ACTIVE] = out[S.ACTIVE].astype(int)
    return out.reset_index(drop=True)


def save_roster(path, frame: pd.DataFrame) -> int:
    """Validate and replace the roster in one transaction; returns the number of reps."""
    clean = validate_roster(frame)
    with audit.action("roster") as entry:
        with store.connect(path, write=True) as conn:
            old = store.load_reps(conn)
            n = store.replace_table(conn, "reps", clean)
            entry.before, entry.after, entry.summary = _roster_change(old, clean)
    return n


def _roster_change(old: pd.DataFrame, new: pd.DataFrame) -> tuple[dict, dict, str]:
    """(before, after, summary) of a roster save: who was added or removed, whose row changed."""
    cols = [c for c in S.REP_COLUMNS if c in old.columns and c in new.columns]

    def value(c, v):
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            return None
        if c in (S.HIRE_DATE, S.END_DATE):
            return str(pd.Timestamp(v).date())
        if isinstance(v, (bool, np.bool_, int, float, np.number)):
            return float(v)
        return str(v)

    def rows(frame):
        f = frame[cols].astype(object)
        return {str(r[0]): [value(c, v) for c, v in zip(cols, r)] for r in f.itertuples(index=False, name=None)}
    a, b = rows(old), rows(new)
    added, removed = sorted(set(b) - set(a)), sorted(set(a) - set(b))
    changed = sorted(n for n in set(a) & set(b) if a[n] != b[n])
    before = {"reps": len(a), "removed": {n: a[n] for n in removed}, "changed": {n: a[n] for n in changed}}
    after = {"reps": len(b), "columns": cols, "added": {n: b[n] for n in added}, "changed": {n: b[n] for n in changed}}
    return before, after, f"{len(b)} reps: {len(added)} added, {len(removed)} removed, {len(changed)} changed"


def save_settings(path, **values) -> None:
    if "currency" in values and values["currency"] not in CURRENCIES:
        raise InputError(f"currency {values['currency']!r} is not supported; choose one of {', '.join(CURRENCIES)}")
    with audit.action("settings") as entry:
        with store.connect(path, write=True) as conn:
            old = store.get_settings(conn)
            changed = {k: v for k, v in values.items() if old.get(k) != v}
            entry.before = {k: old.get(k) for k in changed}
            entry.after = changed
            entry.summary = ("; ".join(f"{k}: {old.get(k)!r} -> {v!r}" for k, v in changed.items())[:300]
                             or "saved without a change")
            store.set_settings(conn, **values)


STAGE_MAP_COLUMNS = ["stage", "status", "probability", "sort_order"]


@dataclass(frozen=True)
class StageMapPreview:
    """What saving an edited stage map would do.

    ``map_changed``: the edited map differs from the one in force (no edit: nothing to save).
    ``changes``: per stage, the deals whose status would change (stage, status, new_status,
    deals); only deals whose status came from the stage map. ``kept_from_file``: deals whose
    status came from the file's status column and is kept whatever the map says."""

    map_changed: bool
    changes: pd.DataFrame
    kept_from_file: int

    @property
    def deals_changed(self) -> int:
        return int(self.changes["deals"].sum()) if len(self.changes) else 0

    def describe(self) -> str:
        """One sentence for the user."""
        if not self.map_changed:
            return "The stage map has no changes; nothing was saved."
        kept = (f" {self.kept_from_file:,} deals keep the status their file gave them." if self.kept_from_file else "")
        if not self.deals_changed:
            return "Saving changes no deal's status." + kept
        per = "; ".join(f"{r.stage}: {r.deals:,} {r.status} → {r.new_status}" for r in self.changes.itertuples())
        return f"Saving changes the status of {self.deals_changed:,} deals ({per})." + kept


def _map_rows(frame: pd.DataFrame) -> list[tuple]:
    return sorted(store.stage_map_rows(pd.DataFrame(frame)[STAGE_MAP_COLUMNS]))


def stage_map_preview(path, frame: pd.DataFrame) -> StageMapPreview:
    """What saving ``frame`` (stage, status, probability, sort_order) as the stage map would change."""
    edited = pd.DataFrame(frame)[STAGE_MAP_COLUMNS]
    with store.connect(path) as conn:
        current = store.load_stage_map(conn)[STAGE_MAP_COLUMNS]
        changes = store.stage_map_changes(conn, edited)
        kept = conn.execute("SELECT COUNT(*) FROM opportunities WHERE status_source = 'file'").fetchone()[0]
    return StageMapPreview(map_changed=_map_rows(edited) != _map_rows(current), changes=changes, kept_from_file=int(kept))


def save_stage_map(path, frame: pd.DataFrame) -> int:
    """Save the stage map and re-derive the statuses that came from it (explicit statuses from
    a file are kept). When deal statuses change, a backup is written first
    (salesops.backup, reason "stage-map"). Returns how many deals changed status."""
    frame = pd.DataFrame(frame)[STAGE_MAP_COLUMNS]
    with audit.action("stage_map"):
        if stage_map_preview(path, frame).deals_changed:
            from .backup import backup_now

            backup_now(path, "stage-map")
        with store.connect(path, write=True) as conn:
            old = store.read_frame(conn, "SELECT stage, status, probability, sort_order FROM stage_map")
            changed = store.save_stage_map(conn, frame)
            _note_stage_change(old, frame)
            return changed


def _note_stage_change(old: pd.DataFrame, new: pd.DataFrame) -> None:
    """Put the stage map's before/after (the stages whose rule changed) on the audit entry."""
    def rules(frame):
        return {str(r.stage).strip(): [str(r.status), float(r.probability), int(r.sort_order)]
                for r in frame.itertuples(index=False) if str(r.stage).strip()}
    a, b = rules(old), rules(pd.DataFrame(new).fillna({"probability": 0.0, "sort_order": 0}))
    changed = sorted(s for s in set(a) | set(b) if a.get(s) != b.get(s))
    entry = audit.pending()
    if entry is not None:
        entry.summary = f"{len(changed)} stage(s) changed" + (f": {', '.join(changed[:8])}" if changed else "") + \
            (" ..." if len(changed) > 8 else "")
        entry.before = {"stages (status, probability, order)": {s: a.get(s) for s in changed}}
        entry.after = {"stages (status, probability, order)": {s: b.get(s) for s in changed}}


def add_stages(path, stages: pd.DataFrame) -> int:
    """Add (or redefine) stages in the stage map: ``stages`` has stage, status and probability;
    the other stages keep their rows. Returns how many were saved."""
    add = pd.DataFrame(stages)[["stage", "status", "probability"]].assign(sort_order=0)
    with audit.action("stage_map"), store.connect(path, write=True) as conn:
        own = store.read_frame(conn, "SELECT stage, status, probability, sort_order FROM stage_map")  # the user's rows
        keep = own[~own["stage"].isin(add["stage"])]
        both = pd.concat([keep, add], ignore_index=True) if not keep.empty else add
        both["probability"] = pd.to_numeric(both["probability"], errors="coerce").fillna(0.0)
        store.save_stage_map(conn, both)
        _note_stage_change(own, both)
    return len(add)


def stage_map(path) -> pd.DataFrame:
    """The stage map for editing (store.load_stage_map)."""
    with store.connect(path) as conn:
        return store.load_stage_map(conn)


def clear_workspace(path) -> Path:
    """Remove every deal, snapshot, import, roster, account and target (settings and saved
    plans stay). A backup is written first (salesops.backup, reason "clear"); returns its path."""
    from .backup import backup_now

    with audit.action("clear") as entry:
        written = backup_now(path, "clear")
        with store.connect(path, write=True) as conn:
            counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                      for t in ("opportunities", "imports", "reps", "accounts", "targets")}
            entry.before, entry.after = counts, {t: 0 for t in counts}
            entry.summary = f"removed {counts['opportunities']:,} deals and {counts['imports']} imports (backup: {written.name})"
            for table in store.WORKSPACE_DATA_TABLES:
                conn.execute(f"DELETE FROM {table}")
    return written


def load_demo(path) -> Path | None:
    """Replace the workspace with the demo company (salesops.demo.load_demo: deals, imports
    with their undo data, roster, targets, the stage map, settings and the remembered
    mappings). A backup of what was there is written first (reason "load-demo") when the
    database exists; returns its path (None for a new database)."""
    from . import demo
    from .backup import backup_now

    with audit.action("demo"):  # demo.load_demo's own entry: it names the backup
        written = backup_now(path, "load-demo") if Path(path).is_file() else None
        demo.load_demo(path)
    return written


__all__ = ["Settings", "Workspace", "load", "from_frames", "attach_roster", "NOT_ON_ROSTER", "CURRENCIES",
           "validate_roster", "save_roster", "save_settings", "save_stage_map", "stage_map_preview", "StageMapPreview",
           "add_stages", "stage_map", "clear_workspace", "load_demo"]
