"""salesops.trends on a hand-built workspace, every expected number worked out from the rows:
the period comparison (the same day of the previous period and of last year), pacing in words
against the target of the one rule, KPIs over time and the deals behind a bar."""
from datetime import date

import numpy as np
import pandas as pd
import pytest

from salesops import metrics, overview, trends, workspace
from salesops import schema as S
from salesops.filters import Filters

DEALS = pd.DataFrame([
    # id, owner, status, amount, created, close, probability, forecast category, region, product
    ("1", "Ann", "won", 1000.0, "2017-01-10", "2017-04-20", 1.0, "closed", "EMEA", "Core"),
    ("2", "Ann", "won", 3000.0, "2017-04-01", "2017-05-31", 1.0, "closed", "EMEA", "Core"),
    ("3", "Ann", "lost", 500.0, "2017-02-01", "2017-06-30", 0.0, "omitted", "EMEA", "Add-on"),
    ("4", "Ann", "open", 2000.0, "2017-04-02", "2017-06-15", 0.4, "best_case", "EMEA", "Core"),
    ("5", "Bob", "won", 4000.0, "2017-01-01", "2017-04-01", 1.0, "closed", None, "Add-on"),     # Bob's region: APAC
    ("6", "Bob", "open", 800.0, "2017-05-01", "2017-06-01", 0.5, "omitted", "APAC", None),
    ("7", "Bob", "won", 9999.0, "2017-01-01", "2017-07-01", 1.0, "closed", "APAC", "Core"),     # 2017Q3
    ("8", "Cy", "lost", None, "2017-03-03", "2017-03-31", 0.0, "omitted", "APAC", "Core"),       # 2017Q1
    ("9", "Ann", "won", 2000.0, "2016-03-01", "2016-04-15", 1.0, "closed", "EMEA", "Core"),     # 2016Q2, day 15
    ("10", "Bob", "won", 500.0, "2017-01-01", "2017-01-20", 1.0, "closed", "APAC", "Core"),     # 2017Q1
], columns=[S.OPPORTUNITY_ID, S.OWNER, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.PROBABILITY,
            S.FORECAST_CATEGORY, S.REGION, S.PRODUCT])
DEALS[S.STAGE] = DEALS[S.STATUS]
REPS = pd.DataFrame([
    ("Ann", "Mia", "East", "EMEA", "2015-01-01"), ("Bob", "Mia", "East", "APAC", "2015-01-01"),
    ("Cy", "Max", "West", "APAC", "2015-01-01"), ("Dee", "Max", "West", "APAC", "2017-05-01"),
], columns=[S.NAME, S.MANAGER, S.TEAM, S.REGION, S.HIRE_DATE])
Q2 = ("2017-04-01", "2017-06-30")
TARGETS = pd.DataFrame([("owner", "Ann", *Q2, 8000.0), ("owner", "Bob", *Q2, 3000.0), ("owner", "Cy", *Q2, 1000.0),
                        ("all", "all", *Q2, 10000.0), ("all", "all", "2017-07-01", "2017-09-30", 20000.0)],
                       columns=[S.SCOPE, S.SCOPE_NAME, S.PERIOD_START, S.PERIOD_END, S.AMOUNT])


def make_ws(targets=TARGETS):
    return workspace.from_frames(DEALS, reps=REPS, targets=targets, as_of=date(2017, 7, 1))


@pytest.fixture(scope="module")
def ws():
    return make_ws()


def f_(ws, period="2017Q2", as_of=None, **fields):
    return Filters.make(ws, period=period, as_of=as_of, **fields)


# --- the comparison --------------------------------------------------------------------------------
def test_compare_a_closed_quarter_by_hand(ws):
    c = trends.compare(ws, f_(ws))
    assert c.state == "closed" and (c.previous.label, c.last_year.label) == ("2017Q1", "2016Q2")
    # 2017Q2 won: 1000 + 3000 + 4000; 2017Q1: 500 (deal 10); 2016Q2: 2000 (deal 9)
    assert (c.current["won_amount"], c.prev["won_amount"], c.ly["won_amount"]) == (8000, 500, 2000)
    # won 3 of 4 closed in Q2, 1 of 2 in Q1: the change is in points
    assert c.current["win_rate"] == 0.75 and c.prev["win_rate"] == 0.5
    assert c.current["target"] == 10000 and c.current["attainment"] == 0.8  # the company target, not the reps' 12,000
    table = c.table().set_index("KPI")
    assert table.loc["Win rate", "Change"] == "+25 pts"
    assert table.loc["Bookings", "Change"] == "+$7.5K (+1500%)" and table.loc["Bookings", "Change vs 2016Q2"] == "+$6K (+300%)"
    assert "2017Q1: 50% (+25 pts); 2016Q2" in c.help("win_rate")
    assert c.text().startswith("Changes compare with 2017Q1 (01 Jan – 31 Mar 2017) and with 2016Q2")


