"""The Reps page's questions (and the Team page's roll-up): a fair leaderboard of every rep, how
consistent each one is, who needs coaching and why, win rate against deal size, one rep's
profile, the team -> manager -> rep roll-up and the new-hire ramp.

Every KPI comes from salesops.metrics (``metrics.kpis(ws, f, by="owner")`` for the reps,
``metrics.team`` for the team row, ``metrics.sums`` for months, ``metrics.series`` for quarters
with their targets) and every target
from the one target rule, so the leaderboard, the Overview and ``python -m salesops kpis``
show the same numbers. What this module adds is built *on* those rows: ranks, the shrunk win
rate, consistency, coaching flags and quadrants. Functions take ``(ws, f, ...)`` so that pages
call them through ``context.compute``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from . import formats, metrics, overview, ramp
from . import schema as S
from .filters import Filters
from .targets import TargetView
from .workspace import NOT_ON_ROSTER

#: Fewer closed deals than this and a win rate is flagged as a small sample.
SMALL_SAMPLE = 10
#: Deals a win rate is shrunk by toward the team's rate (see metrics.shrunk_win_rate).
SHRINK_STRENGTH = 10.0
#: Complete months the consistency window covers.
CONSISTENCY_MONTHS = 12

LEADERBOARD_COLUMNS = [
    "rank", S.OWNER, S.MANAGER, S.TEAM, S.REGION, "attainment", "target", "target_label", "won_amount", "won_count",
    "lost_count", "win_rate", "win_rate_low", "win_rate_high", "win_rate_shrunk", "small_sample", "win_rate_text",
    "avg_deal_size", "avg_cycle_days", "open_pipeline", "open_count", "weighted_pipeline", "coverage",
    "required_coverage", "velocity", "pipeline_created_amount", "pipeline_created_count", "cv", "months_above",
    "months_observed", "months_above_text", "quarters_with_target", "quarters_at_quota", "quarter_quota_share",
    "spark", "coaching",
]
#: The leaderboard columns that are not KPI rows of ``kpis --by owner`` (the CLI prints them
#: under ``leaderboard`` beside the rows).
EXTRA_COLUMNS = ["rank", S.MANAGER, S.TEAM, S.REGION, "win_rate_shrunk", "small_sample", "cv", "months_above",
                 "months_observed", "quarters_with_target", "quarters_at_quota", "quarter_quota_share", "spark",
                 "coaching"]


def _months_by_owner(ws, f: Filters, start, end) -> pd.DataFrame:
    """The KPIs (no targets: none is needed) of each owner in each calendar month overlapping
    [start, end] as known on the as-of date: metrics.sums -> metrics.finish in one pass.
    Columns: ``month`` (first day), ``group`` (owner) and the KPI columns."""
    months = ws.settings.calendar.periods_between(pd.Timestamp(start).date(), pd.Timestamp(end).date(), "M")
    s = metrics.sums(f.facts(ws), [(m.start, m.end) for m in months], f.as_of, S.OWNER)
    k = metrics.finish(s).reset_index()
    k["month"] = pd.to_datetime([months[i].start for i in k["period"]]) if len(k) else pd.Series(dtype="datetime64[ns]")
    return k[k[metrics.GROUP] != metrics.BLANK]


# =============================================================================================
# Consistency
# =============================================================================================
def trailing_months(as_of, months: int = CONSISTENCY_MONTHS) -> pd.DatetimeIndex:
    """Start dates of the ``months`` calendar months ending with the last complete month on
    ``as_of`` (the month of ``as_of`` counts when ``as_of`` is its last day)."""
    t = pd.Timestamp(as_of).normalize()
    last = t.to_period("M").start_time if (t + pd.Timedelta(days=1)).day == 1 else (t.to_period("M") - 1).start_time
    return pd.date_range(end=last, periods=months, freq="MS")


def _on_team(reps: pd.DataFrame | None, owners, months: pd.DatetimeIndex) -> np.ndarray:
    """(owners x months) True where the rep was on the team for the month (roster hire and end
    dates; True where unknown or not on the roster)."""
    out = np.ones((len(owners), len(months)), dtype=bool)
    if reps is None or reps.empty or S.HIRE_DATE not in reps.columns or not len(owners):
        return out
    roster = reps.drop_duplicates(S.NAME).set_index(S.NAME)
    names = pd.Index([str(o) for o in owners])
    hire = pd.to_datetime(names.map(roster[S.HIRE_DATE])).to_numpy()
    end = pd.to_datetime(names.map(roster[S.END_DATE])).to_numpy() if S.END_DATE in roster.columns \
        else np.full(len(names), np.datetime64("NaT"), dtype="datetime64[ns]")
    month_end = (months + pd.offsets.MonthEnd(0)).to_numpy()
    before = hire[:, None] > month_end[None, :]          # hired after the month ended (NaT compares False)
    after = end[:, None] < months.to_numpy()[None, :]    # left before it began
    return ~(before | after)


def consistency(ws, f: Filters, owners, window_end: date) -> pd.DataFrame:
    """Consistency per rep over the :data:`CONSISTENCY_MONTHS` complete months before
    ``window_end`` (DESIGN.md section 4): monthly bookings from metrics.sums by owner, and
    each complete quarter's attainment from metrics.series (its target by the one rule).

    Columns (index ``owner``): ``cv`` coefficient of variation of monthly won amount
    (population standard deviation / mean over the months the rep was on the team; NaN with
    fewer than 3 such months or no bookings); ``months_observed``; ``months_above`` months at
    or above the median rep-month of the slice; ``quarters_with_target``, ``quarters_at_quota`` (complete fiscal
    quarters inside the window with a target, and those at or above 100% attainment) and
    ``quarter_quota_share``; ``spark`` the monthly won amounts (0 where not on the team).
    ``attrs``-free: the months are in the index name's frame ``months`` column list."""
    owners = [str(o) for o in owners]
    months = trailing_months(window_end)
    cols = ["cv", "months_observed", "months_above", "quarters_with_target", "quarters_at_quota",
            "quarter_quota_share", "spark"]
    if not owners:
        return pd.DataFrame(columns=cols, index=pd.Index([], name=S.OWNER))
    w_start, w_end = months[0].date(), (months[-1] + pd.offsets.MonthEnd(0)).date()
    m = _months_by_owner(ws, f, w_start, w_end)
    m = m.assign(**{metrics.GROUP: m[metrics.GROUP].astype(str)})
    m = m[m[metrics.GROUP].isin(owners)]
    won = m.pivot(index=metrics.GROUP, columns="month", values="won_amount") if len(m) else pd.DataFrame()
    won = won.reindex(index=owners, columns=months).fillna(0.0)
    on = _on_team(ws.reps, owners, months)
    values = np.where(on, won.to_numpy(dtype=float), np.nan)
    n = on.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a rep never on the team in the window: all NaN
        mean = np.nanmean(values, axis=1) if values.size else np.zeros(len(owners))
        std = np.nanstd(values, axis=1) if values.size else np.zeros(len(owners))
        mean = np.where(n > 0, mean, np.nan)
        cv = np.where((n >= 3) & (mean > 0), std / np.where(mean > 0, mean, 1), np.nan)
    slice_median = float(np.nanmedian(values[on])) if on.any() else np.nan
    above = ((values >= slice_median) & on).sum(axis=1)
    # complete fiscal quarters inside the window, against each quarter's target by the rule
    cal = ws.settings.calendar
    quarters = [q for q in cal.periods_between(w_start, w_end, "Q") if q.start >= w_start and q.end <= w_end]
    with_target = np.zeros(len(owners), dtype=int)
    hit = np.zeros(len(owners), dtype=int)
    if quarters:
        q = metrics.series(ws, f, "Q", quarters[0].start, quarters[-1].end, by=S.OWNER)
        q = q[q[metrics.GROUP].astype(str).isin(owners) & q["target"].astype(float).gt(0)]
        by_owner = q[metrics.GROUP].astype(str)
        with_target = by_owner.value_counts().reindex(owners, fill_value=0).to_numpy(dtype=int)
        hit = by_owner[q["attainment"].astype(float).ge(1).to_numpy()].value_counts().reindex(owners, fill_value=0).to_numpy(dtype=int)
    out = pd.DataFrame({"cv": cv, "months_observed": n.astype(int), "months_above": above.astype(int),
                        "quarters_with_target": with_target, "quarters_at_quota": hit,
                        "quarter_quota_share": np.where(with_target > 0, hit / np.maximum(with_target, 1), np.nan)},
                       index=pd.Index(owners, name=S.OWNER))
    out["spark"] = [list(np.nan_to_num(r, nan=0.0)) for r in values]
    return out


