import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from salesops import store
from salesops.errors import SchemaTooNewError, StoreError

PROJECT = Path(__file__).resolve().parents[2]


def test_new_database_is_migrated_with_explicit_types(tmp_path):
    path = tmp_path / "a.db"
    with store.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        types = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(opportunities)")}
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 30000
    assert types["amount"] == "REAL" and types["opportunity_id"].startswith("TEXT") and types["close_date"] == "TEXT"


def test_database_from_a_newer_version_is_refused_and_untouched(tmp_path):
    path = tmp_path / "new.db"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 5}")
    raw.execute("CREATE TABLE future (x)")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError) as err:
        with store.connect(path):
            pass
    assert "newer salesops" in str(err.value)
    assert path.read_bytes() == before


def test_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError) as err:
        with store.connect(path):
            pass
    assert "not a readable salesops database" in str(err.value)
    assert store.integrity_problems(path)


def test_write_block_rolls_back_on_error(tmp_path):
    path = tmp_path / "a.db"
    with store.connect(path, write=True) as conn:
        store.set_settings(conn, currency="EUR")
    v = store.data_version(path)
    with pytest.raises(RuntimeError):
        with store.connect(path, write=True) as conn:
            store.set_settings(conn, currency="GBP")
            raise RuntimeError("boom")
    with store.connect(path) as conn:
        assert store.get_settings(conn)["currency"] == "EUR"
    assert store.data_version(path) == v


def test_data_version_moves_on_every_commit(tmp_path):
    path = tmp_path / "a.db"
    v0 = store.data_version(path)
    with store.connect(path, write=True) as conn:
        store.set_settings(conn, currency="EUR")
    assert store.data_version(path) == v0 + 1


def test_saved_documents_are_versioned(tmp_path):
    path = tmp_path / "a.db"
    with store.connect(path, write=True) as conn:
        assert store.save_document(conn, "comp_plans", "Standard", {"rate": 1})[1] == 1
        assert store.save_document(conn, "comp_plans", "Standard", {"rate": 2})[1] == 2
        assert store.save_document(conn, "scenarios", "Plan A", {"x": 1}, kind="goals")[1] == 1
    with store.connect(path) as conn:
        assert store.load_document(conn, "comp_plans", "Standard") == {"rate": 2}
        assert store.load_document(conn, "comp_plans", "Standard", 1) == {"rate": 1}
        listed = store.list_documents(conn, "comp_plans")
        assert list(listed["version"]) == [2, 1]
        assert list(store.list_documents(conn, "scenarios", kind="goals")["name"]) == ["Plan A"]
        assert store.load_document(conn, "comp_plans", "Missing") is None


def test_frame_round_trip_keeps_types(tmp_path):
    path = tmp_path / "a.db"
    frame = pd.DataFrame({
        "opportunity_id": ["007", "008"], "owner": ["A", "B"], "status": ["won", "open"],
        "amount": [1234.5, None], "created_date": pd.to_datetime(["2024-01-02", "2024-02-03"]),
        "close_date": pd.to_datetime(["2024-03-01", None]), "probability": [1.0, 0.25], "stage": ["Won", "Demo"],
    })
    with store.connect(path, write=True) as conn:
        assert store.insert_frame(conn, "opportunities", frame) == 2
    with store.connect(path) as conn:
        deals = store.load_deals(conn).set_index("opportunity_id")
    assert deals.loc["007", "amount"] == 1234.5 and pd.isna(deals.loc["008", "amount"])
    assert deals.loc["007", "close_date"] == pd.Timestamp("2024-03-01") and pd.isna(deals.loc["008", "close_date"])


def test_stage_map_edits_override_defaults_and_restatus_deals(tmp_path):
    path = tmp_path / "a.db"
    with store.connect(path, write=True) as conn:
        store.insert_frame(conn, "opportunities", pd.DataFrame({"opportunity_id": ["1"], "owner": ["A"], "stage": ["Signed"], "status": ["open"]}))
    with store.connect(path) as conn:
        m = store.load_stage_map(conn)
        assert m.set_index("stage").loc["Signed", "known"] == False  # noqa: E712
    with store.connect(path, write=True) as conn:
        store.save_stage_map(conn, pd.DataFrame({"stage": ["Signed"], "status": ["won"], "probability": [1.0], "sort_order": [9]}))
    with store.connect(path) as conn:
        assert store.stage_rules(conn)["signed"].status == "won"
        assert store.load_deals(conn)["status"].tolist() == ["won"]
    with pytest.raises(StoreError):
        with store.connect(path, write=True) as conn:
            store.save_stage_map(conn, pd.DataFrame({"stage": ["X"], "status": ["maybe"], "probability": [0.5], "sort_order": [1]}))


