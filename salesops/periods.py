"""The fiscal calendar: period parsing and period arithmetic.

A fiscal year starts on the first day of ``fiscal_year_start_month`` and is named by the
calendar year in which it *ends* (with a January start, fiscal and calendar years agree;
with a July start, FY2024 runs 2023-07-01..2024-06-30). Quarters are three-month blocks from
the fiscal-year start. Weeks start on Monday.

Everything below works on (start, end) dates, so a 4-4-5 or 52/53-week calendar can later
replace :class:`FiscalCalendar` without touching the KPIs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from .errors import PeriodError

FREQS = ("W", "M", "Q", "Y")
FREQ_NAMES = {"W": "week", "M": "month", "Q": "quarter", "Y": "year"}


@dataclass(frozen=True)
class Period:
    """A closed date range [start, end] with a label such as ``2017Q2``."""

    start: date
    end: date
    label: str
    kind: str  # "year" | "quarter" | "month" | "week" | "range"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, d: date) -> bool:
        return self.start <= d <= self.end


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


@dataclass(frozen=True)
class FiscalCalendar:
    """Fiscal periods for a fiscal year starting in ``start_month`` (1-12)."""

    start_month: int = 1

    def __post_init__(self):
        if not 1 <= int(self.start_month) <= 12:
            raise PeriodError(f"fiscal year start month must be 1-12, not {self.start_month!r}")

    # -- naming ------------------------------------------------------------------------------
    def fiscal_year(self, d: date) -> int:
        """The fiscal year (named by its ending calendar year) that contains ``d``."""
        if self.start_month == 1:
            return d.year
        return d.year + 1 if d.month >= self.start_month else d.year

    def year_start(self, fiscal_year: int) -> date:
        if self.start_month == 1:
            return date(fiscal_year, 1, 1)
        return date(fiscal_year - 1, self.start_month, 1)

    # -- periods -------------------------------------------------------------------------------
    def year(self, fiscal_year: int) -> Period:
        start = self.year_start(fiscal_year)
        return Period(start, _add_months(start, 12) - timedelta(days=1), f"FY{fiscal_year}" if self.start_month != 1 else str(fiscal_year), "year")

    def quarter(self, fiscal_year: int, q: int) -> Period:
        if not 1 <= q <= 4:
            raise PeriodError(f"quarter must be 1-4, not {q}")
        start = _add_months(self.year_start(fiscal_year), 3 * (q - 1))
        return Period(start, _add_months(start, 3) - timedelta(days=1), f"{fiscal_year}Q{q}", "quarter")

    def month(self, year: int, month: int) -> Period:
        start = date(year, month, 1)
        return Period(start, _add_months(start, 1) - timedelta(days=1), f"{year}-{month:02d}", "month")

    def week(self, d: date) -> Period:
        start = d - timedelta(days=d.weekday())
        iso = start.isocalendar()
        return Period(start, start + timedelta(days=6), f"{iso[0]}-W{iso[1]:02d}", "week")

    def quarter_of(self, d: date) -> Period:
        fy = self.fiscal_year(d)
        months = (d.year - self.year_start(fy).year) * 12 + d.month - self.year_start(fy).month
        return self.quarter(fy, months // 3 + 1)

    def year_of(self, d: date) -> Period:
        return self.year(self.fiscal_year(d))

    def month_of(self, d: date) -> Period:
        return self.month(d.year, d.month)

    def period_of(self, d: date, freq: str) -> Period:
        """The week, month, quarter or year (``freq`` W/M/Q/Y) containing ``d``."""
        freq = freq.upper()
        if freq == "W":
            return self.week(d)
        if freq == "M":
            return self.month_of(d)
        if freq == "Q":
            return self.quarter_of(d)
        if freq == "Y":
            return self.year_of(d)
        raise PeriodError(f"frequency must be one of W, M, Q, Y, not {freq!r}")

    # -- arithmetic ------------------------------------------------------------------------------
    def shift(self, period: Period, n: int) -> Period:
        """The period ``n`` steps after (negative: before) ``period``, of the same kind.

        A custom range shifts by its own length."""
        if period.kind == "week":
            return self.week(period.start + timedelta(days=7 * n))
        if period.kind == "month":
            return self.month_of(_add_months(period.start, n))
        if period.kind == "quarter":
            return self.quarter_of(_add_months(period.start, 3 * n))
        if period.kind == "year":
            return self.year_of(_add_months(period.start, 12 * n))
        length = timedelta(days=period.days * n)
        s, e = period.start + length, period.end + length
        return Period(s, e, f"{s.isoformat()}..{e.isoformat()}", "range")

    def previous(self, period: Period) -> Period:
        return self.shift(period, -1)

    def same_last_year(self, period: Period) -> Period:
        """The same period one year earlier (52 weeks earlier for weeks)."""
        if period.kind == "week":
            return self.shift(period, -52)
        if period.kind in ("month", "quarter", "year"):
            return self.period_of(_add_months(period.start, -12), {"month": "M", "quarter": "Q", "year": "Y"}[period.kind])
        s, e = _minus_year(period.start), _minus_year(period.end)
        return Period(s, e, f"{s.isoformat()}..{e.isoformat()}", "range")

    def periods_between(self, start: date, end: date, freq: str) -> list[Period]:
        """Every period of ``freq`` that overlaps [start, end], in order."""
        out, p = [], self.period_of(start, freq)
        while p.start <= end:
            out.append(p)
            p = self.shift(p, 1)
        return out

    def calendar_table(self, start: date, end: date, freq: str) -> pd.DataFrame:
        """The periods of ``freq`` overlapping [start, end] as a table (label, start, end)."""
        rows = [(p.label, pd.Timestamp(p.start), pd.Timestamp(p.end)) for p in self.periods_between(start, end, freq)]
        return pd.DataFrame(rows, columns=["label", "start", "end"])

    def period_starts(self, dates: pd.Series, freq: str) -> pd.Series:
        """For each date (datetime64), the first day of its period (week, month, quarter, year).

        Vectorised; NaT stays NaT."""
        freq = freq.upper()
        d = pd.to_datetime(dates)
        if freq == "W":
            return (d - pd.to_timedelta(d.dt.weekday, unit="D")).dt.normalize()
        month_index = d.dt.year * 12 + (d.dt.month - 1)
        if freq == "M":
            step = 1
            offset = 0
        elif freq in ("Q", "Y"):
            step = 3 if freq == "Q" else 12
            offset = self.start_month - 1
        else:
            raise PeriodError(f"frequency must be one of W, M, Q, Y, not {freq!r}")
        valid = d.notna()
        start_index = ((month_index[valid].astype("int64") - offset) // step) * step + offset
        out = pd.Series(pd.NaT, index=d.index, dtype="datetime64[ns]")
        out[valid] = (start_index.to_numpy() - 1970 * 12).astype("datetime64[M]").astype("datetime64[ns]")
        return out

    # -- parsing ---------------------------------------------------------------------------------
    def parse(self, text: str) -> Period:
        """Parse ``2017`` (fiscal year), ``2017Q2``, ``2017-05``, ``2017-W07`` or ``2017-04-01..2017-06-30``."""
        t = str(text).strip()
        m = re.fullmatch(r"(?:FY)?(\d{4})", t, re.I)
        if m:
            return self.year(int(m.group(1)))
        m = re.fullmatch(r"(?:FY)?(\d{4})\s*-?\s*Q([1-4])", t, re.I)
        if m:
            return self.quarter(int(m.group(1)), int(m.group(2)))
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", t)
        if m and 1 <= int(m.group(2)) <= 12:
            return self.month(int(m.group(1)), int(m.group(2)))
        m = re.fullmatch(r"(\d{4})-W(\d{2})", t, re.I)
        if m:
            try:
                return self.week(date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1))
            except ValueError:
                pass
        m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})", t)
        if m:
            try:
                s, e = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
            except ValueError as exc:
                raise PeriodError(f"period {t!r}: {exc}") from None
            if e < s:
                raise PeriodError(f"period {t!r}: the end is before the start")
            return Period(s, e, f"{s.isoformat()}..{e.isoformat()}", "range")
        raise PeriodError(
            f"period {t!r} is not understood; use 2017 (fiscal year), 2017Q2, 2017-05 or 2017-04-01..2017-06-30"
        )


def _minus_year(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def parse_period(text: str, fiscal_year_start_month: int = 1) -> Period:
    """Parse a period text on the fiscal calendar starting in ``fiscal_year_start_month``."""
    return FiscalCalendar(fiscal_year_start_month).parse(text)
