"""`kpis` end to end on a small hand-computed fixture (DESIGN.md section 6 contract)."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from salesops import store
from salesops.cli import main

DEALS = pd.DataFrame([
    # id, owner, status, amount, created, close, probability, forecast category
    ("1", "Ann", "won", 1000.0, "2017-01-10", "2017-04-20", 1.0, "closed"),
    ("2", "Ann", "won", 3000.0, "2017-03-01", "2017-05-31", 1.0, "closed"),
    ("3", "Ann", "lost", 500.0, "2017-02-01", "2017-06-30", 0.0, "omitted"),
    ("4", "Ann", "open", 2000.0, "2017-04-01", "2017-06-15", 0.4, "best_case"),
    ("5", "Bob", "won", 4000.0, "2017-01-01", "2017-04-01", 1.0, "closed"),
    ("6", "Bob", "open", 800.0, "2017-05-01", "2017-06-01", 0.5, "omitted"),
    ("7", "Bob", "won", 9999.0, "2017-01-01", "2017-07-01", 1.0, "closed"),   # next quarter
    ("8", "Cy", "lost", None, "2017-03-03", "2017-03-31", 0.0, "omitted"),    # previous quarter
], columns=["opportunity_id", "owner", "status", "amount", "created_date", "close_date", "probability", "forecast_category"])
REPS = pd.DataFrame({"name": ["Ann", "Bob", "Cy"], "manager": ["Mia", "Mia", "Max"], "team": ["East", "East", "West"],
                     "region": ["EMEA", "EMEA", "APAC"], "active": [1, 1, 1]})
TARGETS = pd.DataFrame({"scope": ["owner", "owner"], "scope_name": ["Ann", "Bob"], "period_start": ["2017-04-01", "2017-04-01"],
                        "period_end": ["2017-06-30", "2017-06-30"], "amount": [8000.0, 5000.0]})


@pytest.fixture
def small_db(tmp_path):
    path = tmp_path / "small.db"
    with store.connect(path, write=True) as conn:
        store.insert_frame(conn, "opportunities", DEALS.assign(stage=DEALS["status"]))
        store.insert_frame(conn, "reps", REPS)
        store.insert_frame(conn, "targets", TARGETS)
    return path


def run_json(capsys, *args):
    code = main(list(args) + ["--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_kpis_by_owner_match_hand_computation(small_db, capsys):
    doc = run_json(capsys, "--db", str(small_db), "kpis", "--period", "2017Q2", "--by", "owner")
    assert (doc["period"], doc["start"], doc["end"]) == ("2017Q2", "2017-04-01", "2017-06-30")
    rows = {r["group"]: r for r in doc["rows"]}
    assert set(rows) == {"Ann", "Bob"}
    ann = rows["Ann"]
    # Ann: won 1000 (created 01-10, closed 04-20: 100 days) and 3000 (03-01 -> 05-31: 91 days); lost 1; open 2000 @ 0.4
    assert ann["won_amount"] == 4000.0 and ann["won_count"] == 2 and ann["lost_count"] == 1
    assert ann["win_rate"] == pytest.approx(2 / 3)
    assert ann["avg_deal_size"] == 2000.0
    assert ann["avg_cycle_days"] == pytest.approx((100 + 91) / 2)
    assert ann["open_pipeline"] == 2000.0 and ann["open_count"] == 1
    assert ann["weighted_pipeline"] == pytest.approx(800.0)
    assert ann["target"] == 8000.0 and ann["attainment"] == pytest.approx(0.5)
    bob = rows["Bob"]
    # Bob: won 4000 (01-01 -> 04-01: 90 days); 9999 closes in Q3 and is not counted
    assert bob["won_amount"] == 4000.0 and bob["won_count"] == 1 and bob["lost_count"] == 0
    assert bob["win_rate"] == 1.0 and bob["avg_cycle_days"] == 90.0
    assert bob["weighted_pipeline"] == pytest.approx(400.0)
    assert bob["attainment"] == pytest.approx(0.8)
    contract = ["group", "won_amount", "won_count", "lost_count", "win_rate", "avg_deal_size", "avg_cycle_days",
                "open_pipeline", "open_count", "weighted_pipeline", "target", "attainment"]
    assert [c for c in ann if c in contract] == contract  # the contract's keys, in order (more KPIs follow)


def test_kpis_team_and_roster_groups(small_db, capsys):
    doc = run_json(capsys, "--db", str(small_db), "kpis", "--period", "2017Q2")
    (team,) = doc["rows"]
    assert team["group"] == "all"
    assert team["won_amount"] == 8000.0 and team["won_count"] == 3 and team["lost_count"] == 1
    assert team["win_rate"] == pytest.approx(0.75)
    assert team["avg_cycle_days"] == pytest.approx((100 + 91 + 90) / 3)
    assert team["target"] == 13000.0 and team["attainment"] == pytest.approx(8000 / 13000)
    doc = run_json(capsys, "--db", str(small_db), "kpis", "--period", "2017Q2", "--by", "manager")
    assert [(r["group"], r["won_amount"], r["target"]) for r in doc["rows"]] == [("Mia", 8000.0, 13000.0)]
    doc = run_json(capsys, "--db", str(small_db), "kpis", "--period", "2017Q1", "--by", "region")
    rows = {r["group"]: r for r in doc["rows"]}
    assert rows["APAC"]["lost_count"] == 1 and rows["APAC"]["win_rate"] == 0.0 and rows["APAC"]["avg_deal_size"] is None


def test_empty_period_gives_nulls_not_errors(small_db, capsys):
    doc = run_json(capsys, "--db", str(small_db), "kpis", "--period", "2016")
    (team,) = doc["rows"]
    assert team["won_count"] == 0 and team["win_rate"] is None and team["attainment"] is None


def test_month_of_a_quarterly_target_is_pro_rated(small_db, capsys):
    doc = run_json(capsys, "--db", str(small_db), "kpis", "--period", "2017-05", "--by", "owner")
    ann = {r["group"]: r for r in doc["rows"]}["Ann"]
    assert ann["target"] == pytest.approx(8000 * 31 / 91)


@pytest.mark.parametrize("args,needle", [
    (["kpis", "--period", "2017Q7"], "2017Q7"),
    (["kpis", "--by", "colour"], "colour"),
    (["kpis", "--nonsense"], "--nonsense"),
])
def test_bad_usage_exits_2_with_one_clear_line(small_db, args, needle):
    proc = subprocess.run([sys.executable, "-m", "salesops", "--db", str(small_db), *args], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and needle in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_demo_then_kpis_by_owner_for_a_full_quarter(tmp_path):
    db = tmp_path / "x.db"
    assert subprocess.run([sys.executable, "-m", "salesops", "--db", str(db), "demo"], capture_output=True).returncode == 0
    proc = subprocess.run([sys.executable, "-m", "salesops", "--db", str(db), "kpis", "--period", "2026Q2", "--by", "owner", "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    with store.connect(db) as conn:
        deals = store.load_deals(conn)
    q = deals[deals["close_date"].between("2026-04-01", "2026-06-30")]
    won = q[q["status"] == "won"].groupby("owner")["amount"].sum()
    got = {r["group"]: r["won_amount"] for r in doc["rows"]}
    assert got.keys() >= set(won.index)
    for owner, amount in won.items():
        assert got[owner] == pytest.approx(amount)