# =============================================================================================
# The leaderboard
# =============================================================================================
@dataclass
class Leaderboard:
    """Every rep of the slice for the period, ranked, with the team row beside them.

    ``reps``: :data:`LEADERBOARD_COLUMNS`, one row per rep, ranked by attainment where targets
    exist, else by bookings. ``team``: metrics.team for the slice (the Overview's numbers:
    its target is the slice's target by the rule, not the sum of the rows) plus
    ``cv_median``. ``target``: that TargetView. ``peers``: KPI rows of each roster team with
    three or more listed reps (the reference for coaching flags). ``months``: the
    consistency window. ``flags``: coaching flags (:func:`coaching_flags`)."""

    period_label: str
    state: str
    elapsed: float | None          # share of the period gone while it runs (None otherwise)
    reps: pd.DataFrame
    team: dict
    target: TargetView
    peers: dict = field(default_factory=dict)
    months: list[str] = field(default_factory=list)
    flags: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=[S.OWNER, "flag", "message"]))

    @property
    def empty(self) -> bool:
        return self.reps.empty

    @property
    def ranked_by(self) -> str:
        return "attainment" if self.reps["attainment"].notna().any() else "bookings"

    def at_target(self) -> tuple[int, int]:
        """(reps at or above their target, reps with a target above zero)."""
        has = self.reps["target"].gt(0)
        return int((self.reps["attainment"] >= 1).sum()), int(has.sum())

    def count_text(self) -> str:
        return f"{len(self.reps):,}"

    def at_target_text(self) -> tuple[str, str | None]:
        """The "at or above target" tile: ("3 of 28", "reps with a target"), or no targets."""
        hit, n = self.at_target()
        return (f"{hit} of {n}", "reps with a target") if n else ("no targets", None)

    def coaching_list(self) -> list[tuple[str, str]]:
        """(rep, their flags in words) for every flagged rep, those with the most flags first,
        then from the bottom of the ranking."""
        if self.flags.empty:
            return []
        n = self.flags.groupby(S.OWNER).size()
        lb = self.reps[self.reps["coaching"] != ""].assign(_n=lambda d: d[S.OWNER].map(n))
        lb = lb.sort_values(["_n", "rank"], ascending=[False, False])
        return list(zip(lb[S.OWNER], lb["coaching"]))

    def win_rate_note(self) -> str:
        """The team win rate tile's note: its 80% interval."""
        t = self.team
        if not (t["won_count"] + t["lost_count"]):
            return "no closed deals yet"
        return f"80% interval {formats.pct(t['win_rate_low'])}–{formats.pct(t['win_rate_high'])}"

    def target_words(self, currency: str = "USD") -> str:
        """What the team row's attainment is against, in words (and the reps' own targets
        beside it when both exist)."""
        t = self.target
        if not t.has_target:
            return "No target is set for this period."
        note = t.note(currency)
        if note:
            return f"Team row: {note[0].lower()}{note[1:]} The Overview uses the same target."
        return f"Team row: attainment is against the {t.label} ({formats.money(t.amount, currency)}), as on the Overview."


