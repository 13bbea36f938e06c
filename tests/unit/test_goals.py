"""Goal setting: allocation always reconciles, realism behaves (a zero quota is no quota),
what-ifs move the draws the lever's way, the target opens on the published one by the target
rule, the landing zone is salesops.outlook's, publishing replaces a period, and `goals`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesops import goals as G
from salesops import outlook, store, workspace
from salesops import schema as S
from salesops.errors import InputError
from salesops.filters import Filters
from salesops.periods import FiscalCalendar
from tests import fixtures as acme

CAL = FiscalCalendar(1)
Q = CAL.parse("2024Q1")


def history() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ann wins 4 x 10,000 a quarter, Bob 2 x 10,000, Cy only loses; 2023Q1..Q4."""
    rows = []
    for qi, month in enumerate((2, 5, 8, 11)):
        for i in range(4):
            rows.append(("Ann", "won", 10_000, f"2023-{month:02d}-{10 + i:02d}"))
        for i in range(2):
            rows.append(("Bob", "won", 10_000, f"2023-{month:02d}-{10 + i:02d}"))
        rows.append(("Cy", "lost", 5_000, f"2023-{month:02d}-15"))
    deals = pd.DataFrame([{S.OPPORTUNITY_ID: str(i), S.OWNER: o, S.STATUS: s, S.AMOUNT: a,
                           S.CLOSE_DATE: pd.Timestamp(d), S.CREATED_DATE: pd.Timestamp(d) - pd.Timedelta(days=40),
                           S.ACCOUNT: f"acct{i}", S.STAGE: "Closed Won" if s == "won" else "Closed Lost"}
                          for i, (o, s, a, d) in enumerate(rows)])
    reps = pd.DataFrame({S.NAME: ["Ann", "Bob", "Cy"], S.HIRE_DATE: pd.to_datetime(["2019-01-01"] * 3),
                         S.END_DATE: pd.NaT, S.ACTIVE: True, S.MANAGER: "M", S.TEAM: "T", S.REGION: "R",
                         S.OTE: np.nan, S.BASE_SALARY: np.nan})
    return deals, reps


# --- allocation --------------------------------------------------------------------------------------
def test_equal_allocation_with_over_assignment():
    q = G.allocate(300_000, pd.Series(1.0, index=["a", "b", "c"]), over_assignment=0.1)
    assert q.to_dict() == {"a": 110_000, "b": 110_000, "c": 110_000}


def test_allocation_keeps_overrides_and_spreads_the_rest_by_weight():
    w = pd.Series({"a": 3.0, "b": 1.0, "c": 1.0})
    q = G.allocate(100_000, w, overrides={"c": 20_000})
    assert q["c"] == 20_000
    assert q["a"] == pytest.approx(60_000) and q["b"] == pytest.approx(20_000)


def test_allocation_to_the_cent_with_awkward_numbers():
    q = G.allocate(100_000.01, pd.Series(1.0, index=list("abc")))
    assert round(q.sum() * 100) == 10_000_001
    assert sorted(q.round(2)) == [33_333.33, 33_333.34, 33_333.34]


@settings(max_examples=60, deadline=None)
@given(target=st.floats(1, 1e9), n=st.integers(1, 12), over=st.floats(0, 0.5),
       seed=st.integers(0, 1000), n_over=st.integers(0, 3))
def test_allocations_always_sum_to_the_target(target, n, over, seed, n_over):
    rng = np.random.default_rng(seed)
    reps = [f"r{i}" for i in range(n)]
    w = pd.Series(rng.random(n) * rng.integers(0, 2, n), index=reps)
    total = target * (1 + over)
    overrides = {}
    if n_over and n > n_over:
        for r in reps[:n_over]:
            overrides[r] = round(float(rng.random()) * total / (2 * n_over), 2)
    q = G.allocate(target, w, overrides=overrides, over_assignment=over)
    assert abs(q.sum() - total) <= 0.01 + 1e-9 * total
    assert (q >= 0).all()
    for r, v in overrides.items():
        assert q[r] == pytest.approx(v)


def test_allocation_refuses_overrides_above_the_total_and_a_bad_target():
    w = pd.Series(1.0, index=["a", "b"])
    with pytest.raises(InputError, match="more than the total"):
        G.allocate(100, w, overrides={"a": 150})
    with pytest.raises(InputError, match="not the total"):
        G.allocate(100, w, overrides={"a": 20, "b": 20})
    with pytest.raises(InputError, match="positive"):
        G.allocate(0, w)


