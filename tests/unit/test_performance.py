"""salesops.performance on hand-built fixtures: time series, comparisons, pacing, the cube,
leaderboard, consistency, coaching flags, ramp and roll-up."""
import math

import numpy as np
import pandas as pd
import pytest

from salesops import metrics
from salesops import performance as P
from salesops import schema as S
from salesops.periods import FiscalCalendar

CAL = FiscalCalendar(1)


def deals_frame(rows) -> pd.DataFrame:
    cols = [S.OPPORTUNITY_ID, S.OWNER, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.PROBABILITY,
            S.FORECAST_CATEGORY, S.REGION, S.SEGMENT]
    f = pd.DataFrame(rows, columns=cols)
    for c in S.DATE_FIELDS:
        f[c] = pd.to_datetime(f[c])
    f[S.AMOUNT] = f[S.AMOUNT].astype(float)
    f[S.PROBABILITY] = f[S.PROBABILITY].astype(float)
    return f


def reps_frame(rows) -> pd.DataFrame:
    f = pd.DataFrame(rows, columns=[S.NAME, S.MANAGER, S.TEAM, S.REGION, S.HIRE_DATE, S.END_DATE, S.ACTIVE])
    f[S.HIRE_DATE] = pd.to_datetime(f[S.HIRE_DATE])
    f[S.END_DATE] = pd.to_datetime(f[S.END_DATE])
    return f


DEALS = deals_frame([
    ("1", "Ann", "won", 1000.0, "2017-01-10", "2017-04-20", 1.0, "closed", "EMEA", "SMB"),
    ("2", "Ann", "won", 3000.0, "2017-04-01", "2017-05-31", 1.0, "closed", "EMEA", "SMB"),
    ("3", "Ann", "lost", 500.0, "2017-02-01", "2017-06-30", 0.0, "omitted", "EMEA", "Enterprise"),
    ("4", "Ann", "open", 2000.0, "2017-04-02", "2017-06-15", 0.4, "best_case", "EMEA", "SMB"),
    ("5", "Bob", "won", 4000.0, "2017-01-01", "2017-04-01", 1.0, "closed", None, "Enterprise"),
    ("6", "Bob", "open", 800.0, "2017-05-01", "2017-06-01", 0.5, "omitted", "APAC", "SMB"),
    ("7", "Bob", "won", 9999.0, "2017-01-01", "2017-07-01", 1.0, "closed", "APAC", "SMB"),
    ("8", "Cy", "lost", None, "2017-03-03", "2017-03-31", 0.0, "omitted", "APAC", "SMB"),
    ("9", "Ann", "won", 2000.0, "2016-03-01", "2016-04-15", 1.0, "closed", "EMEA", "SMB"),   # last year's Q2
    ("10", "Bob", "won", 500.0, "2017-01-01", "2017-01-20", 1.0, "closed", "APAC", "SMB"),   # previous quarter
])
REPS = reps_frame([
    ("Ann", "Mia", "East", "EMEA", "2015-01-01", None, 1),
    ("Bob", "Mia", "East", "APAC", "2015-01-01", None, 1),
    ("Cy", "Max", "West", "APAC", "2015-01-01", None, 1),
    ("Dee", "Max", "West", "APAC", "2017-05-01", None, 1),   # hired in Q2, no deals yet
])
TARGETS = pd.DataFrame({
    S.SCOPE: ["owner"] * 3, S.SCOPE_NAME: ["Ann", "Bob", "Cy"],
    S.PERIOD_START: pd.to_datetime(["2017-04-01"] * 3), S.PERIOD_END: pd.to_datetime(["2017-06-30"] * 3),
    S.AMOUNT: [8000.0, 3000.0, 1000.0]})
Q2 = CAL.parse("2017Q2")


def roster_deals():
    return metrics.attach_roster(DEALS, REPS)


