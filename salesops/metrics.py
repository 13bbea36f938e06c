"""The KPIs (DESIGN.md section 4): one registry of definitions and one engine, read by every
page, the CLI, every export and every deck. docs/kpis.md is generated from this module
(:func:`definitions_markdown`; a test keeps the two equal).

The engine works in three steps:

1. **sums**: additive sums (:data:`SUM_COLUMNS`) over the deals of a slice, per period and
   group, *as known on the as-of date*: a deal counts as won or lost only once its close
   date has passed the as-of date; before that, a deal created by then is open; a deal
   created after it does not exist yet. Applied once, to every KPI together.
2. **finish**: the ratios (win rate, deal size, cycle, attainment, coverage, velocity...)
   from the sums, with the target of each group from the one target rule (salesops.targets).
3. **format**: :class:`Kpi` says how a value and a change read (money, %, days, x); changes
   of rates are in points.

Entry points: :func:`kpis` (a workspace and its :class:`~salesops.filters.Filters`),
:func:`series` (per period), and :func:`period_kpis` for plain deal frames.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from . import formats
from . import schema as S

GROUP = "group"
ALL = "all"
BLANK = "(blank)"
#: An as-of date later than any data: "as the data is now".
NO_CUT = date(2200, 1, 1)


# =============================================================================================
# The registry
# =============================================================================================
@dataclass(frozen=True)
class Kpi:
    """One KPI: its column name, business label, kind (how it is formatted), which direction
    is better ("up", "down" or None) and its definition in words."""

    name: str
    label: str
    kind: str  # money | count | pct | days | ratio | money_per_day
    better: str | None
    definition: str

    def format(self, value, currency: str = "USD", compact: bool = True) -> str:
        """The value for people: "$1.2M", "31%", "45 days", "2.4x", "$3.1K/day"; "–" when missing."""
        if self.kind == "money":
            return formats.money(value, currency, compact=compact)
        if self.kind == "money_per_day":
            text = formats.money(value, currency, compact=compact)
            return text if text == formats.MISSING else f"{text}/day"
        if self.kind == "pct":
            return formats.pct(value, 1 if _small_pct(value) else 0)
        if self.kind == "days":
            return formats.days(value)
        if self.kind == "ratio":
            return formats.ratio(value)
        return formats.number(value)

    def change(self, current, previous) -> float | None:
        """current - previous (a rate's change as a difference of fractions: points), None
        when either is missing."""
        if _missing(current) or _missing(previous):
            return None
        return float(current) - float(previous)

    def delta(self, current, previous, currency: str = "USD") -> str | None:
        """A tile's change text: "+$1.2M", "-6 pts", "+3 days", "+0.4x"; None when unknown."""
        d = self.change(current, previous)
        if d is None:
            return None
        sign = "+" if d >= 0 else "-"
        a = abs(d)
        if self.kind == "pct":
            body = f"{a * 100:.1f} pts" if a * 100 < 9.95 and round(a * 100, 1) != round(a * 100) else f"{a * 100:.0f} pts"
        elif self.kind == "money":
            body = formats.money(a, currency)
        elif self.kind == "money_per_day":
            body = formats.money(a, currency) + "/day"
        elif self.kind == "days":
            body = formats.days(a)
        elif self.kind == "ratio":
            body = f"{a:.1f}x"
        else:
            body = f"{a:,.0f}"
        return f"{sign}{body}"

    def relative(self, current, previous) -> float | None:
        """(current - previous) / |previous| for amounts and counts; None for rates (their
        change is in points) and when the base is 0 or missing."""
        if self.kind in ("pct", "ratio") or _missing(current) or _missing(previous) or float(previous) == 0:
            return None
        return (float(current) - float(previous)) / abs(float(previous))

    @property
    def delta_color(self) -> str:
        """Streamlit's delta colour for this KPI: "inverse" when lower is better."""
        return "inverse" if self.better == "down" else ("off" if self.better is None else "normal")


def _missing(x) -> bool:
    try:
        return x is None or not np.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def _small_pct(x) -> bool:
    return not _missing(x) and abs(float(x)) < 0.1 and float(x) != 0


_DEFS = [
    Kpi("won_amount", "Bookings", "money", "up",
        "Sum of the amounts of won deals whose close date is in the period and not after the as-of date."),
    Kpi("won_count", "Deals won", "count", "up", "Number of those won deals."),
    Kpi("lost_count", "Deals lost", "count", "down",
        "Number of lost deals whose close date is in the period and not after the as-of date."),
    Kpi("win_rate", "Win rate", "pct", "up",
        "Deals won / (deals won + deals lost) closed in the period; blank when none closed. Shown with its 80% "
        "interval (Beta posterior) so that 2 of 3 is not read like 200 of 300."),
    Kpi("avg_deal_size", "Average deal size", "money", "up", "Bookings / deals won."),
    Kpi("avg_cycle_days", "Sales cycle", "days", "down",
        "Mean days from created date to close date over the won deals."),
    Kpi("open_pipeline", "Open pipeline", "money", "up",
        "Sum of the amounts of the deals open on the as-of date whose close date is in the period (a deal "
        "closed after the as-of date was still open then; a deal created after it did not exist yet)."),
    Kpi("open_count", "Open deals", "count", None, "Number of those open deals."),
    Kpi("weighted_pipeline", "Weighted pipeline", "money", "up",
        "Open pipeline with each deal's amount times the CRM's probability. Deals that have closed since the "
        "as-of date have no recorded probability for that day and count at none (the learned estimate of "
        "the Forecast page is a different number)."),
    Kpi("target", "Target", "money", None,
        "The target of the slice for the period by the target rule below, pro-rated by days."),
    Kpi("attainment", "Attainment", "pct", "up", "Bookings / target; blank without a target."),
    Kpi("coverage", "Pipeline coverage", "ratio", "up",
        "Open pipeline (forecast category 'omitted' left out) / (target - bookings), when something is left "
        "to book."),
    Kpi("required_coverage", "Coverage needed", "ratio", None,
        "1 / win rate: the coverage that the current win rate needs to close the gap."),
    Kpi("velocity", "Sales velocity", "money_per_day", "up",
        "Open deals x win rate x average deal size / sales cycle: money the pipeline turns into bookings per day."),
    Kpi("pipeline_created_amount", "Pipeline created", "money", "up",
        "Sum of the amounts of deals created in the period, up to the as-of date (by created date)."),
    Kpi("pipeline_created_count", "Deals created", "count", "up", "Number of those deals."),
]
#: Every KPI by column name, in display order.
KPIS: dict[str, Kpi] = {k.name: k for k in _DEFS}

#: Additive sums from which every period KPI is derived.
SUM_COLUMNS = ["won_amount", "won_count", "lost_count", "cycle_sum", "cycle_n", "open_pipeline", "open_count",
               "weighted_pipeline", "weighted_unknown", "coverage_pipeline", "pipeline_created_amount",
               "pipeline_created_count"]
_COUNTS = ("won_count", "lost_count", "cycle_n", "open_count", "weighted_unknown", "pipeline_created_count")
#: Columns of a KPI table (one row per group).
KPI_COLUMNS = [GROUP, "won_amount", "won_count", "lost_count", "win_rate", "win_rate_low", "win_rate_high",
               "avg_deal_size", "avg_cycle_days", "open_pipeline", "open_count", "weighted_pipeline",
               "target", "attainment", "coverage", "required_coverage", "velocity",
               "pipeline_created_amount", "pipeline_created_count",
               "target_source", "target_label", "rep_target_sum", "own_target", "weighted_unknown"]
#: The subset the CLI contract names, in its order.
CONTRACT_COLUMNS = [GROUP, "won_amount", "won_count", "lost_count", "win_rate", "avg_deal_size", "avg_cycle_days",
                    "open_pipeline", "open_count", "weighted_pipeline", "target", "attainment"]


def definitions_version() -> str:
    """A short fingerprint of the definitions (and the target rule): decks and exports state it."""
    from . import targets

    text = "\n".join(f"{k.name}|{k.kind}|{k.definition}" for k in _DEFS) + (targets.__doc__ or "")
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def definitions_markdown() -> str:
    """docs/kpis.md: every KPI and the target rule, from this registry."""
    from . import targets

    lines = ["# KPI definitions", "",
             "Generated from `salesops/metrics.py` (`python -m salesops definitions > docs/kpis.md`); a test keeps "
             "this page equal to the code. Every page, the command line, every export and every deck read these "
             f"definitions. Definitions version: `{definitions_version()}`.", "",
             "All period KPIs select deals by close date inside the period, on the fiscal calendar (pipeline created "
             "by created date), and count what was known on the as-of date: when the as-of date falls inside the "
             "period, bookings, win rate, pipeline, coverage and velocity all stop at that day. A change of a rate "
             "(win rate, attainment) is shown in points.", "",
             "| KPI | column | shown as | better | definition |", "|---|---|---|---|---|"]
    kinds = {"money": "money", "count": "count", "pct": "percent", "days": "days", "ratio": "multiple (x)",
             "money_per_day": "money per day"}
    for k in _DEFS:
        better = {"up": "higher", "down": "lower", None: "–"}[k.better]
        lines.append(f"| {k.label} | `{k.name}` | {kinds[k.kind]} | {better} | {k.definition} |")
    rule = (targets.__doc__ or "").split("\n\n", 1)[1].strip() if "\n\n" in (targets.__doc__ or "") else ""
    lines += ["", "## The target rule", "", rule, ""]
    return "\n".join(lines)


# =============================================================================================
# Win-rate uncertainty
# =============================================================================================
def win_rate_interval(won, lost, level: float = 0.8):
    """Equal-tailed Beta(won + 1, lost + 1) posterior interval for a win rate (uniform prior).

    Returns (low, high); NaN where won + lost == 0."""
    # the Beta quantile is the inverse of the regularised incomplete beta function (what
    # scipy.stats.beta.ppf computes, to the same bits): scipy.special alone imports in a third
    # of the second scipy.stats takes, which every CLI start paid
    from scipy.special import betaincinv

    won = np.asarray(won, dtype=float)
    lost = np.asarray(lost, dtype=float)
    tail = (1 - level) / 2
    low = betaincinv(won + 1, lost + 1, tail)
    high = betaincinv(won + 1, lost + 1, 1 - tail)
    empty = (won + lost) == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def shrunk_win_rate(won, lost, prior_rate: float, prior_strength: float = 10.0):
    """Win rate shrunk toward ``prior_rate`` (e.g. the team's) as if ``prior_strength`` extra
    deals had closed at that rate: (won + k p) / (won + lost + k)."""
    won = np.asarray(won, dtype=float)
    lost = np.asarray(lost, dtype=float)
    return (won + prior_strength * prior_rate) / (won + lost + prior_strength)


# =============================================================================================
# 1. sums
# =============================================================================================
def _ns(d) -> np.datetime64:
    return np.datetime64(pd.Timestamp(d).normalize().to_datetime64(), "ns")


def _group_codes(frame: pd.DataFrame, by: str | None) -> tuple[np.ndarray, list[str]]:
    """Integer group per row and the group names; blank values form the group "(blank)"."""
    if by is None:
        return np.zeros(len(frame), dtype=np.int64), [ALL]
    col = frame[by]
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy().astype(np.int64)
        names = [str(c) for c in col.cat.categories]
    else:
        codes, uniques = pd.factorize(col.astype(object).where(col.notna(), None), use_na_sentinel=True)
        codes = codes.astype(np.int64)
        names = [str(u) for u in uniques]
    blank_names = [i for i, n in enumerate(names) if n == ""]
    if (codes < 0).any() or blank_names:
        blank = len(names)
        names = names + [BLANK]
        codes = np.where(codes < 0, blank, codes)
        for i in blank_names:
            codes = np.where(codes == i, blank, codes)
    return codes, names


def period_index(dates: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each date (datetime64[ns]), the index of the period [starts[i], ends[i]] (sorted,
    not overlapping) that holds it, or -1."""
    if len(starts) == 0:
        return np.full(len(dates), -1, dtype=np.int64)
    i = np.searchsorted(starts, dates, side="right") - 1
    ok = (i >= 0) & (dates <= ends[np.clip(i, 0, None)])
    return np.where(ok, i, -1).astype(np.int64)


def _is(col: pd.Series, value: str) -> np.ndarray:
    """col == value as a boolean array (categories compared by code, not as text)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories
        return (col.cat.codes.to_numpy() == cats.get_loc(value)) if value in cats else np.zeros(len(col), dtype=bool)
    return (col == value).to_numpy()


def deal_states(frame: pd.DataFrame, as_of=None, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each deal's state as known on ``as_of`` (None: as the data is), as boolean arrays:
    ``won`` / ``lost`` (closed by then), ``open`` (existing and not yet closed then),
    ``prob_known`` (open now: its CRM probability is the one of that day), ``created_ok``
    (created by then). ``rows`` limits the arrays to those positions. The one as-of rule of
    every KPI."""
    status = frame[S.STATUS]
    take = (lambda a: a) if rows is None else (lambda a: a[rows])  # noqa: E731
    is_won, is_lost, is_open = take(_is(status, S.WON)), take(_is(status, S.LOST)), take(_is(status, S.OPEN))
    if as_of is None:
        ones = np.ones(len(is_won), dtype=bool)
        return {"won": is_won, "lost": is_lost, "open": is_open, "prob_known": is_open, "created_ok": ones}
    d = _ns(as_of)
    close = take(frame[S.CLOSE_DATE].to_numpy(dtype="datetime64[ns]"))
    created = take(frame[S.CREATED_DATE].to_numpy(dtype="datetime64[ns]"))
    closed_known = close <= d                       # NaT compares False
    exists = ~(created > d)                         # a deal without a created date exists
    return {"won": is_won & closed_known, "lost": is_lost & closed_known,
            "open": exists & (is_open | ((is_won | is_lost) & ~closed_known)),
            "prob_known": is_open, "created_ok": created <= d}


#: Which deals each KPI counts (for "the deals behind a number"): a state and a date.
KPI_DEALS = {"won_amount": ("won", S.CLOSE_DATE), "won_count": ("won", S.CLOSE_DATE), "avg_deal_size": ("won", S.CLOSE_DATE),
             "avg_cycle_days": ("won", S.CLOSE_DATE), "lost_count": ("lost", S.CLOSE_DATE),
             "win_rate": ("closed", S.CLOSE_DATE), "open_pipeline": ("open", S.CLOSE_DATE),
             "open_count": ("open", S.CLOSE_DATE), "weighted_pipeline": ("open", S.CLOSE_DATE),
             "coverage": ("open", S.CLOSE_DATE), "velocity": ("open", S.CLOSE_DATE), "attainment": ("won", S.CLOSE_DATE),
             "pipeline_created_amount": ("created", S.CREATED_DATE), "pipeline_created_count": ("created", S.CREATED_DATE)}


def deal_mask(frame: pd.DataFrame, kpi: str, start, end, as_of=None) -> np.ndarray:
    """The deals of ``frame`` that ``kpi`` counts for [start, end] as known on ``as_of``."""
    state, col = KPI_DEALS.get(kpi, ("won", S.CLOSE_DATE))
    st = deal_states(frame, as_of)
    dates = frame[col].to_numpy(dtype="datetime64[ns]")
    inside = (dates >= _ns(start)) & (dates <= _ns(end))
    if state == "closed":
        return inside & (st["won"] | st["lost"])
    if state == "created":
        return inside & st["created_ok"]
    return inside & st[state]


def sums(frame: pd.DataFrame, periods, as_of=None, by: str | None = None) -> pd.DataFrame:
    """The additive sums per (period, group), as known on ``as_of`` (None: as the data is).

    ``frame``: deals with status, amount, created_date, close_date, probability,
    forecast_category (and ``by``). ``periods``: a list of (start, end) dates, sorted and not
    overlapping. Returns a frame indexed by (``period`` = position in ``periods``, ``group``)
    with :data:`SUM_COLUMNS`; every (period, group) pair of the groups seen appears. Only the
    rows whose close or created date falls inside the periods are looked at."""
    starts = np.array([_ns(p[0]) for p in periods], dtype="datetime64[ns]")
    ends = np.array([_ns(p[1]) for p in periods], dtype="datetime64[ns]")
    n_p = len(periods)
    codes, names = _group_codes(frame, by)
    n_g = len(names)
    size = n_p * n_g
    close_all = frame[S.CLOSE_DATE].to_numpy(dtype="datetime64[ns]")
    created_all = frame[S.CREATED_DATE].to_numpy(dtype="datetime64[ns]")
    lo, hi = (starts.min(), ends.max()) if n_p else (np.datetime64("NaT"), np.datetime64("NaT"))
    by_close = np.flatnonzero((close_all >= lo) & (close_all <= hi))
    by_created = np.flatnonzero((created_all >= lo) & (created_all <= hi))

    close, created = close_all[by_close], created_all[by_close]
    st = deal_states(frame, as_of, by_close)
    won, lost, open_now, prob_known = st["won"], st["lost"], st["open"], st["prob_known"]
    amount_all = np.nan_to_num(frame[S.AMOUNT].to_numpy(dtype=float), nan=0.0)
    amount = amount_all[by_close]
    prob = frame[S.PROBABILITY].to_numpy(dtype=float)[by_close] if S.PROBABILITY in frame.columns else np.full(len(by_close), np.nan)
    omitted = (_is(frame[S.FORECAST_CATEGORY], "omitted")[by_close] if S.FORECAST_CATEGORY in frame.columns
               else np.zeros(len(by_close), dtype=bool))
    p_close = period_index(close, starts, ends)
    cycle_ok = won & ~np.isnat(close) & ~np.isnat(created)
    cycle = np.where(cycle_ok, (close - np.where(cycle_ok, created, close)).astype("timedelta64[D]").astype(float), 0.0)
    g_close = codes[by_close]

    def bucket(period: np.ndarray, group: np.ndarray, mask: np.ndarray, weights=None) -> np.ndarray:
        m = mask & (period >= 0)
        key = period[m] * n_g + group[m]
        return np.bincount(key, weights=None if weights is None else weights[m], minlength=size)[:size]

    p_created = period_index(created_all[by_created], starts, ends)
    created_ok = np.ones(len(by_created), dtype=bool) if as_of is None else created_all[by_created] <= _ns(as_of)
    k_amount = amount_all[by_created]
    g_created = codes[by_created]
    out = {
        "won_amount": bucket(p_close, g_close, won, amount),
        "won_count": bucket(p_close, g_close, won),
        "lost_count": bucket(p_close, g_close, lost),
        "cycle_sum": bucket(p_close, g_close, cycle_ok, cycle),
        "cycle_n": bucket(p_close, g_close, cycle_ok),
        "open_pipeline": bucket(p_close, g_close, open_now, amount),
        "open_count": bucket(p_close, g_close, open_now),
        "weighted_pipeline": bucket(p_close, g_close, open_now & prob_known, amount * np.nan_to_num(prob)),
        "weighted_unknown": bucket(p_close, g_close, open_now & ~prob_known),
        "coverage_pipeline": bucket(p_close, g_close, open_now & ~omitted, amount),
        "pipeline_created_amount": bucket(p_created, g_created, created_ok, k_amount),
        "pipeline_created_count": bucket(p_created, g_created, created_ok),
    }
    idx = pd.MultiIndex.from_product([range(n_p), names], names=["period", GROUP])
    for col in _COUNTS:
        out[col] = out[col].round().astype(np.int64)
    res = pd.DataFrame(out, index=idx)
    if by is not None:  # a group that never appears in these rows (an unused category) is dropped
        seen = np.bincount(codes, minlength=n_g) > 0
        res = res[np.tile(seen, n_p)]
    return res


# =============================================================================================
# 2. finish
# =============================================================================================
def _target_parts(v) -> tuple:
    """(amount, source, label, rep_sum, own) of a TargetView, a number or None."""
    if v is None:
        return np.nan, "none", "no target", np.nan, np.nan
    if isinstance(v, (int, float, np.floating, np.integer)):
        return float(v), "given", "target", np.nan, np.nan
    nan = lambda x: np.nan if x is None else float(x)  # noqa: E731
    return nan(v.amount), v.source, v.label, nan(v.rep_sum), nan(v.own)


def finish(sums_frame: pd.DataFrame, targets=None, interval_level: float = 0.8) -> pd.DataFrame:
    """The KPIs from :func:`sums` rows. ``targets``: a dict from each row's group to a
    :class:`~salesops.targets.TargetView` (or a number), or a list aligned with the rows;
    missing -> no target."""
    g = {c: sums_frame[c].to_numpy() for c in sums_frame.columns}  # one frame built at the end, not column by column
    won, lost, won_amount = g["won_count"].astype(float), g["lost_count"].astype(float), g["won_amount"].astype(float)
    closed = won + lost
    with np.errstate(divide="ignore", invalid="ignore"):
        win_rate = np.where(closed > 0, won / closed, np.nan)
        deal = np.where(won > 0, won_amount / won, np.nan)
        cycle = np.where(g["cycle_n"] > 0, g["cycle_sum"].astype(float) / g["cycle_n"].astype(float), np.nan)
    g["win_rate"] = win_rate
    g["win_rate_low"], g["win_rate_high"] = win_rate_interval(won, lost, interval_level) if len(won) else (np.array([]), np.array([]))
    g["avg_deal_size"], g["avg_cycle_days"] = deal, cycle
    if isinstance(targets, (list, tuple)):
        parts = [_target_parts(v) for v in targets]
    else:
        views = {str(k): v for k, v in (targets.items() if targets is not None else [])}
        index = sums_frame.index
        groups = index.get_level_values(GROUP) if isinstance(index, pd.MultiIndex) else index
        parts = [_target_parts(views.get(str(name))) for name in groups]
    amount, source, label, rep_sum, own = (list(x) for x in zip(*parts)) if parts else ([], [], [], [], [])
    target = np.array(amount, dtype=float)
    g["target"], g["target_source"], g["target_label"] = target, np.array(source, dtype=object), np.array(label, dtype=object)
    g["rep_target_sum"], g["own_target"] = np.array(rep_sum, dtype=float), np.array(own, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        g["attainment"] = np.where(target > 0, won_amount / target, np.nan)
        remaining = target - won_amount
        g["coverage"] = np.where(remaining > 0, g["coverage_pipeline"].astype(float) / remaining, np.nan)
        g["required_coverage"] = np.where(win_rate > 0, 1 / win_rate, np.nan)
        g["velocity"] = np.where(cycle > 0, g["open_count"].astype(float) * win_rate * deal / cycle, np.nan)
    g = pd.DataFrame(g, index=sums_frame.index)
    return g


# =============================================================================================
# Entry points
# =============================================================================================
def _period_rows(s: pd.DataFrame, i: int) -> pd.DataFrame:
    """The sums of period ``i`` indexed by group (empty when no group has rows)."""
    if s.empty:
        return pd.DataFrame({c: pd.Series(dtype=np.int64 if c in _COUNTS else float) for c in SUM_COLUMNS},
                            index=pd.Index([], name=GROUP, dtype=object))
    return s.xs(i, level="period")


def _active(g: pd.DataFrame) -> pd.Series:
    closed = g["won_count"] + g["lost_count"]
    return (closed + g["open_count"] + g["pipeline_created_count"] > 0) | g["target"].notna()


def _target_groups(ws, f, by: str, period) -> list[str]:
    """Groups of ``by`` that hold a target inside the slice though they may have no deal."""
    from .filters import reps_inside, roster_rows

    book = ws.target_book(period.start, period.end)
    cuts = f.cuts()
    if by == S.OWNER:
        inside = reps_inside(ws.reps, cuts)
        named = book.scope("owner")
        return [n for n in named.index if inside is None or n in set(inside)]
    scope = {S.TEAM: "team", S.REGION: "region", S.MANAGER: "manager", S.SEGMENT: "segment"}.get(by)
    if scope is None:
        return []
    out = set()
    own = book.scope(scope)
    chosen = cuts.get(by)
    if not cuts or (chosen and len(cuts) == 1):
        out |= {n for n in own.index if not chosen or n in chosen}
    if by in (S.TEAM, S.REGION, S.MANAGER) and all(c in (S.REGION, S.TEAM, S.MANAGER, S.OWNER) for c in cuts):
        rows = roster_rows(ws.reps, cuts) if cuts else ws.reps
        reps_with = set(book.scope("owner").index)
        if by in rows.columns:
            out |= {str(v) for v, n in zip(rows[by], rows[S.NAME]) if pd.notna(v) and str(n) in reps_with}
    return sorted(out)


def kpis(ws, f, by: str | None = None, *, period=None, as_of=None) -> pd.DataFrame:
    """The KPIs of the slice ``f`` (Filters) for its period as known on its as-of date, one
    row per group of ``by`` (one row "all" without). ``period``/``as_of`` override the
    filters' (the comparison period, a trend bar). Columns :data:`KPI_COLUMNS`."""
    p = period or f.period
    d = f.as_of if as_of is None else as_of
    facts = f.facts(ws)
    s = _period_rows(sums(facts, [(p.start, p.end)], d, by), 0)
    if by is None:
        targets = {ALL: f.target(ws, p)}
    else:
        extra = [t for t in _target_groups(ws, f, by, p) if t not in s.index]
        if extra:
            s = pd.concat([s, pd.DataFrame(0, index=pd.Index(extra, name=GROUP), columns=s.columns)])
        targets = f.group_targets(ws, by, list(s.index), p)
    g = finish(s, targets)
    if by is not None:
        g = g[_active(g)]
    g.index.name = GROUP
    out = g.reset_index()
    if by is not None:
        out = out.sort_values(GROUP, key=lambda c: c.astype(str), ignore_index=True)
    return out[KPI_COLUMNS]


def team(ws, f, *, period=None, as_of=None) -> dict:
    """The one row of :func:`kpis` without ``by``, as a dict."""
    return kpis(ws, f, None, period=period, as_of=as_of).iloc[0].to_dict()


def series(ws, f, freq: str, start, end, *, by: str | None = None, as_of=None) -> pd.DataFrame:
    """KPIs per period of ``freq`` (W, M, Q, Y) overlapping [start, end], per group of ``by``,
    as known on the as-of date; every period x group appears (zeros where nothing happened).
    Each row equals :func:`kpis` for that period. Columns: ``period_start``, ``period_end``,
    ``period`` (label), ``in_progress`` and :data:`KPI_COLUMNS`."""
    cal = ws.settings.calendar
    periods = cal.periods_between(pd.Timestamp(start).date(), pd.Timestamp(end).date(), freq)
    cols = ["period_start", "period_end", "period", "in_progress", *KPI_COLUMNS]
    if not periods:
        return pd.DataFrame(columns=cols)
    d = f.as_of if as_of is None else as_of
    s = sums(f.facts(ws), [(p.start, p.end) for p in periods], d, by)
    views = []
    for i, p in enumerate(periods):  # one small step per period for the (pro-rated) targets
        groups = list(_period_rows(s, i).index)
        if by is None:
            views.append(f.target(ws, p))
        else:
            vt = f.group_targets(ws, by, groups, p)
            views.extend(vt[str(g)] for g in groups)
    g = finish(s, views).reset_index()
    starts = np.array([pd.Timestamp(p.start) for p in periods])
    g["period_start"] = starts[g["period"].to_numpy()]
    g["period_end"] = np.array([pd.Timestamp(p.end) for p in periods])[g["period"].to_numpy()]
    labels = np.array([p.label for p in periods], dtype=object)
    g["in_progress"] = np.array([p.start <= d < p.end for p in periods])[g["period"].to_numpy()]
    g["period"] = labels[g["period"].to_numpy()]
    return g[cols]


def period_kpis(deals: pd.DataFrame, start, end, *, by: str | None = None, targets: pd.DataFrame | None = None,
                reps: pd.DataFrame | None = None, as_of=None, interval_level: float = 0.8) -> pd.DataFrame:
    """:func:`kpis` for a plain deal frame (deals as store.load_deals gives them, roster fields
    attached where ``by`` is one): the same engine and the same target rule."""
    from .filters import Filters
    from .periods import Period
    from .workspace import from_frames

    ws = from_frames(deals, reps=reps, targets=targets)
    s, e = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    f = Filters(period=Period(s, e, f"{s.isoformat()}..{e.isoformat()}", "range"),
                as_of=pd.Timestamp(as_of).date() if as_of is not None else NO_CUT)
    return kpis(ws, f, by)


def team_kpis(deals: pd.DataFrame, start, end, **kwargs) -> dict:
    """The one-row (group = "all") :func:`period_kpis` as a dict."""
    return period_kpis(deals, start, end, by=None, **kwargs).iloc[0].to_dict()


# =============================================================================================
# Pace
# =============================================================================================
def pace(won_amount: float, target: float | None, start: date, end: date, as_of: date) -> dict:
    """Where bookings stand against an even (straight-line) pace to ``target`` on ``as_of``.

    Returns the elapsed share, days left, expected-by-now, the gap (booked - expected) and
    the amount needed per remaining day."""
    days = (end - start).days + 1
    elapsed = min(max((as_of - start).days + 1, 0), days)
    remaining_days = days - elapsed
    out = {"elapsed_share": elapsed / days, "days_left": remaining_days, "elapsed_days": elapsed,
           "expected_by_now": None, "gap": None, "needed_per_day": None, "remaining": None}
    if target and target > 0:
        out["expected_by_now"] = target * elapsed / days
        out["gap"] = won_amount - out["expected_by_now"]
        out["remaining"] = max(target - won_amount, 0.0)
        out["needed_per_day"] = out["remaining"] / remaining_days if remaining_days > 0 else None
    return out


def same_point(period, previous, as_of: date) -> date:
    """The day of ``previous`` as far into it as ``as_of`` is into ``period`` (for comparing a
    running period with the last one "up to the same day")."""
    elapsed = (as_of - period.start).days
    return min(previous.start + timedelta(days=elapsed), previous.end)


# =============================================================================================
# New logos
# =============================================================================================
def first_win_ids(deals: pd.DataFrame) -> set:
    """Ids of the deals that are their account's first won deal (earliest close date; ties by
    id): the "new logos" of goal setting and comp plans. Needs ``opportunity_id``, ``account``,
    ``status`` and ``close_date``; deals without an account are never new logos."""
    if deals.empty or S.ACCOUNT not in deals.columns:
        return set()
    account = deals[S.ACCOUNT]
    won = deals[(deals[S.STATUS] == S.WON) & account.notna() & (account.astype(str).str.strip() != "")]
    if won.empty:
        return set()
    first = won.sort_values([S.CLOSE_DATE, S.OPPORTUNITY_ID]).drop_duplicates(S.ACCOUNT)
    return set(first[S.OPPORTUNITY_ID])
