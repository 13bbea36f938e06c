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
    # the demo plants six deals keyed in twice
    assert next(c for c in doc["checks"] if c["check"] == "duplicate")["count"] == 12
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