def test_compare_a_running_quarter_up_to_the_same_day(ws):
    c = trends.compare(ws, f_(ws, as_of="2017-04-20"))
    assert c.state == "running"
    assert (c.previous_as_of, c.last_year_as_of) == (date(2017, 1, 20), date(2016, 4, 20))
    # by 20 Apr: deals 5 (1 Apr) and 1 (20 Apr); by 20 Jan: deal 10; by 20 Apr 2016: deal 9
    assert (c.current["won_amount"], c.prev["won_amount"], c.ly["won_amount"]) == (5000, 500, 2000)
    # open on 20 Apr: deals 2 (won later), 3 (lost later) and 4; deal 6 did not exist yet
    assert c.current["open_pipeline"] == 5500 and c.current["open_count"] == 3
    assert "up to the same day (01 Jan – 20 Jan 2017)" in c.text()


@pytest.mark.parametrize("period,as_of", [("2017Q2", None), ("2017Q2", "2017-05-10"), ("2017Q3", "2017-05-10")])
def test_the_previous_period_is_the_overviews(ws, period, as_of):
    f = f_(ws, period, as_of)
    c, s = trends.compare(ws, f), overview.standing(ws, f)
    assert c.state == s.state and c.previous == s.compare and c.previous_as_of == s.compare_as_of
    for mine, theirs in ((c.prev, s.previous), (c.current, s.current)):
        assert pd.Series(mine).equals(pd.Series(theirs))  # NaN where NaN


# --- pacing ----------------------------------------------------------------------------------------
def test_pacing_by_hand(ws):
    pc = trends.pacing(ws, f_(ws, as_of="2017-05-31"))
    fr = pc.frame.set_index("date")
    assert len(pc.frame) == 91 and pc.frame["day"].iloc[0] == 1
    assert fr.loc["2017-04-01", "won_to_date"] == 4000 and fr.loc["2017-04-20", "won_to_date"] == 5000
    assert fr.loc["2017-05-31", "won_to_date"] == 8000 and np.isnan(fr.loc["2017-06-01", "won_to_date"])
    assert fr.loc["2017-06-30", "target_line"] == pytest.approx(10000)  # the company target, by the rule
    # last year: 2,000 on 15 Apr 2016 (day 15), its whole quarter
    assert pc.frame.loc[pc.frame["day"] == 14, "last_year_to_date"].iloc[0] == 0
    assert pc.frame.loc[pc.frame["day"] == 15, "last_year_curve_to_target"].iloc[0] == pytest.approx(10000)
    assert (pc.day, pc.won_to_date, pc.last_year_same_day, pc.last_year_share) == (61, 8000, 2000, 1.0)
    tiles = {t.label: t for t in pc.tiles}
    even = tiles["Against an even pace to target"]
    gap = 8000 - 10000 * 61 / 91
    assert even.value == "$1.3K" and even.note == "ahead of an even pace to the company target" and even.good
    assert gap == pytest.approx(pc.pace["gap"])
    shape = tiles["Against last year's shape of the quarter"]
    # by day 61 last year had booked all of its quarter: 100% of 10,000 is expected, 8,000 is booked
    assert shape.value == "$2K" and shape.note == "behind 2016Q2's shape, scaled to this target" and shape.good is False
    assert "2016Q2 had booked 100.0% of its quarter's $2K" in shape.help
    ly = tiles["2016Q2 by the same day"]
    assert (ly.value, ly.note) == ("$2K", "this quarter +300%")


def test_pacing_is_the_overviews_pace():
    ws = make_ws()
    for as_of in ("2017-04-20", "2017-05-31", "2017-07-01"):
        f = f_(ws, as_of=as_of)
        assert trends.pacing(ws, f).pace == overview.standing(ws, f).pace