# --- the cube and time series equal metrics.period_kpis ----------------------------------------
@pytest.mark.parametrize("by", [S.OWNER, S.REGION, S.MANAGER, S.TEAM, None])
@pytest.mark.parametrize("period", ["2017Q2", "2017", "2017-05", "2017-04-10..2017-05-31", "2016Q2", "2030Q1"])
def test_cube_kpis_equal_period_kpis(by, period):
    d = roster_deals()
    p = CAL.parse(period)
    cube = P.rep_day_cube(d)
    a = metrics.period_kpis(d, p.start, p.end, by=by, targets=TARGETS, reps=REPS).sort_values("group", ignore_index=True)
    b = P.cube_kpis(cube, p.start, p.end, by=by, targets=TARGETS, reps=REPS)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_cube_kpis_on_random_deals_equal_period_kpis():
    rng = np.random.default_rng(7)
    n = 3000
    created = pd.Timestamp("2016-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    d = pd.DataFrame({
        S.OPPORTUNITY_ID: np.arange(n).astype(str), S.OWNER: rng.choice(["A", "B", "C", "D", "E"], n),
        S.STATUS: rng.choice([S.WON, S.LOST, S.OPEN], n, p=[0.3, 0.5, 0.2]),
        S.AMOUNT: np.where(rng.random(n) < 0.05, np.nan, rng.gamma(2, 5000, n).round()),
        S.CREATED_DATE: created, S.CLOSE_DATE: created + pd.to_timedelta(rng.integers(0, 200, n), unit="D"),
        S.PROBABILITY: rng.random(n), S.FORECAST_CATEGORY: rng.choice(["pipeline", "commit", "omitted"], n),
        S.REGION: rng.choice(["N", "S", None], n),
    })
    d.loc[rng.random(n) < 0.03, S.CLOSE_DATE] = pd.NaT
    cube = P.rep_day_cube(d)
    for p in CAL.periods_between(pd.Timestamp("2016-01-01").date(), pd.Timestamp("2017-12-31").date(), "Q"):
        for by in (S.OWNER, S.REGION, None):
            a = metrics.period_kpis(d, p.start, p.end, by=by).sort_values("group", ignore_index=True)
            b = P.cube_kpis(cube, p.start, p.end, by=by)
            pd.testing.assert_frame_equal(a, b, check_dtype=False)


@pytest.mark.parametrize("freq", ["W", "M", "Q"])
@pytest.mark.parametrize("by", [None, S.SEGMENT, S.TEAM])
def test_kpi_series_rows_equal_period_kpis(freq, by):
    d = roster_deals()
    s = P.kpi_series(d, CAL, freq, "2017-01-01", "2017-06-30", by=by, targets=TARGETS, reps=REPS)
    periods = CAL.periods_between(pd.Timestamp("2017-01-01").date(), pd.Timestamp("2017-06-30").date(), freq)
    assert s["period_start"].nunique() == len(periods)
    for p in periods:
        want = metrics.period_kpis(d, p.start, p.end, by=by, targets=TARGETS, reps=REPS)
        got = s[s["period_start"] == pd.Timestamp(p.start)].set_index("group")
        for r in want.itertuples(index=False):
            g = got.loc[r.group]
            for k in ("won_amount", "won_count", "lost_count", "win_rate", "avg_cycle_days", "open_pipeline",
                      "target", "attainment", "coverage", "velocity", "pipeline_created_amount"):
                a, b = getattr(r, k), g[k]
                assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b), (p.label, r.group, k)
        # groups with nothing in the period appear as zeros, so bars line up
        assert (got.drop(index=list(want["group"]), errors="ignore")["won_amount"] == 0).all()


def test_kpi_series_on_no_deals_is_empty_or_zero():
    empty = DEALS.iloc[:0]
    s = P.kpi_series(empty, CAL, "M", "2017-01-01", "2017-03-31")
    assert list(s["won_amount"]) == [0, 0, 0] and s["win_rate"].isna().all()
    assert P.kpi_series(empty, CAL, "M", "2017-01-01", "2017-03-31", by=S.REGION).empty