def _roster_field(ws, owners: pd.Series, col: str) -> pd.Series:
    if ws.reps is None or ws.reps.empty or col not in ws.reps.columns:
        return pd.Series(NOT_ON_ROSTER if col in (S.MANAGER, S.TEAM) else None, index=owners.index, dtype=object)
    mapped = owners.map(ws.reps.drop_duplicates(S.NAME).set_index(S.NAME)[col])
    return mapped.where(mapped.notna(), NOT_ON_ROSTER if col in (S.MANAGER, S.TEAM) else None)


def _listed_without_rows(ws, f: Filters, listed: set[str]) -> list[str]:
    """Rostered reps inside the slice who were on the team during the period but have no KPI
    row (no deal and no target in it): a new hire still belongs on the board."""
    if ws.reps is None or ws.reps.empty:
        return []
    p = f.period
    spans = ramp.roster_spans(None, ws.reps)
    on = spans[(spans[S.HIRE_DATE].isna() | (spans[S.HIRE_DATE] <= pd.Timestamp(p.end)))
               & (spans[S.END_DATE].isna() | (spans[S.END_DATE] >= pd.Timestamp(p.start)))]
    inside = f.reps(ws)
    names = [str(o) for o in on[S.OWNER] if inside is None or str(o) in set(inside)]
    return sorted(n for n in names if n not in listed)


def _win_rate_text(rate, low, high, small) -> str:
    if pd.isna(rate):
        return formats.MISSING
    k = metrics.KPIS["win_rate"]
    text = f"{k.format(rate)} ({k.format(low)}–{k.format(high)})"
    return text + " · few deals" if small else text


