from datetime import date

import pandas as pd
import pytest

from salesops import overview, workspace
from salesops.filters import Filters
from salesops.periods import FiscalCalendar

CAL = FiscalCalendar(1)


def standing(period, as_of):
    ws = workspace.from_frames(deals(), targets=TARGETS)
    return overview.standing(ws, Filters.make(ws, period, as_of=as_of))


def deals():
    return pd.DataFrame({
        "opportunity_id": list("abcdef"), "owner": ["A"] * 6,
        "status": ["won", "won", "won", "open", "lost", "won"],
        "amount": [100.0, 200.0, 400.0, 1000.0, 50.0, 300.0],
        "created_date": pd.to_datetime(["2017-01-01"] * 6),
        "close_date": pd.to_datetime(["2017-01-05", "2017-02-09", "2017-04-05", "2017-05-01", "2017-04-02", "2017-05-20"]),
        "probability": [1, 1, 1, 0.5, 0, 1], "forecast_category": [None] * 6, "name": list("abcdef"),
        "account": list("abcdef"), "stage": ["Won"] * 6,
    })


TARGETS = pd.DataFrame({"scope": ["owner"], "scope_name": ["A"], "period_start": pd.to_datetime(["2017-04-01"]),
                        "period_end": pd.to_datetime(["2017-06-30"]), "amount": [910.0]})


def test_in_progress_period_counts_to_as_of_and_compares_to_the_same_point():
    s = standing("2017Q2", date(2017, 5, 10))
    assert s.in_progress
    # as of 10 May: won 400 (5 Apr); the 300 of 20 May is not booked yet
    assert s.current["won_amount"] == 400.0
    # previous quarter up to the same day (10 May is day 40 of Q2; day 40 of Q1 is 9 Feb): 100 + 200
    assert s.previous["won_amount"] == 300.0
    assert s.compare_label == "vs the same point last quarter"
    # pace: 91 days, 40 elapsed -> 400 expected by now, gap 0; 510 left over 51 days
    assert s.pace["expected_by_now"] == pytest.approx(910 * 40 / 91)
    assert s.pace["needed_per_day"] == pytest.approx(510 / 51)
    assert s.current["attainment"] == pytest.approx(400 / 910)
    cum = s.cumulative.set_index("day")
    assert cum.loc["2017-04-05", "won_to_date"] == 400.0 and pd.isna(cum.loc["2017-05-20", "won_to_date"])
    # open on 10 May: the open deal, and the 300 won on 20 May (it was still open then)
    assert s.top_open["amount"].tolist() == [1000.0, 300.0]


def test_finished_period_compares_with_the_whole_previous_one():
    s = standing("2017Q2", date(2017, 8, 1))
    assert not s.in_progress
    assert s.current["won_amount"] == 700.0 and s.previous["won_amount"] == 300.0
    assert s.compare_label == "vs last quarter"
    trend = s.trend.set_index("period")
    assert trend.loc["2017Q2", "won_amount"] == 700.0 and trend.loc["2017Q2", "target"] == 910.0
    assert trend.loc["2017Q1", "won_amount"] == 300.0 and pd.isna(trend.loc["2017Q1", "target"])