# --- comparisons and pacing ----------------------------------------------------------------------
def test_compare_periods_by_hand():
    c = P.compare_periods(DEALS, CAL, Q2, targets=TARGETS).set_index("kpi")
    assert c.attrs["previous"] == "2017Q1" and c.attrs["last_year"] == "2016Q2"
    # Q2 2017 won: 1000 + 3000 + 4000; Q1 2017: 500; Q2 2016: 2000
    assert c.loc["won_amount", "current"] == 8000
    assert c.loc["won_amount", "previous"] == 500
    assert c.loc["won_amount", "last_year"] == 2000
    assert c.loc["won_amount", "vs_previous"] == pytest.approx(15.0)
    assert c.loc["won_amount", "vs_last_year"] == pytest.approx(3.0)
    assert c.loc["attainment", "current"] == pytest.approx(8000 / 12000)
    # Q1 2017 closed: won 500 (deal 10), lost deal 8 -> 50%
    assert c.loc["win_rate", "previous"] == pytest.approx(0.5)


def test_compare_periods_to_the_same_day_while_in_progress():
    # as of 2017-04-20 (20 days in): Q2 has won 4000 (04-01) + 1000 (04-20); Q2 2016 by 04-20: 2000 (04-15)
    c = P.compare_periods(DEALS, CAL, Q2, as_of="2017-04-20", targets=TARGETS).set_index("kpi")
    assert c.attrs["to_date_days"] == 20
    assert c.loc["won_amount", "current"] == 5000
    assert c.loc["won_amount", "last_year"] == 2000
    assert c.loc["won_amount", "previous"] == 500  # 2017-01-01..01-20 holds deal 10
    assert c.loc["attainment", "current"] == pytest.approx(5000 / 12000)


def test_pacing_by_hand():
    pf = P.pacing(DEALS, CAL, Q2, "2017-05-31", targets=TARGETS)
    assert len(pf) == 91 and pf["day"].iloc[0] == 1
    at = pf.set_index("date")
    assert at.loc["2017-04-01", "won_to_date"] == 4000
    assert at.loc["2017-04-20", "won_to_date"] == 5000
    assert at.loc["2017-05-31", "won_to_date"] == 8000
    assert math.isnan(at.loc["2017-06-01", "won_to_date"])  # after as_of
    assert at.loc["2017-06-30", "target_line"] == pytest.approx(12000)
    assert at.loc["2017-05-31", "target_line"] == pytest.approx(12000 * 61 / 91)
    # last year: 2000 on 2016-04-15 = day 15; its whole-quarter total is 2000
    assert pf.loc[pf["day"] == 14, "last_year_to_date"].iloc[0] == 0
    assert pf.loc[pf["day"] == 15, "last_year_to_date"].iloc[0] == 2000
    assert pf.loc[pf["day"] == 15, "last_year_curve_to_target"].iloc[0] == pytest.approx(12000)
    s = P.pacing_summary(pf, "2017-05-31")
    assert s["won_to_date"] == 8000 and s["day"] == 61 and s["last_year_same_day"] == 2000
    assert s["expected_by_target_line"] == pytest.approx(12000 * 61 / 91)


def test_pacing_without_target_or_deals():
    pf = P.pacing(DEALS.iloc[:0], CAL, Q2, "2017-05-31")
    assert pf["target_line"].isna().all() and (pf["won_to_date"].dropna() == 0).all()
    assert P.pacing_summary(pf, "2017-05-31")["won_to_date"] == 0


def test_deals_behind_a_bar():
    d = roster_deals()
    got = P.deals_behind(d, CAL, "Q", "2017-04-01", kpi="won_amount")
    assert sorted(got[S.OPPORTUNITY_ID]) == ["1", "2", "5"]
    got = P.deals_behind(d, CAL, "M", "2017-04-01", kpi="won_amount", by=S.REGION, group="APAC")
    assert list(got[S.OPPORTUNITY_ID]) == ["5"]  # blank deal region filled from Bob's roster region
    got = P.deals_behind(d, CAL, "Q", "2017-04-01", kpi="open_pipeline")
    assert sorted(got[S.OPPORTUNITY_ID]) == ["4", "6"]
    got = P.deals_behind(d, CAL, "Q", "2017-04-01", kpi="pipeline_created_amount")
    assert sorted(got[S.OPPORTUNITY_ID]) == ["2", "4", "6"]
    got = P.deals_behind(d, CAL, "Q", "2017-04-01", kpi="win_rate")
    assert sorted(got[S.OPPORTUNITY_ID]) == ["1", "2", "3", "5"]


