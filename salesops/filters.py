"""What a page, a CLI command or an export is looking at: the period, the as-of date and the
slice of the business (region, team, rep, segment). One hashable value, so it is also the
cache key of everything derived from it.

Use::

    f = Filters.make(ws, period="2026Q3", region=["EMEA"])
    f.facts(ws)        # the deal facts inside the slice (all periods)
    f.deals(ws)        # the same deals with every column
    f.target(ws)       # TargetView: the one target rule (salesops.targets)
    f.options(ws)      # the choices left for each field, given the others (filters narrow each other)

A deal is inside a region when its own region is (or, with none, its rep's roster region);
inside a team or under a manager by its rep's roster; inside a rep by its owner. The reps
inside a slice, whose targets count, are those the roster places inside it (see targets.py).

``scope`` (salesops.auth.Scope, None for an admin) is the part of the business the signed-in
user may see: a manager's teams, a rep's own deals. It is intersected with every cut, so the
facts, deals, reps, options and targets of a scoped Filters hold nothing outside it (absent,
not hidden), and as a field it is part of every cache key.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd

from . import schema as S
from .auth import Scope
from .errors import InputError
from .periods import Period
from .targets import TargetBook, TargetView

#: The fields a slice can be cut by: name -> deal/roster column. ``industry``, ``size_band``
#: and ``territory`` come from the deal's account (salesops.accounts: the account's industry,
#: else the deal's own; its company-size band; its territory under the active plan).
FIELDS = {"region": S.REGION, "team": S.TEAM, "rep": S.OWNER, "segment": S.SEGMENT,
          "industry": S.INDUSTRY, "size_band": "size_band", "territory": "territory"}
LABELS = {"region": "Region", "team": "Team", "rep": "Rep", "segment": "Segment",
          "industry": "Industry", "size_band": "Company size", "territory": "Territory"}
#: Columns the roster places a rep by (a slice cut by anything else holds no reps).
ROSTER_COLUMNS = (S.REGION, S.TEAM, S.MANAGER, S.OWNER)
#: Target scope of each column.
SCOPE_OF = {S.REGION: "region", S.TEAM: "team", S.MANAGER: "manager", S.SEGMENT: "segment", S.OWNER: "owner"}


def split_values(text: str) -> list[str]:
    """Values in one text, separated by commas; a comma inside a number ("5,000+ employees")
    does not separate."""
    import re

    return [x for x in (p.strip() for p in re.split(r",(?!\d{3})", str(text))) if x]


def _values(v) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        v = split_values(v)
    return tuple(sorted({str(x) for x in v if x is not None and str(x) != ""}))


@dataclass(frozen=True)
class Filters:
    """The period, the as-of date ("today" for pace and for what was known) and the slice."""

    period: Period
    as_of: date
    region: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    rep: tuple[str, ...] = ()
    segment: tuple[str, ...] = ()
    industry: tuple[str, ...] = ()
    size_band: tuple[str, ...] = ()
    territory: tuple[str, ...] = ()
    extra: tuple = field(default=())  # further (column, values) cuts, e.g. a --by group
    scope: Scope | None = None        # what the signed-in user may see (None: everything)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def make(cls, ws, period: Period | str | None = None, as_of: date | str | None = None, *,
             scope: Scope | None = None, **fields) -> "Filters":
        """Filters on the workspace's calendar: ``period`` as a Period or text ("2026Q3";
        default the quarter of the as-of date), ``as_of`` default the data's own as-of date,
        each field a list of values (or a comma-separated text)."""
        if isinstance(as_of, str):
            try:
                as_of = date.fromisoformat(as_of.strip())
            except ValueError:
                raise InputError(f"as-of date {as_of!r} is not a date; use YYYY-MM-DD") from None
        as_of = as_of or ws.as_of
        cal = ws.settings.calendar
        if period is None:
            period = cal.quarter_of(as_of)
        elif isinstance(period, str):
            period = cal.parse(period)
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise TypeError(f"unknown filter field(s): {', '.join(sorted(unknown))}")
        return cls(period=period, as_of=as_of, scope=scope, **{k: _values(v) for k, v in fields.items()})

    def with_period(self, period: Period, as_of: date | None = None) -> "Filters":
        return replace(self, period=period, as_of=self.as_of if as_of is None else as_of)

    def with_group(self, column: str, value) -> "Filters":
        """The slice narrowed to one group of ``column`` (a ``--by`` group)."""
        name = next((k for k, c in FIELDS.items() if c == column), None)
        if name is not None:
            return replace(self, **{name: (str(value),)})
        return replace(self, extra=tuple(sorted({**dict(self.extra), column: (str(value),)}.items())))

    # -- the slice ---------------------------------------------------------------------------------
    def own_cuts(self) -> dict[str, tuple[str, ...]]:
        """The chosen cuts as {column: values} (only fields with values), without the scope."""
        out = {FIELDS[k]: getattr(self, k) for k in FIELDS if getattr(self, k)}
        out.update({c: v for c, v in self.extra})
        return out

    def cuts(self) -> dict[str, tuple[str, ...]]:
        """The cuts in force: the chosen ones within the user's scope."""
        return with_scope(self.own_cuts(), self.scope)

    @property
    def filtered(self) -> bool:
        return bool(self.cuts())

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of a deal frame (facts or deals) inside the slice."""
        return _mask(frame, self.cuts())

    def facts(self, ws) -> pd.DataFrame:
        """The deal facts inside the slice (every period); the workspace's frame when unfiltered."""
        if not self.filtered:
            return ws.facts
        return ws.slice(("facts", tuple(sorted(self.cuts().items()))), lambda: ws.facts[self.mask(ws.facts)])

    def deals(self, ws) -> pd.DataFrame:
        """The full deal rows inside the slice (every period)."""
        if not self.filtered:
            return ws.deals
        return ws.slice(("deals", tuple(sorted(self.cuts().items()))), lambda: ws.deals[self.mask(ws.deals)])

    def deal_columns(self, ws) -> pd.DataFrame:
        """:meth:`deals` with only the outcome columns of the rows (workspace.OUTCOME_COLUMNS):
        the same rows in the same order, without reading every full row; the slice is the one
        of its deal facts."""
        frame = ws.deal_columns()
        if not self.filtered:
            return frame
        return ws.slice(("outcome columns", tuple(sorted(self.cuts().items()))),
                        lambda: frame[frame.index.isin(self.facts(ws).index)])

    def restrict(self, ws, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of a snapshot or stage-history frame (with ``opportunity_id``) that belong
        to deals inside the slice; a deal no longer in the workspace (removed from a later
        export) follows its owner in the row."""
        if not self.filtered or frame.empty:
            return frame
        deals = self.deal_columns(ws)
        keep = frame[S.OPPORTUNITY_ID].isin(deals[S.OPPORTUNITY_ID])
        if S.OWNER in frame.columns:
            gone = ~frame[S.OPPORTUNITY_ID].isin(ws.deal_columns()[S.OPPORTUNITY_ID])
            keep |= gone & frame[S.OWNER].isin(deals[S.OWNER].dropna().unique())
        return frame[keep]

    def reps(self, ws) -> list[str] | None:
        """The reps inside the slice by the roster (None: no cut, everyone). A cut by a field
        the roster does not hold (segment) leaves no reps inside."""
        return reps_inside(ws.reps, self.cuts())

    def owners(self, ws) -> list[str] | None:
        """Reps to list for the slice: the roster's reps inside it plus the owners of its
        deals (None: no cut)."""
        if not self.filtered:
            return None
        inside = set(self.reps(ws) or [])
        facts = self.facts(ws)
        inside |= {str(o) for o in facts[S.OWNER].dropna().unique()}
        return sorted(inside)

    # -- targets ---------------------------------------------------------------------------------
    def target(self, ws, period: Period | None = None, book: TargetBook | None = None) -> TargetView:
        """The slice's target for ``period`` (default the filters' period) by the one rule."""
        p = period or self.period
        book = book or ws.target_book(p.start, p.end)
        return resolve_target(book, ws.reps, self.cuts())

    def group_targets(self, ws, by: str, groups, period: Period | None = None) -> dict[str, TargetView]:
        """The target of each group of ``by`` inside the slice (``kpis --by``)."""
        p = period or self.period
        book = ws.target_book(p.start, p.end)
        return {str(g): resolve_target(book, ws.reps, self.with_group(by, g).cuts()) for g in groups}

    # -- words and choices --------------------------------------------------------------------------
    def describe(self) -> str:
        """"Region: EMEA; Team: EMEA Enterprise", or "whole company" (and the user's scope)."""
        parts = [f"{LABELS[k]}: {', '.join(getattr(self, k))}" for k in FIELDS if getattr(self, k)]
        if self.scope is not None:
            parts.append(f"within {self.scope.describe()}")
        return "; ".join(parts) if parts else "whole company"

    def options(self, ws) -> dict[str, list[str]]:
        """For each field, the values left given the other fields' choices (from the deals,
        and for roster fields from the roster too), the field's own choices kept: filters
        narrow each other."""
        out = {}
        own = self.own_cuts()
        facts = ws.facts
        for name, col in FIELDS.items():
            others = with_scope({c: v for c, v in own.items() if c != col}, self.scope)
            vals = _distinct(facts[col], _mask(facts, others) if others else None) if col in facts.columns else set()
            if col in ROSTER_COLUMNS and all(c in ROSTER_COLUMNS for c in others):
                rows = roster_rows(ws.reps, others)
                key = S.NAME if col == S.OWNER else col
                if key in rows.columns:
                    vals |= _distinct(rows[key])
            chosen = vals | (set(getattr(self, name)) if self.scope is None else set())
            col_t = facts[col] if col in facts.columns else None
            if col_t is not None and isinstance(col_t.dtype, pd.CategoricalDtype) and col_t.cat.ordered:  # size bands: smallest first
                order = {str(c): i for i, c in enumerate(col_t.cat.categories)}
                out[name] = sorted(chosen, key=lambda v: (order.get(v, len(order)), v))
            else:
                out[name] = sorted(chosen)
        return out

    def problem(self, ws) -> str | None:
        """Words when the slice holds nothing at all (an impossible combination), else None."""
        if not self.filtered or ws.empty:
            return None
        if self.mask(ws.facts).any() or (self.reps(ws) or []):
            return None
        chosen = [k for k in FIELDS if getattr(self, k)]
        if len(chosen) > 1:
            return (f"No deal and no rep is in {self.describe()} at once. These filters exclude each other: "
                    "clear one of them.")
        return f"No deal and no rep is in {self.describe()}."

    def check(self, ws) -> None:
        """Raise InputError for values the workspace does not have (CLI options)."""
        for name, col in FIELDS.items():
            chosen = getattr(self, name)
            if not chosen:
                continue
            known = set(ws.values(col))
            if col == S.OWNER and not ws.reps.empty:
                known |= set(ws.reps[S.NAME].astype(str))
            if col in (S.TEAM, S.REGION) and not ws.reps.empty and col in ws.reps.columns:
                known |= set(ws.reps[col].dropna().astype(str))
            missing = [v for v in chosen if v not in known]
            if missing:
                some = ", ".join(sorted(known)[:8]) + (", ..." if len(known) > 8 else "")
                raise InputError(f"--{name.replace('_', '-')} {missing[0]!r} is not a {LABELS[name].lower()} of this workspace"
                                 + (f"; known: {some}" if known else ""))

    def as_dict(self) -> dict:
        out = {"period": self.period.label, "start": self.period.start, "end": self.period.end, "as_of": self.as_of,
               **{k: list(getattr(self, k)) for k in FIELDS}}
        if self.scope is not None:
            out["scope"] = {"role": self.scope.role, "teams": list(self.scope.teams), "reps": list(self.scope.reps)}
        return out


def with_scope(cuts: dict[str, tuple[str, ...]], scope: Scope | None) -> dict[str, tuple[str, ...]]:
    """``cuts`` within ``scope``: each scope column's values intersected with the chosen ones
    (an empty intersection keeps the column with no values: nothing is inside)."""
    if scope is None:
        return cuts
    out = dict(cuts)
    for col, allowed in scope.cuts().items():
        out[col] = tuple(v for v in out[col] if v in allowed) if col in out else tuple(allowed)
    return out


def _distinct(col: pd.Series, mask: np.ndarray | None = None) -> set[str]:
    """The non-blank values of ``col`` (where ``mask``), as text."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy()
        if mask is not None:
            codes = codes[mask]
        present = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(col.cat.categories)))
        vals = col.cat.categories[present]
    else:
        vals = (col[mask] if mask is not None else col).dropna().unique()
    return {str(v) for v in vals if v is not None and str(v) != ""}


def _mask(frame: pd.DataFrame, cuts: dict[str, tuple[str, ...]]) -> np.ndarray:
    m = np.ones(len(frame), dtype=bool)
    for col, values in cuts.items():
        if col not in frame.columns:
            return np.zeros(len(frame), dtype=bool)
        m &= frame[col].isin(values).to_numpy()
    return m


def roster_rows(reps: pd.DataFrame | None, cuts: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """The roster rows inside roster ``cuts`` (a rep cut matches the rep's name)."""
    if reps is None or reps.empty:
        return pd.DataFrame(columns=list(S.REP_COLUMNS))
    r = reps.drop_duplicates(S.NAME)
    m = np.ones(len(r), dtype=bool)
    for col, values in cuts.items():
        key = S.NAME if col == S.OWNER else col
        if key not in r.columns:
            return r.iloc[0:0]
        m &= r[key].astype(str).isin(values).to_numpy()
    return r[m]


def reps_inside(reps: pd.DataFrame | None, cuts: dict[str, tuple[str, ...]]) -> list[str] | None:
    """The reps a slice holds by the roster: None without any cut (everyone); [] when a cut is
    on a field the roster does not hold. A rep cut names reps directly (on the roster or not)."""
    if not cuts:
        return None
    if any(c not in ROSTER_COLUMNS for c in cuts):
        return []
    named = cuts.get(S.OWNER)
    roster_cuts = {c: v for c, v in cuts.items() if c != S.OWNER}
    if not roster_cuts:
        return sorted(named)
    names = roster_rows(reps, roster_cuts)[S.NAME].astype(str)
    if named:
        names = names[names.isin(named)]
    return sorted(names)


def resolve_target(book: TargetBook, reps: pd.DataFrame | None, cuts: dict[str, tuple[str, ...]]) -> TargetView:
    """The one target rule for a slice given by ``cuts`` (see salesops.targets)."""
    rollups = []
    if not cuts:
        own = ("all", ())
        if reps is not None and not reps.empty:
            for col, scope in ((S.REGION, "region"), (S.TEAM, "team")):
                if col in reps.columns:
                    names = tuple(sorted({str(v) for v in reps[col].dropna() if str(v) != ""}))
                    rollups.append((scope, names))
    elif len(cuts) == 1:
        (col, values), = cuts.items()
        own = None if col == S.OWNER else (SCOPE_OF.get(col, col), tuple(values))
    else:
        own = None
    return book.view(own, reps_inside(reps, cuts), rollups)
