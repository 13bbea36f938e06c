"""salesops.leaderboard on hand-built workspaces, every expected number worked out from the rows:
the leaderboard (the team row on the slice's target, new hires, a zero quota, a deal in another
region), consistency, coaching flags, quadrants, rep trends and funnel, the roll-up, and the
`kpis --by owner --json` leaderboard the Reps page shows."""
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from salesops import leaderboard as L
from salesops import metrics, store, workspace
from salesops import schema as S
from salesops.cli import main
from salesops.filters import Filters

DEALS = pd.DataFrame([
    # id, owner, status, amount, created, close, probability, forecast category, region
    ("1", "Ann", "won", 1000.0, "2017-01-10", "2017-04-20", 1.0, "closed", "EMEA"),
    ("2", "Ann", "won", 3000.0, "2017-04-01", "2017-05-31", 1.0, "closed", "EMEA"),
    ("3", "Ann", "lost", 500.0, "2017-02-01", "2017-06-30", 0.0, "omitted", "EMEA"),
    ("4", "Ann", "open", 2000.0, "2017-04-02", "2017-06-15", 0.4, "best_case", "EMEA"),
    ("5", "Bob", "won", 4000.0, "2017-01-01", "2017-04-01", 1.0, "closed", None),          # Bob's region: APAC
    ("6", "Bob", "open", 800.0, "2017-05-01", "2017-06-01", 0.5, "omitted", "APAC"),
    ("7", "Bob", "won", 9999.0, "2017-01-01", "2017-07-01", 1.0, "closed", "APAC"),         # 2017Q3
    ("8", "Cy", "lost", None, "2017-03-03", "2017-03-31", 0.0, "omitted", "APAC"),           # 2017Q1
    ("9", "Ann", "won", 2000.0, "2016-03-01", "2016-04-15", 1.0, "closed", "EMEA"),         # 2016Q2
    ("10", "Bob", "won", 500.0, "2017-01-01", "2017-01-20", 1.0, "closed", "APAC"),         # 2017Q1
    ("11", "Cy", "won", 700.0, "2017-04-10", "2017-05-05", 1.0, "closed", "EMEA"),          # an APAC rep's EMEA deal
], columns=[S.OPPORTUNITY_ID, S.OWNER, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.PROBABILITY,
            S.FORECAST_CATEGORY, S.REGION])
DEALS[S.STAGE] = DEALS[S.STATUS]
REPS = pd.DataFrame([
    ("Ann", "Mia", "East", "EMEA", "2015-01-01"), ("Bob", "Mia", "East", "APAC", "2015-01-01"),
    ("Cy", "Max", "West", "APAC", "2015-01-01"), ("Dee", "Max", "West", "APAC", "2017-05-01"),   # hired in Q2, no deal
    ("Zed", "Max", "West", "APAC", "2017-04-15"),                                                  # new hire, zero quota
], columns=[S.NAME, S.MANAGER, S.TEAM, S.REGION, S.HIRE_DATE])
Q2 = ("2017-04-01", "2017-06-30")
TARGETS = pd.DataFrame([("owner", "Ann", *Q2, 8000.0), ("owner", "Bob", *Q2, 3000.0), ("owner", "Cy", *Q2, 1000.0),
                        ("owner", "Zed", *Q2, 0.0), ("all", "all", *Q2, 10000.0), ("region", "EMEA", *Q2, 6000.0)],
                       columns=[S.SCOPE, S.SCOPE_NAME, S.PERIOD_START, S.PERIOD_END, S.AMOUNT])
AS_OF = date(2017, 7, 1)


@pytest.fixture(scope="module")
def ws():
    return workspace.from_frames(DEALS, reps=REPS, targets=TARGETS, as_of=AS_OF)


def board_of(ws, period="2017Q2", as_of=None, **fields):
    return L.leaderboard(ws, Filters.make(ws, period=period, as_of=as_of, **fields))