def leaderboard(ws, f: Filters) -> Leaderboard:
    """The leaderboard of the filters' slice and period as known on their as-of date.

    The rows are ``metrics.kpis(ws, f, by="owner")`` (the reps with deals in the slice, or a
    target inside it) plus rostered reps inside the slice on the team during the period with
    neither (zeros). Added: ``rank``, roster ``manager``/``team``/``region``, the 80% win-rate
    interval as text, ``win_rate_shrunk`` (toward the team's rate by :data:`SHRINK_STRENGTH`
    deals), ``small_sample`` (fewer than :data:`SMALL_SAMPLE` closed deals), consistency over
    the 12 complete months before min(as-of, period end), and ``coaching`` (the flags in words)."""
    p = f.period
    state = overview.state_of(p, f.as_of)
    team = metrics.team(ws, f)
    target = f.target(ws)
    rows = metrics.kpis(ws, f, by=S.OWNER)
    rows = rows[rows[metrics.GROUP] != metrics.BLANK]
    missing = _listed_without_rows(ws, f, set(rows[metrics.GROUP].astype(str)))
    if missing:
        zero = pd.DataFrame(0, index=pd.Index(missing, name=metrics.GROUP), columns=metrics.SUM_COLUMNS)
        extra = metrics.finish(zero, f.group_targets(ws, S.OWNER, missing)).reset_index()
        extra = extra.reindex(columns=rows.columns)
        rows = extra if rows.empty else pd.concat([rows, extra], ignore_index=True)
    lb = rows.rename(columns={metrics.GROUP: S.OWNER}).reset_index(drop=True)
    lb[S.OWNER] = lb[S.OWNER].astype(str)
    for col in (S.MANAGER, S.TEAM, S.REGION):
        lb[col] = _roster_field(ws, lb[S.OWNER], col)
    if ws.reps is None or ws.reps.empty:  # without a roster, a rep's region is where most of their deals are
        facts = f.facts(ws)
        counts = facts.groupby([S.OWNER, S.REGION], observed=True).size()
        if len(counts):
            main = counts.sort_values(ascending=False, kind="stable").reset_index().drop_duplicates(S.OWNER)
            lb[S.REGION] = lb[S.OWNER].map(main.set_index(S.OWNER)[S.REGION].astype(str))
    closed = lb["won_count"] + lb["lost_count"]
    team_rate = team["win_rate"] if pd.notna(team["win_rate"]) else 0.0
    lb["win_rate_shrunk"] = np.where(closed > 0, metrics.shrunk_win_rate(lb["won_count"], lb["lost_count"], team_rate,
                                                                         SHRINK_STRENGTH), np.nan)
    lb["small_sample"] = closed < SMALL_SAMPLE
    lb["win_rate_text"] = [_win_rate_text(*a) for a in zip(lb["win_rate"], lb["win_rate_low"], lb["win_rate_high"],
                                                              lb["small_sample"])]
    window_end = min(f.as_of, p.end)
    cons = consistency(ws, f, lb[S.OWNER], window_end)
    lb = lb.join(cons, on=S.OWNER)
    lb["months_above_text"] = [f"{a} of {n}" for a, n in zip(lb["months_above"], lb["months_observed"])]
    sort_key = "attainment" if lb["attainment"].notna().any() else "won_amount"
    lb = lb.sort_values([sort_key, "won_amount", S.OWNER], ascending=[False, False, True], na_position="last",
                        ignore_index=True)
    lb["rank"] = np.arange(1, len(lb) + 1)
    team["cv_median"] = float(lb["cv"].median()) if lb["cv"].notna().any() else np.nan
    months = [m.date().isoformat() for m in trailing_months(window_end)]
    board = Leaderboard(p.label, state, elapsed_share(p, f.as_of), lb.assign(coaching="")[LEADERBOARD_COLUMNS], team, target,
                        _peer_teams(ws, f, lb), months)
    board.flags = coaching_flags(board, currency=ws.settings.currency)
    if len(board.flags):
        words = board.flags.groupby(S.OWNER)["message"].agg("; ".join)
        board.reps["coaching"] = board.reps[S.OWNER].map(words).fillna("")
    return board


def _peer_teams(ws, f: Filters, lb: pd.DataFrame) -> dict:
    """KPI rows (metrics.kpis by team inside the slice) of each roster team with at least 3
    listed reps: the peer group a rep's cycle, deal size and win rate are measured against."""
    sizes = lb[S.TEAM].value_counts()
    big = [t for t, n in sizes.items() if n >= 3 and t != NOT_ON_ROSTER]
    if not big:
        return {}
    k = metrics.kpis(ws, f, by=S.TEAM).set_index(metrics.GROUP)
    return {t: k.loc[t].to_dict() for t in big if t in k.index}


# =============================================================================================
# Coaching flags
# =============================================================================================
#: Thresholds for the coaching flags (documented in docs/performance.md).
FLAG_CYCLE_LONGER = 0.30   # cycle this much longer than the team's
FLAG_DEAL_SMALLER = 0.40   # average deal this much smaller than the team's
FLAG_PACE_BEHIND = 0.60    # attainment below this share of the team's attainment so far
FLAG_COVERAGE_SHARE = 0.5  # coverage below what the win rate needs and below half the team's coverage
FLAG_CV = 1.0              # monthly coefficient of variation above this and 1.5x the team median
MIN_CLOSED_FOR_FLAG = 5


def elapsed_share(period, as_of: date) -> float | None:
    """The share of the period gone on ``as_of`` while it runs; None otherwise."""
    if not (period.start <= as_of < period.end):
        return None
    return ((as_of - period.start).days + 1) / period.days


