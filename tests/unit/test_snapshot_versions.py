"""Snapshots stored as versions (issue #11): every reader sees exactly the frame the full-copy
table gave, on the demo, over a sequence of imports (new, changed, removed deals, a second
import for the same date, an export dated between two others, undo), and after migrating a
database written at the old schema."""
from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from salesops import demo, store
from salesops import schema as S
from salesops.ingest import run_import, samples, undo_import

COLS = list(S.SNAPSHOT_COLUMNS)
STATE = [c for c in COLS if c not in (S.AS_OF, S.OPPORTUNITY_ID, S.IMPORT_ID)]


# --- the old representation, as an oracle ---------------------------------------------------------
OLD_DDL = (f"CREATE TABLE snapshots ({', '.join(f'{c} {t}' for c, t in S.SNAPSHOT_COLUMNS.items())}, "
           "PRIMARY KEY (as_of, opportunity_id))")


def old_read(conn: sqlite3.Connection, as_of: str | None = None) -> pd.DataFrame:
    """The full-copy table read exactly as store.load_snapshots read it before versions."""
    cols = ", ".join(COLS)
    if as_of is None:
        frame = pd.read_sql_query(f"SELECT {cols} FROM snapshots ORDER BY as_of", conn)
    else:
        frame = pd.read_sql_query(f"SELECT {cols} FROM snapshots WHERE as_of = ?", conn, params=(as_of,))
    for c in (S.AS_OF, *S.DATE_FIELDS):
        frame[c] = pd.to_datetime(frame[c], format="%Y-%m-%d", errors="coerce")
    return frame


class FullCopy:
    """The old semantics in a private SQLite table: an import writes one row per deal of its
    file for its date (INSERT OR REPLACE), keeping that date's prior rows for undo."""

    def __init__(self):
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute(OLD_DDL)
        self.prior: dict[int, list] = {}

    def write(self, as_of: str, deals: pd.DataFrame, import_id: int | None) -> None:
        self.prior[import_id] = self.conn.execute("SELECT * FROM snapshots WHERE as_of = ?", (as_of,)).fetchall()
        rows = store._state_frame(deals)
        rows.insert(0, S.AS_OF, as_of)
        rows[S.IMPORT_ID] = import_id
        self.conn.executemany(f"INSERT OR REPLACE INTO snapshots ({', '.join(COLS)}) VALUES ({', '.join('?' * len(COLS))})",
                              [tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in r)
                               for r in rows[COLS].itertuples(index=False, name=None)])

    def undo(self, import_id: int) -> None:
        self.conn.execute("DELETE FROM snapshots WHERE import_id = ?", (import_id,))
        self.conn.executemany(f"INSERT OR REPLACE INTO snapshots VALUES ({', '.join('?' * len(COLS))})",
                              self.prior.pop(import_id))

    def dates(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT as_of FROM snapshots ORDER BY as_of")]


def assert_same(db, oracle: FullCopy) -> None:
    with store.connect(db) as conn:
        dates = store.snapshot_dates(conn)
        assert dates == oracle.dates()
        pd.testing.assert_frame_equal(store.load_snapshots(conn), old_read(oracle.conn))
        for d in dates + ["1999-01-01"]:
            pd.testing.assert_frame_equal(store.load_snapshots(conn, d), old_read(oracle.conn, d))


# --- the demo --------------------------------------------------------------------------------------------
def test_demo_snapshots_equal_the_full_copy(demo_db):
    ws = demo.generate()
    oracle = FullCopy()
    for as_of, part in ws.snapshots.groupby(S.AS_OF, sort=True):
        oracle.write(str(pd.Timestamp(as_of).date()), part, None)
    assert_same(demo_db, oracle)
    with store.connect(demo_db) as conn:
        versions = conn.execute("SELECT COUNT(*) FROM snapshot_versions").fetchone()[0]
        # the read-only view gives the same rows to plain SQL
        assert conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0] == len(ws.snapshots)
    # a deal unchanged from one month end to the next is one row, not one per month
    assert versions < len(ws.snapshots) / 4