# --- the leaderboard -----------------------------------------------------------------------------
def test_leaderboard_by_hand(ws):
    b = board_of(ws)
    lb = b.reps.set_index(S.OWNER)
    assert list(b.reps.columns) == L.LEADERBOARD_COLUMNS
    # ranked by attainment: Bob 4000/3000, Cy 700/1000, Ann 4000/8000; then Dee and Zed (no attainment)
    assert list(b.reps[S.OWNER]) == ["Bob", "Cy", "Ann", "Dee", "Zed"] and list(b.reps["rank"]) == [1, 2, 3, 4, 5]
    assert lb.loc["Ann", "attainment"] == 0.5 and lb.loc["Cy", "won_amount"] == 700
    # the team row is the slice's: the company target (10,000), not the reps' 12,000
    assert b.team["won_amount"] == 8700 and b.team["win_rate"] == 0.8
    assert b.team["target"] == 10000 and b.team["attainment"] == pytest.approx(0.87)
    assert b.target.label == "company target" and b.target.rep_sum == 12000
    assert "the 4 reps' own targets add up to $12K" in b.target_words()
    # Ann: 2 won of 3 closed, shrunk toward the team's 80% by 10 deals
    assert lb.loc["Ann", "win_rate_shrunk"] == pytest.approx((2 + 8) / 13) and lb.loc["Ann", "small_sample"]
    # 80% interval of Beta(2 + 1, 1 + 1): 32% to 86%
    assert lb.loc["Ann", "win_rate_text"] == "67% (32%–86%) · few deals"
    # Dee (hired in the quarter, no deal, no target) is listed with zeros; Zed's quota is zero
    assert lb.loc["Dee", "won_amount"] == 0 and np.isnan(lb.loc["Dee", "target"]) and np.isnan(lb.loc["Dee", "win_rate_shrunk"])
    assert lb.loc["Zed", "target"] == 0 and np.isnan(lb.loc["Zed", "attainment"])
    assert b.at_target() == (1, 3)  # Bob; Zed's zero quota is not a target to reach
    assert (lb.loc["Dee", S.MANAGER], lb.loc["Dee", S.TEAM], lb.loc["Dee", S.REGION]) == ("Max", "West", "APAC")


def test_the_rows_are_the_kpis_by_owner(ws):
    f = Filters.make(ws, period="2017Q2")
    rows = metrics.kpis(ws, f, S.OWNER).set_index(metrics.GROUP)
    lb = L.leaderboard(ws, f).reps.set_index(S.OWNER)
    for owner, r in rows.iterrows():
        for k in ("won_amount", "won_count", "lost_count", "win_rate", "avg_deal_size", "avg_cycle_days", "open_pipeline",
                  "target", "attainment", "coverage", "velocity", "pipeline_created_amount"):
            assert (pd.isna(r[k]) and pd.isna(lb.loc[owner, k])) or r[k] == lb.loc[owner, k], (owner, k)
    assert metrics.team(ws, f)["target"] == L.leaderboard(ws, f).team["target"]


def test_a_region_filter_counts_the_regions_deals_and_the_target_of_whats_inside(ws):
    b = board_of(ws, region=["EMEA"])
    lb = b.reps.set_index(S.OWNER)
    # EMEA deals of Q2: Ann's 1, 2 (won) and Cy's 11; only Ann's roster puts her in EMEA
    assert list(b.reps[S.OWNER]) == ["Ann", "Cy"]
    assert lb.loc["Ann", "won_amount"] == 4000 and lb.loc["Ann", "target"] == 8000
    assert lb.loc["Cy", "won_amount"] == 700 and np.isnan(lb.loc["Cy", "target"])  # not Cy's APAC target
    assert lb.loc["Cy", S.REGION] == "APAC"
    assert b.team["target"] == 6000 and b.target.source == "region" and b.target.rep_sum == 8000
    assert b.target_words() == ("Team row: attainment is against the region target of EMEA ($6K); the 1 reps' own "
                                "targets add up to $8K. The Overview uses the same target.")