# --- consistency ---------------------------------------------------------------------------------
def monthly_deals(owner, amounts, start="2016-01-15"):
    """One won deal per month on the 15th with the given amounts (0 = no deal)."""
    rows = []
    for i, a in enumerate(amounts):
        day = pd.Timestamp(start) + pd.DateOffset(months=i)
        if a:
            rows.append((f"{owner}{i}", owner, "won", float(a), day - pd.Timedelta(days=10), day, 1.0, "closed", "EMEA", "SMB"))
    return deals_frame(rows)


def test_consistency_cv_by_hand():
    amounts = [100, 0, 200, 100, 100, 0, 300, 100, 100, 100, 0, 100]  # Jan..Dec 2016
    d = monthly_deals("Ann", amounts)
    c = P.consistency(P.rep_day_cube(d), "2016-12-31")
    a = np.array(amounts, dtype=float)
    assert c.loc["Ann", "cv"] == pytest.approx(a.std() / a.mean())
    assert c.loc["Ann", "months_observed"] == 12
    # no targets: threshold = team median month (100): 9 months at or above it
    assert c.loc["Ann", "months_above"] == 9
    assert list(c.loc["Ann", "spark"]) == amounts
    assert math.isnan(c.loc["Ann", "quarter_quota_share"])


def test_consistency_window_excludes_the_unfinished_month_and_months_before_hire():
    d = monthly_deals("Ann", [100] * 12)
    reps = reps_frame([("Ann", "M", "T", "EMEA", "2016-07-01", None, 1)])
    c = P.consistency(P.rep_day_cube(d), "2016-12-20", reps=reps)  # December not finished
    assert c.attrs["months"][0] == "2015-12-01" and c.attrs["months"][-1] == "2016-11-01"
    assert c.loc["Ann", "months_observed"] == 5  # Jul..Nov
    assert c.loc["Ann", "cv"] == 0


def test_consistency_quarters_at_quota():
    d = monthly_deals("Ann", [100] * 12)  # 300 per quarter
    t = pd.DataFrame({S.SCOPE: "owner", S.SCOPE_NAME: "Ann",
                      S.PERIOD_START: pd.to_datetime(["2016-01-01", "2016-04-01", "2016-07-01", "2016-10-01"]),
                      S.PERIOD_END: pd.to_datetime(["2016-03-31", "2016-06-30", "2016-09-30", "2016-12-31"]),
                      S.AMOUNT: [300.0, 400.0, 250.0, 301.0]})
    c = P.consistency(P.rep_day_cube(d), "2016-12-31", targets=t, calendar=CAL)
    assert c.loc["Ann", "quarters_with_target"] == 4 and c.loc["Ann", "quarters_at_quota"] == 2
    assert c.loc["Ann", "quarter_quota_share"] == 0.5


def test_consistency_of_few_months_or_no_bookings_is_unknown():
    d = monthly_deals("Ann", [100, 100], start="2016-11-15")
    c = P.consistency(P.rep_day_cube(d), "2016-12-31")
    assert c.loc["Ann", "cv"] == pytest.approx(np.std([0] * 10 + [100, 100]) / np.mean([0] * 10 + [100, 100]))
    reps = reps_frame([("Ann", "M", "T", "EMEA", "2016-11-01", None, 1)])
    c = P.consistency(P.rep_day_cube(d), "2016-12-31", reps=reps)
    assert c.loc["Ann", "months_observed"] == 2 and math.isnan(c.loc["Ann", "cv"])


# --- leaderboard and flags -------------------------------------------------------------------------
def test_leaderboard_by_hand():
    d = roster_deals()
    lb = P.leaderboard(P.rep_day_cube(d), Q2.start, Q2.end, "2017-06-30", reps=REPS, targets=TARGETS, calendar=CAL)
    assert list(lb.columns) == P.LEADERBOARD_COLUMNS
    by = lb.set_index(S.OWNER)
    # ranked by attainment: Bob 4000/3000, Ann 4000/8000, Cy 0/1000, then Dee (no target)
    assert list(lb[S.OWNER]) == ["Bob", "Ann", "Cy", "Dee"]
    assert list(lb["rank"]) == [1, 2, 3, 4]
    assert by.loc["Ann", "attainment"] == pytest.approx(0.5)
    assert by.loc["Ann", S.MANAGER] == "Mia" and by.loc["Dee", S.TEAM] == "West"
    team = lb.attrs["team"]
    assert team["won_amount"] == 8000 and team["win_rate"] == pytest.approx(3 / 4)
    assert team["target"] == 12000
    # Ann 2 of 3 shrunk toward 75% by 10 deals
    assert by.loc["Ann", "win_rate_shrunk"] == pytest.approx((2 + 7.5) / 13)
    assert by.loc["Ann", "small_sample"]
    assert by.loc["Dee", "won_amount"] == 0 and math.isnan(by.loc["Dee", "win_rate_shrunk"])
    assert by.loc["Cy", "won_count"] == 0