#: One of the racing processes: imports the store, says it is ready, waits for the start signal
#: (so that all of them open the new file at the same moment), then opens the database and
#: writes a setting. A plain interpreter (not multiprocessing's spawn, which would first re-run
#: the test process's main module: an AppTest run earlier in the worker makes that app.py).
_RACER = """
import os, sys, time
from pathlib import Path
from salesops import store
path, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.005)
with store.connect(path, write=True) as conn:
    store.set_settings(conn, currency="EUR")
print("ok")
"""


def test_two_processes_creating_the_same_database_both_succeed(tmp_path):
    path, go = tmp_path / "race.db", tmp_path / "go"
    ready = [tmp_path / f"ready{i}" for i in range(4)]
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(path), str(r), str(go)], cwd=PROJECT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in ready]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline and all(p.poll() is None for p in procs):
        time.sleep(0.01)
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    assert [(p.returncode, out.strip()) for p, (out, _) in zip(procs, results)] == [(0, "ok")] * 4, \
        [err[-500:] for _, err in results]
    assert store.data_version(path) == 4
    assert store.integrity_problems(path) == []


def test_backup_copies_the_data(tmp_path):
    path = tmp_path / "a.db"
    with store.connect(path, write=True) as conn:
        store.set_settings(conn, currency="CHF")
    dest = store.backup(path)
    with store.connect(dest) as conn:
        assert store.get_settings(conn)["currency"] == "CHF"


def test_data_as_of_is_the_snapshot_or_the_last_activity_whichever_is_earlier(tmp_path):
    path = tmp_path / "a.db"
    deals = pd.DataFrame({"opportunity_id": ["1", "2"], "owner": ["A", "A"], "status": ["won", "open"],
                          "created_date": ["2017-01-05", "2017-11-20"], "close_date": ["2017-12-01", "2018-02-01"]})
    with store.connect(path, write=True) as conn:
        store.insert_frame(conn, "opportunities", deals)
        assert store.data_as_of(conn) == "2017-12-01"  # no snapshot: the last activity
        # a historical export imported years later: the data still ends in 2017
        store.write_snapshot(conn, "2026-11-27", deals)
        assert store.data_as_of(conn) == "2017-12-01"
        # a current export: the snapshot date is the as-of date
        store.replace_snapshots(conn, deals.assign(as_of="2017-12-10"))
        store.insert_frame(conn, "opportunities", pd.DataFrame({"opportunity_id": ["3"], "owner": ["A"], "status": ["open"],
                                                                "created_date": ["2017-12-15"]}))
        assert store.data_as_of(conn) == "2017-12-10"
    with store.connect(tmp_path / "empty.db") as conn:
        assert store.data_as_of(conn) is None


def _token(path) -> str:
    with store.connect(path) as conn:
        return store.facts_token(conn)


def test_the_facts_token_changes_with_the_facts_only(tmp_path):
    """Every write moves data_version; only a write that touches the deal facts (deals,
    roster, settings, saved scenarios...) draws a new facts token. Targets, comp plans, saved
    forecasts and users leave it: what is kept by it (the landing zone) stays valid."""
    from tests import fixtures

    path = fixtures.write_acme(tmp_path / "a.db")
    token, version = _token(path), store.data_version(path)
    with store.connect(path, write=True) as conn:
        conn.execute("UPDATE targets SET amount = amount + 1")
    with store.connect(path, write=True) as conn:
        store.save_document(conn, "comp_plans", "Plan", {"quota": 1})
        store.save_document(conn, "forecast_runs", "Run", {"p50": 1}, kind="forecast")
    assert _token(path) == token and store.data_version(path) == version + 2
    changes = [lambda c: c.execute("UPDATE opportunities SET amount = amount + 1 WHERE opportunity_id = '1'"),
               lambda c: store.set_settings(c, currency="EUR"),
               lambda c: c.execute("UPDATE reps SET team = 'West Commercial' WHERE rowid = 1"),
               lambda c: store.save_document(c, "scenarios", "Plan B", {"plan": {}}, kind="territories"),
               lambda c: c.execute("DELETE FROM stage_history")]
    seen = {token}
    for change in changes:
        with store.connect(path, write=True) as conn:
            change(conn)
        assert _token(path) not in seen
        seen.add(_token(path))
    with pytest.raises(ZeroDivisionError):  # a rolled-back write changes nothing
        with store.connect(path, write=True) as conn:
            conn.execute("DELETE FROM opportunities")
            1 / 0
    assert _token(path) in seen and len(seen) == len(changes) + 1


def test_a_copy_of_the_file_shares_the_token_and_a_restore_draws_a_new_one(tmp_path):
    import shutil

    from salesops import backup
    from tests import fixtures

    path = fixtures.write_acme(tmp_path / "a.db")
    shutil.copy(path, tmp_path / "copy.db")
    assert _token(tmp_path / "copy.db") == _token(path)
    saved = backup.backup_now(path, "test")
    before = _token(path)
    backup.restore(path, saved)
    assert _token(path) != before
