"""Accounts as the customer dimensions see them: the accounts import joined to the deals, the
company-size bands (editable cuts stored in the settings), and the fields every deal takes
from its account (industry, size band, territory of the active plan).

This module is a leaf (schema, formats, pandas): the workspace calls it while it loads, and
segments.py / territories.py build on it.

Use::

    bands = SizeBands.from_setting(settings.get("size_bands"))
    bands.band(accounts["employees"])          # labels, None where the size is unknown
    universe(ws.accounts, deal_accounts)       # one row per account, from both sources
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import formats
from . import schema as S
from .errors import InputError

#: Settings keys: the size bands and the active territory plan.
SIZE_BANDS_KEY = "size_bands"
ACTIVE_PLAN_KEY = "active_territory_plan"
#: Column names of the account-derived deal fields.
SIZE_BAND = "size_band"
TERRITORY = "territory"
ACCOUNT_REGION = "account_region"
EMPLOYEES = "employees"
REVENUE = "revenue"
#: What a size band can be cut by, and the words for it.
BASES = {EMPLOYEES: "employees", REVENUE: "annual revenue"}
DEFAULT_CUTS = {EMPLOYEES: (100.0, 1000.0, 5000.0), REVENUE: (10e6, 100e6, 1e9)}
MAX_BANDS = 8
#: The columns of :func:`universe`.
UNIVERSE_COLUMNS = [S.NAME, S.INDUSTRY, EMPLOYEES, REVENUE, ACCOUNT_REGION, "territory_hint", "in_accounts", "deals"]


@dataclass(frozen=True)
class SizeBands:
    """Company-size bands: ``basis`` (employees or revenue) and the ``cuts`` between bands
    (each cut starts a band: cuts (100, 1000) make "1–99", "100–999", "1,000+")."""

    basis: str = EMPLOYEES
    cuts: tuple[float, ...] = DEFAULT_CUTS[EMPLOYEES]

    @classmethod
    def from_setting(cls, value) -> "SizeBands":
        """From the settings value ({"basis": ..., "cuts": [...]}, or its JSON); defaults
        for anything missing or unreadable (a bad stored value never stops a page)."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if not isinstance(value, dict):
            return cls()
        basis = value.get("basis") if value.get("basis") in BASES else EMPLOYEES
        try:
            return cls.make(basis, value.get("cuts") or DEFAULT_CUTS[basis])
        except InputError:
            return cls(basis, DEFAULT_CUTS[basis])

    @classmethod
    def make(cls, basis: str, cuts) -> "SizeBands":
        """Validated bands: raise InputError naming the value at fault."""
        if basis not in BASES:
            raise InputError(f"size bands: basis {basis!r} is not one of {', '.join(BASES)}")
        try:
            values = [float(c) for c in cuts if c is not None and str(c).strip() != ""]
        except (TypeError, ValueError):
            raise InputError(f"size bands: the cuts {list(cuts)!r} must be numbers") from None
        if not values:
            raise InputError("size bands: give at least one cut")
        if len(values) > MAX_BANDS - 1:
            raise InputError(f"size bands: at most {MAX_BANDS - 1} cuts ({MAX_BANDS} bands)")
        for a, b in zip(values, values[1:]):
            if not b > a:
                raise InputError(f"size bands: the cuts must increase; {formats.number(b)} comes after {formats.number(a)}")
        if values[0] <= 0 or not all(np.isfinite(values)):
            raise InputError(f"size bands: the first cut must be above 0, not {formats.number(values[0])}")
        return cls(basis, tuple(values))

    def as_setting(self) -> dict:
        return {"basis": self.basis, "cuts": list(self.cuts)}

    def labels(self, currency: str = "USD") -> list[str]:
        """The band names, smallest first: "1–99 employees" ... "5,000+ employees", or
        "Under $10M" ... "$1B+" for revenue."""
        c = self.cuts
        if self.basis == EMPLOYEES:
            num = lambda x: f"{x:,.0f}"  # noqa: E731
            out = [f"1–{num(c[0] - 1)} employees"] if c[0] > 1 else []
            out += [f"{num(a)}–{num(b - 1)} employees" for a, b in zip(c, c[1:])]
            out.append(f"{num(c[-1])}+ employees")
            return out if c[0] > 1 else ["Under 1 employee", *out]
        m = lambda x: formats.money(x, currency)  # noqa: E731
        return [f"Under {m(c[0])}", *[f"{m(a)}–{m(b)}" for a, b in zip(c, c[1:])], f"{m(c[-1])}+"]

    def codes(self, values) -> np.ndarray:
        """The band index of each value (-1 where unknown, not a number or not positive)."""
        v = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce").to_numpy(dtype=float)
        out = np.searchsorted(np.asarray(self.cuts, dtype=float), v, side="right").astype(np.int64)
        bad = ~np.isfinite(v) | (v < 0)
        if self.basis == EMPLOYEES:
            bad |= v < 1
        return np.where(bad, -1, out)

    def band(self, values, currency: str = "USD") -> pd.Categorical:
        """The band of each value as an ordered categorical (missing where unknown)."""
        return pd.Categorical.from_codes(self.codes(values), self.labels(currency), ordered=True)

    def describe(self, currency: str = "USD") -> str:
        return f"by {BASES[self.basis]}: " + ", ".join(self.labels(currency))