def test_leaderboard_limited_to_owners():
    d = roster_deals()
    lb = P.leaderboard(P.rep_day_cube(d), Q2.start, Q2.end, "2017-06-30", reps=REPS, targets=TARGETS, owners=["Ann"])
    assert list(lb[S.OWNER]) == ["Ann"]
    assert lb.attrs["team"]["won_amount"] == 4000


def test_leaderboard_of_an_empty_workspace():
    lb = P.leaderboard(P.rep_day_cube(DEALS.iloc[:0]), Q2.start, Q2.end, "2017-06-30")
    assert lb.empty and lb.attrs["team"]["won_amount"] == 0
    assert P.coaching_flags(lb).empty and P.quadrants(lb).empty


def flag_board(rows, team):
    lb = pd.DataFrame(rows)
    defaults = {"won_count": 10, "lost_count": 10, "win_rate": 0.5, "win_rate_low": 0.4, "win_rate_high": 0.6,
                "avg_cycle_days": 50.0, "avg_deal_size": 10000.0, "target": np.nan, "won_amount": 0.0, "coverage": np.nan,
                "attainment": np.nan, "cv": 0.5, "months_observed": 12, "pipeline_created_count": 5}
    for k, v in defaults.items():
        if k not in lb.columns:
            lb[k] = v
        lb[k] = lb[k].fillna(v) if not (isinstance(v, float) and np.isnan(v)) else lb[k]
    lb.attrs["team"] = team
    return lb


def test_coaching_flags_in_words():
    team = {"win_rate": 0.31, "avg_cycle_days": 50.0, "avg_deal_size": 10000.0, "cv_median": 0.5, "attainment": 0.5,
            "coverage": 2.5}
    lb = flag_board([
        {S.OWNER: "Low", "won_count": 4, "lost_count": 18, "win_rate": 4 / 22, "win_rate_low": 0.1, "win_rate_high": 0.28},
        {S.OWNER: "Unlucky", "won_count": 1, "lost_count": 4, "win_rate": 0.2, "win_rate_low": 0.08, "win_rate_high": 0.5},
        {S.OWNER: "Slow", "avg_cycle_days": 70.0},
        {S.OWNER: "Small", "avg_deal_size": 5000.0},
        {S.OWNER: "Thin", "target": 10000.0, "won_amount": 2000.0, "coverage": 1.0, "attainment": 0.2},
        {S.OWNER: "OnPace", "target": 10000.0, "won_amount": 4000.0, "coverage": 2.0, "attainment": 0.4},
        {S.OWNER: "Lumpy", "cv": 1.6},
        {S.OWNER: "Idle", "pipeline_created_count": 0},
    ], team)
    f = P.coaching_flags(lb, elapsed_share=0.5, period_label="2017Q2")
    msgs = {(o, k): m for o, k, m in f.itertuples(index=False)}
    assert msgs[("Low", "win_rate")] == "win rate 18% vs team 31% (4 of 22 closed)"
    assert ("Unlucky", "win_rate") not in msgs  # its interval reaches the team's rate
    assert msgs[("Slow", "cycle")] == "cycle 40% longer than the team (70 vs 50 days)"
    assert msgs[("Small", "deal_size")] == "average deal $5K vs team $10K"
    assert msgs[("Thin", "coverage")] == "pipeline covers 1.0x of the remaining target vs the team's 2.5x; about 3.2x is needed at the team's 31% win rate"
    assert msgs[("Thin", "pace")] == "at 20% of target vs the team's 50% with 50% of 2017Q2 gone"
    # 40% against a team at 50% is not behind; 2.0x coverage is short of 3.2x, but so is the team (2.5x)
    assert not any(o == "OnPace" for o, _ in msgs)
    assert msgs[("Lumpy", "consistency")] == "lumpy bookings: monthly variation 1.6 vs team median 0.5"
    assert msgs[("Idle", "pipeline")] == "no new pipeline created in 2017Q2"
    assert not any(o == "Unlucky" for o, _ in msgs)
    # a finished period: no coverage or pace flags
    f = P.coaching_flags(lb, elapsed_share=None)
    assert not f["flag"].isin(["coverage", "pace"]).any()


