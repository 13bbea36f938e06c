"""salesops.ramp on hand-built fixtures: the learned and the linear ramp, ramp factors,
ramped-rep equivalents, productivity per ramped rep and the per-rep ramp table."""
import math

import numpy as np
import pandas as pd
import pytest

from salesops import ramp as P
from salesops import schema as S


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
