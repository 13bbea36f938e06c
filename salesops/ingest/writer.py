"""The all-or-nothing write of a validated import, with snapshots and exact undo data.

Everything here runs inside one ``store.connect(path, write=True)`` transaction opened by the
caller: either every row, snapshot, undo record and the import record are committed, or none.

Undo data: before an import replaces a row it copies the prior row to
``import_prior_opportunities`` (or, for the small tables, JSON in ``import_prior_rows``; for
snapshot versions, the prior end of each version it closes, ``import_prior_versions``); rows it
inserts carry its ``import_id``. Undoing deletes what the import
wrote and puts the prior rows back, so the database returns exactly to its earlier state. Only
the latest applied import of a kind can be undone (a later one may have built on it).
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from .. import schema as S
from .. import store
from ..errors import InputError, Problem

OPP_COLUMNS = list(S.OPPORTUNITY_COLUMNS)
COMPARE_COLUMNS = [c for c in OPP_COLUMNS if c != S.IMPORT_ID]
#: Kinds of import; undo order is kept per family.
KINDS = ("opportunities", "stage_history", "roster", "accounts", "targets")
#: Page cache of the import's connection (KiB): big loads touch many index pages (64 MB: the
#: 1M-row bench is as fast as with 256 MB, and peaks ~190 MB lower).
CACHE_KIB = 65_536
#: From this many rows on, secondary indexes are dropped and rebuilt after the load.
BULK_ROWS = 100_000

Progress = Callable[[float, str], None]


@dataclass
class ImportResult:
    """What an import did (or would do, with ``dry_run``)."""

    import_id: int | None
    kind: str
    file_name: str
    vendor: str
    as_of: str | None
    rows_read: int
    rows_imported: int
    rows_rejected: int
    rows_new: int = 0
    rows_changed: int = 0
    rows_unchanged: int = 0
    mapping: dict = field(default_factory=dict)
    unknown_stages: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # Problem
    dry_run: bool = False
    already_imported: bool = False
    as_of_source: str | None = None
    notes: list = field(default_factory=list)

    def as_doc(self) -> dict:
        """The JSON contract of DESIGN.md section 6 (plus a few extra keys)."""
        return {
            "import_id": self.import_id, "vendor": self.vendor, "as_of": self.as_of,
            "rows_read": self.rows_read, "rows_imported": self.rows_imported, "rows_rejected": self.rows_rejected,
            "mapping": self.mapping, "unknown_stages": self.unknown_stages,
            "problems": [{"row": p.row, "column": p.column, "value": None if p.value is None else str(p.value),
                          "problem": p.problem, "severity": p.severity} for p in self.problems],
            "kind": self.kind, "file": self.file_name, "rows_new": self.rows_new, "rows_changed": self.rows_changed,
            "rows_unchanged": self.rows_unchanged, "dry_run": self.dry_run,
            "already_imported": self.already_imported, "as_of_source": self.as_of_source, "notes": self.notes,
        }


def _noop(_f: float, _t: str) -> None:
    pass


# --- row building --------------------------------------------------------------------------------
column_lists = store.column_lists


def _insert(conn: sqlite3.Connection, table: str, columns: list[str], frame: pd.DataFrame, *, verb: str = "INSERT",
            constants: dict | None = None, progress: Progress = _noop, start: float = 0.0, span: float = 0.0,
            label: str = "") -> int:
    """:func:`store.insert_columns` with progress reporting."""
    n = len(frame)
    return store.insert_columns(conn, table, columns, frame, verb=verb, constants=constants,
                                on_rows=lambda done: progress(start + span * min(1.0, done / max(n, 1)), label))


def _drop_indexes(conn: sqlite3.Connection, tables: tuple[str, ...]) -> list[str]:
    """Drop the secondary indexes of ``tables`` for a bulk load and return the SQL that
    recreates them exactly (inside the same transaction: a failure rolls both back). Building
    an index once after the load is cheaper than updating it row by row."""
    marks = ", ".join("?" * len(tables))
    rows = conn.execute(f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                        f"AND tbl_name IN ({marks})", tables).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in rows]


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality where two blanks are equal (floats compared exactly)."""
    an, bn = pd.isna(a).to_numpy(), pd.isna(b).to_numpy()
    eq = (a.to_numpy(dtype=object) == b.to_numpy(dtype=object))
    return np.asarray((an & bn) | (~an & ~bn & eq), dtype=bool)


# --- the import record -----------------------------------------------------------------------------
def find_applied(conn: sqlite3.Connection, sha256: str, kind: str) -> dict | None:
    """The applied import of the same bytes and kind, if any."""
    cur = conn.execute("SELECT * FROM imports WHERE sha256 = ? AND kind = ? AND status = 'applied' ORDER BY id DESC "
                       "LIMIT 1", (sha256, kind))
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row))