def test_history_and_capacity_weights():
    deals, reps = history()
    reps.loc[reps[S.NAME] == "Cy", S.HIRE_DATE] = pd.Timestamp("2024-02-15")  # joins mid-quarter
    m = G.fit_bookings_model(deals, reps, Q)
    assert m.reps == ["Ann", "Bob", "Cy"]
    h = G.allocation_weights("history", m)
    assert h["Ann"] == pytest.approx(40_000) and h["Bob"] == pytest.approx(20_000) and h["Cy"] == 0
    cap = G.allocation_weights("capacity", m)
    assert cap["Ann"] == pytest.approx(1.0) and cap["Bob"] == pytest.approx(1.0)
    assert 0 < cap["Cy"] < 0.2     # on the team for half the quarter and in the first ramp month


# --- the bookings model and realism ---------------------------------------------------------------------
def test_model_expectation_follows_the_rep_history():
    deals, reps = history()
    m = G.fit_bookings_model(deals, reps, Q)
    sims = G.simulate_bookings(m, n_sims=4000, seed=3)
    mean = sims["won_amount"].mean(axis=0)
    # Ann: 4 wins a quarter, shrunk a little toward the team's 2; every deal is 10,000
    assert 34_000 < mean[0] < 40_000
    assert 18_000 < mean[1] < 24_000
    assert mean[2] < mean[1]
    assert np.allclose(sims["won_amount"] % 10_000, 0)


def test_probability_of_attainment_falls_as_the_quota_rises():
    deals, reps = history()
    last = None
    for target in (30_000, 60_000, 90_000, 150_000, 300_000):
        table, team, _ = G.plan_goals(deals, reps, Q, target, method="equal", n_sims=1500, seed=7)
        p = table.set_index("rep")["p_attain"]
        if last is not None:
            assert (p <= last[0] + 1e-12).all()
            assert team["p_team"] <= last[1] + 1e-12
        last = (p, team["p_team"])
    assert last[0].max() < 0.05 and last[1] < 0.05


def test_flags_and_expected_share_hitting_leave_out_a_zero_quota():
    deals, reps = history()
    table, team, _ = G.plan_goals(deals, reps, Q, 120_000, method="history", n_sims=2000, seed=1)
    t = table.set_index("rep")
    # Cy has no history: a history split gives him no quota, so no probability and no hit
    assert t.loc["Cy", "quota"] == 0 and np.isnan(t.loc["Cy", "p_attain"]) and t.loc["Cy", "flag"] == "no quota"
    assert team["expected_share_hitting"] == pytest.approx((t.loc["Ann", "p_attain"] + t.loc["Bob", "p_attain"]) / 2)
    assert team["reps_without_quota"] == 1 and team["reps_with_quota"] == 2
    assert G.share_at_quota([np.nan, np.nan]) is None
    assert list(np.isnan(G.attainment_probability(np.ones((3, 2)), [0.0, 1.0]))) == [True, False]
    big, _, _ = G.plan_goals(deals, reps, Q, 1_000_000, method="equal", n_sims=1000, seed=1)
    assert (big["flag"] == "above plausible").all()


def test_simulation_is_seeded_locally():
    deals, reps = history()
    m = G.fit_bookings_model(deals, reps, Q)
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = G.simulate_bookings(m, n_sims=300, seed=5)["won_amount"]
    assert np.random.random() == before          # the global RNG was not used
    b = G.simulate_bookings(m, n_sims=300, seed=5)["won_amount"]
    assert np.array_equal(a, b)


def test_what_ifs_move_every_simulation_the_levers_way():
    deals, reps = history()
    m = G.fit_bookings_model(deals, reps, Q)
    sim = lambda model: G.simulate_bookings(model, n_sims=1000, seed=2)  # noqa: E731
    base = sim(m)
    bigger = sim(G.with_what_ifs(m, deal_size_change=0.5))
    assert np.allclose(bigger["won_amount"], base["won_amount"] * 1.5)   # the same deals, 50% larger
    more = sim(G.with_what_ifs(m, win_rate_uplift=0.2))
    fewer = sim(G.with_what_ifs(m, win_rate_uplift=-0.2))
    assert (more["won_count"] >= base["won_count"]).all() and (more["won_amount"] >= base["won_amount"]).all()
    assert (fewer["won_count"] <= base["won_count"]).all() and (fewer["won_amount"] <= base["won_amount"] + 1e-9).all()
    assert more["won_count"].mean() == pytest.approx(base["won_count"].mean() * 1.2, rel=0.05)
    hired = G.with_what_ifs(m, extra_hires=2)
    assert hired.reps[-2:] == ["New hire 1", "New hire 2"]
    with_hires = sim(hired)
    assert np.array_equal(with_hires["won_amount"][:, :3], base["won_amount"])   # the others are not redrawn
    # a rep's draws do not depend on who else is modelled
    bob = sim(G.subset_model(m, [1]))
    assert np.array_equal(bob["won_amount"][:, 0], base["won_amount"][:, 1])