def coaching_flags(board: Leaderboard, *, currency: str = "USD") -> pd.DataFrame:
    """"Who needs coaching": each flag explained in words against the team.

    Returns one row per flag: ``owner``, ``flag`` (win_rate, cycle, deal_size, coverage, pace,
    consistency, pipeline), ``message`` (e.g. "win rate 18% vs team 31% (4 of 22 closed)").
    A win rate is flagged only when its whole 80% interval lies below the team's rate, so
    small samples are not blamed for bad luck. "The team" is the rep's own roster team when it
    has 3+ listed reps (``board.peers``: enterprise reps are not compared with SMB reps on cycle
    or deal size), else the whole slice. Coverage (below 1 / team win rate and below half the
    team's coverage) and pace (attainment below 60% of the team's attainment so far) are flagged
    only while the period runs; "no new pipeline" only once it has started."""
    lb, team, peers = board.reps, board.team, board.peers
    running = board.state == "running"
    share = board.elapsed
    rows = []
    t_cv = team.get("cv_median")
    for r in lb.itertuples(index=False):  # one step per rep, not per deal
        ref = peers.get(r.team, team)
        t_rate, t_cycle, t_size = ref.get("win_rate"), ref.get("avg_cycle_days"), ref.get("avg_deal_size")
        won_n, closed = int(r.won_count), int(r.won_count + r.lost_count)
        if pd.notna(t_rate) and closed >= MIN_CLOSED_FOR_FLAG and pd.notna(r.win_rate_high) and r.win_rate_high < t_rate:
            rows.append((r.owner, "win_rate", f"win rate {formats.pct(r.win_rate)} vs team {formats.pct(t_rate)} "
                                              f"({won_n} of {closed} closed)"))
        if pd.notna(t_cycle) and t_cycle > 0 and pd.notna(r.avg_cycle_days) and won_n >= 3 \
                and r.avg_cycle_days > t_cycle * (1 + FLAG_CYCLE_LONGER):
            rows.append((r.owner, "cycle", f"cycle {r.avg_cycle_days / t_cycle - 1:.0%} longer than the team "
                                           f"({r.avg_cycle_days:.0f} vs {t_cycle:.0f} days)"))
        if pd.notna(t_size) and t_size > 0 and pd.notna(r.avg_deal_size) and won_n >= 3 \
                and r.avg_deal_size < t_size * (1 - FLAG_DEAL_SMALLER):
            rows.append((r.owner, "deal_size", f"average deal {formats.money(r.avg_deal_size, currency)} vs team "
                                               f"{formats.money(t_size, currency)}"))
        team_rate = team.get("win_rate")
        if running and pd.notna(r.target) and r.target > 0 and r.won_amount < r.target and pd.notna(team_rate) and team_rate > 0:
            need = 1 / team_rate
            cov = r.coverage if pd.notna(r.coverage) else 0.0
            t_cov = team.get("coverage")
            if cov < need and (pd.isna(t_cov) or cov < FLAG_COVERAGE_SHARE * t_cov):
                vs = f" vs the team's {t_cov:.1f}x" if pd.notna(t_cov) else ""
                rows.append((r.owner, "coverage", f"pipeline covers {cov:.1f}x of the remaining target{vs}; about "
                                                  f"{need:.1f}x is needed at the team's {formats.pct(team_rate)} win rate"))
        t_att = team.get("attainment")
        if running and pd.notna(r.attainment) and pd.notna(t_att) and t_att > 0 and r.attainment < t_att * FLAG_PACE_BEHIND:
            gone = f" with {formats.pct(share)} of {board.period_label} gone" if share is not None else ""
            rows.append((r.owner, "pace", f"at {formats.pct(r.attainment)} of target vs the team's {formats.pct(t_att)}{gone}"))
        if pd.notna(r.cv) and r.cv > FLAG_CV and (pd.isna(t_cv) or r.cv > 1.5 * t_cv) and r.months_observed >= 6:
            rows.append((r.owner, "consistency", f"lumpy bookings: monthly variation {r.cv:.1f} vs team median {t_cv:.1f}"
                         if pd.notna(t_cv) else f"lumpy bookings: monthly variation {r.cv:.1f}"))
        if board.state != "future" and r.pipeline_created_count == 0:
            rows.append((r.owner, "pipeline", f"no new pipeline created in {board.period_label}"))
    return pd.DataFrame(rows, columns=[S.OWNER, "flag", "message"])


# =============================================================================================
# Win rate vs deal size
# =============================================================================================
QUADRANTS = ("Wins often, wins big", "Wins often, small deals", "Big deals, low win rate", "Small deals, low win rate")


