"""Every KPI of DESIGN.md section 4 on small hand-computed fixtures, including the empty and
single-deal cases."""
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from salesops import metrics, targets, workspace
from salesops import schema as S


def deals_frame(rows) -> pd.DataFrame:
    """Deals as store.load_deals returns them: datetime64 dates, float amounts."""
    cols = [S.OPPORTUNITY_ID, S.OWNER, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.PROBABILITY,
            S.FORECAST_CATEGORY, S.REGION]
    frame = pd.DataFrame(rows, columns=cols)
    for c in (S.CREATED_DATE, S.CLOSE_DATE):
        frame[c] = pd.to_datetime(frame[c])
    frame[S.AMOUNT] = frame[S.AMOUNT].astype(float)
    frame[S.PROBABILITY] = frame[S.PROBABILITY].astype(float)
    return frame


# Q2 2017 = 2017-04-01 .. 2017-06-30 (91 days)
DEALS = deals_frame([
    ("1", "Ann", "won", 1000.0, "2017-01-10", "2017-04-20", 1.0, "closed", "EMEA"),    # cycle 100
    ("2", "Ann", "won", 3000.0, "2017-04-01", "2017-05-31", 1.0, "closed", "EMEA"),    # cycle 60, created in Q2
    ("3", "Ann", "lost", 500.0, "2017-02-01", "2017-06-30", 0.0, "omitted", "EMEA"),
    ("4", "Ann", "open", 2000.0, "2017-04-02", "2017-06-15", 0.4, "best_case", "EMEA"),  # created in Q2
    ("5", "Ann", "open", 700.0, "2017-03-01", "2017-06-20", 0.1, "omitted", "EMEA"),    # not in coverage
    ("6", "Bob", "won", 4000.0, "2017-01-01", "2017-04-01", 1.0, "closed", "APAC"),    # cycle 90
    ("7", "Bob", "won", 9999.0, "2017-01-01", "2017-07-01", 1.0, "closed", "APAC"),    # Q3
    ("8", "Bob", "lost", None, "2017-03-03", "2017-03-31", 0.0, "omitted", "APAC"),    # Q1
])
TARGETS = pd.DataFrame({
    S.SCOPE: ["owner", "owner"], S.SCOPE_NAME: ["Ann", "Bob"],
    S.PERIOD_START: pd.to_datetime(["2017-04-01", "2017-04-01"]), S.PERIOD_END: pd.to_datetime(["2017-06-30", "2017-06-30"]),
    S.AMOUNT: [8000.0, 3000.0]})
REPS = pd.DataFrame({S.NAME: ["Ann", "Bob"], S.MANAGER: ["Mia", "Max"], S.TEAM: ["East", "West"], S.REGION: ["EMEA", "APAC"]})


def row(frame, group):
    return frame.set_index("group").loc[group]


def test_every_kpi_by_owner_by_hand():
    k = metrics.period_kpis(DEALS, "2017-04-01", "2017-06-30", by=S.OWNER, targets=TARGETS, reps=REPS)
    ann = row(k, "Ann")
    assert ann["won_amount"] == 4000 and ann["won_count"] == 2 and ann["lost_count"] == 1
    assert ann["win_rate"] == pytest.approx(2 / 3)
    assert ann["avg_deal_size"] == 2000
    assert ann["avg_cycle_days"] == pytest.approx((100 + 60) / 2)
    assert ann["open_pipeline"] == 2700 and ann["open_count"] == 2
    assert ann["weighted_pipeline"] == pytest.approx(2000 * 0.4 + 700 * 0.1)
    assert ann["target"] == 8000 and ann["attainment"] == pytest.approx(0.5)
    # coverage: open pipeline without 'omitted' (2000) over what is left of the target (4000)
    assert ann["coverage"] == pytest.approx(2000 / 4000)
    assert ann["required_coverage"] == pytest.approx(1.5)
    # velocity: open_count x win_rate x avg deal / cycle = 2 x 2/3 x 2000 / 80
    assert ann["velocity"] == pytest.approx(2 * (2 / 3) * 2000 / 80)
    # pipeline created by created date in Q2: deals 2 and 4
    assert ann["pipeline_created_amount"] == 5000 and ann["pipeline_created_count"] == 2
    bob = row(k, "Bob")
    assert bob["won_amount"] == 4000 and bob["won_count"] == 1 and bob["lost_count"] == 0
    assert bob["win_rate"] == 1.0 and bob["avg_cycle_days"] == 90
    assert bob["attainment"] == pytest.approx(4000 / 3000)
    assert math.isnan(bob["coverage"])  # target already met: no remainder to cover
    assert bob["open_count"] == 0 and bob["velocity"] == 0


