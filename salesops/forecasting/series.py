"""Booked-revenue series: won deals summed per week, month or quarter, per group.

The unit every model works on is one *complete* period: a period counts only when its last
day is on or before ``train_until`` (deals closed after ``train_until`` are never read), so a
forecast never learns from a half-finished month. The first forecast period is the one after
the last complete period (it may already have started).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from .. import schema as S
from ..errors import InputError
from ..periods import FiscalCalendar

GROUP = "group"
ALL = "all"
PERIOD_START = "period_start"
MEASURES = ("won_amount", "won_count")
FREQS = ("W", "M", "Q")
#: Periods in a seasonal cycle, per frequency.
SEASON_LENGTH = {"W": 52, "M": 12, "Q": 4}
FREQ_WORDS = {"W": "week", "M": "month", "Q": "quarter"}
#: A group's first periods are left out while each booked less than this share of the group's
#: median period: a history usually starts part-way through a period (or with a ramp-up), and
#: a first month of $12k before $1M months would teach every model a false trend.
PARTIAL_START = 0.25


@dataclass
class SeriesSet:
    """Many series on one period grid.

    ``frame`` has columns group, period_start (Timestamp), y; each group runs from its first
    period with a booking to ``last_start`` with zeros filled in. ``future`` lists the
    period starts of the forecast horizon."""

    frame: pd.DataFrame
    freq: str
    measure: str
    train_until: pd.Timestamp
    last_start: pd.Timestamp | None
    future: list[pd.Timestamp]
    calendar: FiscalCalendar
    trimmed: dict = field(default_factory=dict)   # {group: [period starts left out as a partial start]}

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(self.frame[GROUP]))

    def values(self, group: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
        part = self.frame[self.frame[GROUP] == group]
        return part["y"].to_numpy(dtype=float), pd.DatetimeIndex(part[PERIOD_START])


def check_options(freq: str, measure: str, horizon: int | None = None) -> str:
    """Validate the user's choices; returns the upper-case frequency."""
    f = str(freq).upper()
    if f not in FREQS:
        raise InputError(f"--freq must be W, M or Q, not {freq!r}")
    if measure not in MEASURES:
        raise InputError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")
    if horizon is not None and not 1 <= int(horizon) <= 104:
        raise InputError(f"--horizon must be between 1 and 104 periods, not {horizon}")
    return f


def default_train_until(deals: pd.DataFrame) -> pd.Timestamp | None:
    """The latest close date of a closed (won or lost) deal: the data's own 'today'."""
    closed = deals[deals[S.STATUS].isin([S.WON, S.LOST])][S.CLOSE_DATE].dropna()
    return closed.max() if not closed.empty else None


def future_starts(calendar: FiscalCalendar, last_start: pd.Timestamp, freq: str, horizon: int) -> list[pd.Timestamp]:
    """The ``horizon`` period starts after the period starting at ``last_start``."""
    p = calendar.period_of(pd.Timestamp(last_start).date(), freq)
    out = []
    for _ in range(horizon):
        p = calendar.shift(p, 1)
        out.append(pd.Timestamp(p.start))
    return out