@dataclass
class Quadrants:
    """Reps with a win rate and a deal size, each in a quadrant split at the slice's medians."""

    reps: pd.DataFrame          # owner, win_rate, avg_deal_size, closed, won_amount, quadrant
    median_win_rate: float
    median_deal_size: float


def quadrants(board: Leaderboard) -> Quadrants:
    """Win rate against deal size for the leaderboard's reps (pure: from a leaderboard)."""
    lb = board.reps
    d = lb[lb["win_rate"].notna() & lb["avg_deal_size"].notna()].copy()
    d["closed"] = d["won_count"] + d["lost_count"]
    mw = float(d["win_rate"].median()) if len(d) else np.nan
    ms = float(d["avg_deal_size"].median()) if len(d) else np.nan
    hi_w, hi_s = d["win_rate"] >= mw, d["avg_deal_size"] >= ms
    d["quadrant"] = np.select([hi_w & hi_s, hi_w & ~hi_s, ~hi_w & hi_s], list(QUADRANTS[:3]), QUADRANTS[3])
    out = d[[S.OWNER, "win_rate", "avg_deal_size", "closed", "won_amount", "quadrant"]]
    out = out.sort_values(["quadrant", "won_amount"], ascending=[True, False], ignore_index=True)
    return Quadrants(out, mw, ms)


# =============================================================================================
# Comparing reps and one rep's profile
# =============================================================================================
#: Monthly series a rep trend can show: column -> (label, kind).
TREND_SERIES = {"won_amount": ("Bookings", "money"), "win_rate": ("Win rate", "pct"),
                "pipeline_created_amount": ("Pipeline created", "money")}
MEDIAN = "Median rep"


def trend_window(f: Filters) -> tuple[date, date]:
    """The 12 months up to min(as-of, period end): (first day of the first month, that day)."""
    end = min(f.as_of, f.period.end)
    start = (pd.Timestamp(end) - pd.DateOffset(months=11)).to_period("M").start_time.date()
    return start, end


def rep_trends(ws, f: Filters, owners: tuple = ()) -> pd.DataFrame:
    """Monthly bookings, win rate and pipeline created of ``owners`` over :func:`trend_window`,
    as known on the as-of date (metrics.sums by owner, finished), beside the median rep of the slice
    that month (over reps with a closed or created deal in it). Long format: ``month``,
    ``series`` (a rep's name or :data:`MEDIAN`), and the :data:`TREND_SERIES` columns."""
    start, end = trend_window(f)
    s = _months_by_owner(ws, f, start, end).rename(columns={metrics.GROUP: "series"})
    active = (s["won_count"] + s["lost_count"] + s["pipeline_created_count"]) > 0
    med = s[active].groupby("month")[list(TREND_SERIES)].median().reindex(sorted(s["month"].unique())).reset_index()
    med["series"] = MEDIAN
    mine = s[s["series"].astype(str).isin([str(o) for o in owners])]
    cols = ["month", "series", *TREND_SERIES]
    out = pd.concat([mine[cols], med[cols]], ignore_index=True)
    out["series"] = out["series"].astype(str)
    return out.sort_values(["series", "month"], ignore_index=True)


def compare_reps(board: Leaderboard, owners, currency: str = "USD") -> pd.DataFrame:
    """Reps side by side (text, pure: from a leaderboard): a KPI per row, a column per rep and
    the team row of the slice (the Overview's numbers)."""
    by = board.reps.set_index(S.OWNER)
    cc = currency
    rows = ["attainment", "won_amount", "target", "won_count", "win_rate", "win_rate_shrunk", "avg_deal_size",
            "avg_cycle_days", "open_pipeline", "coverage", "pipeline_created_amount", "cv", "quarter_quota_share"]
    labels = {"win_rate_shrunk": ("Win rate, shrunk to team", "pct"), "cv": ("Monthly variation (CV)", "cv"),
              "quarter_quota_share": ("Quarters at quota", "pct")}

    def show(col, x):
        if col in metrics.KPIS:
            return metrics.KPIS[col].format(x, cc)
        kind = labels[col][1]
        if kind == "pct":
            return formats.pct(x, 1) if pd.notna(x) and 0 < abs(x) < 0.1 else formats.pct(x)
        return formats.MISSING if pd.isna(x) else f"{x:.2f}"

    out = pd.DataFrame({"KPI": [metrics.KPIS[c].label if c in metrics.KPIS else labels[c][0] for c in rows]})
    for o in owners:
        if o in by.index:
            out[o] = [show(c, by.loc[o, c]) for c in rows]
    team = {**board.team, "target": board.target.amount}
    out["Team"] = [show(c, team.get(c)) if c in team else formats.MISSING for c in rows]
    return out


