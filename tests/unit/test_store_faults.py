"""Issue 14's faults: writers queue instead of failing; a damaged database is said to be damaged
wherever it is met and never written into; a read-only database is said to be read-only."""
import os
import sqlite3
import threading
import time

import pytest

from salesops import ingest, store
from salesops.cli import main
from salesops.ingest import samples

def _count(db) -> int:
    with store.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0]


# --- a. writers queue -----------------------------------------------------------------------------
def test_an_import_waits_for_the_write_lock_instead_of_failing(empty_db, monkeypatch):
    """Another writer holds the lock for longer than the busy timeout (shortened here to 0.2 s;
    30 s in the app): the import says it is waiting, then lands."""
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(store, "FIRST_TRY_MS", 100)
    holding, release = threading.Event(), threading.Event()

    def hold():
        conn = sqlite3.connect(empty_db, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        holding.set()
        release.wait(10)
        conn.execute("COMMIT")
        conn.close()

    t = threading.Thread(target=hold)
    t.start()
    holding.wait(5)
    timer = threading.Timer(1.5, release.set)  # well past the busy timeout
    timer.start()
    said = []
    data, name = samples.SAMPLE_EXPORTS["Pipedrive deals"]()
    try:
        result = ingest.run_import(empty_db, data, name, progress=lambda f, label: said.append(label))
    finally:
        release.set()
        t.join()
    assert result.rows_imported == 60 and _count(empty_db) == 60
    assert store.WAITING in said


def test_the_cli_import_says_it_is_queued(empty_db, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(store, "FIRST_TRY_MS", 100)
    data, name = samples.SAMPLE_EXPORTS["HubSpot deals"]()
    f = tmp_path / name
    f.write_bytes(data)
    conn = sqlite3.connect(empty_db, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("rc", main(["--db", str(empty_db), "import", str(f)])))
    worker.start()
    err = ""
    deadline = time.monotonic() + 60
    while "waiting for another import" not in err and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)  # the CLI reads and checks the file, then queues for the lock
        err += capsys.readouterr().err
    conn.execute("COMMIT")  # release the lock only once the CLI said it waits
    conn.close()
    worker.join(60)
    err += capsys.readouterr().err
    assert out["rc"] == 0, err
    assert "waiting for another import" in err
    assert _count(empty_db) == 60


# --- b. a damaged database ------------------------------------------------------------------------
def _damage(db, at=(1 / 2,)) -> None:
    """Overwrite 4 KiB at each fraction ``at`` of the file. One spot in the middle: opening the
    database and reading its schema still work (the old code imported into it and exited 0);
    three spots: the deal table is hit too (the old reports exited 1 "internal error")."""
    for suffix in ("-wal", "-shm"):
        if os.path.exists(str(db) + suffix):
            os.remove(str(db) + suffix)
    size = os.path.getsize(db)
    with open(db, "r+b") as fh:
        for f in at:
            fh.seek(int(size * f))
            fh.write(b"\xde\xad\xbe\xef" * 1024)
    assert store.integrity_problems(db)  # the check itself sees it


@pytest.fixture
def damaged_db(demo_db):
    _damage(demo_db)
    return demo_db


@pytest.fixture
def badly_damaged_db(demo_db):
    _damage(demo_db, (1 / 3, 1 / 2, 2 / 3))
    return demo_db


def _cli(capsys, *argv):
    rc = main(list(argv))
    return rc, capsys.readouterr()


def test_import_into_a_damaged_database_is_refused(damaged_db, tmp_path, capsys):
    data, name = samples.SAMPLE_EXPORTS["Pipedrive deals"]()
    f = tmp_path / name
    f.write_bytes(data)
    before = open(damaged_db, "rb").read()
    rc, out = _cli(capsys, "--db", str(damaged_db), "import", str(f))
    assert rc == 2, out
    assert "is damaged" in out.err and str(damaged_db) in out.err
    assert open(damaged_db, "rb").read() == before  # nothing written
    assert not os.path.exists(str(damaged_db) + "-wal") or os.path.getsize(str(damaged_db) + "-wal") == 0


@pytest.mark.parametrize("argv", [["pipeline", "--period", "2026Q3", "--from", "2026-07-01", "--to", "2026-09-30"],
                                  ["hygiene"], ["kpis", "--period", "2026Q3"]])
def test_reports_on_a_damaged_database_say_so(badly_damaged_db, capsys, argv):
    rc, out = _cli(capsys, "--db", str(badly_damaged_db), *argv)
    assert rc == 2, out  # not 1 "internal error ... this is a bug"
    assert "internal error" not in out.err
    assert "damaged" in out.err


# --- c. read-only ---------------------------------------------------------------------------------
def test_a_read_only_database_is_reported_as_read_only(read_only_db, tmp_path, capsys):
    assert store.integrity_problems(read_only_db) == []  # not "damaged"
    data, name = samples.SAMPLE_EXPORTS["Pipedrive deals"]()
    f = tmp_path / name
    f.write_bytes(data)
    rc, out = _cli(capsys, "--db", str(read_only_db), "import", str(f))
    assert rc == 2 and "read-only" in out.err and "damaged" not in out.err and ".bak" not in out.err, out.err
    rc, out = _cli(capsys, "--db", str(read_only_db), "kpis", "--period", "2026Q3")
    assert "damaged" not in out.err and "internal error" not in out.err, out.err
    assert rc == 0 or "read-only" in out.err, out.err
