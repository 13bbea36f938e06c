"""Payout rules of DESIGN.md section 7, each against numbers computed by hand."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesops import compensation as C
from salesops import schema as S
from salesops.errors import InputError
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


# --- periods ---------------------------------------------------------------------------------------
def test_quarterly_quota_scales_x4_over_a_year_and_one_third_over_a_month():
    p = plan(period="quarter")
    d = deals([("1", "Ann", "won", 480_000, "2024-06-01")])
    year = C.compute_payouts(p, d, CAL.parse("2024"))
    r = year.payouts.set_index("rep")
    assert year.quota_scale == 4
    assert r.loc["Ann", "quota"] == pytest.approx(400_000)
    assert r.loc["Ann", "commission"] == pytest.approx(4 * 13_000)   # 120% of a 4x target incentive
    month = C.compute_payouts(p, deals([("1", "Ann", "won", 40_000, "2024-06-01")]), CAL.parse("2024-06"))
    assert month.payouts.set_index("rep").loc["Ann", "attainment"] == pytest.approx(1.2)


def test_a_week_is_refused_for_a_plan_with_a_period_and_accepted_without_one():
    d = deals([("1", "Ann", "won", 1_000, "2024-06-04")])
    with pytest.raises(InputError, match="whole months"):
        C.compute_payouts(plan(period="quarter"), d, CAL.parse("2024-W23"))
    assert C.compute_payouts(plan(), d, CAL.parse("2024-W23")).quota_scale == 1


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


# --- the command line ------------------------------------------------------------------------------
def test_cli_comp_json_contract(demo_db, capsys):
    from salesops.cli import main

    assert main(["--db", str(demo_db), "comp", "--plan", str(PLANS_DIR / "standard.json"), "--period", "2026Q3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"plan", "period", "payouts", "total_cost", "cost_of_sales"} <= set(doc)
    assert {"rep", "quota", "achieved", "attainment", "commission", "spif", "total"} <= set(doc["payouts"][0])
    assert doc["total_cost"] == pytest.approx(sum(p["total"] for p in doc["payouts"]))
    assert doc["cost_of_sales"] == pytest.approx(doc["total_cost"] / doc["bookings"])
    for p in doc["payouts"]:
        assert p["attainment"] == pytest.approx(p["achieved"] / p["quota"])


def test_cli_comp_refuses_a_zero_quota_with_exit_2(demo_db, tmp_path, capsys):
    from salesops.cli import main

    bad = tmp_path / "zero.json"
    bad.write_text(json.dumps({"name": "z", "quota": {"default": 0}, "target_incentive": 100}))
    assert main(["--db", str(demo_db), "comp", "--plan", str(bad), "--period", "2026Q1", "--json"]) == 2
    err = capsys.readouterr().err
    assert "quota.default = 0" in err and "zero.json" in err


def test_rep_names_restrict_the_payouts_and_totals():
    d = deals([("1", "Ann", "won", 120_000, "2024-02-01"), ("2", "Bob", "won", 50_000, "2024-03-01")])
    res = C.compute_payouts(plan(), d, Q1, rep_names=["Bob", "Zed"])
    assert list(res.payouts["rep"]) == ["Bob"]
    assert res.total_cost == pytest.approx(5_000) and res.bookings == pytest.approx(50_000)
    assert res.not_on_plan == []


def test_recoverable_draw_is_repaid_from_later_earnings_above_the_draw():
    months = [CAL.parse(m) for m in ("2024-01", "2024-02", "2024-03")]
    # monthly plan: quota 100,000, TI 10,000 paid 1:1; earnings 2,000 / 5,000 / 4,500
    d = deals([("1", "Ann", "won", 20_000, "2024-01-10"), ("2", "Ann", "won", 50_000, "2024-02-10"),
               ("3", "Ann", "won", 45_000, "2024-03-10")])
    p = plan(period="month", tiers=[{"from": 0, "to": None, "rate": 1.0}], draw={"amount": 3_000, "recoverable": True})
    out = C.payouts_over_periods(p, d, months)
    assert list(out["total"]) == pytest.approx([3_000, 4_000, 4_500])
    assert list(out["draw_balance"]) == pytest.approx([1_000, 0, 0])
    assert list(out["draw_recovered"]) == pytest.approx([0, 1_000, 0])
    nr = C.payouts_over_periods(C.parse_plan({**p.to_json(), "draw": {"amount": 3_000, "recoverable": False}}), d, months)
    assert list(nr["total"]) == pytest.approx([3_000, 5_000, 4_500])


def test_charts_carry_the_numbers_they_show():
    from salesops.charts import planning as charts

    p = plan(threshold=0.5, tier_mode="whole", cap=2.0)
    curve = C.curve_table(p, target_incentive=10_000)
    cliffs = C.curve_cliffs(p)
    cl = cliffs.assign(before_payout=cliffs["before"] * 10_000, after_payout=cliffs["after"] * 10_000)
    spec = charts.payout_curve(curve, cl, "USD", "Standard").to_dict()
    assert spec["title"]["text"] == "Payout curve: Standard"
    datasets = list(spec["datasets"].values())
    cliff_rows = next(d for d in datasets if d and "before_payout" in d[0])
    # the threshold cliff goes from 0 to 5,000 (50% of 10,000), the tier cliff from 10,000 to 15,000
    assert [(r["before_payout"], r["after_payout"]) for r in cliff_rows] == [(0.0, 5_000.0), (pytest.approx(10_000), 15_000.0)]
    d = deals([("1", "Ann", "won", 150_000, "2024-02-01"), ("2", "Bob", "won", 50_000, "2024-03-01")])
    res = C.compute_payouts(plan(), d, Q1)
    spec = charts.payouts_by_rep(res.payouts, "USD").to_dict()
    bars = next(v for v in spec["datasets"].values() if v and "part" in v[0])
    assert {(r["rep"], r["part"]): r["amount"] for r in bars}[("Ann", "Commission")] == pytest.approx(17_500)
    sim_spec = charts.cost_distribution(np.array([1.0, 2.0, 3.0]), "USD", 2.8).to_dict()
    assert sim_spec["title"]["text"] == "Simulated plan cost"