def rep_funnel(ws, f: Filters, owner: str) -> pd.DataFrame:
    """A rep's funnel of the deals created in the period (by the as-of date) against the
    slice's median rep: steps "Created", "Closed" (won or lost by the as-of date), "Won".
    Columns: ``step``, ``count``, ``amount``, ``median_count``, ``median_amount``,
    ``conversion`` (count / the created count)."""
    facts = f.facts(ws)
    p = f.period
    created = metrics.deal_mask(facts, "pipeline_created_count", p.start, p.end, f.as_of)
    st = metrics.deal_states(facts, f.as_of)
    steps = {"Created": created, "Closed": created & (st["won"] | st["lost"]), "Won": created & st["won"]}
    owners = facts[S.OWNER].astype(object)
    amount = np.nan_to_num(facts[S.AMOUNT].to_numpy(dtype=float))
    rows = []
    for step, mask in steps.items():  # three vectorised group sums
        per = pd.DataFrame({"n": mask.astype(int), "a": np.where(mask, amount, 0.0), S.OWNER: owners.to_numpy()})
        per = per[created].groupby(S.OWNER).sum()
        mine = per.loc[owner] if owner in per.index else pd.Series({"n": 0, "a": 0.0})
        rows.append({"step": step, "count": int(mine["n"]), "amount": float(mine["a"]),
                     "median_count": float(per["n"].median()) if len(per) else 0.0,
                     "median_amount": float(per["a"].median()) if len(per) else 0.0})
    out = pd.DataFrame(rows)
    first = out.loc[0, "count"]
    out["conversion"] = out["count"] / first if first else np.nan
    return out


PROFILE_DEAL_COLUMNS = [S.NAME, S.ACCOUNT, S.STAGE, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.SEGMENT, S.PRODUCT]


@dataclass
class Profile:
    """One rep against the slice: their leaderboard row, rank, the median rep and their flags."""

    owner: str
    row: dict
    rank: int
    reps: int
    median: dict
    flags: list[str]

    def line(self) -> str:
        r = self.row
        return f"{self.owner} · manager {r[S.MANAGER]} · {r[S.TEAM]} · rank {self.rank} of {self.reps}"

    def median_note(self, name: str, currency: str = "USD") -> str:
        """"median rep $120K": the slice's median rep on KPI ``name``."""
        return "median rep " + metrics.KPIS[name].format(self.median.get(name), currency)


def profile(board: Leaderboard, owner: str) -> Profile | None:
    """``owner``'s :class:`Profile` (pure: from a leaderboard); None when not on it."""
    lb = board.reps
    if owner not in set(lb[S.OWNER]):
        return None
    row = lb.set_index(S.OWNER).loc[owner].to_dict()
    median = lb.median(numeric_only=True).to_dict()
    flags = list(board.flags.loc[board.flags[S.OWNER] == owner, "message"])
    return Profile(owner, row, int(row["rank"]), len(lb), median, flags)


@dataclass
class RepDetail:
    """A rep's funnel, monthly trend against the median rep, and deals of the period."""

    owner: str
    funnel: pd.DataFrame
    trend: pd.DataFrame
    deals: pd.DataFrame
    deal_count: int

    def deals_title(self, period_label: str) -> str:
        return f"Deals closing or created in {period_label} ({self.deal_count:,})"


def rep_detail(ws, f: Filters, owner: str, limit: int = 300) -> RepDetail:
    """:func:`rep_funnel`, :func:`rep_trends` and the rep's deals: those existing on the as-of
    date with a close or created date in the period, largest first (``limit``), with their
    status as known on the as-of date."""
    facts = f.facts(ws)
    p = f.period
    mine = (facts[S.OWNER].astype(object) == owner).to_numpy()
    close_in = metrics.deal_mask(facts, "open_pipeline", p.start, p.end, f.as_of) \
        | metrics.deal_mask(facts, "win_rate", p.start, p.end, f.as_of)
    made = metrics.deal_mask(facts, "pipeline_created_count", p.start, p.end, f.as_of)
    m = mine & (close_in | made)
    st = metrics.deal_states(facts.loc[m], f.as_of)
    status = pd.Series(np.select([st["won"], st["lost"]], [S.WON, S.LOST], S.OPEN), index=facts.index[m])
    top = facts.loc[m, S.AMOUNT].sort_values(ascending=False, na_position="last", kind="stable").head(limit)
    deals = ws.deal_rows(list(top.index), [S.OWNER, *PROFILE_DEAL_COLUMNS])[PROFILE_DEAL_COLUMNS]
    deals[S.STATUS] = status.reindex(top.index).to_numpy()
    return RepDetail(owner, rep_funnel(ws, f, owner), rep_trends(ws, f, (owner,)), deals.reset_index(drop=True), int(m.sum()))


# =============================================================================================
# Roll-up: team -> manager -> rep
# =============================================================================================
HIERARCHY_COLUMNS = ["level", "name", "parent", "path", *[c for c in metrics.KPI_COLUMNS if c != metrics.GROUP]]