def test_pacing_without_any_target_says_so():
    ws = make_ws(targets=TARGETS.iloc[0:0])
    pc = trends.pacing(ws, f_(ws, as_of="2017-05-31"))
    assert pc.frame["target_line"].isna().all() and pc.frame["last_year_curve_to_target"].isna().all()
    tiles = {t.label: t for t in pc.tiles}
    assert (tiles["Target"].value, tiles["Target"].note) == ("–", "no target set for this period")
    assert not any("shape" in t for t in tiles)


def test_pacing_of_a_quarter_not_started(ws):
    pc = trends.pacing(ws, f_(ws, "2017Q3", as_of="2017-05-10"))
    assert pc.state == "future" and pc.day == 0 and pc.won_to_date == 0
    assert pc.frame["won_to_date"].isna().all()
    first = pc.tiles[0]
    assert (first.label, first.value, first.note) == ("Target", "$20K", "company target")
    # 2016Q3 booked nothing: no tile for its shape
    assert len(pc.tiles) == 1


def test_pacing_under_a_region_filter_uses_the_slice_target(ws):
    # EMEA: no region target, so the reps' targets of EMEA reps (Ann: 8,000)
    pc = trends.pacing(ws, f_(ws, as_of="2017-05-31", region=["EMEA"]))
    assert pc.target.amount == 8000 and pc.target.source == "reps"
    assert pc.won_to_date == 4000  # deals 1 and 2


# --- KPIs over time ------------------------------------------------------------------------------------
@pytest.mark.parametrize("freq", ["M", "Q"])
@pytest.mark.parametrize("by", [None, S.REGION, S.TEAM, S.PRODUCT])
def test_trend_rows_equal_the_kpis_of_each_period(ws, freq, by):
    f = f_(ws, as_of="2017-05-31")
    tr = trends.trend(ws, f, "won_amount", freq, 6 if freq == "M" else 3, by)
    assert tr.last.label == ("2017-05" if freq == "M" else "2017Q2")
    view = trends.with_field(ws, by)
    for label in tr.periods:
        p = ws.settings.calendar.parse(label)
        want = metrics.kpis(view, f, by, period=p).set_index(metrics.GROUP)
        got = tr.frame[tr.frame["period"] == label].set_index(metrics.GROUP)
        for g, row in want.iterrows():
            for k in ("won_amount", "win_rate", "open_pipeline", "target", "pipeline_created_amount"):
                a, b = row[k], got.loc[g, k]
                assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b), (label, g, k)
    assert set(tr.frame["kind"]) <= {"actual", "in progress", "not started"}


def test_trend_keeps_the_largest_groups_and_says_so(ws, monkeypatch):
    monkeypatch.setattr(trends, "TOP_GROUPS", 1)
    tr = trends.trend(ws, f_(ws), "won_amount", "Q", 2, S.REGION)
    # 2017Q1 + Q2 bookings: APAC 500 + 4000, EMEA 4000: the largest is APAC
    assert tr.groups == ["APAC"] and tr.dropped == 1
    assert "(the largest 1 of 2 by bookings)" in tr.caption("whole company")


# --- the deals behind a bar --------------------------------------------------------------------------
def behind_ids(ws, f, kpi, label, by=None, group=None):
    b = trends.deals_behind(ws, f, kpi, label, by, group)
    return sorted(b.deals[S.OPPORTUNITY_ID], key=int), b


def test_deals_behind_a_bar_follow_the_as_of_rule(ws):
    f = f_(ws)
    assert behind_ids(ws, f, "won_amount", "2017Q2")[0] == ["1", "2", "5"]
    assert behind_ids(ws, f, "win_rate", "2017Q2")[0] == ["1", "2", "3", "5"]
    got, b = behind_ids(ws, f, "won_amount", "2017-04", S.REGION, "APAC")
    assert got == ["5"] and b.text == "1 deals behind bookings in 2017-04 for APAC, $4K in total."  # deal 5 takes Bob's region
    early = f_(ws, as_of="2017-04-20")
    assert behind_ids(ws, early, "won_amount", "2017Q2")[0] == ["1", "5"]
    assert behind_ids(ws, early, "open_pipeline", "2017Q2")[0] == ["2", "3", "4"]   # as known on 20 Apr
    assert behind_ids(ws, early, "pipeline_created_amount", "2017Q2")[0] == ["2", "4"]
    got, b = behind_ids(ws, f, "won_amount", "2017Q2", S.PRODUCT, "Add-on")
    assert got == ["5"] and b.amount == 4000
    assert list(b.deals.columns) == [*trends.BEHIND_COLUMNS, S.PRODUCT]