def build_series(deals: pd.DataFrame, *, freq: str = "M", measure: str = "won_amount", by: str | None = None,
                 train_until=None, horizon: int = 6, calendar: FiscalCalendar | None = None) -> SeriesSet:
    """Won amount (or count) per complete period and group from the deals frame.

    ``deals`` needs status, amount and close_date (and the ``by`` column). Deals closed after
    ``train_until`` (default: the latest close date of a closed deal) are ignored. Groups
    with no won deal at all are left out; a group starts at its first booking."""
    freq = check_options(freq, measure, horizon)
    calendar = calendar or FiscalCalendar()
    if by is not None and by not in deals.columns:
        raise InputError(f"--by {by!r} is not a field of the deals; use e.g. owner, region, segment, manager or team")
    tu = pd.Timestamp(train_until) if train_until is not None else default_train_until(deals)
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].notna()]
    if tu is not None and not pd.isna(tu):
        won = won[won[S.CLOSE_DATE] <= tu]
    empty = pd.DataFrame({GROUP: pd.Series(dtype=object), PERIOD_START: pd.Series(dtype="datetime64[ns]"), "y": pd.Series(dtype=float)})
    if tu is None or pd.isna(tu) or won.empty:
        return SeriesSet(empty, freq, measure, tu if tu is not None else pd.NaT, None, [], calendar)
    # last complete period: the one ending on or before train_until
    p = calendar.period_of(tu.date(), freq)
    if pd.Timestamp(p.end) > tu.normalize():
        p = calendar.shift(p, -1)
    last_start = pd.Timestamp(p.start)
    starts = calendar.period_starts(won[S.CLOSE_DATE], freq)
    value = won[S.AMOUNT].fillna(0.0).astype(float) if measure == "won_amount" else pd.Series(1.0, index=won.index)
    key = won[by].fillna("(blank)").astype(str) if by else pd.Series(ALL, index=won.index)
    agg = pd.DataFrame({GROUP: key, PERIOD_START: starts, "y": value})
    agg = agg[agg[PERIOD_START] <= last_start].groupby([GROUP, PERIOD_START], sort=True)["y"].sum()
    if agg.empty:
        return SeriesSet(empty, freq, measure, tu, last_start, future_starts(calendar, last_start, freq, horizon), calendar)
    first = agg.index.get_level_values(PERIOD_START).min()
    grid = [pd.Timestamp(x.start) for x in calendar.periods_between(first.date(), last_start.date(), freq)]
    parts = []
    trimmed = {}
    for g, s in agg.groupby(level=GROUP, sort=True):
        s = s.droplevel(GROUP)
        g_grid = [d for d in grid if d >= s.index.min()]
        full = s.reindex(g_grid, fill_value=0.0)
        values = full.to_numpy(dtype=float)
        limit = PARTIAL_START * float(np.median(values))
        k = 0
        while k < len(values) - 2 and values[k] < limit:
            k += 1
        if k:
            trimmed[str(g)] = list(full.index[:k])
        parts.append(pd.DataFrame({GROUP: g, PERIOD_START: full.index[k:], "y": values[k:]}))
    frame = pd.concat(parts, ignore_index=True)
    return SeriesSet(frame, freq, measure, tu, last_start, future_starts(calendar, last_start, freq, horizon), calendar,
                     trimmed)


def actuals(deals: pd.DataFrame, *, freq: str, measure: str = "won_amount", by: str | None = None,
            calendar: FiscalCalendar | None = None) -> pd.DataFrame:
    """Every period's actual (group, period_start, y) from all deals, no cut-off: for scoring."""
    calendar = calendar or FiscalCalendar()
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].notna()]
    starts = calendar.period_starts(won[S.CLOSE_DATE], freq)
    value = won[S.AMOUNT].fillna(0.0).astype(float) if measure == "won_amount" else pd.Series(1.0, index=won.index)
    key = won[by].fillna("(blank)").astype(str) if by else pd.Series(ALL, index=won.index)
    return (pd.DataFrame({GROUP: key, PERIOD_START: starts, "y": value})
            .groupby([GROUP, PERIOD_START], sort=True)["y"].sum().reset_index())


def to_date(x) -> date | None:
    return None if x is None or pd.isna(x) else pd.Timestamp(x).date()


# --- the running period: booked to date + the forecast of the rest ---------------------------------
#: Earlier periods whose share booked by the same day sets the running period's split: the
#: same position in the quarter for months (3, 6, 9 and 12 months back: a quarter-end month
#: books late), the last four quarters, the last eight weeks.
SHARE_LAGS = {"M": (3, 6, 9, 12), "Q": (1, 2, 3, 4), "W": tuple(range(1, 9))}


def datetimes(col: pd.Series) -> pd.Series:
    """``pd.to_datetime(col)``, skipped for a column of datetimes already: ``pd.to_datetime``
    samples every Series it is given for its cache (a Timestamp per row), which costs more than
    the rest of a landing zone's date arithmetic."""
    return col if pd.api.types.is_datetime64_any_dtype(col) else pd.to_datetime(col)


def as_dates(col: pd.Series) -> pd.Series:
    """A column as dates (midnight), parsed only when it is not a date column already."""
    return datetimes(col).dt.normalize()


def won_values(deals: pd.DataFrame, measure: str = "won_amount") -> tuple[pd.Series, pd.Series]:
    """(close date, value) of the won deals with a close date: what :func:`booked_between` and
    :func:`share_booked` read, to pass them as ``won=`` when they are asked about the same
    deals many times (the landing zone's calibration asks two dozen times)."""
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].notna()]
    value = won[S.AMOUNT].fillna(0.0).astype(float) if measure == "won_amount" else pd.Series(1.0, index=won.index)
    return as_dates(won[S.CLOSE_DATE]), value