def test_a_slice_without_deals_lists_its_rostered_reps():
    ws = workspace.from_frames(DEALS[DEALS[S.OWNER] != "Cy"], reps=REPS, targets=TARGETS, as_of=AS_OF)
    b = board_of(ws, team=["West"])
    assert sorted(b.reps[S.OWNER]) == ["Cy", "Dee", "Zed"] and (b.reps["won_amount"] == 0).all()
    assert b.reps.set_index(S.OWNER).loc["Cy", "target"] == 1000
    assert L.hierarchy(ws, Filters.make(ws, period="2017Q2", team=["West"]), "rep")["won_amount"].sum() == 0


def test_leaderboard_on_an_empty_workspace():
    ws = workspace.from_frames(DEALS.iloc[0:0], as_of=AS_OF)
    b = board_of(ws)
    assert b.empty and b.flags.empty and L.quadrants(b).reps.empty


# --- consistency ---------------------------------------------------------------------------------
def monthly(owner, amounts, start="2016-01-15"):
    rows = []
    for i, a in enumerate(amounts):
        day = pd.Timestamp(start) + pd.DateOffset(months=i)
        if a:
            rows.append((f"{owner}{i}", owner, "won", float(a), day - pd.Timedelta(days=10), day, 1.0, "closed", "EMEA"))
    out = pd.DataFrame(rows, columns=DEALS.columns[:-1])
    out[S.STAGE] = out[S.STATUS]
    return out


def consistency_of(deals, as_of, reps=None, targets=None, period="2016Q4"):
    ws = workspace.from_frames(deals, reps=reps, targets=targets, as_of=pd.Timestamp(as_of).date())
    f = Filters.make(ws, period=period, as_of=pd.Timestamp(as_of).date())
    return L.consistency(ws, f, sorted(set(deals[S.OWNER])), min(f.as_of, f.period.end))


def test_consistency_cv_by_hand():
    amounts = [100, 0, 200, 100, 100, 0, 300, 100, 100, 100, 0, 100]  # Jan..Dec 2016
    c = consistency_of(monthly("Ann", amounts), "2016-12-31")
    a = np.array(amounts, dtype=float)
    assert c.loc["Ann", "cv"] == pytest.approx(a.std() / a.mean()) and c.loc["Ann", "months_observed"] == 12
    # no targets: the bar is the median rep-month (100): 9 months at or above it
    assert c.loc["Ann", "months_above"] == 9 and list(c.loc["Ann", "spark"]) == amounts
    assert np.isnan(c.loc["Ann", "quarter_quota_share"])


def test_consistency_window_leaves_out_the_unfinished_month_and_months_before_hire():
    reps = pd.DataFrame([("Ann", "M", "T", "EMEA", "2016-07-01")], columns=[S.NAME, S.MANAGER, S.TEAM, S.REGION, S.HIRE_DATE])
    c = consistency_of(monthly("Ann", [100] * 12), "2016-12-20", reps=reps)  # December not finished
    assert L.trailing_months("2016-12-20")[0] == pd.Timestamp("2015-12-01")
    assert c.loc["Ann", "months_observed"] == 5 and c.loc["Ann", "cv"] == 0   # Jul..Nov


def test_consistency_quarters_at_quota_by_the_target_rule():
    t = pd.DataFrame({S.SCOPE: "owner", S.SCOPE_NAME: "Ann",
                      S.PERIOD_START: ["2016-01-01", "2016-04-01", "2016-07-01", "2016-10-01"],
                      S.PERIOD_END: ["2016-03-31", "2016-06-30", "2016-09-30", "2016-12-31"],
                      S.AMOUNT: [300.0, 400.0, 250.0, 301.0]})
    c = consistency_of(monthly("Ann", [100] * 12), "2016-12-31", targets=t)  # 300 a quarter
    assert (c.loc["Ann", "quarters_with_target"], c.loc["Ann", "quarters_at_quota"]) == (4, 2)
    assert c.loc["Ann", "quarter_quota_share"] == 0.5
    assert c.loc["Ann", "months_above"] == 12  # every month at the median rep-month (100)