def _start_record(conn, *, kind, file_name, sha256, vendor, mapping, as_of) -> int:
    cur = conn.execute(
        "INSERT INTO imports (kind, file_name, sha256, vendor, mapping, as_of, status, created_at, created_by) "
        "VALUES (?, ?, ?, ?, ?, ?, 'applied', ?, ?)",
        (kind, file_name, sha256, vendor, json.dumps(mapping, ensure_ascii=False), as_of, store.now_iso(),
         store.current_user()))
    return int(cur.lastrowid)


def _finish_record(conn, import_id: int, result: ImportResult, rejected_rows: list | None, details: dict) -> None:
    conn.execute(
        "UPDATE imports SET rows_read = ?, rows_imported = ?, rows_rejected = ?, rows_new = ?, rows_changed = ?, "
        "rows_unchanged = ?, problems = ?, details = ?, rejected_rows = ? WHERE id = ?",
        (result.rows_read, result.rows_imported, result.rows_rejected, result.rows_new, result.rows_changed,
         result.rows_unchanged,
         json.dumps([p.as_dict() for p in result.problems[:5000]], ensure_ascii=False, default=str),
         json.dumps(details, ensure_ascii=False, default=str),
         json.dumps(rejected_rows or [], ensure_ascii=False, default=str), import_id))


# --- deals ----------------------------------------------------------------------------------------
STAGED = "temp.import_new"


def stage_deals(conn: sqlite3.Connection, deals: pd.DataFrame) -> str:
    """Put the file's deals in a temporary table of this connection (row i of ``deals`` has
    rowid i + 1), so that comparing them with the database and writing the changed ones happen
    inside SQLite. Returns the table's name."""
    types = {c: S.OPPORTUNITY_COLUMNS[c] for c in COMPARE_COLUMNS}
    types[S.OPPORTUNITY_ID] = "TEXT PRIMARY KEY NOT NULL"
    conn.execute(f"DROP TABLE IF EXISTS {STAGED}")
    conn.execute(f"CREATE TEMP TABLE {STAGED.split('.')[1]} ({store._columns_sql(types)})")
    cols = [c for c in COMPARE_COLUMNS if c in deals.columns and (c == S.OPPORTUNITY_ID or deals[c].notna().any())]
    store.insert_columns(conn, STAGED, cols, deals)
    return STAGED