def test_quadrants_split_at_medians():
    lb = pd.DataFrame({S.OWNER: list("ABCD"), "win_rate": [0.5, 0.5, 0.1, 0.1], "avg_deal_size": [100.0, 10.0, 100.0, 10.0],
                       "won_count": [5, 5, 1, 1], "lost_count": [5, 5, 9, 9], "won_amount": [500.0, 50.0, 100.0, 10.0]})
    q = P.quadrants(lb).set_index(S.OWNER)
    assert q.loc["A", "quadrant"] == "Wins often, wins big"
    assert q.loc["B", "quadrant"] == "Wins often, small deals"
    assert q.loc["C", "quadrant"] == "Big deals, low win rate"
    assert q.loc["D", "quadrant"] == "Small deals, low win rate"
    assert q.loc["A", "closed"] == 10


def test_rep_trends_and_funnel():
    d = roster_deals()
    t = P.rep_trends(P.rep_day_cube(d), ["Ann"], "2017-04-01", "2017-06-30")
    ann = t[t["series"] == "Ann"].set_index("month")
    assert ann.loc["2017-04-01", "won_amount"] == 1000 and ann.loc["2017-05-01", "won_amount"] == 3000
    assert ann.loc["2017-06-01", "win_rate"] == 0.0
    med = t[t["series"] == "Team median"].set_index("month")
    assert med.loc["2017-04-01", "won_amount"] == pytest.approx((1000 + 4000) / 2)
    f = P.rep_funnel(d, "Ann", "2017-04-01", "2017-06-30").set_index("step")
    # Ann created deals 2 (won) and 4 (open) in Q2; Bob created 6 (open)
    assert f.loc["Created", "count"] == 2 and f.loc["Closed", "count"] == 1 and f.loc["Won", "count"] == 1
    assert f.loc["Won", "amount"] == 3000 and f.loc["Won", "conversion"] == 0.5
    assert f.loc["Created", "team_median_count"] == 1.5


def test_hierarchy_rolls_up():
    d = roster_deals()
    h = P.hierarchy(P.rep_day_cube(d), Q2.start, Q2.end, reps=REPS, targets=TARGETS)
    at = h.set_index(["level", "name"])
    assert at.loc[("all", "All"), "won_amount"] == 8000
    assert at.loc[("team", "East"), "won_amount"] == 8000 and at.loc[("team", "East"), "target"] == 11000
    assert at.loc[("manager", "Mia"), "parent"] == "East"
    assert at.loc[("rep", "Ann"), "parent"] == "Mia"
    assert at.loc[("rep", "Ann"), "path"] == ["East", "Mia", "Ann"]
    for level in ("team", "manager", "rep"):
        assert h[h["level"] == level]["won_amount"].sum() == 8000


# --- ramp ------------------------------------------------------------------------------------------
def ramp_world(new_hires=5, truth_months=4, tenured=5):
    """Tenured reps book 10,000 a month; new hires ramp linearly over ``truth_months``."""
    rows, reps = [], []

    def add(name, hire, f):
        reps.append((name, "M", "T", "EMEA", hire, None, 1))
        h = pd.Timestamp(hire)
        for m in range(0, 90):
            close = (h + pd.Timedelta(days=P.MONTH_DAYS * m + 15)).normalize()
            if pd.Timestamp("2019-01-01") <= close <= pd.Timestamp("2021-12-31"):
                rows.append((f"{name}{m}", name, "won", 10000.0 * f(m), close - pd.Timedelta(days=20), close, 1.0, "closed", "EMEA", "SMB"))

    for i in range(tenured):
        add(f"T{i}", "2016-01-01", lambda m: 1.0)
    for i in range(new_hires):
        add(f"N{i}", f"2020-0{i + 1}-01", lambda m: min((m + 0.5) / truth_months, 1.0))
    return deals_frame(rows), reps_frame(reps)