def test_consistency_of_few_months_is_unknown():
    reps = pd.DataFrame([("Ann", "M", "T", "EMEA", "2016-11-01")], columns=[S.NAME, S.MANAGER, S.TEAM, S.REGION, S.HIRE_DATE])
    c = consistency_of(monthly("Ann", [100, 100], start="2016-11-15"), "2016-12-31", reps=reps)
    assert c.loc["Ann", "months_observed"] == 2 and np.isnan(c.loc["Ann", "cv"])


# --- coaching flags ------------------------------------------------------------------------------
def flag_board(rows, team, state="running", elapsed=0.5, peers=None):
    lb = pd.DataFrame(rows)
    defaults = {"team": "T", "won_count": 10, "lost_count": 10, "win_rate": 0.5, "win_rate_low": 0.4, "win_rate_high": 0.6,
                "avg_cycle_days": 50.0, "avg_deal_size": 10000.0, "target": np.nan, "won_amount": 0.0, "coverage": np.nan,
                "attainment": np.nan, "cv": 0.5, "months_observed": 12, "pipeline_created_count": 5}
    for k, v in defaults.items():
        if k not in lb.columns:
            lb[k] = v
        elif not (isinstance(v, float) and np.isnan(v)):
            lb[k] = lb[k].fillna(v)
    from salesops.targets import NO_TARGET
    return L.Leaderboard("2017Q2", state, elapsed, lb, team, NO_TARGET, peers or {})


def test_coaching_flags_in_words():
    team = {"win_rate": 0.31, "avg_cycle_days": 50.0, "avg_deal_size": 10000.0, "cv_median": 0.5, "attainment": 0.5,
            "coverage": 2.5}
    b = flag_board([
        {S.OWNER: "Low", "won_count": 4, "lost_count": 18, "win_rate": 4 / 22, "win_rate_low": 0.1, "win_rate_high": 0.28},
        {S.OWNER: "Unlucky", "won_count": 1, "lost_count": 4, "win_rate": 0.2, "win_rate_low": 0.08, "win_rate_high": 0.5},
        {S.OWNER: "Slow", "avg_cycle_days": 70.0},
        {S.OWNER: "Small", "avg_deal_size": 5000.0},
        {S.OWNER: "Thin", "target": 10000.0, "won_amount": 2000.0, "coverage": 1.0, "attainment": 0.2},
        {S.OWNER: "OnPace", "target": 10000.0, "won_amount": 4000.0, "coverage": 2.0, "attainment": 0.4},
        {S.OWNER: "Lumpy", "cv": 1.6},
        {S.OWNER: "Idle", "pipeline_created_count": 0},
    ], team)
    msgs = {(o, k): m for o, k, m in L.coaching_flags(b).itertuples(index=False)}
    assert msgs[("Low", "win_rate")] == "win rate 18% vs team 31% (4 of 22 closed)"
    assert not any(o == "Unlucky" for o, _ in msgs)  # its interval reaches the team's rate
    assert msgs[("Slow", "cycle")] == "cycle 40% longer than the team (70 vs 50 days)"
    assert msgs[("Small", "deal_size")] == "average deal $5K vs team $10K"
    assert msgs[("Thin", "coverage")] == ("pipeline covers 1.0x of the remaining target vs the team's 2.5x; about 3.2x is "
                                          "needed at the team's 31% win rate")
    assert msgs[("Thin", "pace")] == "at 20% of target vs the team's 50% with 50% of 2017Q2 gone"
    assert not any(o == "OnPace" for o, _ in msgs)
    assert msgs[("Lumpy", "consistency")] == "lumpy bookings: monthly variation 1.6 vs team median 0.5"
    assert msgs[("Idle", "pipeline")] == "no new pipeline created in 2017Q2"
    closed = L.coaching_flags(flag_board(b.reps.to_dict("records"), team, state="closed", elapsed=None))
    assert not closed["flag"].isin(["coverage", "pace"]).any()
    future = L.coaching_flags(flag_board(b.reps.to_dict("records"), team, state="future", elapsed=None))
    assert "pipeline" not in set(future["flag"])  # nothing can be created in a quarter not started