def test_empty_workspace_is_a_clear_error():
    empty = pd.DataFrame(columns=[S.OPPORTUNITY_ID, S.OWNER, S.STATUS, S.AMOUNT, S.CLOSE_DATE, S.CREATED_DATE, S.ACCOUNT])
    for c in (S.CLOSE_DATE, S.CREATED_DATE):
        empty[c] = pd.to_datetime(empty[c])
    with pytest.raises(InputError, match="no reps"):
        G.plan_goals(empty, None, Q, 1000)


# --- targets ----------------------------------------------------------------------------------------
def test_top_down_growth_over_last_year():
    deals, _ = history()
    out = G.top_down_target(deals, CAL.parse("2024Q1"), CAL, growth=0.1)
    # 2023Q1: Ann 40,000 + Bob 20,000
    assert out["last_year"] == 60_000
    assert out["target"] == pytest.approx(66_000)
    assert G.top_down_target(deals, Q, CAL, amount=5e5)["target"] == 5e5


def test_bottom_up_is_ramped_reps_times_productivity():
    deals, reps = history()
    out = G.bottom_up_target(deals, reps, Q)
    assert out["target"] == pytest.approx(out["ramped_reps"] * out["productivity"] * out["quarters"])
    assert out["ramped_reps"] == pytest.approx(3.0)


def test_publish_replaces_only_that_periods_owner_targets(tmp_path):
    db = tmp_path / "t.db"
    with store.connect(db, write=True) as conn:
        store.insert_frame(conn, "targets", pd.DataFrame({
            S.SCOPE: ["owner", "owner", "team"], S.SCOPE_NAME: ["Old", "Ann", "T"],
            S.PERIOD_START: ["2024-01-01", "2024-04-01", "2024-01-01"],
            S.PERIOD_END: ["2024-03-31", "2024-06-30", "2024-03-31"], S.AMOUNT: [1.0, 2.0, 3.0]}))
    with store.connect(db, write=True) as conn:
        assert G.publish_targets(conn, Q, pd.Series({"Ann": 100.0, "Bob": 200.0})) == 2
    with store.connect(db) as conn:
        t = store.load_targets(conn)
    q1_owner = t[(t[S.SCOPE] == "owner") & (t[S.PERIOD_START] == "2024-01-01")]
    assert dict(zip(q1_owner[S.SCOPE_NAME], q1_owner[S.AMOUNT])) == {"Ann": 100.0, "Bob": 200.0}
    assert len(t) == 4   # Q2 owner target and the team target untouched


def test_goal_sheet_and_scenarios():
    deals, reps = history()
    table, team, _ = G.plan_goals(deals, reps, Q, 90_000, method="equal", n_sims=500)
    sheet = G.goal_sheet(table, Q, currency="EUR", scenario="base")
    assert list(sheet["quota"]) == [30_000, 30_000, 30_000]
    assert set(sheet["period"]) == {"2024Q1"}
    a = G.scenario_payload(Q, 90_000, "equal", 0.0, table, team)
    b = dict(a, quotas={k: v * 2 for k, v in a["quotas"].items()})
    cmp = G.compare_scenarios(a, b)
    assert list(cmp["quota_change"]) == [30_000, 30_000, 30_000]
    assert list(cmp["quota_b"]) == [60_000, 60_000, 60_000]