def diff_deals(conn: sqlite3.Connection, deals: pd.DataFrame, *, staged: str | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(is_new, is_changed) masks of ``deals`` against the opportunities table, compared inside
    SQLite (the deals are staged first unless ``staged`` names their table)."""
    n = len(deals)
    if n == 0 or store.is_empty(conn):
        return np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    staged = staged or stage_deals(conn, deals)
    differs = " OR ".join(f"o.{c} IS NOT t.{c}" for c in COMPARE_COLUMNS if c != S.OPPORTUNITY_ID)
    join = f"FROM {staged} t JOIN opportunities o ON o.opportunity_id = t.opportunity_id"
    present = np.zeros(n, dtype=bool)
    changed = np.zeros(n, dtype=bool)
    # one pass: each staged row found in the table, and whether it differs (rowid * 2 + differs)
    codes = np.fromiter((r[0] for r in conn.execute(f"SELECT t.rowid * 2 + ({differs}) {join}")), dtype=np.int64)
    present[codes // 2 - 1] = True
    changed[codes[codes % 2 == 1] // 2 - 1] = True
    return ~present, changed


def write_deals(conn: sqlite3.Connection, deals: pd.DataFrame, *, file_name: str, sha256: str, vendor: str,
                mapping: dict, as_of: str, result: ImportResult, rejected_rows: list, details: dict,
                progress: Progress = _noop) -> ImportResult:
    """Write the valid deals, their snapshot as of ``as_of``, the undo data and the import
    record (inside the caller's write transaction).

    Into an empty database the deals are bound straight into ``opportunities`` and their
    snapshot versions copied inside SQLite. Otherwise they are staged in a temporary table,
    compared with the deals and the snapshot versions inside SQLite, and only the new and
    changed ones are written."""
    progress(0.55, "comparing with the database")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    staged = None if len(deals) == 0 or store.is_empty(conn) else stage_deals(conn, deals)
    is_new, is_changed = diff_deals(conn, deals, staged=staged)
    import_id = _start_record(conn, kind="opportunities", file_name=file_name, sha256=sha256, vendor=vendor,
                              mapping=mapping, as_of=as_of)
    # undo data: the prior state of every row this import replaces
    changed_ids = deals.loc[is_changed, S.OPPORTUNITY_ID].tolist()
    if changed_ids:
        conn.executemany(f"INSERT INTO import_prior_opportunities (undo_import_id, {', '.join(OPP_COLUMNS)}) "
                         f"SELECT ?, {', '.join(OPP_COLUMNS)} FROM opportunities WHERE opportunity_id = ?",
                         ((import_id, i) for i in changed_ids))
        conn.executemany("DELETE FROM opportunities WHERE opportunity_id = ?", ((i,) for i in changed_ids))
    everything = bool((is_new | is_changed).all())
    progress(0.6, "writing deals")
    rebuild = _drop_indexes(conn, ("opportunities",)) if len(deals) >= BULK_ROWS else []
    # bind only the columns the file fills: the others stay NULL (fewer values to pass to SQLite)
    cols = [c for c in OPP_COLUMNS if c in deals.columns and c != S.IMPORT_ID
            and (c in (S.OPPORTUNITY_ID, S.STATUS) or deals[c].notna().any())]
    if staged is None:
        _insert(conn, "opportunities", cols, deals, constants={S.IMPORT_ID: import_id}, progress=progress,
                start=0.6, span=0.25, label="writing deals")
    elif (is_new | is_changed).any():  # the staged rows not in the table now (new, and changed ones deleted above)
        conn.execute(f"INSERT INTO opportunities ({', '.join(cols)}, import_id) SELECT {', '.join('t.' + c for c in cols)}, "
                     f"? FROM {staged} t WHERE NOT EXISTS (SELECT 1 FROM opportunities o WHERE o.opportunity_id = "
                     "t.opportunity_id)", (import_id,))
    progress(0.85, "writing snapshots")
    # only deals that changed since the previous snapshot get a version row; into an empty
    # database, the deals' rows now in opportunities are copied inside SQLite
    bulk = None
    if everything:
        bulk = (f"SELECT opportunity_id, {', '.join(store.SNAPSHOT_STATE)} FROM opportunities WHERE import_id = ?",
                (import_id,))
    snap = store.write_snapshot(conn, as_of, deals, import_id=import_id, bulk_source=bulk, staged=staged)
    details = {**details, "snapshot": {"slot": snap.slot_id, "versions_new": snap.versions_new,
                                       "versions_closed": snap.versions_closed, "unchanged": snap.unchanged}}
    if staged is not None:
        conn.execute(f"DROP TABLE IF EXISTS {staged}")
    if rebuild:
        progress(0.95, "indexing")
        # measured: SQLite's external merge sort builds these indexes faster with a small cache
        conn.execute("PRAGMA cache_size = -2000")
        for sql in rebuild:
            conn.execute(sql)
    result.import_id = import_id
    result.rows_new = int(is_new.sum())
    result.rows_changed = int(is_changed.sum())
    result.rows_unchanged = len(deals) - result.rows_new - result.rows_changed
    result.rows_imported = len(deals)
    _finish_record(conn, import_id, result, rejected_rows, details)
    from ..search import after_import  # the find-anything index follows every deal import (issue 15)
    after_import(conn, import_id)
    progress(1.0, "done")
    return result


def write_stage_history(conn: sqlite3.Connection, rows: pd.DataFrame, *, file_name: str, sha256: str, vendor: str,
                        mapping: dict, result: ImportResult, rejected_rows: list, details: dict) -> ImportResult:
    """Replace the stage history of the deals in the file with the file's rows."""
    import_id = _start_record(conn, kind="stage_history", file_name=file_name, sha256=sha256, vendor=vendor,
                              mapping=mapping, as_of=None)
    ids = sorted(set(rows[S.OPPORTUNITY_ID]))
    prior = []
    for i in ids:
        for r in conn.execute("SELECT opportunity_id, stage, entered_at, import_id FROM stage_history "
                              "WHERE opportunity_id = ?", (i,)):
            prior.append((import_id, "stage_history", i, json.dumps(list(r))))
    conn.executemany("INSERT INTO import_prior_rows (import_id, table_name, row_key, row) VALUES (?, ?, ?, ?)", prior)
    conn.executemany("DELETE FROM stage_history WHERE opportunity_id = ?", ((i,) for i in ids))
    out = rows.copy()
    out[S.IMPORT_ID] = import_id
    _insert(conn, "stage_history", list(S.STAGE_HISTORY_COLUMNS), out)
    old_ids = {p[2] for p in prior}
    result.import_id = import_id
    result.rows_imported = len(rows)
    result.rows_new = int((~rows[S.OPPORTUNITY_ID].isin(old_ids)).sum())
    result.rows_changed = len(rows) - result.rows_new
    _finish_record(conn, import_id, result, rejected_rows, details)
    return result


# --- reference tables (reps, accounts, targets) ----------------------------------------------------
REFERENCE_KEYS = {
    "reps": [S.NAME],
    "accounts": [S.NAME],
    "targets": [S.SCOPE, S.SCOPE_NAME, S.PERIOD_START, S.PERIOD_END],
}


def write_reference(conn: sqlite3.Connection, kind: str, table: str, frame: pd.DataFrame, *, file_name: str,
                    sha256: str, mapping: dict, result: ImportResult, rejected_rows: list, details: dict) -> ImportResult:
    """Upsert rows into reps / accounts / targets by their key, keeping the prior rows for undo."""
    keys = REFERENCE_KEYS[table]
    cols = store.table_columns(conn, table)
    import_id = _start_record(conn, kind=kind, file_name=file_name, sha256=sha256, vendor=kind, mapping=mapping,
                              as_of=None)
    where = " AND ".join(f"{k} IS ?" for k in keys)
    prior, new, changed = [], 0, 0
    key_lists = column_lists(frame, keys)
    full_lists = column_lists(frame, cols)
    for key, full in zip(zip(*key_lists), zip(*full_lists)):
        row = conn.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE {where}", key).fetchone()
        prior.append((import_id, table, json.dumps(list(key)), None if row is None else json.dumps(list(row))))
        if row is None:
            new += 1
        elif tuple(row) != tuple(full):
            changed += 1
    conn.executemany("INSERT INTO import_prior_rows (import_id, table_name, row_key, row) VALUES (?, ?, ?, ?)", prior)
    _insert(conn, table, cols, frame, verb="INSERT OR REPLACE")
    result.import_id = import_id
    result.rows_imported = len(frame)
    result.rows_new, result.rows_changed = new, changed
    result.rows_unchanged = len(frame) - new - changed
    _finish_record(conn, import_id, result, rejected_rows, details)
    return result


# --- undo ---------------------------------------------------------------------------------------------
def undo(conn: sqlite3.Connection, import_id: int) -> dict:
    """Remove one import and restore the prior state exactly (inside a write transaction)."""
    cur = conn.execute("SELECT id, kind, status, file_name, as_of FROM imports WHERE id = ?", (int(import_id),))
    row = cur.fetchone()
    if row is None:
        raise InputError(f"there is no import {import_id}; see `python -m salesops imports`",
                         [Problem(f"no import {import_id}", column="ID", value=import_id)])
    iid, kind, status, file_name, as_of = row
    if status != "applied":
        raise InputError(f"import {iid} ({file_name}) was already undone",
                         [Problem("already undone", column="ID", value=iid)])
    later = conn.execute("SELECT id, file_name FROM imports WHERE kind = ? AND status = 'applied' AND id > ? "
                         "ORDER BY id DESC", (kind, iid)).fetchall()
    if later:
        ids = ", ".join(str(r[0]) for r in later)
        raise InputError(f"import {iid} cannot be undone while later {kind} imports ({ids}) are applied; undo "
                         "those first, newest first", [Problem("later imports applied", column="ID", value=iid)])
    if kind == "opportunities":
        conn.execute("DELETE FROM opportunities WHERE import_id = ?", (iid,))
        conn.execute(f"INSERT INTO opportunities ({', '.join(OPP_COLUMNS)}) SELECT {', '.join(OPP_COLUMNS)} "
                     "FROM import_prior_opportunities WHERE undo_import_id = ?", (iid,))
        store.undo_snapshot(conn, iid)
        conn.execute("DELETE FROM import_prior_opportunities WHERE undo_import_id = ?", (iid,))
    elif kind == "stage_history":
        conn.execute("DELETE FROM stage_history WHERE import_id = ?", (iid,))
        rows = [json.loads(r[0]) for r in conn.execute(
            "SELECT row FROM import_prior_rows WHERE import_id = ? AND table_name = 'stage_history' ORDER BY rowid",
            (iid,))]
        conn.executemany("INSERT INTO stage_history (opportunity_id, stage, entered_at, import_id) VALUES (?, ?, ?, ?)",
                         rows)
    else:
        table = {"roster": "reps", "accounts": "accounts", "targets": "targets"}[kind]
        keys = REFERENCE_KEYS[table]
        cols = store.table_columns(conn, table)
        where = " AND ".join(f"{k} IS ?" for k in keys)
        for key, prior in conn.execute("SELECT row_key, row FROM import_prior_rows WHERE import_id = ? AND "
                                       "table_name = ? ORDER BY rowid DESC", (iid, table)).fetchall():
            conn.execute(f"DELETE FROM {table} WHERE {where}", json.loads(key))
            if prior is not None:
                conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                             json.loads(prior))
    conn.execute("DELETE FROM import_prior_rows WHERE import_id = ?", (iid,))
    conn.execute("UPDATE imports SET status = 'undone' WHERE id = ?", (iid,))
    return {"import_id": iid, "kind": kind, "file": file_name, "as_of": as_of, "status": "undone"}
