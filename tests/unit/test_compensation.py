"""Comp plans (DESIGN.md section 7): payout rules against numbers computed by hand, one
evaluation per plan period, published targets as the default quotas, what-ifs that move the
cost the way the lever goes, and the `comp` command."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesops import compensation as C
from salesops import schema as S
from salesops import workspace
from salesops.cli import main
from salesops.errors import InputError
from salesops.filters import Filters
from salesops.periods import FiscalCalendar

CAL = FiscalCalendar(1)
Q1 = CAL.parse("2024Q1")
PLANS_DIR = Path(__file__).resolve().parents[2] / "data" / "plans"


def plan(**over) -> C.Plan:
    doc = {"name": "Standard", "measure": "won_amount", "quota": {"default": 100_000, "by_rep": {}},
           "target_incentive": 10_000, "threshold": 0,
           "tiers": [{"from": 0, "to": 1.0, "rate": 1.0}, {"from": 1.0, "to": None, "rate": 1.5}],
           "tier_mode": "marginal", "cap": None, "spifs": []}
    doc.update(over)
    return C.parse_plan(doc)


def deals(rows) -> pd.DataFrame:
    """rows: (id, owner, status, amount, close_date[, account, product, stage])."""
    out = []
    for r in rows:
        r = list(r) + [None] * (8 - len(r))
        oid, owner, status, amount, close, account, product, stage = r
        out.append({S.OPPORTUNITY_ID: oid, S.OWNER: owner, S.STATUS: status, S.AMOUNT: amount,
                    S.CLOSE_DATE: pd.Timestamp(close), S.CREATED_DATE: pd.Timestamp(close) - pd.Timedelta(days=30),
                    S.ACCOUNT: account or f"acct-{oid}", S.PRODUCT: product,
                    S.STAGE: stage or {"won": "Closed Won", "lost": "Closed Lost", "open": "Proposal"}[status]})
    return pd.DataFrame(out)


def pay(p, d, period=Q1, **kw) -> pd.DataFrame:
    return C.compute_payouts(p, d, period, **kw).payouts.set_index("rep")


def targets(rows) -> pd.DataFrame:
    """rows: (rep, start, end, amount) rep targets."""
    return pd.DataFrame([{S.SCOPE: "owner", S.SCOPE_NAME: r, S.PERIOD_START: pd.Timestamp(s), S.PERIOD_END: pd.Timestamp(e),
                          S.AMOUNT: float(a)} for r, s, e, a in rows])


def cli_json(capsys, *args) -> dict:
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


# --- the curve ------------------------------------------------------------------------------------
def test_marginal_tiers_pay_each_slice_at_its_rate():
    p = plan()
    # 120% attainment: 100% at 1.0 + 20% at 1.5 = 1.3 x 10,000
    assert pay(p, deals([("1", "Ann", "won", 120_000, "2024-02-01")])).loc["Ann", "commission"] == pytest.approx(13_000)
    assert C.payout_multiple(p, [0.0, 0.5, 1.0, 1.2]) == pytest.approx([0.0, 0.5, 1.0, 1.3])


def test_whole_tiers_pay_all_attainment_at_the_final_tier_rate():
    p = plan(tier_mode="whole")
    # 120% all at 1.5 = 1.8 x 10,000; 99.999% all at 1.0
    assert pay(p, deals([("1", "Ann", "won", 120_000, "2024-02-01")])).loc["Ann", "commission"] == pytest.approx(18_000)
    assert pay(p, deals([("1", "Ann", "won", 99_999, "2024-02-01")])).loc["Ann", "commission"] == pytest.approx(9_999.9)


def test_exactly_on_a_tier_boundary():
    # [from, to): exactly 100% is in the upper tier; marginal is continuous there, whole jumps
    d = deals([("1", "Ann", "won", 100_000, "2024-02-01")])
    assert pay(plan(), d).loc["Ann", "commission"] == pytest.approx(10_000)
    assert pay(plan(tier_mode="whole"), d).loc["Ann", "commission"] == pytest.approx(15_000)
    assert pay(plan(), d).loc["Ann", "attainment"] == 1.0


def test_threshold_pays_nothing_below_and_from_the_first_dollar_once_reached():
    p = plan(threshold=0.5)
    below = pay(p, deals([("1", "Ann", "won", 49_999, "2024-02-01")]))
    at = pay(p, deals([("1", "Ann", "won", 50_000, "2024-02-01")]))
    above = pay(p, deals([("1", "Ann", "won", 60_000, "2024-02-01")]))
    assert below.loc["Ann", "commission"] == 0
    assert at.loc["Ann", "commission"] == pytest.approx(5_000)   # 50% x 10,000 from the first dollar
    assert above.loc["Ann", "commission"] == pytest.approx(6_000)


def test_cap_limits_commission_as_a_multiple_of_target_incentive():
    p = plan(cap=2.0)
    # 200%: uncapped 1.0 + 1.0 x 1.5 = 2.5 x 10,000 = 25,000 -> capped at 20,000
    r = pay(p, deals([("1", "Ann", "won", 200_000, "2024-02-01")]))
    assert r.loc["Ann", "commission"] == pytest.approx(20_000)
    # 150%: 1.75 x 10,000 below the cap
    r = pay(p, deals([("1", "Ann", "won", 150_000, "2024-02-01")]))
    assert r.loc["Ann", "commission"] == pytest.approx(17_500)


def test_spif_on_top_and_outside_the_cap_by_default():
    spifs = [{"name": "Add-on push", "filter": {"product": "Analytics Add-on"}, "amount": 500}]
    d = deals([("1", "Ann", "won", 150_000, "2024-02-01", None, "Analytics Add-on"),
               ("2", "Ann", "won", 50_000, "2024-02-02", None, "analytics add-on"),
               ("3", "Ann", "won", 0, "2024-02-03", None, "Core Platform"),
               ("4", "Ann", "lost", 10_000, "2024-02-03", None, "Analytics Add-on")])
    r = pay(plan(cap=2.0, spifs=spifs), d)
    assert r.loc["Ann", "commission"] == pytest.approx(20_000)
    assert r.loc["Ann", "spif"] == pytest.approx(1_000)          # two won qualifying deals
    assert r.loc["Ann", "total"] == pytest.approx(21_000)
    inside = pay(plan(cap=2.0, spifs=spifs, spif_in_cap=True), d)
    assert inside.loc["Ann", "spif"] == 0 and inside.loc["Ann", "total"] == pytest.approx(20_000)


def test_spif_amount_range_filter():
    spifs = [{"name": "Big deal", "filter": {"amount": {"min": 50_000}}, "amount": 1_000}]
    d = deals([("1", "Ann", "won", 50_000, "2024-02-01"), ("2", "Ann", "won", 49_999, "2024-02-01")])
    assert pay(plan(spifs=spifs), d).loc["Ann", "spif"] == 1_000


def test_weighted_measures_70_bookings_30_new_logos():
    p = plan(measures=[{"measure": "won_amount", "weight": 0.7},
                       {"measure": "new_logos", "weight": 0.3, "quota": 4}])
    rows = [(str(i), "Ann", "won", 16_000, "2024-02-01", f"new-{i}") for i in range(5)]   # 80,000, 5 logos
    rows.append(("old-2", "Ann", "won", 1, "2023-05-01", "new-0"))  # new-0 was won before: not a new logo
    rows.append(("6", "Ann", "won", 0, "2024-03-01", "new-6"))
    d = deals(rows)
    r = pay(p, d)
    # bookings 80,000 / 100,000 = 0.8 -> 0.7 x 0.8 = 0.56
    # logos: new-1..new-4 and new-6 = 5 / 4 = 1.25 -> 0.3 x (1 + 0.25 x 1.5) = 0.4125
    assert r.loc["Ann", "attainment_new_logos"] == pytest.approx(1.25)
    assert r.loc["Ann", "attainment"] == pytest.approx(0.8)
    assert r.loc["Ann", "commission"] == pytest.approx(9_725)


def test_draw_tops_up_to_the_guaranteed_minimum():
    d = deals([("1", "Ann", "won", 20_000, "2024-02-01")])
    r = pay(plan(draw={"amount": 3_000, "recoverable": False}), d)
    assert r.loc["Ann", "commission"] == pytest.approx(2_000)
    assert r.loc["Ann", "draw_top_up"] == pytest.approx(1_000)
    assert r.loc["Ann", "total"] == pytest.approx(3_000)
    assert r.loc["Ann", "draw_balance"] == 0
    rec = pay(plan(draw={"amount": 3_000, "recoverable": True}), d)
    assert rec.loc["Ann", "draw_balance"] == pytest.approx(1_000)


def _snap(as_of, oid, owner, status, amount, close, stage):
    return {S.AS_OF: pd.Timestamp(as_of), S.OPPORTUNITY_ID: oid, S.OWNER: owner, S.STATUS: status, S.AMOUNT: amount,
            S.CLOSE_DATE: pd.Timestamp(close), S.CREATED_DATE: pd.Timestamp("2023-12-01"), S.STAGE: stage,
            S.PROBABILITY: None, S.FORECAST_CATEGORY: None, S.IMPORT_ID: 1}


def test_clawback_inside_the_window_and_data_reversal_reported_separately():
    p = plan(clawback={"share": 0.5, "window_days": 90, "stages": ["Cancelled"]})
    current = deals([("A", "Ann", "won", 60_000, "2024-01-15"),
                     ("B", "Ann", "lost", 40_000, "2024-01-20", None, None, "Cancelled"),   # cancelled 26 days later
                     ("C", "Ann", "lost", 30_000, "2024-01-25", None, None, "Closed Lost")])  # a data reversal
    snaps = pd.DataFrame([
        _snap("2024-01-31", "A", "Ann", "won", 60_000, "2024-01-15", "Closed Won"),
        _snap("2024-01-31", "B", "Ann", "won", 40_000, "2024-01-20", "Closed Won"),
        _snap("2024-01-31", "C", "Ann", "won", 30_000, "2024-01-25", "Closed Won"),
        _snap("2024-02-15", "A", "Ann", "won", 60_000, "2024-01-15", "Closed Won"),
        _snap("2024-02-15", "B", "Ann", "lost", 40_000, "2024-01-20", "Cancelled"),
        _snap("2024-02-15", "C", "Ann", "lost", 30_000, "2024-01-25", "Closed Lost"),
    ])
    res = C.compute_payouts(p, current, Q1, snapshots=snaps)
    r = res.payouts.set_index("rep")
    # booked: A + B = 100,000 (B was booked and paid); C is a reversal, never paid
    assert r.loc["Ann", "achieved"] == pytest.approx(100_000)
    assert r.loc["Ann", "commission"] == pytest.approx(10_000)
    # clawback: 50% of the commission on B's 40% of the bookings = 2,000
    assert r.loc["Ann", "clawback"] == pytest.approx(2_000)
    assert r.loc["Ann", "total"] == pytest.approx(8_000)
    assert list(res.reversals[S.OPPORTUNITY_ID]) == ["C"]
    assert list(res.cancellations[S.OPPORTUNITY_ID]) == ["B"]


def test_no_clawback_after_the_window():
    p = plan(clawback={"share": 1.0, "window_days": 10})
    current = deals([("B", "Ann", "lost", 100_000, "2024-01-20", None, None, "Cancelled")])
    snaps = pd.DataFrame([_snap("2024-01-31", "B", "Ann", "won", 100_000, "2024-01-20", "Closed Won"),
                          _snap("2024-02-29", "B", "Ann", "lost", 100_000, "2024-01-20", "Cancelled")])
    r = pay(p, current, snapshots=snaps)
    assert r.loc["Ann", "commission"] == pytest.approx(10_000)
    assert r.loc["Ann", "clawback"] == 0


# --- one evaluation per plan period ---------------------------------------------------------------
QUARTERLY = dict(period="quarter", threshold=0.5, cap=2.0)
#: Ann's bookings per quarter of 2024: 150K, 40K, 100K, 250K (540K in the year).
YEAR_ROWS = [("q1", "Ann", "won", 150_000, "2024-02-10"), ("q2a", "Ann", "won", 25_000, "2024-04-10"),
             ("q2b", "Ann", "won", 15_000, "2024-05-20"), ("q3", "Ann", "won", 100_000, "2024-08-01"),
             ("q4", "Ann", "won", 250_000, "2024-11-15"), ("b1", "Bob", "won", 80_000, "2024-01-20")]


def test_a_quarterly_plan_over_a_year_is_the_sum_of_its_four_quarters():
    res = C.compute_payouts(plan(**QUARTERLY), deals(YEAR_ROWS), CAL.parse("2024"))
    per = res.periods[res.periods["rep"] == "Ann"].set_index("plan_period")
    # by hand, quota 100K and TI 10K per quarter, nothing below 50%, 1.5x above 100%, cap 2x:
    # Q1 150% -> 1 + 0.5 x 1.5 = 1.75 -> 17,500; Q2 40% -> 0; Q3 100% -> 10,000; Q4 250% -> 3.25 capped at 2 -> 20,000
    assert list(per.index) == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert list(per["commission"]) == pytest.approx([17_500, 0, 10_000, 20_000])
    assert list(per["quota"]) == [100_000] * 4
    ann = res.payouts.set_index("rep").loc["Ann"]
    assert ann["total"] == pytest.approx(47_500)
    # not the old x4 quota (400K, TI 40K): 540K = 135% -> 1.525 x 40K = 61,000
    assert ann["total"] != pytest.approx(61_000)
    assert ann["quota"] == 400_000 and ann["attainment"] == pytest.approx(540_000 / 400_000)
    assert res.evaluated_as() == "2024Q1, 2024Q2, 2024Q3 and 2024Q4"
    # Bob: 80% in Q1, nothing after: 8,000 once
    assert res.payouts.set_index("rep").loc["Bob", "total"] == pytest.approx(8_000)
    assert res.total_cost == pytest.approx(55_500)


def test_a_month_is_its_quarter_to_date_never_a_scaled_quota():
    p = plan(**QUARTERLY)
    d = deals(YEAR_ROWS)
    roster = pd.DataFrame({S.NAME: ["Ann", "Bob"], S.HIRE_DATE: pd.to_datetime(["2020-01-01"] * 2), S.END_DATE: pd.NaT,
                           S.ACTIVE: True})
    may = C.compute_payouts(p, d, CAL.parse("2024-05"), reps=roster)
    assert may.evaluated_as() == "2024Q2 to date (to 31 May 2024)"
    r = may.payouts.set_index("rep")
    # April + May: 40K of the quarter's 100K quota -> below the 50% threshold -> 0
    assert r.loc["Ann", "quota"] == 100_000 and r.loc["Ann", "achieved"] == 40_000 and r.loc["Ann", "total"] == 0
    # Bob earned nothing in Q2: nothing in May
    assert r.loc["Bob", "total"] == 0
    year = C.compute_payouts(p, d, CAL.parse("2024"), reps=roster).payouts.set_index("rep")
    for month in [f"2024-{m:02d}" for m in range(1, 13)]:
        m = C.compute_payouts(p, d, CAL.parse(month), reps=roster).payouts.set_index("rep")
        assert (m["total"] <= year["total"].reindex(m.index) + 1e-9).all(), month
    # February: Q1 to date = Jan + Feb = 150K -> 17,500 (the whole quarter's pay: March adds nothing)
    assert C.compute_payouts(p, d, CAL.parse("2024-02")).payouts.set_index("rep").loc["Ann", "total"] == pytest.approx(17_500)


def test_a_week_and_a_range_are_their_plan_periods_to_date():
    p = plan(**QUARTERLY)
    d = deals(YEAR_ROWS)
    week = C.compute_payouts(p, d, CAL.parse("2024-W07"))      # 12-18 Feb 2024
    assert week.evaluated_as() == "2024Q1 to date (to 18 Feb 2024)"
    assert week.payouts.set_index("rep").loc["Ann", "achieved"] == 150_000
    span = C.compute_payouts(p, d, CAL.parse("2024-03-01..2024-05-31"))
    assert [pp.label for pp in span.plan_periods] == ["2024Q1", "2024Q2"]
    assert span.payouts.set_index("rep").loc["Ann", "total"] == pytest.approx(17_500 + 0)


def test_the_as_of_date_cuts_bookings_like_the_kpis():
    p = plan(period="quarter")
    d = deals([("1", "Ann", "won", 60_000, "2024-02-01"), ("2", "Ann", "won", 40_000, "2024-03-20")])
    res = C.compute_payouts(p, d, Q1, as_of=date(2024, 3, 1))
    assert res.evaluated_as() == "2024Q1 to date (to 01 Mar 2024)"
    assert res.payouts.set_index("rep").loc["Ann", "achieved"] == 60_000
    later = C.compute_payouts(p, d, CAL.parse("2024Q2"), as_of=date(2024, 3, 1))
    assert later.payouts.empty and later.total_cost == 0 and "has not started" in later.notes[0]


def test_quotas_default_to_the_published_rep_targets_of_each_plan_period():
    p = plan(period="quarter", quota={"default": 100_000, "by_rep": {"Dee": 50_000}})
    t = targets([("Ann", "2024-01-01", "2024-03-31", 200_000), ("Ann", "2024-04-01", "2024-06-30", 50_000),
                 ("Cy", "2024-01-01", "2024-06-30", 0), ("Dee", "2024-01-01", "2024-03-31", 999_000)])
    d = deals([("1", "Ann", "won", 100_000, "2024-02-01"), ("2", "Ann", "won", 75_000, "2024-05-01"),
               ("3", "Bob", "won", 50_000, "2024-02-01"), ("4", "Cy", "won", 30_000, "2024-02-01"),
               ("5", "Dee", "won", 50_000, "2024-02-01")])
    res = C.compute_payouts(p, d, CAL.parse("2024-01-01..2024-06-30"), targets=t)
    per = res.periods.set_index(["rep", "plan_period"])
    # Ann: her own target each quarter (50% of 200K -> 5,000; 150% of 50K -> 1.75 x 10K = 17,500)
    assert per.loc[("Ann", "2024Q1"), "quota"] == 200_000 and per.loc[("Ann", "2024Q1"), "quota_from"] == C.FROM_TARGET
    assert per.loc[("Ann", "2024Q1"), "commission"] == pytest.approx(5_000)
    assert per.loc[("Ann", "2024Q2"), "quota"] == 50_000 and per.loc[("Ann", "2024Q2"), "commission"] == pytest.approx(17_500)
    # Bob has no published target: the plan's quota, said so
    assert per.loc[("Bob", "2024Q1"), "quota"] == 100_000 and per.loc[("Bob", "2024Q1"), "quota_from"] == C.FROM_FALLBACK
    # Cy is on a zero target (a new hire): no quota, no attainment, no commission
    assert per.loc[("Cy", "2024Q1"), "quota_from"] == C.FROM_ZERO and pd.isna(per.loc[("Cy", "2024Q1"), "attainment"])
    assert per.loc[("Cy", "2024Q1"), "commission"] == 0
    # a quota the plan sets for a rep by name wins
    assert per.loc[("Dee", "2024Q1"), "quota"] == 50_000 and per.loc[("Dee", "2024Q1"), "quota_from"] == C.FROM_PLAN_REP
    reps = res.payouts.set_index("rep")
    assert reps.loc["Ann", "quota_from"] == C.FROM_TARGET
    assert reps.loc["Cy", "quota_from"] == C.FROM_ZERO and pd.isna(reps.loc["Cy", "attainment"])
    # over the half year: Ann 175K / 250K, Bob 50K / 100K, Dee 50K / (50K + 50K): nobody at quota; Cy has none
    assert res.reps_with_quota == 3 and res.reps_at_quota == 0
    q1 = C.compute_payouts(p, d, CAL.parse("2024Q1"), targets=t)
    assert q1.reps_at_quota == 1                                   # Dee, 50K of 50K
    flat = C.compute_payouts(p, d, CAL.parse("2024Q1"), targets=t, quota_source="plan").payouts.set_index("rep")
    assert flat.loc["Ann", "quota"] == 100_000 and flat.loc["Ann", "quota_from"] == C.FROM_PLAN


def test_a_recoverable_draw_is_carried_across_the_plan_periods_of_the_range():
    # monthly plan: quota 100,000, TI 10,000 paid 1:1; earnings 2,000 / 5,000 / 4,500
    d = deals([("1", "Ann", "won", 20_000, "2024-01-10"), ("2", "Ann", "won", 50_000, "2024-02-10"),
               ("3", "Ann", "won", 45_000, "2024-03-10")])
    p = plan(period="month", tiers=[{"from": 0, "to": None, "rate": 1.0}], draw={"amount": 3_000, "recoverable": True})
    res = C.compute_payouts(p, d, Q1)
    out = res.periods
    assert list(out["total"]) == pytest.approx([3_000, 4_000, 4_500])
    assert list(out["draw_balance"]) == pytest.approx([1_000, 0, 0])
    assert list(out["draw_recovered"]) == pytest.approx([0, 1_000, 0])
    assert res.payouts.set_index("rep").loc["Ann", "total"] == pytest.approx(11_500)
    nr = C.compute_payouts(C.parse_plan({**p.to_json(), "draw": {"amount": 3_000, "recoverable": False}}), d, Q1)
    assert list(nr.periods["total"]) == pytest.approx([3_000, 5_000, 4_500])


def test_rep_names_restrict_the_payouts_and_totals():
    d = deals([("1", "Ann", "won", 120_000, "2024-02-01"), ("2", "Bob", "won", 50_000, "2024-03-01")])
    res = C.compute_payouts(plan(), d, Q1, rep_names=["Bob", "Zed"])
    assert list(res.payouts["rep"]) == ["Bob"]
    assert res.total_cost == pytest.approx(5_000) and res.bookings == pytest.approx(50_000)
    assert res.not_on_plan == []


# --- validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("over, key, value", [
    ({"quota": 0}, "quota", "0"),
    ({"quota": {"default": 0}}, "quota.default", "0"),
    ({"quota": {"default": 100, "by_rep": {"Ann": 0}}}, "quota.by_rep.Ann", "0"),
    ({"tiers": [{"from": 0, "to": 1.0, "rate": 1}, {"from": 0.9, "to": None, "rate": 2}]}, "tiers[1].from", "0.9"),
    ({"tiers": [{"from": 0, "to": 1.0, "rate": 1}, {"from": 1.1, "to": None, "rate": 2}]}, "tiers[1].from", "1.1"),
    ({"tiers": [{"from": 0, "to": None, "rate": -1}]}, "tiers[0].rate", "-1"),
    ({"tiers": [{"from": 0, "to": 2.0, "rate": 1}]}, "tiers[0].to", "2.0"),
    ({"quotas": 5}, "quotas", "5"),
    ({"tier_mode": "retro"}, "tier_mode", "retro"),
    ({"cap": 0}, "cap", "0"),
    ({"spifs": [{"name": "x", "filter": {"colour": "red"}, "amount": 5}]}, "spifs[0].filter.colour", "red"),
    ({"measures": [{"measure": "won_amount", "weight": 0.7}, {"measure": "won_count", "weight": 0.2, "quota": 5}]}, "measures", "0.7"),
])
def test_invalid_plans_are_refused_naming_key_and_value(over, key, value):
    with pytest.raises(InputError) as err:
        plan(**over)
    msg = str(err.value)
    assert f"{key} = " in msg and value in msg


def test_zero_quota_message_is_clear():
    with pytest.raises(InputError, match=r"quota = 0: a quota must be greater than 0"):
        plan(quota=0)


def test_plan_round_trips_through_json():
    p = plan(period="quarter", cap=2.0, threshold=0.4, spifs=[{"name": "s", "filter": {"segment": ["SMB"]}, "amount": 50}],
             clawback={"share": 0.5, "window_days": 60}, draw={"amount": 100, "recoverable": True},
             measures=[{"measure": "won_amount", "weight": 0.7}, {"measure": "new_logos", "weight": 0.3, "quota": 4}])
    again = C.parse_plan(json.loads(json.dumps(p.to_json())))
    assert again == p


def test_sample_plans_are_valid():
    files = sorted(PLANS_DIR.glob("*.json"))
    assert files, "data/plans has sample plans"
    for f in files:
        C.load_plan_file(f)


def test_plan_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        C.load_plan_file(bad)
    with pytest.raises(InputError, match="not found"):
        C.load_plan_file(tmp_path / "missing.json")


# --- totals and effectiveness ----------------------------------------------------------------------
def test_cost_of_sales_and_reps_without_bookings():
    reps = pd.DataFrame({S.NAME: ["Ann", "Bob", "Cy"], S.HIRE_DATE: pd.to_datetime(["2020-01-01"] * 3),
                         S.END_DATE: pd.to_datetime([None, None, "2023-06-30"]), S.ACTIVE: [True, True, False],
                         S.BASE_SALARY: [80_000.0, 80_000.0, 80_000.0]})
    d = deals([("1", "Ann", "won", 120_000, "2024-02-01"), ("2", "Bob", "won", 50_000, "2024-03-01")])
    res = C.compute_payouts(plan(), d, Q1, reps=reps)
    r = res.payouts.set_index("rep")
    assert list(r.index) == ["Ann", "Bob"]           # Cy left before the quarter
    assert res.total_cost == pytest.approx(13_000 + 5_000)
    assert res.cost_of_sales == pytest.approx(18_000 / 170_000)
    # base for a quarter: 2 x 80,000 / 4
    assert res.full_cost_of_sales == pytest.approx((40_000 + 18_000) / 170_000)


def test_pay_for_performance_and_top_share():
    p = pd.DataFrame({"rep": list("abcde"), "attainment": [0.2, 0.5, 0.8, 1.0, 1.5],
                      "total": [0.0, 100.0, 200.0, 300.0, 400.0]})
    assert C.pay_for_performance(p) == pytest.approx(1.0)
    assert C.top_performer_share(p) == pytest.approx(400 / 1000)
    reversed_ = p.assign(total=p["total"][::-1].to_numpy())
    assert C.pay_for_performance(reversed_) == pytest.approx(-1.0)


def test_compare_plans_shows_who_gains_and_who_loses():
    d = deals([("1", "Ann", "won", 150_000, "2024-02-01"), ("2", "Bob", "won", 50_000, "2024-03-01")])
    a = C.compute_payouts(plan(name="A"), d, Q1)
    b = C.compute_payouts(plan(name="B", tiers=[{"from": 0, "to": None, "rate": 1.2}]), d, Q1)
    t = C.compare_plans([a, b]).set_index("rep")
    # A: Ann 17,500, Bob 5,000; B: Ann 18,000, Bob 6,000
    assert t.loc["Ann", "B"] - t.loc["Ann", "A"] == pytest.approx(500)
    assert t.loc["Bob", "change_B"] == pytest.approx(1_000)


def test_curve_cliffs_mark_threshold_and_whole_tier_jumps():
    cl = C.curve_cliffs(plan(threshold=0.5, tier_mode="whole"))
    assert list(cl["attainment"]) == [0.5, 1.0]
    assert list(cl["after"]) == pytest.approx([0.5, 1.5])
    assert C.curve_cliffs(plan()).empty          # marginal without threshold: continuous
    t = C.curve_table(plan(cap=2.0), target_incentive=10_000)
    assert t["payout"].max() == pytest.approx(20_000)
    assert np.all(np.diff(t["payout"]) >= -1e-9)


# --- simulation ---------------------------------------------------------------------------------------
def small_workspace(with_targets: bool = True):
    """Ann wins 4 x 10,000 a quarter (product X), Bob 2 x 10,000, Cy only loses; 2023. Rep
    targets for 2024Q1: Ann 40K, Bob 20K, Cy 0 (in training)."""
    rows = []
    for month in (2, 5, 8, 11):
        for i in range(4):
            rows.append(("Ann", "won", 10_000, f"2023-{month:02d}-{10 + i:02d}", "X"))
        for i in range(2):
            rows.append(("Bob", "won", 10_000, f"2023-{month:02d}-{10 + i:02d}", "Y"))
        rows.append(("Cy", "lost", 5_000, f"2023-{month:02d}-15", "Y"))
    d = pd.DataFrame([{S.OPPORTUNITY_ID: str(i), S.OWNER: o, S.STATUS: s, S.AMOUNT: a, S.CLOSE_DATE: pd.Timestamp(c),
                       S.CREATED_DATE: pd.Timestamp(c) - pd.Timedelta(days=40), S.ACCOUNT: f"acct{i}", S.PRODUCT: prod,
                       S.STAGE: "Closed Won" if s == "won" else "Closed Lost"} for i, (o, s, a, c, prod) in enumerate(rows)])
    reps = pd.DataFrame({S.NAME: ["Ann", "Bob", "Cy"], S.HIRE_DATE: pd.to_datetime(["2019-01-01"] * 3), S.END_DATE: pd.NaT,
                         S.ACTIVE: True, S.MANAGER: "M", S.TEAM: "T", S.REGION: "R"})
    t = targets([("Ann", "2024-01-01", "2024-03-31", 40_000), ("Bob", "2024-01-01", "2024-03-31", 20_000),
                 ("Cy", "2024-01-01", "2024-03-31", 0)]) if with_targets else None
    return workspace.from_frames(d, reps=reps, targets=t, as_of=date(2023, 12, 31))


@pytest.fixture(scope="module")
def small():
    return small_workspace()


def test_what_ifs_move_the_cost_the_way_the_lever_goes(small):
    f = Filters.make(small, period="2024Q1")
    p = C.plan_json(plan(period="quarter", threshold=0.5, cap=2.0))
    run = lambda **kw: C.simulate(small, f, p, n_sims=400, seed=3, **kw)  # noqa: E731
    base = run()
    assert np.array_equal(base.totals, run().totals)                      # the same seed, the same draws
    more_wins, fewer_wins = run(win_rate_uplift=0.01), run(win_rate_uplift=-0.1)
    bigger, smaller = run(deal_size_change=0.2), run(deal_size_change=-0.2)
    hired, left = run(extra_hires=2), run(extra_hires=-1)
    # every simulation moves the lever's way, so the expected cost does too
    for up in (more_wins, bigger, hired):
        assert (up.totals >= base.totals - 1e-9).all()
    for down in (fewer_wins, smaller, left):
        assert (down.totals <= base.totals + 1e-9).all()
    assert more_wins.totals.mean() >= base.totals.mean()
    assert bigger.totals.mean() > base.totals.mean() and bigger.bookings.mean() == pytest.approx(1.2 * base.bookings.mean())
    assert fewer_wins.bookings.mean() < base.bookings.mean()
    assert hired.reps[-2:] == ["New hire 1", "New hire 2"]
    assert not np.array_equal(C.simulate(small, f, p, n_sims=400, seed=4).totals, base.totals)


def test_expected_share_at_quota_leaves_out_a_rep_on_a_zero_quota(small):
    f = Filters.make(small, period="2024Q1")
    sim = C.simulate(small, f, C.plan_json(plan(period="quarter")), n_sims=500, seed=1)
    reps = sim.rep_table().set_index("rep")
    assert reps.loc["Cy", "quota"] == 0 and pd.isna(reps.loc["Cy", "p_attain"])
    summary = sim.summary()
    # the mean over Ann's and Bob's chances; Cy (zero quota) would count as a sure hit otherwise
    assert summary["share_reps_at_quota"] == pytest.approx((reps.loc["Ann", "p_attain"] + reps.loc["Bob", "p_attain"]) / 2)
    assert summary["reps_without_quota"] == 1
    assert 0 < summary["share_reps_at_quota"] < 1
    # Cy books nothing and has no quota: nothing is paid to him
    assert reps.loc["Cy", "mean_payout"] == 0


def test_simulation_spifs_and_plan_periods(small):
    f = Filters.make(small, period="2024")
    p = plan(period="quarter", spifs=[{"name": "X push", "filter": {"product": "X"}, "amount": 100}])
    sim = C.simulate(small, f, C.plan_json(p), n_sims=300, seed=2)
    assert sim.periods == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert np.allclose(sim.per_rep.sum(axis=1), sim.totals)
    no_spif = C.simulate(small, f, C.plan_json(plan(period="quarter")), n_sims=300, seed=2)
    extra = (sim.per_rep - no_spif.per_rep).mean(axis=0)
    reps = sim.reps
    # every deal Ann wins is a product X deal: 100 per win; Bob never sells X
    assert extra[reps.index("Ann")] > 0 and extra[reps.index("Bob")] == 0
    assert extra[reps.index("Ann")] % 100 == pytest.approx(0, abs=1e-6) or extra[reps.index("Ann")] > 100


def test_simulation_refuses_bad_inputs(small):
    f = Filters.make(small, period="2024Q1")
    with pytest.raises(InputError, match="at least 1"):
        C.simulate(small, f, C.plan_json(plan()), n_sims=0)
    with pytest.raises(InputError, match="above -100%"):
        C.simulate(small, f, C.plan_json(plan()), n_sims=10, win_rate_uplift=-1.0)


# --- the designer form ----------------------------------------------------------------------------
def test_the_designer_form_round_trips_every_sample_plan():
    for name, doc in C.sample_plans().items():
        again = C.parse_plan(C.from_form(C.form_values(doc)))
        assert again == C.parse_plan(doc), name


def test_the_designer_form_reads_percentages_and_blank_rows():
    v = C.form_values({})
    v.update(threshold_pct=50, cap=0, clawback_pct=25, draw=0,
             tiers=[{"from_pct": 0, "to_pct": "100", "rate": 1.0}, {"from_pct": 100, "to_pct": "", "rate": 1.5},
                    {"from_pct": None, "to_pct": None, "rate": None}],
             spifs=[{"name": None, "field": "product", "value": '["A", "B"]', "amount": 50}, {"name": "x", "field": None}])
    doc = C.from_form(v)
    assert doc["threshold"] == 0.5 and doc["cap"] is None and doc["draw"] is None
    assert doc["clawback"]["share"] == 0.25
    assert doc["tiers"] == [{"from": 0.0, "to": 1.0, "rate": 1.0}, {"from": 1.0, "to": None, "rate": 1.5}]
    assert doc["spifs"] == [{"name": "SPIF 1", "filter": {"product": ["A", "B"]}, "amount": 50.0}]
    C.parse_plan(doc)
    v["tiers"][0]["to_pct"] = "lots"
    with pytest.raises(InputError, match="tier end 'lots'"):
        C.from_form(v)


def test_plan_json_text_errors_name_the_line():
    with pytest.raises(InputError, match="line 1, column 2"):
        C.parse_json_text("{x")
    with pytest.raises(InputError, match="JSON object"):
        C.parse_json_text("[1]")


# --- the demo workspace and the command line --------------------------------------------------------------
STANDARD = str(PLANS_DIR / "standard.json")


@pytest.fixture(scope="module")
def demo_ws(_demo_template, tmp_path_factory):
    import shutil

    path = tmp_path_factory.mktemp("comp") / "demo.db"
    shutil.copyfile(_demo_template, path)
    return workspace.load(path)


def comp(ws, period, **fields):
    from salesops.cli.planning import comp_doc

    return comp_doc(ws, Filters.make(ws, period=period, **fields), C.load_plan_file(STANDARD))


def test_cli_comp_json_contract(demo_ws, capsys):
    doc = cli_json(capsys, "--db", demo_ws.path, "comp", "--plan", STANDARD, "--period", "2026Q3")
    assert {"plan", "period", "payouts", "periods", "plan_periods", "total_cost", "cost_of_sales", "quota_source"} <= set(doc)
    assert {"rep", "quota", "quota_from", "achieved", "attainment", "commission", "spif", "total"} <= set(doc["payouts"][0])
    assert doc["total_cost"] == pytest.approx(sum(p["total"] for p in doc["payouts"]))
    assert doc["cost_of_sales"] == pytest.approx(doc["total_cost"] / doc["bookings"])
    for p in doc["payouts"]:
        if p["quota"] > 0:
            assert p["attainment"] == pytest.approx(p["achieved"] / p["quota"])
        else:
            assert p["attainment"] is None and p["quota_from"] == C.FROM_ZERO
    # the demo's new hire is on a zero quota in 2026Q3: no quota, no commission
    rafael = next(p for p in doc["payouts"] if p["rep"] == "Rafael Xu")
    assert rafael["quota_from"] == C.FROM_ZERO and rafael["commission"] == 0
    direct = comp(demo_ws, "2026Q3")   # the CLI prints what the page's function returns
    assert doc["total_cost"] == pytest.approx(direct["total_cost"]) and len(doc["payouts"]) == len(direct["payouts"])


@pytest.mark.parametrize("period", ["2026Q3", "2026Q4"])
def test_comp_attainment_is_the_attainment_of_kpis_by_owner(demo_ws, capsys, period):
    """The Reps page shows kpis --by owner: the same attainment for the same quarter (2026Q4 runs on the as-of date)."""
    kpis = cli_json(capsys, "--db", demo_ws.path, "kpis", "--period", period, "--by", "owner")
    by_rep = {r["group"]: r for r in kpis["rows"]}
    checked = 0
    for p in comp(demo_ws, period)["payouts"]:
        if p["quota_from"] != C.FROM_TARGET:
            continue
        r = by_rep[p["rep"]]
        assert p["quota"] == pytest.approx(r["target"]) and p["achieved"] == pytest.approx(r["won_amount"])
        assert p["attainment"] == pytest.approx(r["attainment"])
        checked += 1
    assert checked >= 25


def test_comp_over_the_fiscal_year_is_the_sum_of_its_quarters(demo_ws):
    year = comp(demo_ws, "2026")
    assert [p["label"] for p in year["plan_periods"]] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert year["plan_periods"][-1]["to_date"] and year["plan_periods"][-1]["through"] == "2026-11-20"
    quarters = [comp(demo_ws, f"2026Q{i}") for i in range(1, 5)]
    assert year["total_cost"] == pytest.approx(sum(q["total_cost"] for q in quarters))
    month = comp(demo_ws, "2026-08")
    assert month["evaluated_as"] == "2026Q3 to date (to 31 Aug 2026)"
    q3 = {p["rep"]: p for p in quarters[2]["payouts"]}
    for p in month["payouts"]:     # August = 2026Q3 to 31 Aug: never more than the quarter, nothing without bookings
        assert p["total"] <= q3[p["rep"]]["total"] + 1e-6
        if p["achieved"] == 0:
            assert p["commission"] == 0


def test_comp_with_filters_pays_the_reps_inside(demo_ws):
    reps = demo_ws.reps
    emea = set(reps.loc[reps[S.REGION] == "EMEA", S.NAME])
    doc = comp(demo_ws, "2026Q3", region=["EMEA"])
    assert {p["rep"] for p in doc["payouts"]} <= emea and len(doc["payouts"]) >= 8
    one = comp(demo_ws, "2026Q3", rep=["Olga Chen"])
    everyone = comp(demo_ws, "2026Q3")
    assert [p["rep"] for p in one["payouts"]] == ["Olga Chen"]
    assert one["payouts"][0] == next(p for p in everyone["payouts"] if p["rep"] == "Olga Chen")


def test_cli_comp_simulation_follows_the_levers(demo_ws, capsys):
    from salesops.cli.planning import comp_doc

    base = cli_json(capsys, "--db", demo_ws.path, "comp", "--plan", STANDARD, "--period", "2026Q4", "--simulate", "300",
                    "--win-rate", "0%")["simulation"]
    f = Filters.make(demo_ws, period="2026Q4")
    run = lambda **kw: comp_doc(demo_ws, f, C.load_plan_file(STANDARD), simulate={"n_sims": 300, "seed": 0, **kw})["simulation"]  # noqa: E731
    assert run()["mean_cost"] == pytest.approx(base["mean_cost"])       # the CLI says what the function says
    wins, size = run(win_rate_uplift=0.01), run(deal_size_change=0.2)
    assert wins["mean_cost"] >= base["mean_cost"]
    assert size["mean_cost"] > base["mean_cost"]
    assert base["reps_without_quota"] >= 1            # Rafael Xu, on a zero quota in 2026Q4
    assert 0 < base["share_reps_at_quota"] < 1


def test_cli_comp_refuses_a_zero_quota_with_exit_2(demo_ws, tmp_path, capsys):
    bad = tmp_path / "zero.json"
    bad.write_text(json.dumps({"name": "z", "quota": {"default": 0}, "target_incentive": 100}))
    assert main(["--db", demo_ws.path, "comp", "--plan", str(bad), "--period", "2026Q1", "--json"]) == 2
    err = capsys.readouterr().err
    assert "quota.default = 0" in err and "zero.json" in err