def test_flags_compare_a_rep_with_their_own_team():
    team = {"win_rate": 0.3, "avg_cycle_days": 40.0, "avg_deal_size": 10000.0, "cv_median": 0.5}
    b = flag_board([{S.OWNER: f"E{i}", "avg_cycle_days": 90.0 + i, "team": "Enterprise"} for i in range(3)]
                   + [{S.OWNER: "S0", "avg_cycle_days": 60.0, "team": "SMB"}], team,
                   peers={"Enterprise": {"win_rate": 0.3, "avg_cycle_days": 91.0, "avg_deal_size": 10000.0}})
    f = L.coaching_flags(b)
    assert list(f.loc[f["flag"] == "cycle", S.OWNER]) == ["S0"]


def test_the_leaderboard_carries_peer_teams_of_three_or_more():
    reps = REPS.assign(**{S.TEAM: ["East", "East", "East", "West", "West"]})
    ws = workspace.from_frames(DEALS, reps=reps, targets=TARGETS, as_of=AS_OF)
    b = board_of(ws)
    assert set(b.peers) == {"East"} and b.peers["East"]["won_amount"] == 8700


# --- quadrants, trends, funnel, profile ------------------------------------------------------------
def test_quadrants_split_at_medians():
    lb = pd.DataFrame({S.OWNER: list("ABCD"), "win_rate": [0.5, 0.5, 0.1, 0.1], "avg_deal_size": [100.0, 10.0, 100.0, 10.0],
                       "won_count": [5, 5, 1, 1], "lost_count": [5, 5, 9, 9], "won_amount": [500.0, 50.0, 100.0, 10.0]})
    q = L.quadrants(flag_board(lb.to_dict("records"), {})).reps.set_index(S.OWNER)
    assert q.loc["A", "quadrant"] == "Wins often, wins big" and q.loc["B", "quadrant"] == "Wins often, small deals"
    assert q.loc["C", "quadrant"] == "Big deals, low win rate" and q.loc["D", "quadrant"] == "Small deals, low win rate"
    assert q.loc["A", "closed"] == 10


def test_rep_trends_funnel_and_profile(ws):
    f = Filters.make(ws, period="2017Q2")
    t = L.rep_trends(ws, f, ("Ann",))
    ann = t[t["series"] == "Ann"].set_index("month")
    assert ann.loc["2017-04-01", "won_amount"] == 1000 and ann.loc["2017-05-01", "won_amount"] == 3000
    assert ann.loc["2017-06-01", "win_rate"] == 0.0
    med = t[t["series"] == L.MEDIAN].set_index("month")
    # April: Ann 1000 and Bob 4000 booked, Cy created deal 11: the median rep booked 1000
    assert med.loc["2017-04-01", "won_amount"] == 1000
    fun = L.rep_funnel(ws, f, "Ann").set_index("step")
    # Ann created deals 2 (won) and 4 (open) in Q2; Bob created 6, Cy 11
    assert (fun.loc["Created", "count"], fun.loc["Closed", "count"], fun.loc["Won", "count"]) == (2, 1, 1)
    assert fun.loc["Won", "amount"] == 3000 and fun.loc["Won", "conversion"] == 0.5 and fun.loc["Created", "median_count"] == 1
    b = L.leaderboard(ws, f)
    p = L.profile(b, "Ann")
    assert (p.rank, p.reps) == (3, 5) and p.line() == "Ann · manager Mia · East · rank 3 of 5"
    assert p.median_note("won_amount") == "median rep $700"
    d = L.rep_detail(ws, f, "Ann")
    # Ann's deals existing by the as-of date that close or were created in Q2: 1, 2, 3, 4
    assert d.deal_count == 4 and sorted(d.deals[S.AMOUNT]) == [500, 1000, 2000, 3000]
    assert dict(zip(d.deals[S.AMOUNT], d.deals[S.STATUS])) == {3000: "won", 2000: "open", 1000: "won", 500: "lost"}
    early = L.rep_detail(ws, Filters.make(ws, period="2017Q2", as_of=date(2017, 4, 20)), "Ann")
    assert dict(zip(early.deals[S.AMOUNT], early.deals[S.STATUS])) == {3000: "open", 2000: "open", 1000: "won", 500: "open"}


