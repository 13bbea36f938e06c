"""The ``pipeline`` and ``hygiene`` commands: JSON contract, snapshot choice, exit codes."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from salesops import pipeline as P
from salesops import store
from salesops.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_pipeline_json_contract_and_identity(demo_db, capsys):
    code, out, err = run(capsys, "--db", str(demo_db), "pipeline", "--period", "2026Q3",
                         "--from", "2026-06-30", "--to", "2026-09-30", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["period"] == "2026Q3" and doc["from"] == "2026-06-30" and doc["to"] == "2026-09-30"
    assert [w["step"] for w in doc["waterfall"]] == P.STEPS
    a = {w["step"]: w["amount"] for w in doc["waterfall"]}
    assert a["end"] == pytest.approx(a["start"] + a["created"] + a["pulled_in"] - a["pushed_out"] + a["amount_changed"]
                                     - a["won"] - a["lost"] - a["removed"])
    # start and end straight from the snapshots table
    with store.connect(demo_db) as conn:
        s1 = store.load_snapshots(conn, "2026-06-30")
        s2 = store.load_snapshots(conn, "2026-09-30")
    q0, q1 = pd.Timestamp("2026-07-01"), pd.Timestamp("2026-09-30")
    start = s1[(s1.status == "open") & s1.close_date.between(q0, q1)].amount.fillna(0).sum()
    end = s2[(s2.status == "open") & s2.close_date.between(q0, q1)].amount.fillna(0).sum()
    assert a["start"] == pytest.approx(start) and a["end"] == pytest.approx(end)
    assert all(isinstance(w["count"], int) for w in doc["waterfall"])


def test_pipeline_uses_the_snapshot_before_a_date_and_says_so(demo_db, capsys):
    code, out, _ = run(capsys, "--db", str(demo_db), "pipeline", "--period", "2026Q3",
                       "--from", "2026-07-04", "--to", "2026-10-02", "--json")
    doc = json.loads(out)
    assert code == 0
    assert (doc["from"], doc["to"]) == ("2026-06-30", "2026-09-30")
    assert (doc["from_requested"], doc["to_requested"]) == ("2026-07-04", "2026-10-02")
    assert any("2026-06-30" in n for n in doc["notes"])
    code, out, _ = run(capsys, "--db", str(demo_db), "pipeline", "--period", "2026Q3", "--from", "2026-07-04",
                       "--to", "2026-10-02")
    assert code == 0 and "note: no snapshot on 2026-07-04" in out


def test_pipeline_step_lists_the_deals(demo_db, capsys):
    code, out, _ = run(capsys, "--db", str(demo_db), "pipeline", "--period", "2026Q3", "--from", "2026-06-30",
                       "--to", "2026-09-30", "--step", "pushed_out", "--json")
    doc = json.loads(out)
    pushed = next(w for w in doc["waterfall"] if w["step"] == "pushed_out")
    assert len(doc["deals"]) == pushed["count"] > 0
    assert sum(d["entering_amount"] for d in doc["deals"]) == pytest.approx(pushed["amount"])


@pytest.mark.parametrize("argv, message", [
    (["--from", "2020-01-01", "--to", "2026-09-30"], "snapshots exist for: 2026-01-31"),
    (["--from", "2026-07-04", "--to", "2026-07-05"], "must be two different dates"),
    (["--from", "2026-09-30", "--to", "2026-06-30"], "must be after --from"),
    (["--from", "2026-13-01"], "is not a date"),
    (["--period", "2026Q9"], "is not understood"),
    (["--step", "sideways"], "unknown waterfall step"),
])
def test_pipeline_bad_input_exits_2(demo_db, capsys, argv, message):
    code, out, err = run(capsys, "--db", str(demo_db), "pipeline", *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err


def test_pipeline_on_an_empty_database_explains(empty_db, capsys):
    code, _, err = run(capsys, "--db", str(empty_db), "pipeline", "--json")
    assert code == 2 and "needs two snapshots" in err


def test_hygiene_json(demo_db, capsys):
    code, out, err = run(capsys, "--db", str(demo_db), "hygiene", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["open_count"] == doc["clean_count"] + doc["dirty_count"] > 0
    assert doc["raw_pipeline"] == pytest.approx(doc["clean_pipeline"] + doc["dirty_pipeline"])
    assert 0 <= doc["score"] <= 1 and doc["stale_measured"] is True
    assert {c["check"] for c in doc["checks"]} >= {"past_close", "missing_amount", "missing_owner",
                                                   "stage_probability", "duplicate", "stale"}
    assert sum(r["open_count"] for r in doc["by_rep"]) == doc["open_count"]
    with store.connect(demo_db) as conn:
        assert len(doc["by_import"]) == len(store.snapshot_dates(conn))
    # the demo plants six deals keyed in twice (ids 006D9...); each copy and its original are flagged
    dup = next(c for c in doc["checks"] if c["check"] == "duplicate")["count"]
    assert dup >= 12 and dup % 2 == 0
    code, out, err = run(capsys, "--db", str(demo_db), "hygiene", "--fix-list", "--json")
    flagged = {r["opportunity_id"] for r in json.loads(out)["fix_list"] if r["issue"].lower().startswith("possible duplicate")
               or "duplicate" in r["issue"].lower()}
    assert {f"006D9{i:06d}" for i in range(6)} <= flagged
    assert "fix_list" not in doc


def test_hygiene_owner_and_errors(demo_db, empty_db, capsys):
    code, out, _ = run(capsys, "--db", str(demo_db), "hygiene", "--json", "--owner", "Dev Lopez")
    doc = json.loads(out)
    assert code == 0 and {r["owner"] for r in doc["by_rep"]} == {"Dev Lopez"}
    assert {f["owner"] for f in doc["fix_list"]} <= {"Dev Lopez"}
    assert len(doc["fix_list"]) >= doc["dirty_count"]
    code, _, err = run(capsys, "--db", str(demo_db), "hygiene", "--owner", "Nobody Here")
    assert code == 2 and "owns no deals" in err
    code, _, err = run(capsys, "--db", str(demo_db), "hygiene", "--stale-days", "0")
    assert code == 2
    code, out, _ = run(capsys, "--db", str(empty_db), "hygiene", "--json")
    assert code == 0 and json.loads(out)["open_count"] == 0


def test_two_real_exports_imported_on_different_dates(datasets_dir, tmp_path, capsys):
    """End to end through the importer: the Salesforce Opportunity export imported as of
    2022-03-31, then a later export without three deals, with two close dates moved inside the
    year and two open deals now won, imported as of 2022-06-30."""
    src = pd.read_csv(datasets_dir / "salesforce_preppin" / "Opportunity.csv", dtype=str, encoding="utf-8-sig")
    first, later = tmp_path / "opps_march.csv", tmp_path / "opps_june.csv"
    src.to_csv(first, index=False)
    dropped = src.iloc[:3]
    nxt = src.iloc[3:].copy()
    open_rows = nxt[~nxt["StageName"].str.startswith("Closed")].index
    nxt.loc[open_rows[:2], "CloseDate"] = "15/12/2022"   # moved, but still inside 2022
    nxt.loc[open_rows[2:4], "StageName"] = "Closed Won"
    nxt.to_csv(later, index=False)
    db = str(tmp_path / "e2e.db")
    for path, as_of in ((first, "2022-03-31"), (later, "2022-06-30")):
        code, _, err = run(capsys, "--db", db, "import", str(path), "--as-of", as_of, "--json")
        assert code == 0, err
    code, out, err = run(capsys, "--db", db, "pipeline", "--period", "2022", "--from", "2022-03-31",
                         "--to", "2022-06-30", "--json")
    assert code == 0, err
    wf = {w["step"]: w for w in json.loads(out)["waterfall"]}
    amt = lambda col: pd.to_numeric(col, errors="coerce").fillna(0)  # noqa: E731
    is_open = ~src["StageName"].str.startswith("Closed")
    close = pd.to_datetime(src["CloseDate"], format="%d/%m/%Y")
    in_year = is_open & close.between("2022-01-01", "2022-12-31")
    assert wf["start"]["count"] == int(in_year.sum())
    assert wf["start"]["amount"] == pytest.approx(amt(src.loc[in_year, "Amount"]).sum())
    removed = dropped[in_year.iloc[:3].to_numpy()]
    assert wf["removed"]["count"] == len(removed)
    assert wf["removed"]["amount"] == pytest.approx(amt(removed["Amount"]).sum())
    won = nxt.loc[open_rows[2:4]]
    won_in = won[in_year.loc[open_rows[2:4]].to_numpy()]
    assert wf["won"]["count"] == len(won_in)
    assert wf["won"]["amount"] == pytest.approx(amt(won_in["Amount"]).sum())
    assert wf["pushed_out"]["count"] == 0 and wf["created"]["count"] == 0
    assert wf["end"]["count"] == wf["start"]["count"] - len(removed) - len(won_in)