# --- a sequence of imports -------------------------------------------------------------------------------------
def _csv(deals: pd.DataFrame) -> bytes:
    return samples.canonical(deals)[0]


def _prepared(deals: pd.DataFrame) -> pd.DataFrame:
    """The deals as the importer stores them (what the oracle should record)."""
    out = deals.copy()
    for c in S.DATE_FIELDS:
        out[c] = pd.to_datetime(out[c]).dt.strftime("%Y-%m-%d")
    return out


@pytest.fixture
def base():
    return samples.canonical_deals(40, seed=11)


def test_import_sequence_new_changed_removed_and_undo(base, empty_db):
    oracle = FullCopy()

    def step(deals, as_of):
        r = run_import(empty_db, _csv(deals), f"export-{as_of}-{len(oracle.prior)}.csv", as_of=as_of)
        with store.connect(empty_db) as conn:
            stored = store.load_deals(conn).set_index(S.OPPORTUNITY_ID).loc[deals[S.OPPORTUNITY_ID]]
        oracle.write(as_of, stored.reset_index(), r.import_id)
        assert_same(empty_db, oracle)
        return r

    step(base, "2024-01-31")
    feb = base.iloc[5:].copy()  # five deals removed
    feb.loc[feb.index[:3], S.AMOUNT] += 500  # three changed
    opened = feb.index[(feb[S.STATUS] == S.OPEN).to_numpy()][-1]
    feb.loc[opened, S.STATUS] = S.WON  # one deal won
    feb = pd.concat([feb, samples.canonical_deals(45, seed=11).iloc[40:]], ignore_index=True)  # five new
    feb.loc[feb.index[-5:], S.NAME] = feb.loc[feb.index[-5:], S.NAME] + " (new)"
    r2 = step(feb, "2024-02-29")
    with store.connect(empty_db) as conn:
        versions = conn.execute("SELECT COUNT(*) FROM snapshot_versions").fetchone()[0]
    assert versions == 40 + 3 + 1 + 5  # only the changed and the new deals got a row
    # a second export for the same date: its deals replace theirs, the others stay
    same_day = feb.iloc[:10].copy()
    same_day[S.AMOUNT] = same_day[S.AMOUNT] + 1
    step(same_day, "2024-02-29")
    # a late export dated between two others splits the versions that span it
    mar = feb.copy()
    mar[S.PROBABILITY] = 0.5
    step(mar, "2024-03-31")
    mid = base.iloc[:30].copy()
    mid.loc[mid.index[:4], S.OWNER] = "Late Owner"
    mid.loc[mid.index[4], "stage_pick"] += 1  # another open stage (or the same closed one)
    r5 = step(mid, "2024-02-15")
    assert r5.import_id
    # undo, newest first, back to nothing
    with store.connect(empty_db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM imports WHERE status = 'applied' ORDER BY id DESC")]
    for iid in ids:
        undo_import(empty_db, iid)
        oracle.undo(iid)
        assert_same(empty_db, oracle)
        if iid == r2.import_id:
            with store.connect(empty_db) as conn:
                assert conn.execute("SELECT COUNT(*) FROM snapshot_versions").fetchone()[0] == 40
    with store.connect(empty_db) as conn:
        for t in ("snapshot_versions", "snapshot_slots", "import_prior_versions"):
            assert conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] == 0