def test_compare_reps_side_by_side(ws):
    b = board_of(ws)
    side = L.compare_reps(b, ["Ann", "Bob"]).set_index("KPI")
    assert list(side.columns) == ["Ann", "Bob", "Team"]
    assert side.loc["Bookings"].tolist() == ["$4K", "$4K", "$8.7K"]
    assert side.loc["Target", "Team"] == "$10K"  # the company target, as the Overview
    assert side.loc["Win rate", "Ann"] == "67%"


# --- roll-up -------------------------------------------------------------------------------------
def test_hierarchy_rolls_up(ws):
    h = L.hierarchy(ws, Filters.make(ws, period="2017Q2"))
    at = h.set_index(["level", "name"])
    assert at.loc[("all", "All"), "won_amount"] == 8700 and at.loc[("all", "All"), "target"] == 10000
    assert at.loc[("team", "East"), "won_amount"] == 8000 and at.loc[("team", "East"), "target"] == 11000
    assert at.loc[("team", "West"), "target"] == 1000 and at.loc[("team", "West"), "target_label"] == "sum of 2 rep targets"
    assert at.loc[("manager", "Mia"), "parent"] == "East" and at.loc[("rep", "Ann"), "path"] == "East › Mia › Ann"
    for level in ("team", "manager", "rep"):
        assert h[h["level"] == level]["won_amount"].sum() == 8700
    assert set(L.hierarchy(ws, Filters.make(ws, period="2017Q2"), "manager")["level"]) == {"all", "manager"}


# --- the CLI prints what the page shows ------------------------------------------------------------
def test_kpis_by_owner_json_carries_the_leaderboard(tmp_path, capsys, ws):
    db = tmp_path / "lb.db"
    with store.connect(db, write=True) as conn:
        store.insert_frame(conn, "opportunities", DEALS)
        store.insert_frame(conn, "reps", REPS.assign(active=1))
        store.insert_frame(conn, "targets", TARGETS)
    assert main(["--db", str(db), "kpis", "--period", "2017Q2", "--as-of", "2017-07-01", "--by", "owner", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    want = board_of(ws).reps
    got = pd.DataFrame(doc["leaderboard"])
    assert list(got[S.OWNER]) == list(want[S.OWNER]) and list(got["rank"]) == list(want["rank"])
    assert got["win_rate_shrunk"].tolist() == pytest.approx(want["win_rate_shrunk"].tolist(), nan_ok=True)
    assert {r["group"] for r in doc["rows"]} <= set(got[S.OWNER])
    assert main(["--db", str(db), "kpis", "--period", "2017Q2", "--as-of", "2017-07-01", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["last_year"]["period"] == "2016Q2" and doc["last_year"]["rows"][0]["won_amount"] == 2000


def test_coaching_list_puts_the_most_flagged_first():
    team = {"win_rate": 0.31, "avg_cycle_days": 50.0, "avg_deal_size": 10000.0, "cv_median": 0.5, "attainment": 0.5}
    b = flag_board([{S.OWNER: "A", "avg_cycle_days": 70.0, "rank": 1},
                    {S.OWNER: "B", "avg_cycle_days": 70.0, "avg_deal_size": 5000.0, "rank": 2},
                    {S.OWNER: "C", "rank": 3}, {S.OWNER: "D", "avg_deal_size": 5000.0, "rank": 4}], team, state="closed")
    b.flags = L.coaching_flags(b)
    words = b.flags.groupby(S.OWNER)["message"].agg("; ".join)
    b.reps["coaching"] = b.reps[S.OWNER].map(words).fillna("")
    assert [o for o, _ in b.coaching_list()] == ["B", "D", "A"]
    assert b.coaching_list()[0][1] == "cycle 40% longer than the team (70 vs 50 days); average deal $5K vs team $10K"