LEVELS = ("team", "manager", "rep")


def hierarchy(ws, f: Filters, level: str | None = None) -> pd.DataFrame:
    """KPIs at every level of team -> manager -> rep from the roster, and the whole slice:
    metrics.team and metrics.kpis by team, manager and owner (each group's target by the one
    rule, so a team with its own target shows it). Columns :data:`HIERARCHY_COLUMNS`;
    ``path`` is "team › manager › rep". Each level's bookings add up to the slice's. With
    ``level`` (team, manager or rep) only the slice's row and that level's rows."""
    top = pd.DataFrame([metrics.team(ws, f)]).assign(level="all", name="All", parent="")
    roster = ws.reps.drop_duplicates(S.NAME).set_index(S.NAME) if ws.reps is not None and not ws.reps.empty else None
    tm = metrics.kpis(ws, f, by=S.TEAM).assign(level="team")
    tm["name"], tm["parent"] = tm[metrics.GROUP], "All"
    mg = metrics.kpis(ws, f, by=S.MANAGER).assign(level="manager")
    if roster is not None and S.MANAGER in roster.columns:
        team_of = roster.groupby(S.MANAGER)[S.TEAM].agg(lambda s: s.mode().iat[0] if s.notna().any() else NOT_ON_ROSTER)
    else:
        team_of = pd.Series(dtype=object)
    mg["name"], mg["parent"] = mg[metrics.GROUP], mg[metrics.GROUP].map(team_of).fillna(NOT_ON_ROSTER)
    rp = metrics.kpis(ws, f, by=S.OWNER).assign(level="rep")
    rp["name"] = rp[metrics.GROUP]
    rp["parent"] = rp[metrics.GROUP].map(roster[S.MANAGER]).fillna(NOT_ON_ROSTER) if roster is not None else NOT_ON_ROSTER
    out = pd.concat([x for x in (top, tm, mg, rp) if len(x)], ignore_index=True)
    mgr_team = dict(zip(mg["name"], mg["parent"]))
    out["path"] = [
        "All" if lv == "all" else n if lv == "team" else f"{p} › {n}" if lv == "manager"
        else f"{mgr_team.get(p, NOT_ON_ROSTER)} › {p} › {n}"
        for lv, n, p in zip(out["level"], out["name"], out["parent"])
    ]
    out = out[HIERARCHY_COLUMNS]
    if level is not None:
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        out = out[out["level"].isin(["all", level])].reset_index(drop=True)
    return out


# =============================================================================================
# New-hire ramp (salesops.ramp on the slice)
# =============================================================================================
@dataclass
class Ramp:
    cohort: pd.DataFrame
    curve: pd.DataFrame          # month, ramp_factor
    method: str
    reason: str
    reps: pd.DataFrame
    equivalents: float
    headcount: int
    productivity: float

    @property
    def equivalents_text(self) -> str:
        return f"{self.equivalents:.1f}"

    def method_words(self) -> str:
        if self.method == "learned":
            return "learned from this workspace's new hires"
        return f"a straight line over {ramp.DEFAULT_RAMP_MONTHS} months ({self.reason})" if self.reason else \
            f"a straight line over {ramp.DEFAULT_RAMP_MONTHS} months"


def ramp_view(ws, f: Filters) -> Ramp:
    """Cohort curve, ramp curve, per-rep ramp table, ramped-rep equivalents and bookings per
    ramped rep over the last 12 months (salesops.ramp), on the deals and roster inside the
    slice as of the as-of date."""
    as_of = f.as_of
    deals = f.deals(ws)
    inside = f.reps(ws)
    reps = ws.reps if inside is None or ws.reps is None or ws.reps.empty else ws.reps[ws.reps[S.NAME].isin(inside)]
    deals = deals[~(deals[S.CREATED_DATE] > pd.Timestamp(as_of))]
    history_start = (pd.Timestamp(as_of) - pd.DateOffset(years=1)).date()
    curve = ramp.ramp_curve(deals, reps, as_of)
    months = np.arange(0, max(len(curve.factors), 1) + 1)
    curve_frame = pd.DataFrame({"month": months, "ramp_factor": np.append(curve.factors, 1.0)[: len(months)]})
    factors = ramp.ramp_factors(deals, reps, as_of)
    factors.attrs = {}
    table = ramp.rep_ramp(deals, reps, as_of)
    table.attrs = {}
    cohort = ramp.cohort_curve(deals, reps, as_of)
    cohort.attrs = {}
    return Ramp(cohort, curve_frame, curve.method, curve.reason, table, float(factors["ramp_factor"].sum()),
                len(factors), ramp.productivity_per_ramped_rep(deals, reps, history_start, as_of))