def test_team_row_and_roster_groups():
    d = workspace.attach_roster(DEALS, REPS)
    team = metrics.team_kpis(d, "2017-04-01", "2017-06-30", targets=TARGETS, reps=REPS)
    assert team["group"] == "all" and team["won_amount"] == 8000 and team["won_count"] == 3
    assert team["win_rate"] == pytest.approx(3 / 4)
    assert team["target"] == 11000
    by_mgr = metrics.period_kpis(d, "2017-04-01", "2017-06-30", by=S.MANAGER, targets=TARGETS, reps=REPS)
    assert dict(zip(by_mgr["group"], by_mgr["target"])) == {"Max": 3000, "Mia": 8000}


def test_beta_interval_by_hand():
    # one win, no loss: posterior Beta(2, 1) has CDF x^2, so the 80% interval is [sqrt(.1), sqrt(.9)]
    low, high = metrics.win_rate_interval(1, 0, 0.8)
    assert float(low) == pytest.approx(math.sqrt(0.1)) and float(high) == pytest.approx(math.sqrt(0.9))
    # no closed deals: no interval
    low, high = metrics.win_rate_interval(0, 0)
    assert np.isnan(low) and np.isnan(high)
    # a small sample is wider than a large one with the same rate
    l1, h1 = metrics.win_rate_interval(2, 1)
    l2, h2 = metrics.win_rate_interval(200, 100)
    assert (h1 - l1) > 5 * (h2 - l2)


def test_shrunk_win_rate_by_hand():
    # 2 of 3 shrunk toward 30% with 10 pseudo-deals: (2 + 3) / (3 + 10)
    assert float(metrics.shrunk_win_rate(2, 1, 0.3, 10)) == pytest.approx(5 / 13)
    assert float(metrics.shrunk_win_rate(0, 0, 0.3, 10)) == pytest.approx(0.3)


def test_empty_deals_give_one_team_row_of_zeros_and_nulls():
    empty = DEALS.iloc[:0]
    k = metrics.period_kpis(empty, "2017-04-01", "2017-06-30")
    assert list(k["group"]) == ["all"]
    r = k.iloc[0]
    assert r["won_amount"] == 0 and r["won_count"] == 0 and r["lost_count"] == 0 and r["open_count"] == 0
    for key in ("win_rate", "win_rate_low", "avg_deal_size", "avg_cycle_days", "attainment", "coverage", "required_coverage", "velocity"):
        assert np.isnan(r[key]), key
    assert metrics.period_kpis(empty, "2017-04-01", "2017-06-30", by=S.OWNER).empty


def test_single_won_deal():
    one = DEALS[DEALS[S.OPPORTUNITY_ID] == "6"]
    r = metrics.period_kpis(one, "2017-04-01", "2017-06-30", by=S.OWNER).iloc[0]
    assert r["group"] == "Bob" and r["won_amount"] == 4000 and r["won_count"] == 1
    assert r["win_rate"] == 1.0 and r["avg_deal_size"] == 4000 and r["avg_cycle_days"] == 90
    assert r["win_rate_low"] == pytest.approx(math.sqrt(0.1))
    assert np.isnan(r["target"]) and np.isnan(r["attainment"]) and np.isnan(r["coverage"])
    assert r["velocity"] == 0  # nothing open


def test_single_lost_deal_has_zero_win_rate_and_no_deal_size():
    one = DEALS[DEALS[S.OPPORTUNITY_ID] == "3"]
    r = metrics.period_kpis(one, "2017-04-01", "2017-06-30").iloc[0]
    assert r["win_rate"] == 0 and np.isnan(r["avg_deal_size"]) and np.isnan(r["required_coverage"])


def test_target_pro_rated_for_a_month():
    t = targets.TargetBook(TARGETS, date(2017, 5, 1), date(2017, 5, 31)).scope("owner")
    assert t["Ann"] == pytest.approx(8000 * 31 / 91)


def test_pace_by_hand():
    p = metrics.pace(3000.0, 9100.0, date(2017, 4, 1), date(2017, 6, 30), date(2017, 5, 10))
    # 40 of 91 days elapsed
    assert p["elapsed_share"] == pytest.approx(40 / 91)
    assert p["expected_by_now"] == pytest.approx(9100 * 40 / 91)
    assert p["gap"] == pytest.approx(3000 - 4000)
    assert p["needed_per_day"] == pytest.approx(6100 / 51)