def test_ramp_curve_is_learned_from_cohorts():
    d, reps = ramp_world()
    curve = P.ramp_curve(d, reps, "2021-12-31")
    assert curve.method == "learned" and len(curve.factors) == P.RAMP_HORIZON_MONTHS
    # month k of a 4-month linear ramp delivers (k + .5) / 4 of a tenured rep (10,000 a month)
    np.testing.assert_allclose(curve.factors[:4], [0.125, 0.375, 0.625, 0.875], atol=0.01)
    assert (curve.factors[4:] > 0.99).all()
    assert curve.tenured_monthly == pytest.approx(10000, rel=0.01)
    assert np.all(np.diff(curve.factors) >= 0)


def test_ramp_factors_columns_and_values():
    d, reps = ramp_world()
    rf = P.ramp_factors(d, reps, "2021-12-31")
    assert list(rf.columns[:4]) == [S.OWNER, S.HIRE_DATE, "tenure_months", "ramp_factor"]
    assert len(rf) == 10 and rf["ramp_factor"].between(0, 1).all()
    assert (rf["ramp_factor"] > 0.99).all()  # everyone is past the ramp by then
    assert P.ramped_rep_equivalents(d, reps, "2021-12-31") == pytest.approx(rf["ramp_factor"].sum())


def test_linear_ramp_when_history_is_thin():
    d, reps = ramp_world(new_hires=2)
    curve = P.ramp_curve(d, reps, "2021-12-31")
    assert curve.method == "linear" and "fewer than 3 reps hired" in curve.reason
    np.testing.assert_allclose(curve.factors, (np.arange(6) + 0.5) / 6)
    rf = P.ramp_factors(d, reps, "2020-03-15").set_index(S.OWNER)
    # N0 hired 2020-01-01: 74 days = 2.43 months -> month index 2 -> 2.5 / 6
    assert rf.loc["N0", "tenure_months"] == pytest.approx(74 / P.MONTH_DAYS)
    assert rf.loc["N0", "ramp_factor"] == pytest.approx(2.5 / 6)
    assert "N1" in rf.index and rf.loc["T0", "ramp_factor"] == 1
    # an explicit length forces a linear ramp of that length
    rf3 = P.ramp_factors(d, reps, "2020-03-15", ramp_months=3).set_index(S.OWNER)
    assert rf3.loc["N0", "ramp_factor"] == pytest.approx(2.5 / 3)


def test_ramp_factors_exclude_reps_not_on_the_team():
    d, reps = ramp_world(new_hires=1)
    reps.loc[reps[S.NAME] == "T0", S.END_DATE] = pd.Timestamp("2020-01-31")
    reps.loc[reps[S.NAME] == "T1", S.ACTIVE] = 0  # inactive, no end date: gone after last activity
    rf = P.ramp_factors(d, reps, "2022-06-30")
    assert "T0" not in set(rf[S.OWNER])
    assert "T1" not in set(rf[S.OWNER])
    assert "N0" in set(rf[S.OWNER])
    rf = P.ramp_factors(d, reps, "2019-12-31")  # before N0's hire
    assert "N0" not in set(rf[S.OWNER]) and "T0" in set(rf[S.OWNER])


def test_ramp_factors_without_roster_or_deals():
    d, _ = ramp_world(new_hires=1)
    rf = P.ramp_factors(d, None, "2020-03-15").set_index(S.OWNER)
    # owners active from the start of the data count as tenured; N0's first deal is the proxy hire date
    assert rf.loc["T0", "ramp_factor"] == 1 and np.isnan(rf.loc["T0", "tenure_months"])
    assert rf.loc["N0", "ramp_factor"] < 1 and (rf["ramp_method"] == "linear").all()
    empty = P.ramp_factors(d.iloc[:0], None, "2020-03-15")
    assert empty.empty and list(empty.columns[:4]) == [S.OWNER, S.HIRE_DATE, "tenure_months", "ramp_factor"]
    assert P.ramped_rep_equivalents(d.iloc[:0], None, "2020-03-15") == 0
    assert math.isnan(P.productivity_per_ramped_rep(d.iloc[:0], None, "2020-01-01", "2020-12-31"))