def test_calibration_to_the_forecast_keeps_rep_shares_and_matches_the_team_distribution():
    deals, reps = history()
    m = G.fit_bookings_model(deals, reps, Q)
    sims = G.simulate_bookings(m, n_sims=1000, seed=4)
    forecast = np.random.default_rng(9).normal(200_000, 20_000, 4000)
    cal = G.calibrate_to_team(sims, forecast)
    totals = cal["won_amount"].sum(axis=1)
    assert np.quantile(totals, 0.5) == pytest.approx(np.quantile(forecast, 0.5), rel=0.02)
    assert np.quantile(totals, 0.9) == pytest.approx(np.quantile(forecast, 0.9), rel=0.02)
    raw = sims["won_amount"]
    nz = raw.sum(axis=1) > 0
    share_raw = raw[nz] / raw[nz].sum(axis=1, keepdims=True)
    share_cal = cal["won_amount"][nz] / cal["won_amount"][nz].sum(axis=1, keepdims=True)
    assert np.allclose(share_raw, share_cal)
    # probabilities computed on calibrated draws still fall as the quota rises
    ps = [G.attainment_probability(cal["won_amount"], np.full(3, q))[0] for q in (10_000, 50_000, 100_000, 200_000)]
    assert ps == sorted(ps, reverse=True)


def test_goal_sheets_workbook_has_a_sheet_per_rep_and_neutralises_formulas():
    import io

    import openpyxl

    table = pd.DataFrame({"rep": ["Ann", "=HYPERLINK(\"x\")", "Ann/B"], "quota": [1.0, 2.0, 3.0], "expected": [1.0, 1.0, 1.0],
                          "p_attain": [0.5, 0.5, 0.5], "flag": ["", "stretch", ""]})
    sheet = G.goal_sheet(table, Q)
    wb = openpyxl.load_workbook(io.BytesIO(G.goal_sheets_xlsx(sheet)))
    assert len(wb.sheetnames) == 4 and wb.sheetnames[0] == "All reps"
    values = [c.value for row in wb.worksheets[0].iter_rows() for c in row]
    assert "'=HYPERLINK(\"x\")" in values
    assert all(not (isinstance(v, str) and v.startswith("=")) for ws in wb.worksheets for row in ws.iter_rows() for v in [c.value for c in row])


def test_negative_headcount_removes_the_lowest_expected_reps():
    deals, reps = history()
    m = G.fit_bookings_model(deals, reps, Q)
    fewer = G.with_what_ifs(m, extra_hires=-1)
    assert fewer.reps == ["Ann", "Bob"]          # Cy has the lowest expected bookings
    with pytest.raises(InputError, match="no reps"):
        G.with_what_ifs(m, extra_hires=-3)


def test_overrides_and_scenario_names():
    assert G.parse_overrides([("Ann", "150,000"), ("Bob", " "), ("Cy", "$20 000")]) == (("Ann", 150_000.0), ("Cy", 20_000.0))
    with pytest.raises(InputError, match="manual quota for Ann = 'lots'"):
        G.parse_overrides([("Ann", "lots")])
    with pytest.raises(InputError, match="0 or more"):
        G.parse_overrides([("Ann", "-5")])
    assert G.scenario_name("  My plan ", Q, "amount", "equal") == "My plan"
    assert G.scenario_name("", Q, "published company target", "equal") == "2024Q1 · published company target · Equal split"


# --- on a workspace and its filters ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def acme_ws(tmp_path_factory):
    return workspace.load(acme.write_acme(tmp_path_factory.mktemp("acme") / "acme.db"))


@pytest.mark.parametrize("fields, amount, label", [
    ({}, 300_000, "company target"),
    ({"region": ["East"]}, 200_000, "region target of East"),
    ({"team": ["East Enterprise"]}, 150_000, "team target of East Enterprise"),
    ({"team": ["West Commercial"]}, 60_000, "sum of 2 rep targets"),       # Dan 60K + Fay 0
    ({"rep": ["Ann Lee"]}, 100_000, "sum of 1 rep target"),
])
def test_the_target_opens_on_the_published_target_of_the_rule(acme_ws, fields, amount, label):
    f = Filters.make(acme_ws, period="2027Q3", **fields)        # fiscal year from April: Oct-Dec 2026
    options = G.target_options(acme_ws, f)
    assert options["published"]["amount"] == amount and options["published"]["label"] == label
    view = f.target(acme_ws)
    assert {k: options["published"][k] for k in view.as_dict()} == view.as_dict() and options["published"]["has_target"]
    if view.own is not None and view.rep_sum is not None:       # both targets exist: both named, never mixed
        assert options["published"]["note"] == (f"The published target is the {label} (${amount / 1000:.0f}K); the "
                                                f"{view.reps} reps' own targets add up to ${view.rep_sum / 1000:.0f}K.")
    else:
        assert options["published"]["note"] is None
    chosen = G.choose_target(options, "published")
    assert chosen == {"target": amount, "basis": f"published {label}", "problem": None}
    assert options["suggested"] == amount


