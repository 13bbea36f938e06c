"""salesops/backup.py: VACUUM INTO backups beside the database, listing, restoring."""
import sqlite3

import pytest

from salesops import backup, store, workspace
from salesops.errors import InputError, SchemaTooNewError


def _count(db) -> int:
    with store.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0]


def test_backup_now_writes_a_complete_copy_beside_the_database(demo_db):
    n = _count(demo_db)
    path = backup.backup_now(demo_db, "Before: a test!")
    assert path.parent == demo_db.parent / "backups"
    assert path.name.startswith("demo-") and path.name.endswith("-before-a-test.db")
    assert not (path.parent / (path.name + "-wal")).exists()
    assert _count(path) == n
    listed = backup.list_backups(demo_db)
    assert [b.path for b in listed] == [path]
    assert listed[0].reason == "before-a-test" and listed[0].schema_version == store.SCHEMA_VERSION


def test_list_backups_newest_first(empty_db):
    a = backup.backup_now(empty_db, "one")
    b = backup.backup_now(empty_db, "two")
    assert [x.path for x in backup.list_backups(empty_db)] == [b, a]


def test_restore_brings_back_the_data_and_backs_up_the_current_state(demo_db):
    n = _count(demo_db)
    saved = backup.backup_now(demo_db, "manual")
    version_before = store.data_version(demo_db)
    workspace.clear_workspace(demo_db)
    assert _count(demo_db) == 0
    safety = backup.restore(demo_db, saved)
    assert _count(demo_db) == n
    assert _count(safety) == 0 and "before-restore" in safety.name  # the cleared state was kept
    assert store.data_version(demo_db) > version_before + 1  # caches keyed on the version cannot serve old numbers
    assert store.integrity_problems(demo_db) == []
    from salesops import audit

    last = audit.entries(demo_db, limit=1).iloc[0]  # newest first
    assert last["action"] == "restore" and saved.name in last["summary"]  # the restore is in the restored trail


def test_restore_refuses_a_newer_schema_and_changes_nothing(demo_db, tmp_path):
    newer = tmp_path / "newer.db"
    shutil_copy = backup.backup_now(demo_db, "x")
    newer.write_bytes(shutil_copy.read_bytes())
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    conn.close()
    n, listed = _count(demo_db), len(backup.list_backups(demo_db))
    with pytest.raises(SchemaTooNewError, match="newer salesops"):
        backup.restore(demo_db, newer)
    assert _count(demo_db) == n and len(backup.list_backups(demo_db)) == listed


def test_restore_migrates_an_older_backup(empty_db, tmp_path):
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    for step in store.MIGRATIONS[:3]:
        step(conn)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO opportunities (opportunity_id, owner, status, amount) VALUES ('x1', 'Ann', 'won', 5)")
    conn.close()
    backup.restore(empty_db, old)
    with store.connect(empty_db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert c.execute("SELECT opportunity_id, status_source FROM opportunities").fetchall() == [("x1", "stage_map")]
    with sqlite3.connect(old) as c:  # the uploaded file itself is never changed
        assert c.execute("PRAGMA user_version").fetchone()[0] == 3


@pytest.mark.parametrize("content", [b"", b"hello, not a database" * 100])
def test_restore_refuses_what_is_not_a_salesops_backup(empty_db, tmp_path, content):
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    with pytest.raises(InputError, match="not a salesops backup"):
        backup.restore(empty_db, bad)


def test_backup_bytes_is_a_database(demo_db, tmp_path):
    data = backup.backup_bytes(demo_db)
    out = tmp_path / "download.db"
    out.write_bytes(data)
    assert _count(out) == _count(demo_db)
    assert not list(demo_db.parent.glob(".demo-download-*"))


def test_load_demo_backs_up_first(empty_db):
    from salesops import ingest
    from salesops.ingest import samples

    data, name = samples.SAMPLE_EXPORTS["Pipedrive deals"]()
    ingest.run_import(empty_db, data, name)
    written = workspace.load_demo(empty_db)
    assert written is not None and "load-demo" in written.name
    with store.connect(written) as conn:
        assert conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0] == 60
    assert _count(empty_db) > 1000