def _text(values) -> pd.Series:
    s = pd.Series(values, dtype=object)
    s = s.where(s.notna(), None)
    return s.map(lambda v: None if v is None or str(v).strip() == "" else str(v))


def universe(accounts: pd.DataFrame | None, deal_accounts: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per account, from the accounts import and from the deals (an account only the
    deals name is an account too).

    ``accounts``: the accounts table (name, industry, employees, revenue, region, territory).
    ``deal_accounts``: per account named by deals: ``name``, ``industry`` (the deals' own, most
    common), ``region`` (most common deal region) and ``deals`` (count). The import's values
    win; the deals fill what it leaves blank. Columns :data:`UNIVERSE_COLUMNS`
    (``territory_hint`` = the accounts file's own territory column), sorted by name."""
    acc = accounts if accounts is not None else pd.DataFrame(columns=list(S.ACCOUNT_COLUMNS))
    a = pd.DataFrame({S.NAME: _text(acc[S.NAME]) if S.NAME in acc else pd.Series(dtype=object)})
    for col, src in ((S.INDUSTRY, S.INDUSTRY), (ACCOUNT_REGION, S.REGION), ("territory_hint", "territory")):
        a[col] = _text(acc[src]).to_numpy() if src in acc else None
    for col in (EMPLOYEES, REVENUE):
        a[col] = pd.to_numeric(acc[col], errors="coerce").to_numpy(dtype=float) if col in acc else np.nan
    a = a[a[S.NAME].notna()].drop_duplicates(S.NAME).set_index(S.NAME)
    a["in_accounts"] = True
    d = deal_accounts if deal_accounts is not None else pd.DataFrame(columns=[S.NAME, S.INDUSTRY, S.REGION, "deals"])
    d = d[d[S.NAME].notna()].drop_duplicates(S.NAME).set_index(S.NAME)
    names = a.index.union(d.index)
    out = a.reindex(names)
    out["in_accounts"] = out["in_accounts"].astype(object).where(out["in_accounts"].notna(), False).astype(bool)
    if len(d):
        out[S.INDUSTRY] = out[S.INDUSTRY].where(out[S.INDUSTRY].notna(), _text(d[S.INDUSTRY]).set_axis(d.index).reindex(names))
        out[ACCOUNT_REGION] = out[ACCOUNT_REGION].where(out[ACCOUNT_REGION].notna(),
                                                        _text(d[S.REGION]).set_axis(d.index).reindex(names))
    out["deals"] = d["deals"].reindex(names).fillna(0).astype(np.int64) if len(d) else 0
    out = out.reset_index().rename(columns={"index": S.NAME})
    out.columns = [S.NAME, *out.columns[1:]]
    out = out.astype({S.INDUSTRY: object, ACCOUNT_REGION: object, "territory_hint": object})
    for col in (S.INDUSTRY, ACCOUNT_REGION, "territory_hint"):
        out[col] = out[col].where(out[col].notna(), None)
    return out[UNIVERSE_COLUMNS].sort_values(S.NAME, ignore_index=True)


def deal_accounts_from(account: pd.Categorical, industry: pd.Categorical | None, region: pd.Categorical | None) -> pd.DataFrame:
    """The ``deal_accounts`` input of :func:`universe` from per-deal categoricals (the
    workspace's facts): per account its deal count and its deals' most common industry and
    region. Works on category codes (fast on a million deals)."""
    cats = account.categories
    codes = account.codes.astype(np.int64)
    ok = codes >= 0
    n = np.bincount(codes[ok], minlength=len(cats))
    out = pd.DataFrame({S.NAME: [str(c) for c in cats], "deals": n})

    def most_common(col: pd.Categorical | None) -> list:
        if col is None or len(col.categories) == 0:
            return [None] * len(cats)
        vc = col.codes.astype(np.int64)
        m = ok & (vc >= 0)
        if not m.any():
            return [None] * len(cats)
        n_v = len(col.categories)
        res = np.full(len(cats), None, dtype=object)
        values = np.asarray(col.categories, dtype=object)
        if len(cats) * n_v <= 20_000_000:  # one bincount over (account, value) pairs; ties go to the first value
            counts = np.bincount(codes[m] * n_v + vc[m], minlength=len(cats) * n_v).reshape(len(cats), n_v)
            has = counts.max(axis=1) > 0
            res[has] = values[counts.argmax(axis=1)[has]]
            return list(res)
        pair = pd.DataFrame({"a": codes[m], "v": vc[m]}).value_counts().reset_index()
        best = pair.sort_values(["a", "count", "v"], ascending=[True, False, True]).drop_duplicates("a")
        res[best["a"].to_numpy()] = values[best["v"].to_numpy()]
        return list(res)

    out[S.INDUSTRY] = most_common(industry)
    out[S.REGION] = most_common(region)
    return out[out["deals"] > 0].reset_index(drop=True)


def fields_by_account(uni: pd.DataFrame, bands: SizeBands, assignment: pd.Series | None = None,
                      currency: str = "USD") -> pd.DataFrame:
    """Per account (index: name): ``industry``, ``size_band`` (categorical in band order) and
    ``territory`` (from ``assignment``: account name -> territory, the active plan's), as the
    deals carry them."""
    basis = uni[bands.basis] if bands.basis in uni else pd.Series(np.nan, index=uni.index)
    out = pd.DataFrame({S.INDUSTRY: uni[S.INDUSTRY].to_numpy(dtype=object),
                        SIZE_BAND: bands.band(basis.to_numpy(), currency)}, index=pd.Index(uni[S.NAME].astype(str), name=S.NAME))
    out[TERRITORY] = (assignment.reindex(out.index).to_numpy(dtype=object) if assignment is not None and len(assignment)
                      else np.full(len(out), None, dtype=object))
    return out


def _per_category(names: pd.Index, values, categories: pd.Index) -> np.ndarray:
    """Codes (into ``categories``) of ``values`` aligned with ``names``, plus a trailing -1
    for deals without a category."""
    idx = categories.get_indexer([str(v) if v is not None and not (isinstance(v, float) and np.isnan(v)) else "\x00"
                                  for v in values])
    return np.append(idx, -1)


def _spread(codes: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """Per-deal codes from per-category ``lookup`` (its last entry for deals without one)."""
    return lookup[np.where(codes < 0, len(lookup) - 1, codes)]


def deal_columns(account: pd.Categorical, own_industry, fields: pd.DataFrame,
                 band_labels: list[str] | None = None) -> dict[str, pd.Categorical]:
    """The account-derived columns of each deal, as categoricals: ``industry`` (the account's,
    else the deal's own), ``size_band`` (ordered, ``band_labels``) and ``territory``.
    ``account``: the deals' account as a categorical; ``own_industry``: the deals' own
    industry column (or None); ``fields``: :func:`fields_by_account`. Mapped per category of
    account, not per deal."""
    names = pd.Index([str(c) for c in account.categories])
    codes = account.codes.astype(np.int64)
    known = len(fields) > 0
    col = lambda c: fields[c].reindex(names).to_numpy(dtype=object) if known and c in fields else np.full(len(names), None, dtype=object)  # noqa: E731
    out = {}
    acc_ind = col(S.INDUSTRY)
    own = None
    if own_industry is not None:
        own_s = pd.Series(own_industry, dtype=object)
        own = pd.Categorical(own_s.where(own_s.notna() & (own_s.astype(str) != ""), None))
    labels = {str(v) for v in acc_ind if v is not None and str(v) != ""}
    if own is not None:
        labels |= {str(c) for c in own.categories}
    cats = pd.Index(sorted(labels))
    per_deal = _spread(codes, _per_category(names, acc_ind, cats))
    if own is not None:
        own_codes = _spread(own.codes.astype(np.int64), _per_category(pd.Index(own.categories), list(own.categories), cats))
        per_deal = np.where(per_deal >= 0, per_deal, own_codes)
    out[S.INDUSTRY] = pd.Categorical.from_codes(per_deal, cats)
    bands = pd.Index(band_labels if band_labels is not None else
                     (list(fields[SIZE_BAND].cat.categories) if known and isinstance(fields[SIZE_BAND].dtype, pd.CategoricalDtype) else []))
    out[SIZE_BAND] = pd.Categorical.from_codes(_spread(codes, _per_category(names, col(SIZE_BAND), bands)), bands, ordered=True)
    terr = col(TERRITORY)
    tcats = pd.Index(sorted({str(v) for v in terr if v is not None and str(v) != ""}))
    out[TERRITORY] = pd.Categorical.from_codes(_spread(codes, _per_category(names, terr, tcats)), tcats)
    return out


__all__ = ["SizeBands", "universe", "deal_accounts_from", "fields_by_account", "deal_columns", "SIZE_BAND", "TERRITORY",
           "ACCOUNT_REGION", "BASES", "DEFAULT_CUTS", "SIZE_BANDS_KEY", "ACTIVE_PLAN_KEY"]