def test_the_other_bases_and_a_period_without_a_published_target(acme_ws):
    f = Filters.make(acme_ws, period="2027Q2")                 # Jul-Sep 2026: no target rows
    options = G.target_options(acme_ws, f)
    assert not options["published"]["has_target"]
    assert G.choose_target(options, "published")["problem"].startswith("2027Q2 has no published target")
    # last year = fiscal 2026Q2 (Jul-Sep 2025): nothing booked -> growth has nothing to grow from
    assert options["last_year"] == 0 and G.choose_target(options, "growth", growth=0.1)["target"] is None
    q3 = G.target_options(acme_ws, Filters.make(acme_ws, period="2027Q3"))
    q3_next_year = dict(q3, last_year=80_000.0)
    assert G.choose_target(q3_next_year, "growth", growth_pct=15)["target"] == pytest.approx(92_000)
    assert G.choose_target(q3, "amount", amount=123_000.0)["target"] == 123_000
    assert G.choose_target(q3, "amount", amount=0.0)["problem"]
    rows = G.target_rows(q3, {"p10": 1.0, "p50": 2.0, "p90": 3.0}, 250_000.0)
    capacity = ["Bottom-up capacity"] if np.isfinite(q3["bottom_up"]["target"]) else []
    assert list(rows["label"]) == ["Published (company target)", "Last year (2026Q3)", *capacity, "Landing zone (P50)",
                                   "Chosen target"]
    assert rows.set_index("label").loc["Landing zone (P50)", "low"] == 1.0


def test_goal_plan_on_the_slice_with_the_landing_zone_of_outlook(acme_ws):
    f = Filters.make(acme_ws, period="2027Q3", region=["East"])
    lz = outlook.landing_zone(acme_ws, f)
    plan = G.goal_plan(acme_ws, f, 200_000.0, "equal", 0.1, (("Ann Lee", 100_000.0),), 500, 0, team_samples=lz["samples"])
    t = plan.table.set_index("rep")
    assert set(t.index) == {"Ann Lee", "Bob Park", "Cat Diaz"}                 # East by the roster (Eve is based in the West)
    assert t.loc["Ann Lee", "quota"] == 100_000 and t.loc["Ann Lee", "set_by"] == "set by hand"
    assert t["quota"].sum() == pytest.approx(220_000) and t.loc["Bob Park", "quota"] == pytest.approx(60_000)
    assert plan.team["source"] == "landing zone"
    assert plan.team["p_team"] == pytest.approx(float((lz["samples"] >= 200_000 - 1e-9).mean()))
    assert plan.reconciliation("USD") == "Quotas add up to $220,000 = target $200,000 x 1.10 over-assignment."
    again = G.goal_plan(acme_ws, f, 200_000.0, "equal", 0.1, (("Ann Lee", 100_000.0),), 500, 0, team_samples=lz["samples"])
    assert again.table.equals(plan.table)


def test_cli_goals_json(demo_db, capsys):
    import json

    from salesops.cli import main

    # without --target: the published target of the period (the demo's company target for 2027Q1)
    args = ["--db", str(demo_db), "goals", "--period", "2027Q1", "--method", "history", "--over-assign", "10%",
            "--sims", "300", "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    with store.connect(demo_db) as conn:
        t = store.load_targets(conn)
    company = t[(t[S.SCOPE] == "all") & (t[S.PERIOD_START] == pd.Timestamp("2027-01-01"))][S.AMOUNT].sum()
    assert doc["target"] == company and doc["basis"] == "published company target"
    assert doc["published_target"]["source"] == "all"
    assert sum(r["quota"] for r in doc["reps"]) == pytest.approx(company * 1.1, abs=0.01)
    assert all(0 <= r["p_attain"] <= 1 for r in doc["reps"] if r["p_attain"] is not None)
    with_quota = [r["p_attain"] for r in doc["reps"] if r["quota"] > 0]
    assert doc["expected_share_hitting"] == pytest.approx(np.mean(with_quota))
    assert doc["landing"]["p50"] > 0 and doc["team_source"] == "landing zone"
    for bad in (["--target", "-5"], ["--growth", "lots"], ["--sims", "0"]):
        assert main(["--db", str(demo_db), "goals", "--period", "2027Q1", *bad, "--json"]) == 2
        assert capsys.readouterr().err.startswith("error: ")
