"""The Overview's question, "where do we stand this period?": KPIs, the comparison period,
the pace to target and the bookings trend. Pure pandas; the page only renders."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from . import metrics
from . import schema as S
from .periods import FiscalCalendar, Period


@dataclass
class Standing:
    period: Period
    compare: Period              # the period the deltas compare with
    compare_label: str           # e.g. "vs same point last quarter"
    current: dict                # team KPIs for the period (up to as_of when it is in progress)
    previous: dict               # team KPIs for the comparison period
    pace: dict                   # metrics.pace(...)
    in_progress: bool
    trend: pd.DataFrame          # period_start, label, won_amount, target, kind ('actual' | 'in progress')
    cumulative: pd.DataFrame     # day, won_to_date, target_pace  (inside the period)
    top_open: pd.DataFrame       # largest open deals closing in the period


def _kind_word(period: Period) -> str:
    return {"quarter": "quarter", "month": "month", "year": "year", "week": "week"}.get(period.kind, "period")


def standing(deals: pd.DataFrame, targets: pd.DataFrame, reps: pd.DataFrame, period: Period,
             as_of: date, calendar: FiscalCalendar, trend_freq: str = "Q", trend_periods: int = 8) -> Standing:
    """Everything the Overview shows for ``period`` seen on ``as_of``.

    When ``as_of`` falls inside the period, deals are counted only up to as_of (a deal closed
    later in the period, as an edited export might show, is not yet booked), and the deltas
    compare with the previous period *up to the same day*, so a half-finished quarter is not
    set against a whole one."""
    in_progress = period.start <= as_of < period.end
    prev = calendar.previous(period)
    end_now = as_of if in_progress else period.end
    kw = dict(targets=targets, reps=reps)
    current = metrics.team_kpis(deals, period.start, period.end, **kw)
    if in_progress:
        closed_now = metrics.team_kpis(deals, period.start, end_now, **kw)
        for key in ("won_amount", "won_count", "lost_count", "win_rate", "avg_deal_size", "avg_cycle_days",
                    "win_rate_low", "win_rate_high", "pipeline_created_amount", "pipeline_created_count"):
            current[key] = closed_now[key]
        if current["target"] and current["target"] > 0:
            current["attainment"] = current["won_amount"] / current["target"]
        elapsed = (as_of - period.start).days
        prev_end = min(prev.start + timedelta(days=elapsed), prev.end)
        previous = metrics.team_kpis(deals, prev.start, prev_end, **kw)
        label = f"vs same point last {_kind_word(period)}"
    else:
        previous = metrics.team_kpis(deals, prev.start, prev.end, **kw)
        label = f"vs last {_kind_word(period)}" if period.kind != "range" else "vs the period before"
    pace = metrics.pace(current["won_amount"], current["target"], period.start, period.end, min(as_of, period.end))
    return Standing(period, prev, label, current, previous, pace, in_progress,
                    bookings_trend(deals, targets, calendar, period, as_of, trend_freq, trend_periods),
                    cumulative_bookings(deals, period, as_of, current["target"]),
                    top_open_deals(deals, period))


def bookings_trend(deals: pd.DataFrame, targets: pd.DataFrame, calendar: FiscalCalendar, period: Period,
                   as_of: date, freq: str = "Q", n: int = 8) -> pd.DataFrame:
    """Won amount per period (``freq``) for the ``n`` periods ending with the one that holds
    ``period``'s end, with each period's target (sum of rep targets, pro-rated)."""
    last = calendar.period_of(min(period.end, max(as_of, period.start)), freq)
    periods = [calendar.shift(last, -k) for k in range(n - 1, -1, -1)]
    won = deals[deals[S.STATUS] == S.WON]
    rows = []
    for p in periods:
        end = min(p.end, as_of)
        sel = won[won[S.CLOSE_DATE].between(pd.Timestamp(p.start), pd.Timestamp(end))]
        tgt = metrics.target_for_period(targets, p.start, p.end, scope="owner")
        rows.append({"period_start": pd.Timestamp(p.start), "label": p.label, "won_amount": float(sel[S.AMOUNT].sum()),
                     "won_count": int(len(sel)), "target": float(tgt.sum()) if not tgt.empty else np.nan,
                     "kind": "in progress" if p.start <= as_of < p.end else "actual"})
    return pd.DataFrame(rows)


def cumulative_bookings(deals: pd.DataFrame, period: Period, as_of: date, target: float | None) -> pd.DataFrame:
    """Day-by-day cumulative won amount inside the period (up to as_of) and the straight-line
    pace to the target."""
    days = pd.date_range(period.start, period.end, freq="D")
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between(pd.Timestamp(period.start), pd.Timestamp(period.end))]
    daily = won.groupby(won[S.CLOSE_DATE].dt.normalize())[S.AMOUNT].sum().reindex(days, fill_value=0.0)
    cum = daily.cumsum()
    cum[days > pd.Timestamp(as_of)] = np.nan
    out = pd.DataFrame({"day": days, "won_to_date": cum.to_numpy()})
    out["target_pace"] = (target * (np.arange(len(days)) + 1) / len(days)) if target and target > 0 else np.nan
    return out


def top_open_deals(deals: pd.DataFrame, period: Period, n: int = 10) -> pd.DataFrame:
    """The largest open deals with a close date in the period."""
    sel = deals[(deals[S.STATUS] == S.OPEN) & deals[S.CLOSE_DATE].between(pd.Timestamp(period.start), pd.Timestamp(period.end))]
    cols = [S.NAME, S.ACCOUNT, S.OWNER, S.STAGE, S.AMOUNT, S.PROBABILITY, S.CLOSE_DATE]
    return sel.sort_values(S.AMOUNT, ascending=False, na_position="last").head(n)[cols].reset_index(drop=True)
