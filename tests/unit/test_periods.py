from datetime import date

import pandas as pd
import pytest

from salesops.errors import PeriodError
from salesops.periods import FiscalCalendar, parse_period


@pytest.mark.parametrize("text,start,end,kind", [
    ("2017", date(2017, 1, 1), date(2017, 12, 31), "year"),
    ("2017Q2", date(2017, 4, 1), date(2017, 6, 30), "quarter"),
    ("2017q4", date(2017, 10, 1), date(2017, 12, 31), "quarter"),
    ("2017-05", date(2017, 5, 1), date(2017, 5, 31), "month"),
    ("2016-02", date(2016, 2, 1), date(2016, 2, 29), "month"),
    ("2017-04-01..2017-06-30", date(2017, 4, 1), date(2017, 6, 30), "range"),
])
def test_parse_calendar_year(text, start, end, kind):
    p = parse_period(text)
    assert (p.start, p.end, p.kind) == (start, end, kind)


def test_fiscal_year_starting_in_july_is_named_by_its_ending_year():
    cal = FiscalCalendar(7)
    fy = cal.parse("2024")
    assert (fy.start, fy.end) == (date(2023, 7, 1), date(2024, 6, 30))
    q1 = cal.parse("2024Q1")
    assert (q1.start, q1.end) == (date(2023, 7, 1), date(2023, 9, 30))
    q3 = cal.quarter_of(date(2024, 2, 10))
    assert q3.label == "2024Q3" and q3.start == date(2024, 1, 1)
    # months are calendar months whatever the fiscal year
    assert cal.parse("2024-02").start == date(2024, 2, 1)


def test_fiscal_year_starting_in_february():
    cal = FiscalCalendar(2)
    assert cal.quarter_of(date(2024, 1, 31)).label == "2024Q4"
    assert cal.quarter_of(date(2024, 2, 1)).label == "2025Q1"
    assert cal.parse("2025Q1").end == date(2024, 4, 30)


@pytest.mark.parametrize("bad", ["2017Q5", "17Q1", "2017-13", "2017-06-30..2017-04-01", "next quarter", "2017-02-30..2017-03-01"])
def test_bad_periods_are_refused_with_the_text(bad):
    with pytest.raises(PeriodError) as err:
        parse_period(bad)
    assert bad.split("..")[0][:4] in str(err.value)


def test_bad_start_month():
    with pytest.raises(PeriodError):
        FiscalCalendar(13)


def test_shift_previous_and_same_last_year():
    cal = FiscalCalendar(1)
    q = cal.parse("2017Q1")
    assert cal.previous(q).label == "2016Q4"
    assert cal.shift(q, 5).label == "2018Q2"
    assert cal.same_last_year(q).label == "2016Q1"
    m = cal.parse("2017-01")
    assert cal.previous(m).label == "2016-12"
    r = cal.parse("2017-01-01..2017-01-10")
    assert (cal.previous(r).start, cal.previous(r).end) == (date(2016, 12, 22), date(2016, 12, 31))
    assert cal.same_last_year(cal.parse("2016-02-01..2016-02-29")).end == date(2015, 2, 28)


def test_period_starts_vectorised_matches_scalar():
    cal = FiscalCalendar(4)
    days = pd.Series(pd.date_range("2022-01-01", "2024-12-31", freq="5D"))
    for freq in ("W", "M", "Q", "Y"):
        vec = cal.period_starts(days, freq)
        scalar = [pd.Timestamp(cal.period_of(d.date(), freq).start) for d in days]
        assert list(vec) == scalar, freq
    with_nat = cal.period_starts(pd.Series([pd.NaT, pd.Timestamp("2024-05-05")]), "Q")
    assert pd.isna(with_nat.iloc[0]) and with_nat.iloc[1] == pd.Timestamp("2024-04-01")


def test_periods_between_covers_the_range():
    cal = FiscalCalendar(1)
    ps = cal.periods_between(date(2017, 2, 15), date(2017, 8, 1), "Q")
    assert [p.label for p in ps] == ["2017Q1", "2017Q2", "2017Q3"]