def booked_between(deals: pd.DataFrame, start, end, *, measure: str = "won_amount", by: str | None = None,
                   won: tuple[pd.Series, pd.Series] | None = None) -> pd.Series:
    """Won amount (or count) with a close date in [start, end], per group ("all" without ``by``);
    ``won``: :func:`won_values` of ``deals`` for ``measure``, when already known."""
    close, value = won if won is not None else won_values(deals, measure)
    inside = (close >= pd.Timestamp(start)) & (close <= pd.Timestamp(end))
    key = deals.loc[close.index, by].fillna("(blank)").astype(str) if by else pd.Series(ALL, index=close.index)
    return value[inside].groupby(key[inside]).sum()


def share_booked(deals: pd.DataFrame, calendar: FiscalCalendar, freq: str, period_start, as_of, *,
                 measure: str = "won_amount", won: tuple[pd.Series, pd.Series] | None = None) -> tuple[float, str]:
    """The share of a period's bookings usually closed by ``as_of``'s day of the period.

    Over the earlier periods of :data:`SHARE_LAGS` that were over by ``as_of``: the bookings
    closed by the same day of each (days since its start) over their totals (a ratio of sums,
    all groups together). Without such history: the share of the period's days elapsed.
    Returns (share, how it was found)."""
    as_of = pd.Timestamp(as_of).normalize()
    running = calendar.period_of(pd.Timestamp(period_start).date(), freq)
    offset = (as_of - pd.Timestamp(running.start)).days
    elapsed = min(max((offset + 1) / running.days, 0.0), 1.0)
    if won is None:
        close, value = won_values(deals[deals[S.CLOSE_DATE] <= as_of], measure)
    else:  # the same rows: a won deal's close date here is already a date
        close, value = won
        by_then = (close <= as_of).to_numpy()
        close, value = close[by_then], value[by_then]
    close, value = close.to_numpy(dtype="datetime64[ns]"), value.to_numpy(dtype=float)
    by_day, total, used = 0.0, 0.0, 0
    for lag in SHARE_LAGS.get(freq, (1, 2, 3, 4)):
        p = calendar.shift(running, -lag)
        start, end = pd.Timestamp(p.start), pd.Timestamp(p.end)
        if end > as_of:
            continue
        cut = min(start + pd.Timedelta(days=offset), end)
        inside = (close >= start.to_datetime64()) & (close <= end.to_datetime64())
        t = float(value[inside].sum())
        if t <= 0:
            continue
        by_day += float(value[inside & (close <= cut.to_datetime64())].sum())
        total += t
        used += 1
    if total > 0:
        return by_day / total, f"the share booked by day {offset + 1} in the {used} comparable earlier {FREQ_WORDS[freq]}s"
    return elapsed, f"the share of the {FREQ_WORDS[freq]}'s days elapsed (no earlier {FREQ_WORDS[freq]}s to learn from)"


def split_running(yhat: np.ndarray, lower: np.ndarray, upper: np.ndarray, booked: float, share: float) -> tuple:
    """The running period as booked to date + the forecast of its rest: the full-period
    forecast (and its range) times the share still to come, on top of what is booked."""
    rest = max(1.0 - float(share), 0.0)
    return booked + yhat * rest, booked + lower * rest, booked + upper * rest, yhat * rest


def series_from_values(y, ds, freq: str = "M", *, group: str = ALL, measure: str = "won_amount",
                       calendar: FiscalCalendar | None = None) -> SeriesSet:
    """A one-group :class:`SeriesSet` from values ``y`` at period starts ``ds`` (oldest first):
    for benchmarks and tests on fixed series. Its training date is the last period's end."""
    freq = check_options(freq, measure)
    calendar = calendar or FiscalCalendar()
    ds = pd.DatetimeIndex(pd.to_datetime(ds))
    frame = pd.DataFrame({GROUP: group, PERIOD_START: ds, "y": np.asarray(y, dtype=float)})
    last = calendar.period_of(ds[-1].date(), freq)
    return SeriesSet(frame, freq, measure, pd.Timestamp(last.end), pd.Timestamp(last.start), [], calendar)


def with_horizon(ss: SeriesSet, horizon: int) -> SeriesSet:
    """``ss`` with its forecast periods set for ``horizon`` periods."""
    fut = future_starts(ss.calendar, ss.last_start, ss.freq, horizon) if ss.last_start is not None else []
    return SeriesSet(ss.frame, ss.freq, ss.measure, ss.train_until, ss.last_start, fut, ss.calendar, ss.trimmed)