def test_productivity_per_ramped_rep_by_hand():
    # five tenured reps at 10,000 a month (one deal mid-month) -> 30,000 per rep per quarter
    d, reps = ramp_world(new_hires=0)
    got = P.productivity_per_ramped_rep(d, reps, "2020-01-01", "2020-12-31")
    won = d[d[S.CLOSE_DATE].between("2020-01-01", "2020-12-31")][S.AMOUNT].sum()
    assert got == pytest.approx(won / (5 * (366 / (365.25 / 4))))
    assert got == pytest.approx(30000, rel=0.03)


def test_rep_ramp_table():
    d, reps = ramp_world()
    t = P.rep_ramp(d, reps, "2021-12-31").set_index(S.OWNER)
    # N0 hired 2020-01-01, first deal on day 15 of month 0
    assert t.loc["N0", "days_to_first_win"] == 15
    assert t.loc["N0", "hired_in_data"] and not t.loc["T0", "hired_in_data"]
    assert np.isnan(t.loc["T0", "days_to_first_win"])
    # ramped when a trailing 3-month mean reaches 75% of 10,000: months 2..4 = (.625+.875+1)/3 = .83
    assert t.loc["N0", "months_to_ramp"] == 5
    c = P.cohort_curve(d, reps, "2021-12-31")
    assert c.loc[0, "reps"] == 5 and c.loc[0, "mean_won_amount"] == pytest.approx(1250)
    assert c.loc[0, "tenured_median"] == pytest.approx(10000, rel=0.01)


def test_flags_compare_a_rep_with_their_own_team():
    # enterprise reps have long cycles; compared with their own team (3+ reps) they are not slow
    team = {"win_rate": 0.3, "avg_cycle_days": 40.0, "avg_deal_size": 10000.0, "cv_median": 0.5}
    lb = flag_board([{S.OWNER: f"E{i}", "avg_cycle_days": 90.0 + i, S.TEAM: "Enterprise"} for i in range(3)]
                    + [{S.OWNER: "S0", "avg_cycle_days": 60.0, S.TEAM: "SMB"}], team)
    lb.attrs["teams"] = {"Enterprise": {"win_rate": 0.3, "avg_cycle_days": 91.0, "avg_deal_size": 10000.0}}
    f = P.coaching_flags(lb)
    assert list(f.loc[f["flag"] == "cycle", S.OWNER]) == ["S0"]  # SMB has no peer row: compared with everyone


def test_leaderboard_carries_peer_teams_of_three_or_more():
    reps = REPS.assign(**{S.TEAM: "East"})
    lb = P.leaderboard(P.rep_day_cube(metrics.attach_roster(DEALS, reps)), Q2.start, Q2.end, "2017-06-30", reps=reps, targets=TARGETS)
    assert set(lb.attrs["teams"]) == {"East"}
    assert lb.attrs["teams"]["East"]["won_amount"] == 8000


def test_targets_by_period_equals_target_for_period():
    t = pd.concat([TARGETS, pd.DataFrame({
        S.SCOPE: ["owner", "team"], S.SCOPE_NAME: ["Ann", "East"],
        S.PERIOD_START: pd.to_datetime(["2017-01-01", "2017-01-01"]), S.PERIOD_END: pd.to_datetime(["2017-12-31", "2017-03-31"]),
        S.AMOUNT: [36500.0, 900.0]})], ignore_index=True)
    months = pd.date_range("2016-11-01", "2017-12-01", freq="MS")
    got = P.targets_by_period(t, months, months + pd.offsets.MonthEnd(0))
    for i, m in enumerate(months):
        want = metrics.target_for_period(t, m, m + pd.offsets.MonthEnd(0), scope="owner")
        col = got[i].dropna()
        assert dict(col) == pytest.approx(dict(want)), m
    assert P.targets_by_period(None, months, months).empty
