"""The Overview's question, "where do we stand this period?": the KPIs as known on the as-of
date, the comparison period up to the same point, the pace to target, the bookings trend and
the largest open deals. Every number comes from salesops.metrics and the one target rule."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from . import metrics
from . import schema as S
from .filters import Filters
from .periods import Period
from .targets import TargetView

KIND_WORDS = {"quarter": "quarter", "month": "month", "year": "year", "week": "week"}
TOP_OPEN_COLUMNS = [S.NAME, S.ACCOUNT, S.OWNER, S.STAGE, S.AMOUNT, S.PROBABILITY, S.CLOSE_DATE]


def state_of(period: Period, as_of: date) -> str:
    """"future" (not started on the as-of date), "running" or "closed"."""
    if as_of < period.start:
        return "future"
    return "running" if as_of < period.end else "closed"


@dataclass
class Standing:
    period: Period
    state: str                   # future | running | closed
    compare: Period              # the period the changes compare with
    compare_as_of: date          # ... as known on this day (the same point of it, when running)
    compare_label: str           # "vs the same point last quarter" / "vs last quarter"
    current: dict                # metrics.team for the period on the as-of date
    previous: dict               # metrics.team for the comparison period on compare_as_of
    target: TargetView
    pace: dict                   # metrics.pace (running periods)
    trend: pd.DataFrame          # metrics.series by quarter, 8 quarters to the period's
    cumulative: pd.DataFrame     # day, won_to_date, target_pace
    top_open: pd.DataFrame       # the largest deals open on the as-of date closing in the period

    @property
    def in_progress(self) -> bool:
        return self.state == "running"

    def compare_text(self) -> str:
        """One line saying what the changes compare with."""
        c = self.compare
        if self.state == "running":
            return (f"Changes compare with {c.label} up to the same day ({c.start:%d %b} – {self.compare_as_of:%d %b %Y}), "
                    "because this period is still running.")
        return f"Changes compare with {c.label} ({c.start:%d %b} – {c.end:%d %b %Y})."


def standing(ws, f: Filters, trend_freq: str = "Q", trend_periods: int = 8) -> Standing:
    """Everything the Overview shows for the filters' period seen on their as-of date."""
    cal = ws.settings.calendar
    period, as_of = f.period, f.as_of
    state = state_of(period, as_of)
    prev = cal.previous(period)
    word = KIND_WORDS.get(period.kind, "period")
    if state == "running":
        prev_as_of = metrics.same_point(period, prev, as_of)
        label = f"vs the same point last {word}" if period.kind != "range" else "vs the same point of the period before"
    else:
        prev_as_of = as_of if state == "closed" else prev.end
        label = f"vs last {word}" if period.kind != "range" else "vs the period before"
    current = metrics.team(ws, f)
    previous = metrics.team(ws, f, period=prev, as_of=prev_as_of)
    target = f.target(ws)
    pace = metrics.pace(current["won_amount"], target.amount, period.start, period.end, min(as_of, period.end))
    return Standing(period, state, prev, prev_as_of, label, current, previous, target, pace,
                    bookings_trend(ws, f, trend_freq, trend_periods), cumulative_bookings(ws, f, target.amount),
                    top_open_deals(ws, f))


def bookings_trend(ws, f: Filters, freq: str = "Q", n: int = 8) -> pd.DataFrame:
    """The ``n`` periods of ``freq`` ending with the one that holds the period's end (or the
    as-of date when that is earlier): bookings as known on the as-of date and the target of
    each by the target rule. Columns of metrics.series plus ``kind`` ("actual", "in
    progress", "not started")."""
    cal = ws.settings.calendar
    last = cal.period_of(min(f.period.end, max(f.as_of, f.period.start)), freq)
    first = cal.shift(last, -(n - 1))
    out = metrics.series(ws, f, freq, first.start, last.end)
    out["kind"] = np.where(out["in_progress"], "in progress",
                           np.where(out["period_start"] > pd.Timestamp(f.as_of), "not started", "actual"))
    return out


def cumulative_bookings(ws, f: Filters, target: float | None) -> pd.DataFrame:
    """Day-by-day cumulative bookings inside the period up to the as-of date, and an even
    pace to the target. Columns: day, won_to_date (NaN after the as-of date), target_pace."""
    p = f.period
    days = pd.date_range(p.start, p.end, freq="D")
    facts = f.facts(ws)
    won = metrics.deal_mask(facts, "won_amount", p.start, p.end, f.as_of)
    w = facts[won]
    idx = ((w[S.CLOSE_DATE] - pd.Timestamp(p.start)).dt.days).to_numpy(dtype=np.int64)
    daily = np.bincount(idx, weights=w[S.AMOUNT].fillna(0.0).to_numpy(), minlength=len(days))[:len(days)]
    cum = np.cumsum(daily)
    cum = np.where(days > pd.Timestamp(f.as_of), np.nan, cum)
    out = pd.DataFrame({"day": days, "won_to_date": cum})
    out["target_pace"] = (target * (np.arange(len(days)) + 1) / len(days)) if target and target > 0 else np.nan
    return out


def top_open_deals(ws, f: Filters, n: int = 10) -> pd.DataFrame:
    """The largest deals open on the as-of date with a close date in the period (full rows,
    read for these deals only)."""
    facts = f.facts(ws)
    m = metrics.deal_mask(facts, "open_pipeline", f.period.start, f.period.end, f.as_of)
    top = facts.loc[m, S.AMOUNT].sort_values(ascending=False, na_position="last", kind="stable").head(n)
    rows = ws.deal_rows(list(top.index), TOP_OPEN_COLUMNS)
    return rows.reset_index(drop=True)


#: The team totals a rep sees beside their own numbers (aggregates only: no deal, no other rep).
TEAM_TOTALS = ("won_amount", "won_count", "lost_count", "win_rate", "open_pipeline", "open_count", "target", "attainment")


def team_totals(ws, f: Filters) -> dict | None:
    """For a rep (``f.scope`` of role rep): their team's totals for the period as known on the
    as-of date, beside their own: ``{"teams", "reps", "team": {kpi: value}, "own": {kpi:
    value}, "share"}`` (the rep's share of the team's bookings). Only aggregates leave this
    function, so it reads the full workspace ``ws``. None for any other scope."""
    from dataclasses import replace

    from . import auth

    scope = f.scope
    if scope is None or scope.role != auth.REP:
        return None
    if not scope.teams:
        return {"teams": (), "reps": 0, "team": None, "own": None, "share": None}
    team_f = replace(Filters.make(ws, f.period, f.as_of), team=scope.teams)
    team = metrics.team(ws, team_f)
    own = metrics.team(ws.scoped(scope), f)
    won = float(team.get("won_amount") or 0.0)
    return {"teams": scope.teams, "reps": len(team_f.reps(ws) or []),
            "team": {k: team.get(k) for k in TEAM_TOTALS}, "own": {k: own.get(k) for k in TEAM_TOTALS},
            "share": float(own.get("won_amount") or 0.0) / won if won > 0 else None}
