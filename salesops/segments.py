"""Customer segments and the ideal customer profile: the KPIs of every segment (industry,
company size, region, product, lead source, territory, any categorical column kept in
``extra``, or a combination of two), through the one engine (metrics.sums -> finish), with
small samples shrunk toward the overall rate and marked; the two-dimension heat map of the
ideal customer profile; the accounts of a segment with their history; and white space
(accounts that look like the best customers but have no open deal).

Every segment row counts what ``kpis`` counts for the same slice (same period, as-of date and
filters), so ``segments --by industry`` row "Retail" equals ``kpis --industry Retail``.

Shrinkage: with k = :data:`PRIOR_DEALS` imaginary deals at the overall numbers,
win rate (won + k p) / (closed + k), deal size (bookings + k s) / (won + k), cycle
(cycle days + k c) / (won with a cycle + k); the expected value per deal-day is
win rate x deal size / cycle, raw (``expected_value_per_day``) and shrunk
(``expected_value_per_day_shrunk``). A segment with fewer than :data:`MIN_DEALS` closed deals
is a small sample (marked, and never a best or worst cell of the profile).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import accounts as A
from . import formats, metrics
from . import schema as S
from .errors import InputError

PRIOR_DEALS = 10
MIN_DEALS = 20
#: Dimensions a segment can be cut by: name -> label. Account fields first.
DIMENSIONS = {S.INDUSTRY: "Industry", A.SIZE_BAND: "Company size", A.ACCOUNT_REGION: "Account location",
              A.TERRITORY: "Territory", S.REGION: "Region", S.SEGMENT: "Segment", S.PRODUCT: "Product",
              S.LEAD_SOURCE: "Lead source", S.TYPE: "Deal type", S.PIPELINE: "Pipeline", S.OWNER: "Rep",
              S.TEAM: "Team", S.MANAGER: "Manager"}
#: Dimensions that describe the account (white space is found along these).
ACCOUNT_DIMENSIONS = (S.INDUSTRY, A.SIZE_BAND, A.ACCOUNT_REGION, A.TERRITORY)
#: Read from the full deal rows (the others are in the compact facts or come from the account).
DEAL_ROW_DIMENSIONS = (S.PRODUCT, S.LEAD_SOURCE, S.TYPE, S.PIPELINE)
EXTRA_PREFIX = "extra."
EXTRA_SAMPLE = 5000
EXTRA_MAX_VALUES = 40
KEY = "__segment"
#: The columns of a segment row after its dimension columns (the CLI contract first).
ROW_COLUMNS = ["won_amount", "won_count", "lost_count", "win_rate", "win_rate_low", "win_rate_high", "avg_deal_size",
               "avg_cycle_days", "expected_value_per_day", "closed_count", "win_rate_shrunk", "avg_deal_size_shrunk",
               "avg_cycle_days_shrunk", "expected_value_per_day_shrunk", "small_sample", "open_pipeline", "open_count",
               "pipeline_created_count"]


def label(name: str) -> str:
    """The business name of a dimension ("Company size"; an extra column by its own name)."""
    return DIMENSIONS.get(name) or (name[len(EXTRA_PREFIX):] if name.startswith(EXTRA_PREFIX) else name.replace("_", " ").capitalize())


# --- dimensions -----------------------------------------------------------------------------------
def extra_dimensions(ws) -> list[str]:
    """The categorical columns kept in ``extra`` (from a sample of rows: present in at least
    half of them, 2 to 40 distinct values), as ``extra.NAME``."""
    def find():
        if ws.empty or ws.path == ":memory:":
            return []
        from . import store

        with store.connect(ws.path) as conn:
            rows = [r[0] for r in conn.execute(f"SELECT extra FROM opportunities WHERE extra IS NOT NULL AND extra != '' "
                                               f"LIMIT {EXTRA_SAMPLE}")]
        values: dict[str, set] = {}
        counts: dict[str, int] = {}
        for text in rows:
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            if not isinstance(doc, dict):
                continue
            for k, v in doc.items():
                if v is None or isinstance(v, (dict, list)) or str(v).strip() == "":
                    continue
                counts[k] = counts.get(k, 0) + 1
                vals = values.setdefault(k, set())
                if len(vals) <= EXTRA_MAX_VALUES:
                    vals.add(str(v))
        n = max(len(rows), 1)
        return [f"{EXTRA_PREFIX}{k}" for k in sorted(values)
                if counts[k] >= n / 2 and 2 <= len(values[k]) <= EXTRA_MAX_VALUES and k not in DIMENSIONS]
    return ws._memo("extra_dimensions", find)


def available(ws) -> list[str]:
    """The dimensions this workspace can cut segments by (with at least one value)."""
    out = []
    for name in DIMENSIONS:
        if name in (S.TEAM, S.MANAGER) and ws.reps.empty:
            continue
        if name == A.TERRITORY and not ws.active_plan_doc:
            continue
        try:
            col = column(ws, name)
        except InputError:
            continue
        if col.notna().any():
            out.append(name)
    return out + extra_dimensions(ws)


def column(ws, name: str) -> pd.Series:
    """The dimension ``name`` for every deal of the workspace (aligned with ``ws.facts``), as
    a categorical; raise InputError for a field that is not a dimension."""
    facts = ws.facts
    if name in facts.columns and name not in (S.STATUS, S.AMOUNT, S.PROBABILITY, S.FORECAST_CATEGORY, S.ACCOUNT, "rowid",
                                                S.CREATED_DATE, S.CLOSE_DATE):
        return facts[name]

    def make():
        if name in DEAL_ROW_DIMENSIONS:
            vals = ws.deals[name].reindex(facts.index)
            return pd.Series(pd.Categorical(vals.astype(object).where(vals.notna() & (vals.astype(object) != ""), None)),
                             index=facts.index)
        if name == A.ACCOUNT_REGION:
            uni = ws.account_universe().set_index(S.NAME)[A.ACCOUNT_REGION]
            acc = facts[S.ACCOUNT]
            per = pd.Series(uni.reindex([str(c) for c in acc.cat.categories]).to_numpy(dtype=object))
            cats = pd.Index(sorted({str(v) for v in per if v is not None and pd.notna(v)}))
            lookup = np.append(cats.get_indexer([str(v) if v is not None and pd.notna(v) else "\x00" for v in per]), -1)
            codes = acc.cat.codes.to_numpy().astype(np.int64)
            return pd.Series(pd.Categorical.from_codes(lookup[np.where(codes < 0, len(lookup) - 1, codes)], cats), index=facts.index)
        if name.startswith(EXTRA_PREFIX) and name in extra_dimensions(ws):
            return _extra_column(ws, name[len(EXTRA_PREFIX):])
        raise InputError(f"{name!r} is not a dimension to cut segments by; use one of {', '.join(available(ws))}")
    return ws._memo(f"segment_column:{name}", make)


def _extra_column(ws, key: str) -> pd.Series:
    from . import store

    with store.connect(ws.path) as conn:
        rows = conn.execute("SELECT rowid, json_extract(extra, ?) FROM opportunities WHERE extra IS NOT NULL",
                            ('$."' + key.replace('"', '\\"') + '"',)).fetchall()
    s = pd.Series({int(r): (None if v is None or str(v).strip() == "" else str(v)) for r, v in rows}, dtype=object)
    vals = s.reindex(ws.facts.index)
    return pd.Series(pd.Categorical(vals.where(vals.notna(), None)), index=ws.facts.index)


def resolve(ws, by) -> tuple[str, ...]:
    """``by`` ("industry,size_band" or a sequence) as dimension names, checked."""
    names = tuple(x.strip() for x in (by.split(",") if isinstance(by, str) else by) if x and x.strip())
    if not names:
        raise InputError("segments: name at least one field to cut by")
    if len(names) > 2:
        raise InputError(f"segments: at most two fields at once, not {len(names)} ({', '.join(names)})")
    if len(set(names)) != len(names):
        raise InputError(f"segments: {names[0]} is named twice")
    out = []
    for n in names:
        if n in DIMENSIONS or n.startswith(EXTRA_PREFIX):
            out.append(n)
        elif f"{EXTRA_PREFIX}{n}" in extra_dimensions(ws):
            out.append(f"{EXTRA_PREFIX}{n}")
        else:
            raise InputError(f"--by {n!r} is not a field to cut segments by; use one of {', '.join(available(ws))}")
    return tuple(out)


def _combined(cols: list[pd.Series]) -> tuple[pd.Categorical, list[tuple]]:
    """One categorical key per row over the combination of ``cols`` (blank -> "(blank)"),
    and the tuple of values of each key."""
    codes = np.zeros(len(cols[0]) if cols else 0, dtype=np.int64)
    names: list[list[str]] = []
    for c in cols:
        cats = [str(x) for x in c.cat.categories]
        cc = c.cat.codes.to_numpy().astype(np.int64)
        blank = len(cats)
        cc = np.where(cc < 0, blank, cc)
        names.append(cats + [metrics.BLANK])
        codes = codes * (len(cats) + 1) + cc
    uniq, inv = np.unique(codes, return_inverse=True)
    tuples = []
    for u in uniq:
        parts, rest = [], int(u)
        for n in reversed(names):
            parts.append(n[rest % len(n)])
            rest //= len(n)
        tuples.append(tuple(reversed(parts)))
    labels = ["\x1f".join(t) for t in tuples]
    return pd.Categorical.from_codes(inv.astype(np.int64), labels), tuples


# --- segment KPIs ---------------------------------------------------------------------------------
def _overall(s_all: pd.DataFrame) -> dict:
    g = metrics.finish(s_all).iloc[0]
    return {"win_rate": g["win_rate"], "avg_deal_size": g["avg_deal_size"], "avg_cycle_days": g["avg_cycle_days"]}


def _shrink(g: pd.DataFrame, overall: dict, k: float) -> pd.DataFrame:
    won, lost = g["won_count"].to_numpy(float), g["lost_count"].to_numpy(float)
    p, size, cyc = (overall[c] for c in ("win_rate", "avg_deal_size", "avg_cycle_days"))
    out = g.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["win_rate_shrunk"] = metrics.shrunk_win_rate(won, lost, p, k) if pd.notna(p) else np.nan
        out["avg_deal_size_shrunk"] = ((g["won_amount"].to_numpy(float) + k * size) / (won + k)) if pd.notna(size) else np.nan
        out["avg_cycle_days_shrunk"] = ((g["cycle_sum"].to_numpy(float) + k * cyc) / (g["cycle_n"].to_numpy(float) + k)) \
            if pd.notna(cyc) else np.nan
        out["expected_value_per_day"] = np.where(g["avg_cycle_days"] > 0,
                                                 g["win_rate"] * g["avg_deal_size"] / g["avg_cycle_days"], np.nan)
        out["expected_value_per_day_shrunk"] = np.where(out["avg_cycle_days_shrunk"] > 0,
                                                        out["win_rate_shrunk"] * out["avg_deal_size_shrunk"]
                                                        / out["avg_cycle_days_shrunk"], np.nan)
    out["closed_count"] = (won + lost).astype(np.int64)
    return out


@dataclass
class SegmentTable:
    """The KPIs per segment: ``rows`` (dimension columns, then :data:`ROW_COLUMNS`) and the
    ``overall`` row of the whole slice (the shrinkage target)."""

    by: tuple[str, ...]
    rows: pd.DataFrame
    overall: dict
    min_deals: int
    prior_deals: int


def segment_kpis(ws, f, by, period=None, *, min_deals: int = MIN_DEALS, prior_deals: int = PRIOR_DEALS) -> SegmentTable:
    """The KPIs of every segment of ``by`` (one or two dimensions) inside the slice ``f`` for
    its period (or ``period``) as known on its as-of date. Rows sorted by bookings."""
    by = resolve(ws, by)
    p = period or f.period
    facts = f.facts(ws)
    cols = [column(ws, b).reindex(facts.index) for b in by]
    cols = [c if isinstance(c.dtype, pd.CategoricalDtype) else c.astype("category") for c in cols]
    key, tuples = _combined(cols) if len(facts) else (pd.Categorical([]), [])
    frame = facts[[S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.PROBABILITY, S.FORECAST_CATEGORY]].copy()
    frame[KEY] = key
    periods = [(p.start, p.end)]
    s_all = metrics._period_rows(metrics.sums(frame, periods, f.as_of, None), 0)
    overall_sums = s_all.iloc[0] if len(s_all) else None
    overall = _overall(s_all) if len(s_all) else {"win_rate": np.nan, "avg_deal_size": np.nan, "avg_cycle_days": np.nan}
    s = metrics._period_rows(metrics.sums(frame, periods, f.as_of, KEY), 0)
    g = _shrink(metrics.finish(s), overall, prior_deals)
    g = g[(g["closed_count"] + g["open_count"] + g["pipeline_created_count"]) > 0]
    by_key = dict(zip(["\x1f".join(t) for t in tuples], tuples))
    values = [by_key.get(str(k), (str(k),)) for k in g.index]
    out = pd.DataFrame({b: [v[i] for v in values] for i, b in enumerate(by)})
    for c in ROW_COLUMNS:
        if c == "small_sample":
            out[c] = (g["closed_count"].to_numpy() < min_deals)
        else:
            out[c] = g[c].to_numpy()
    out = out.sort_values(["won_amount", *by], ascending=[False, *[True] * len(by)], ignore_index=True)
    out["sample"] = np.where(out["small_sample"], f"small sample (under {min_deals} closed)", "")
    if overall_sums is not None:
        ov = _shrink(metrics.finish(s_all), overall, prior_deals).iloc[0]
        overall = {**overall, **{c: ov[c] for c in ROW_COLUMNS if c in ov.index}, "small_sample": bool(ov["closed_count"] < min_deals)}
    return SegmentTable(by, out, overall, min_deals, prior_deals)


def segments_doc(ws, f, by) -> dict:
    """The ``segments --json`` document."""
    t = segment_kpis(ws, f, by)
    rows = []
    for r in t.rows.to_dict(orient="records"):
        rows.append({**{b: (None if r[b] == metrics.BLANK else r[b]) for b in t.by}, **{c: r[c] for c in ROW_COLUMNS}})
    return {"period": f.period.label, "start": f.period.start.isoformat(), "end": f.period.end.isoformat(),
            "as_of": f.as_of.isoformat(), "filters": f.as_dict(), "by": list(t.by), "rows": rows,
            "overall": {c: t.overall.get(c) for c in ROW_COLUMNS if c in t.overall},
            "min_deals": t.min_deals, "prior_deals": t.prior_deals,
            "size_bands": ws.size_bands.as_setting()}


# --- the ideal customer profile ----------------------------------------------------------------------
@dataclass
class Profile:
    """The heat map of two dimensions (``cells``: both dimension columns, the segment KPIs,
    ``trusted`` and ``rank``), the best and worst trusted cells, and the words."""

    dims: tuple[str, str]
    cells: pd.DataFrame
    best: pd.DataFrame
    worst: pd.DataFrame
    wins: list[str]
    wastes: list[str]
    overall: dict
    min_deals: int
    orders: tuple = ()     # per dimension, its values in their natural order (size bands smallest first)


def _cell_words(r, dims, currency: str) -> str:
    where = " · ".join(f"{r[d]}" for d in dims)
    return (f"{where}: {formats.pct(r['win_rate'])} win rate over {int(r['closed_count']):,} closed deals, "
            f"{formats.money(r['avg_deal_size'], currency)} average deal, {formats.days(r['avg_cycle_days'])} cycle: "
            f"{formats.money(r['expected_value_per_day_shrunk'], currency)} expected per deal-day")


def profile(ws, f, dims=(S.INDUSTRY, A.SIZE_BAND), period=None, *, top: int = 3, min_deals: int = MIN_DEALS) -> Profile:
    """The ideal customer profile over two dimensions: the expected value per deal-day
    (shrunk) of every combination; the best ``top`` and the worst ``top`` among those with at
    least ``min_deals`` closed deals, in words ("where we win", "where we waste time")."""
    dims = resolve(ws, dims)
    if len(dims) != 2:
        raise InputError("the ideal customer profile needs two fields")
    t = segment_kpis(ws, f, dims, period, min_deals=min_deals)
    cells = t.rows.copy()
    cells["trusted"] = ~cells["small_sample"] & cells["expected_value_per_day_shrunk"].notna() & \
        (cells[dims[0]] != metrics.BLANK) & (cells[dims[1]] != metrics.BLANK)
    ranked = cells[cells["trusted"]].sort_values("expected_value_per_day_shrunk", ascending=False)
    cells["rank"] = np.nan
    cells.loc[ranked.index, "rank"] = np.arange(1, len(ranked) + 1)
    best = ranked.head(top)
    worst = ranked.iloc[::-1].head(min(top, max(len(ranked) - len(best), 0)))
    cur = ws.settings.currency
    ov = t.overall
    wins = [_cell_words(r, dims, cur) for _, r in best.iterrows()]
    wastes = []
    for _, r in worst.iterrows():
        days = r["avg_cycle_days"]
        wastes.append(_cell_words(r, dims, cur) + (f" (the slice averages {formats.money(ov.get('expected_value_per_day_shrunk'), cur)})"
                                                   if pd.notna(ov.get("expected_value_per_day_shrunk")) else "")
                      + (f"; {int(r['lost_count']):,} deals lost" if r["lost_count"] else "")
                      + ("" if pd.notna(days) else ""))
    orders = tuple(_order(ws, d, cells[d]) for d in dims)
    return Profile(dims, cells.reset_index(drop=True), best.reset_index(drop=True), worst.reset_index(drop=True), wins, wastes,
                   ov, min_deals, orders)


def _order(ws, dim: str, values: pd.Series) -> list[str]:
    """The values of ``dim`` in their natural order: category order for ordered fields (size
    bands), else alphabetical; "(blank)" last."""
    present = {str(v) for v in values}
    col = column(ws, dim)
    if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.ordered:
        first = [str(c) for c in col.cat.categories if str(c) in present]
    else:
        first = sorted(present - {metrics.BLANK})
    return first + ([metrics.BLANK] if metrics.BLANK in present else [])


# --- accounts of a segment, white space ---------------------------------------------------------------
ACCOUNT_LIST_COLUMNS = [S.NAME, S.INDUSTRY, A.SIZE_BAND, A.ACCOUNT_REGION, A.TERRITORY, "current_owner", "first_deal",
                        "bookings_3y", "bookings_12m", "open_pipeline", "open_deals", "last_activity", "potential"]


#: The accounts table of the page: column -> (business name, kind).
ACCOUNT_TABLE = {S.NAME: ("Account", "text"), S.INDUSTRY: ("Industry", "text"), A.SIZE_BAND: ("Company size", "text"),
                 A.ACCOUNT_REGION: ("Account location", "text"), A.TERRITORY: ("Territory", "text"),
                 "current_owner": ("Rep with most deals", "text"), "first_deal": ("First deal", "date"),
                 "bookings_3y": ("Bookings, 3 years", "money"), "bookings_12m": ("Bookings, 12 months", "money"),
                 "open_pipeline": ("Open pipeline", "money"), "open_deals": ("Open deals", "count"),
                 "last_activity": ("Last activity", "date"), "potential": ("Potential per year", "money")}


def _texts_filled(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in (S.NAME, S.INDUSTRY, A.SIZE_BAND, A.ACCOUNT_REGION, A.TERRITORY, "current_owner", "looks_like"):
        if c in out.columns:
            out[c] = out[c].astype(object).where(out[c].notna(), "")
    return out


def cell_choices(ws, f, dims) -> list[tuple[str, tuple]]:
    """The profile's cells as (label, ((dimension, value), ...)), the trusted ones by rank
    first, then the rest by closed deals: the choices of "accounts of a segment"."""
    p = profile(ws, f, dims)
    c = p.cells.assign(_r=p.cells["rank"].fillna(1e9)).sort_values(["_r", "closed_count"], ascending=[True, False])
    out = []
    for _, r in c.iterrows():
        note = f" (#{int(r['rank'])} by value per deal-day)" if pd.notna(r["rank"]) else f" ({int(r['closed_count']):,} closed)"
        out.append((" · ".join(str(r[d]) for d in p.dims) + note, tuple((d, str(r[d])) for d in p.dims)))
    return out


def segment_accounts(ws, f, where: tuple = (), *, limit: int | None = None) -> pd.DataFrame:
    """The accounts of a segment (``where``: ((dimension, value), ...)) with their history,
    as known on the as-of date: first deal, bookings (3 years, 12 months), open pipeline,
    last activity, potential. An account belongs to a segment of an account dimension by its
    own fields; to one of a deal dimension when one of its deals in the slice is in it."""
    from .territories import account_book

    book = account_book(ws, f)
    m = np.ones(len(book), dtype=bool)
    facts = f.facts(ws)
    deal_mask = np.ones(len(facts), dtype=bool)
    deal_dims = False
    for dim, value in where:
        dim = resolve(ws, (dim,))[0]
        if dim in ACCOUNT_DIMENSIONS:
            vals = book[dim].astype(object)
            m &= (vals.isna() if value in (None, metrics.BLANK) else (vals.astype(str) == str(value))).to_numpy()
        else:
            deal_dims = True
            col = column(ws, dim).reindex(facts.index)
            deal_mask &= (col.isna() if value in (None, metrics.BLANK) else (col.astype(object).astype(str) == str(value))).to_numpy()
    if deal_dims or f.filtered:
        names = {str(a) for a in facts.loc[deal_mask, S.ACCOUNT].dropna().unique()}
        m &= book[S.NAME].astype(str).isin(names).to_numpy()
    out = book[m].sort_values(["bookings_3y", "potential", S.NAME], ascending=[False, False, True])
    out = _texts_filled(out[ACCOUNT_LIST_COLUMNS].reset_index(drop=True))
    return out.head(limit) if limit else out


def white_space(ws, f, dims=(S.INDUSTRY, A.SIZE_BAND), period=None, *, top: int = 3, limit: int = 50) -> pd.DataFrame:
    """Accounts that look like the best customers (their account fields fall in one of the
    profile's best cells) but have no open deal on the as-of date, by potential. Only the
    account dimensions of ``dims`` are compared."""
    from .territories import account_book

    p = profile(ws, f, dims, period, top=top)
    acc_dims = [d for d in p.dims if d in ACCOUNT_DIMENSIONS]
    cols = [*ACCOUNT_LIST_COLUMNS, "looks_like"]
    if not acc_dims or p.best.empty:
        return pd.DataFrame(columns=cols)
    book = account_book(ws, f)
    keys = {tuple(str(r[d]) for d in acc_dims): " · ".join(str(r[d]) for d in p.dims) for _, r in p.best.iterrows()}
    vals = list(zip(*[book[d].astype(object).astype(str) for d in acc_dims]))
    match = np.array([v in keys for v in vals], dtype=bool)
    out = book[match & (book["open_deals"].to_numpy() == 0)].copy()
    out["looks_like"] = [keys[tuple(str(out.loc[i, d]) for d in acc_dims)] for i in out.index]
    out = out.sort_values(["potential", S.NAME], ascending=[False, True])
    return _texts_filled(out[cols].head(limit).reset_index(drop=True))


def account_detail(ws, f, name: str) -> dict:
    """One account: its fields, its numbers as known on the as-of date, and its deals (every
    deal of the account, whatever the filters)."""
    from .territories import account_book

    book = account_book(ws, f)
    row = book[book[S.NAME].astype(str) == str(name)]
    if row.empty:
        raise InputError(f"there is no account {name!r} in this workspace")
    r = row.iloc[0].to_dict()
    facts = ws.facts
    ids = facts.index[(facts[S.ACCOUNT].astype(object) == name).to_numpy()] if S.ACCOUNT in facts.columns else []
    cols = [S.NAME, S.OWNER, S.STAGE, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.PRODUCT]
    deals = ws.deal_rows(list(ids), cols).sort_values(S.CREATED_DATE, ascending=False, na_position="last")
    return {"account": r, "deals": deals}


def parse_cuts(text) -> list[str]:
    """Cuts as the user types them: "100, 1000, 5000", "100; 1,000; 5,000" or "10e6 1e8"."""
    import re

    if not isinstance(text, str):
        return list(text)
    clean = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    return [p for p in re.split(r"[;,\s]+", clean) if p]


def save_size_bands(path, basis: str, cuts) -> "A.SizeBands":
    """Validate and store the company-size bands (the settings); ``cuts`` a list or the text
    the user typed. Returns them."""
    from . import audit, store

    bands = A.SizeBands.make(basis, parse_cuts(cuts))
    with audit.action("size_bands", f"company-size bands by {basis}", after=bands.as_setting()), \
            store.connect(path, write=True) as conn:
        store.set_settings(conn, **{A.SIZE_BANDS_KEY: bands.as_setting()})
    return bands


SIZE_BASES = A.BASES

__all__ = ["segment_kpis", "segments_doc", "profile", "segment_accounts", "white_space", "account_detail", "available",
           "column", "resolve", "label", "save_size_bands", "DIMENSIONS", "SegmentTable", "Profile"]


def dimensions(ws, f) -> list[tuple[str, str]]:
    """(name, label) of every dimension the page can cut by (see :func:`available`)."""
    return [(n, label(n)) for n in available(ws)]


def opened(ws, f, account: str | None = None, deal: str | None = None) -> dict:
    """What the search box opened: an account (its detail), or a deal (its row and its
    account's detail). InputError when it is not in the workspace (any more)."""
    deal_row = None
    if deal:
        facts = ws.deals
        rows = facts[facts[S.OPPORTUNITY_ID].astype(str) == str(deal)]
        if rows.empty:
            raise InputError(f"there is no deal {deal!r} in this workspace")
        deal_row = rows.iloc[0]
        account = deal_row[S.ACCOUNT] if pd.notna(deal_row[S.ACCOUNT]) and str(deal_row[S.ACCOUNT]) else None
        if account is None:
            return {"account": None, "deals": ws.deal_rows([rows.index[0]]), "deal": deal_row.to_dict()}
    out = account_detail(ws, f, account)
    out["deal"] = None if deal_row is None else deal_row.to_dict()
    return out


#: The windows the Segments page offers: the sidebar's period or a look-back to the as-of date.
WINDOWS = {"period": None, "12m": 12, "36m": 36}


def window(f, which: str = "period"):
    """The filters of a segments view: the sidebar's period, or the 12 or 36 months to the
    as-of date (``which`` = "period", "12m", "36m")."""
    from .periods import Period

    months = WINDOWS.get(which)
    if months is None:
        return f
    end = f.as_of
    start = (pd.Timestamp(end) - pd.DateOffset(months=months) + pd.Timedelta(days=1)).date()
    return f.with_period(Period(start, end, f"{start.isoformat()}..{end.isoformat()}", "range"))