def test_reimport_with_few_changes_writes_few_rows(empty_db):
    deals = samples.canonical_deals(400, seed=5)
    run_import(empty_db, _csv(deals), "w1.csv", as_of="2024-06-07")
    later = deals.copy()
    later.loc[later.index[:20], S.AMOUNT] += 10  # 5% changed
    r = run_import(empty_db, _csv(later), "w2.csv", as_of="2024-06-14")
    assert (r.rows_changed, r.rows_unchanged) == (20, 380)
    with store.connect(empty_db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM snapshot_versions").fetchone()[0] == 420
        assert conn.execute("SELECT COUNT(*) FROM import_prior_versions").fetchone()[0] == 20
        assert len(store.load_snapshots(conn)) == 800


# --- migrating a database written with full-copy snapshots -------------------------------------------------------
def _old_database(path) -> None:
    """A database at schema 2, as the old code left it: full-copy snapshots, undo data, three
    applied imports (one undone before), one of them sharing its date with an earlier one."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    for migration in store.MIGRATIONS[:2]:
        migration(conn)
    conn.execute("PRAGMA user_version = 2")
    oracle_rows = samples.canonical_deals(30, seed=2)
    base = _prepared(oracle_rows)
    state = store._state_frame(base)
    cols = ", ".join(COLS)

    def write(iid, as_of, frame):
        conn.execute("INSERT INTO imports (id, kind, as_of, status, created_at) VALUES (?, 'opportunities', ?, 'applied', "
                     "'2024-01-01')", (iid, as_of))
        if conn.execute("SELECT 1 FROM snapshots WHERE as_of = ?", (as_of,)).fetchone():
            conn.execute(f"INSERT INTO import_prior_snapshots (undo_import_id, {cols}) SELECT ?, {cols} FROM snapshots "
                         "WHERE as_of = ?", (iid, as_of))
        rows = frame.copy()
        rows.insert(0, S.AS_OF, as_of)
        rows[S.IMPORT_ID] = iid
        conn.executemany(f"INSERT OR REPLACE INTO snapshots ({cols}) VALUES ({', '.join('?' * len(COLS))})",
                         [tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in r)
                          for r in rows[COLS].itertuples(index=False, name=None)])

    # demo-like rows without an import, then three imports
    demo_rows = state.iloc[:12].copy()
    demo_rows.insert(0, S.AS_OF, "2023-12-31")
    demo_rows[S.IMPORT_ID] = None
    conn.executemany(f"INSERT INTO snapshots ({cols}) VALUES ({', '.join('?' * len(COLS))})",
                     [tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in r)
                      for r in demo_rows[COLS].itertuples(index=False, name=None)])
    write(1, "2024-01-31", state)
    changed = state.iloc[3:].copy()
    changed[S.AMOUNT] = changed[S.AMOUNT] * 2
    write(2, "2024-02-29", changed)
    conn.execute("INSERT INTO imports (id, kind, as_of, status, created_at) VALUES (3, 'opportunities', '2024-03-31', "
                 "'undone', '2024-01-01')")
    again = state.iloc[:8].copy()
    again[S.STAGE] = "Negotiation/Review"
    write(4, "2024-02-29", again)
    conn.close()


def test_migration_from_full_copy_reads_the_same_and_undoes_the_same(tmp_path):
    path = tmp_path / "old.db"
    _old_database(path)
    before = sqlite3.connect(str(path))
    expect = {d: old_read(before, d) for d in [None, "2023-12-31", "2024-01-31", "2024-02-29"]}
    # the undo results the old code would give, on a copy
    old = sqlite3.connect(":memory:")
    before.backup(old)
    before.close()
    expect_after_undo = {}
    for iid in (4, 2, 1):
        old.execute("DELETE FROM snapshots WHERE import_id = ?", (iid,))
        old.execute(f"INSERT OR REPLACE INTO snapshots ({', '.join(COLS)}) SELECT {', '.join(COLS)} "
                    "FROM import_prior_snapshots WHERE undo_import_id = ?", (iid,))
        expect_after_undo[iid] = old_read(old)
    with store.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert store.snapshot_dates(conn) == ["2023-12-31", "2024-01-31", "2024-02-29"]
        for d, frame in expect.items():
            pd.testing.assert_frame_equal(store.load_snapshots(conn, d), frame)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "import_prior_snapshots" not in tables and "snapshots" not in tables
        assert conn.execute("SELECT COUNT(*) FROM snapshot_versions").fetchone()[0] < len(expect[None])
    for iid in (4, 2, 1):
        with store.connect(path, write=True) as conn:
            from salesops.ingest import writer
            writer.undo(conn, iid)
        with store.connect(path) as conn:
            pd.testing.assert_frame_equal(store.load_snapshots(conn), expect_after_undo[iid])
