"""The SQLite store: one connection per unit of work, numbered migrations, read/write API.

Rules (DESIGN.md section 8): no connection lives across reruns or threads; WAL mode and a busy
timeout so writers wait instead of failing; ``BEGIN IMMEDIATE`` for every read-then-write;
migrations take the write lock and re-read the schema version inside it.

Use::

    with store.connect(path) as conn:            # read
        deals = store.load_deals(conn)
    with store.connect(path, write=True) as conn:  # one transaction, BEGIN IMMEDIATE
        store.set_settings(conn, currency="EUR")

Every committed write bumps ``data_version``; caches key on it. A write that changes the deal
facts (anything but targets, comp plans, saved forecasts, users and the audit trail) also
draws a new ``facts_token``: results computed from the facts alone (the landing zone) are kept
by that token, so they survive a saved target, comp plan or forecast, and two copies of one
file share it.
"""
from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from . import schema as S
from .errors import SchemaTooNewError, StoreError

BUSY_TIMEOUT_MS = 30_000
#: Page size of a new database file (bytes).
PAGE_SIZE = 16_384
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_db_path() -> Path:
    """``SALESOPS_DB`` if set, else data/salesops.db in the project folder."""
    env = os.environ.get("SALESOPS_DB")
    return Path(env) if env else PROJECT_ROOT / "data" / "salesops.db"


def current_user() -> str:
    """Who is doing the work, for the audit trail: the signed-in user of the app's session
    (salesops.auth), else the local user (the OS user; SALESOPS_USER overrides)."""
    from . import auth

    return auth.current().email


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# --- DDL -------------------------------------------------------------------------------------
#: The columns of a deal's state that snapshots keep (besides as_of, opportunity_id, import_id).
SNAPSHOT_STATE = [c for c in S.SNAPSHOT_COLUMNS if c not in (S.AS_OF, S.OPPORTUNITY_ID, S.IMPORT_ID)]

def _columns_sql(columns: dict[str, str]) -> str:
    return ", ".join(f'"{name}" {sqltype}' for name, sqltype in columns.items())


def _saved_work_ddl(table: str, extra: str = "") -> str:
    return f"""CREATE TABLE {table} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        {extra}
        created_at TEXT NOT NULL,
        created_by TEXT,
        payload TEXT NOT NULL,
        UNIQUE (name, version))"""


#: The deal columns of schemas 1-3 (later migrations add theirs with ALTER TABLE, so that the
#: early migrations keep giving exactly the schema of their version).
_OPPORTUNITY_COLUMNS_V1 = {c: t for c, t in S.OPPORTUNITY_COLUMNS.items() if c != S.STATUS_SOURCE}


def _migration_1(conn: sqlite3.Connection) -> None:
    """The schema of DESIGN.md section 2."""
    opp = dict(_OPPORTUNITY_COLUMNS_V1)
    opp[S.OPPORTUNITY_ID] = "TEXT PRIMARY KEY NOT NULL"
    opp[S.STATUS] = "TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost'))"
    stmts = [
        f"CREATE TABLE opportunities ({_columns_sql(opp)})",
        "CREATE INDEX idx_opportunities_close ON opportunities (close_date)",
        "CREATE INDEX idx_opportunities_owner ON opportunities (owner)",
        f"CREATE TABLE snapshots ({_columns_sql(S.SNAPSHOT_COLUMNS)}, PRIMARY KEY (as_of, opportunity_id))",
        "CREATE INDEX idx_snapshots_opp ON snapshots (opportunity_id)",
        f"CREATE TABLE stage_history ({_columns_sql(S.STAGE_HISTORY_COLUMNS)})",
        "CREATE INDEX idx_stage_history_opp ON stage_history (opportunity_id, entered_at)",
        """CREATE TABLE imports (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL DEFAULT 'opportunities',
            file_name TEXT, sha256 TEXT, vendor TEXT, mapping TEXT, as_of TEXT,
            rows_read INTEGER, rows_imported INTEGER, rows_rejected INTEGER,
            rows_new INTEGER, rows_changed INTEGER, rows_unchanged INTEGER,
            problems TEXT, status TEXT NOT NULL DEFAULT 'applied',
            created_at TEXT NOT NULL, created_by TEXT)""",
        "CREATE INDEX idx_imports_sha ON imports (sha256)",
        f"CREATE TABLE reps ({_columns_sql({**S.REP_COLUMNS, S.NAME: 'TEXT PRIMARY KEY NOT NULL'})})",
        f"CREATE TABLE accounts ({_columns_sql({**S.ACCOUNT_COLUMNS, S.NAME: 'TEXT PRIMARY KEY NOT NULL'})})",
        f"CREATE TABLE targets ({_columns_sql(S.TARGET_COLUMNS)}, PRIMARY KEY (scope, scope_name, period_start, period_end))",
        "CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
        """CREATE TABLE stage_map (
            stage TEXT PRIMARY KEY NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost')),
            probability REAL NOT NULL CHECK (probability BETWEEN 0 AND 1),
            sort_order INTEGER NOT NULL)""",
        _saved_work_ddl("comp_plans"),
        _saved_work_ddl("scenarios", "kind TEXT NOT NULL DEFAULT 'goals',"),
        _saved_work_ddl("forecast_runs", "kind TEXT NOT NULL DEFAULT 'forecast',"),
        "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
        "INSERT INTO meta (key, value) VALUES ('data_version', '0')",
    ]
    for stmt in stmts:
        conn.execute(stmt)


def _migration_import_undo(conn: sqlite3.Connection) -> None:
    """Undo data for imports (issue #3): the prior state of every row an import replaced, so
    that undoing it restores the database exactly; plus details and rejected rows per import."""
    conn.execute(f"CREATE TABLE import_prior_opportunities (undo_import_id INTEGER NOT NULL, "
                 f"{_columns_sql(_OPPORTUNITY_COLUMNS_V1)})")
    conn.execute("CREATE INDEX idx_import_prior_opportunities ON import_prior_opportunities (undo_import_id)")
    conn.execute(f"CREATE TABLE import_prior_snapshots (undo_import_id INTEGER NOT NULL, "
                 f"{_columns_sql(S.SNAPSHOT_COLUMNS)})")
    conn.execute("CREATE INDEX idx_import_prior_snapshots ON import_prior_snapshots (undo_import_id)")
    conn.execute("""CREATE TABLE import_prior_rows (
        import_id INTEGER NOT NULL, table_name TEXT NOT NULL, row_key TEXT NOT NULL, row TEXT)""")
    conn.execute("CREATE INDEX idx_import_prior_rows ON import_prior_rows (import_id)")
    conn.execute("ALTER TABLE imports ADD COLUMN details TEXT")
    conn.execute("ALTER TABLE imports ADD COLUMN rejected_rows TEXT")


def _migration_snapshot_versions(conn: sqlite3.Connection) -> None:
    """Deal history as versions (issue #11): instead of a full copy of every deal per as-of
    date, a version row holds one state of one deal over a run of snapshots (``valid_from``
    inclusive to ``valid_to`` exclusive, NULL while it is still current). Existing full-copy
    snapshots, and the undo data of every applied import, are converted so that every reader
    and every undo sees exactly what it saw before. ``snapshots`` stays as a read-only view.

    The opportunities indexes on close_date and owner go: no query reads by them (every reader
    loads the table whole), and each cost every bulk import a rebuild (about 0.9 s per million
    deals)."""
    state = {c: S.SNAPSHOT_COLUMNS[c] for c in SNAPSHOT_STATE}
    conn.execute("CREATE TABLE snapshot_slots (slot_id INTEGER PRIMARY KEY, as_of TEXT NOT NULL, import_id INTEGER)")
    conn.execute("CREATE INDEX idx_snapshot_slots_as_of ON snapshot_slots (as_of, slot_id)")
    conn.execute(f"CREATE TABLE snapshot_versions (version_id INTEGER PRIMARY KEY, opportunity_id TEXT NOT NULL, "
                 f"valid_from INTEGER NOT NULL, valid_to INTEGER, {_columns_sql(state)}, import_id INTEGER)")
    conn.execute("CREATE TABLE import_prior_versions (undo_import_id INTEGER NOT NULL, version_id INTEGER NOT NULL, "
                 "valid_to INTEGER)")
    conn.execute("CREATE INDEX idx_import_prior_versions ON import_prior_versions (undo_import_id)")
    _convert_full_copy_snapshots(conn)
    conn.execute("DROP TABLE snapshots")
    conn.execute("DROP TABLE import_prior_snapshots")
    conn.execute(f"CREATE VIEW snapshots AS {_SNAPSHOTS_VIEW_SQL}")
    conn.execute("DROP INDEX IF EXISTS idx_opportunities_close")
    conn.execute("DROP INDEX IF EXISTS idx_opportunities_owner")


def _migration_status_source(conn: sqlite3.Connection) -> None:
    """Status provenance (issue #14): ``opportunities.status_source`` says where a deal's status
    came from, 'file' (an explicit status column of the export) or 'stage_map'; a stage-map
    change re-derives only the statuses that came from the map.

    Existing rows (and the prior rows kept for undo) are inferred from the import that wrote
    them: 'file' when that import's mapping had a column mapped to ``status`` (Pipedrive,
    HubSpot's and Close's status, Dynamics, a canonical file), else 'stage_map' (the demo,
    Salesforce, Zoho, files without a status column). Where a status column only filled in for
    stages the map did not know, 'file' is the safe side: such a deal is never re-derived."""
    check = "CHECK (status_source IN ('file', 'stage_map'))"
    conn.execute(f"ALTER TABLE opportunities ADD COLUMN status_source TEXT NOT NULL DEFAULT 'stage_map' {check}")
    conn.execute("ALTER TABLE import_prior_opportunities ADD COLUMN status_source TEXT")
    from_file = [int(iid) for iid, mapping in conn.execute("SELECT id, mapping FROM imports WHERE kind = 'opportunities'")
                 if _maps_status(mapping)]
    conn.execute("UPDATE import_prior_opportunities SET status_source = 'stage_map'")
    if from_file:
        ids = json.dumps(from_file)
        conn.execute("UPDATE opportunities SET status_source = 'file' WHERE import_id IN (SELECT value FROM json_each(?))",
                     (ids,))
        # a prior row was written by the import before the one that kept it: its own import_id says which
        conn.execute("UPDATE import_prior_opportunities SET status_source = 'file' "
                     "WHERE import_id IN (SELECT value FROM json_each(?))", (ids,))


def _maps_status(mapping_json: str | None) -> bool:
    """Whether an import's stored mapping ({source column: field}) has a column mapped to status."""
    try:
        mapping = json.loads(mapping_json or "{}")
    except ValueError:
        return False
    return isinstance(mapping, dict) and S.STATUS in mapping.values()


def _migration_facts_token(conn: sqlite3.Connection) -> None:
    """The facts token (issue #10): a random text redrawn by every write that changes the deal
    facts (:data:`FACT_NEUTRAL_TABLES` aside); results of the facts alone are kept by it."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('facts_token', ?)", (new_facts_token(),))


def new_facts_token() -> str:
    import uuid

    return uuid.uuid4().hex


def _migration_users_audit(conn: sqlite3.Connection) -> None:
    """Users and roles, and the audit trail (issue #14). Idempotent (IF NOT EXISTS): it is
    migration 5, after the status provenance of migration 4 (databases made on the branch that had it
    as 4 are recreated)."""
    conn.execute("""CREATE TABLE IF NOT EXISTS users (
        email TEXT PRIMARY KEY NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'rep')),
        person TEXT, teams TEXT,
        created_at TEXT NOT NULL, updated_at TEXT, updated_by TEXT)""")
    conn.execute("""CREATE TABLE IF NOT EXISTS audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL, user TEXT NOT NULL, role TEXT, action TEXT NOT NULL,
        summary TEXT, before TEXT, after TEXT, backup TEXT)""")
    conn.execute("CREATE INDEX IF NOT EXISTS idx_audit_log_at ON audit_log (at)")


#: Numbered migrations: MIGRATIONS[i] takes the schema from version i to i + 1. Append only.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_import_undo,
                                                           _migration_snapshot_versions, _migration_status_source,
                                                           _migration_users_audit, _migration_facts_token]
SCHEMA_VERSION = len(MIGRATIONS)

#: The tables that hold a workspace's data (as opposed to settings and saved work): what
#: "load the demo" and "start empty" replace, including the undo data of past imports.
WORKSPACE_DATA_TABLES = ("opportunities", "snapshot_versions", "snapshot_slots", "stage_history", "imports", "reps",
                         "accounts", "targets", "import_prior_opportunities", "import_prior_versions",
                         "import_prior_rows")


#: Tables whose writes leave the deal facts as they were (so the facts token stays): what a
#: result of the facts alone (deals, snapshots, stage history, roster, accounts, settings, the
#: active territory plan) never reads. Goal scenarios share their table with territory plans,
#: so a saved scenario counts as a change of the facts (the safe side).
FACT_NEUTRAL_TABLES = frozenset({"targets", "comp_plans", "forecast_runs", "users", "audit_log", "meta",
                                 "sqlite_sequence", "sqlite_stat1"})
#: sqlite3 authorizer actions that change a table's rows or shape (the table name is the first
#: argument, except ALTER TABLE's, which gives it second).
_CHANGES = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE, sqlite3.SQLITE_DROP_TABLE,
            sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_VIEW, sqlite3.SQLITE_DROP_VIEW}


class _WrittenTables:
    """An authorizer that notes every table a write transaction's statements change (it is
    asked once per statement as SQLite compiles it, not per row; it never refuses)."""

    def __init__(self):
        self.tables: set[str] = set()

    def __call__(self, action, arg1, arg2, db_name, _trigger):
        if db_name != "temp":
            if action in _CHANGES and arg1:
                self.tables.add(arg1.lower())
            elif action == sqlite3.SQLITE_ALTER_TABLE and arg2:
                self.tables.add(arg2.lower())
        return sqlite3.SQLITE_OK

    @property
    def facts_changed(self) -> bool:
        return bool(self.tables - FACT_NEUTRAL_TABLES)


# --- connections -----------------------------------------------------------------------------
def _open(path: Path | str) -> sqlite3.Connection:
    path = Path(path)
    if str(path) != ":memory:":
        if path.exists() and path.is_dir():
            raise StoreError(f"{path} is a folder, not a database file")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for {path}: {exc.strerror}") from None
    if read_only_reason(path):
        return _open_read_only(path)
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=True)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _refuse_newer(conn, path)  # before anything (even the journal mode) touches the file
        # a new database gets 16 KiB pages (SQLite's default is 4): bulk imports write a million-row
        # table with fewer page splits and WAL frames (measured ~5% less CPU); no effect on an existing file
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal" and str(path) != ":memory:":
            # a network share or read-only folder cannot hold a WAL; rollback journal still works
            conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise StoreError(explain(path, exc)) from None
    return conn


def read_only_uri(path: Path | str) -> str:
    """A read-only SQLite URI of ``path``; ``immutable`` where the folder cannot hold the
    shared-memory file a WAL reader needs (nobody can write there either)."""
    p = Path(path).resolve()
    immutable = "&immutable=1" if not os.access(p.parent, os.W_OK) or read_only_reason(p) == \
        "the file system is mounted read-only" else ""
    return f"{p.as_uri()}?mode=ro{immutable}"


def _open_read_only(path: Path | str) -> sqlite3.Connection:
    """A connection that only reads (the database sits on a read-only file, folder or file system)."""
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _refuse_newer(conn, path)
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.DatabaseError as exc:
        raise StoreError(explain(path, exc)) from None
    return conn


def open_connection(path: Path | str) -> sqlite3.Connection:
    """A raw connection to ``path`` (busy timeout, WAL, newer schema refused), not migrated:
    for tools that copy whole databases (salesops.backup). Close it yourself."""
    return _open(path)


def explain(path: Path | str, exc: Exception) -> str:
    """A user's sentence for a SQLite error met on the database at ``path``."""
    text = str(exc)
    if "readonly" in text or "read-only" in text or ("unable to open" in text and read_only_reason(path)):
        return read_only_message(path, read_only_reason(path) or "the file or its folder is read-only")
    if "not a database" in text or "malformed" in text:
        return damaged_message(path, text)
    if "locked" in text:
        return f"{path} is busy: another import or save is still running; try again in a moment"
    if "disk" in text and "full" in text or "SQLITE_FULL" in text:
        return f"{path}: the disk is full; nothing was written"
    return f"{path}: {text}"


def damaged_message(path: Path | str, detail: str) -> str:
    """What a user reads about a damaged database file (never written into)."""
    return (f"the database file {path} is damaged: it is not a readable salesops database ({detail}); nothing was "
            "written. Restore a backup "
            f"(Settings → Backups, or a file in {Path(path).resolve().parent / 'backups'}) or point SALESOPS_DB at "
            "another file.")


def read_only_message(path: Path | str, reason: str) -> str:
    return (f"the database file {path} is read-only ({reason}): it can be read, but nothing can be saved into it. "
            "Make it writable, or copy it to a writable folder and point SALESOPS_DB at the copy.")


def read_only_reason(path: Path | str) -> str | None:
    """Why the existing database at ``path`` cannot be written (a read-only file system, file
    or folder), or None. A WAL database also needs its folder writable (for -wal and -shm)."""
    p = Path(path)
    if str(path) == ":memory:" or not p.exists():
        return None
    try:
        st = os.statvfs(p)
        if st.f_flag & getattr(os, "ST_RDONLY", 1):
            return "the file system is mounted read-only"
    except (OSError, AttributeError):
        pass
    if not os.access(p, os.W_OK):
        return "the file is read-only"
    if not os.access(p.parent, os.W_OK):
        return "its folder is read-only"
    return None


def is_damage(exc: BaseException) -> bool:
    """Whether an error (SQLite's, pandas' or the ADBC driver's) says the file is damaged."""
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _refuse_newer(conn: sqlite3.Connection, path: Path | str = "") -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        conn.close()
        raise SchemaTooNewError(
            f"{path or 'the database'} was written by a newer salesops (schema {version}, this app knows "
            f"{SCHEMA_VERSION}); update salesops to open it. Nothing was changed.")
    return version


def migrate(conn: sqlite3.Connection, path: Path | str = "") -> None:
    """Bring the schema up to :data:`SCHEMA_VERSION`, one migration per transaction.

    Each step takes the write lock (``BEGIN IMMEDIATE``) and re-reads ``user_version`` inside
    it, so two processes opening a new database at once both succeed."""
    version = _refuse_newer(conn, path)
    while version < SCHEMA_VERSION:
        begin_write(conn, path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


#: How long a writer waits in the queue behind other writers before giving up (seconds;
#: ``SALESOPS_WRITE_WAIT`` overrides). Four simultaneous million-row imports each take about a
#: minute: the last one waits for the three before it, it does not fail.
WRITE_WAIT_SECONDS = float(os.environ.get("SALESOPS_WRITE_WAIT") or 3600)
#: The first try for the write lock waits this long before the writer says it is queued.
FIRST_TRY_MS = 1000
WAITING = "waiting for another import or save to finish"


def _is_busy(exc: Exception) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def begin_write(conn: sqlite3.Connection, path: Path | str = "", on_wait: Callable[[str], None] | None = None) -> None:
    """``BEGIN IMMEDIATE``, queued: while another connection holds the write lock, keep
    trying (each try waits the busy timeout) for up to :data:`WRITE_WAIT_SECONDS`, and say
    once through ``on_wait`` that this writer is waiting (a progress line, the CLI's stderr,
    the page's status)."""
    import time

    deadline = time.monotonic() + WRITE_WAIT_SECONDS
    first = min(FIRST_TRY_MS, BUSY_TIMEOUT_MS)
    conn.execute(f"PRAGMA busy_timeout = {first}")
    told = False
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise StoreError(explain(path, exc)) from None
                if time.monotonic() >= deadline:
                    raise StoreError(f"{path} is busy: another import or save held it for more than "
                                     f"{WRITE_WAIT_SECONDS:.0f} s; nothing was written, try again later") from None
                if not told and on_wait is not None:
                    on_wait(WAITING)
                told = True
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


@contextmanager
def connect(path: Path | str | None = None, *, write: bool = False,
            on_wait: Callable[[str], None] | None = None) -> Iterator[sqlite3.Connection]:
    """Open the database for one unit of work, migrated to the current schema.

    With ``write=True`` the block runs in one ``BEGIN IMMEDIATE`` transaction that commits at the
    end (bumping ``data_version``) or rolls back on any exception; a writer queues behind
    others (:func:`begin_write`; ``on_wait`` hears that it is waiting). The connection is
    closed on exit either way."""
    path = default_db_path() if path is None else path
    if write and read_only_reason(path):
        raise StoreError(read_only_message(path, read_only_reason(path)))
    conn = _open(path)
    try:
        try:
            if read_only_reason(path):
                if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    raise StoreError(read_only_message(path, read_only_reason(path)) + " It was written by an "
                                     "older salesops and needs an upgrade, which writes.")
            else:
                migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(explain(path, exc)) from None
        if not write:
            yield conn
            return
        from . import audit

        audit.check_write()  # a write the acting user may not do is refused before it starts
        begin_write(conn, path, on_wait)
        written = _WrittenTables()
        conn.set_authorizer(written)
        try:
            yield conn
            conn.set_authorizer(None)
            audit.on_commit(conn)  # who and what, in the same transaction as the change
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_version'")
            if written.facts_changed:
                conn.execute("UPDATE meta SET value = ? WHERE key = 'facts_token'", (new_facts_token(),))
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(explain(path, exc)) from None
            raise
    finally:
        conn.close()


def facts_token(conn: sqlite3.Connection) -> str:
    """The facts token of the open database (see the module's docstring)."""
    return str(conn.execute("SELECT value FROM meta WHERE key = 'facts_token'").fetchone()[0])


def version_of(conn: sqlite3.Connection) -> int:
    """The data version of the open database: a number that changes with every committed write."""
    return int(conn.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0])


def data_version(path: Path | str | None = None) -> int:
    """A number that changes with every committed write: the cache key of derived results."""
    with connect(path) as conn:
        return version_of(conn)


def versions(path: Path | str | None = None) -> tuple[int, str]:
    """(data version, facts token) of the database at ``path``, read together: what a kept
    workspace is keyed by (two copies of one file share both and hold the same data)."""
    with connect(path) as conn:
        return version_of(conn), facts_token(conn)


def integrity_problems(path: Path | str | None = None) -> list[str]:
    """``PRAGMA quick_check`` results other than ok (empty list = healthy). Read-only: a
    database on a read-only file system is checked without writing anything."""
    path = default_db_path() if path is None else path
    if not Path(path).exists():
        return []
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "unable to open" in str(exc) and read_only_reason(path):
            return []  # not damage: a read-only place (said as read-only where it matters)
        return [str(exc)]
    return [r for r in rows if r != "ok"]


def check_intact(path: Path | str) -> None:
    """Raise StoreError when the database at ``path`` is damaged (``PRAGMA quick_check``: it
    reads the whole file, about a second per few hundred MB). Imports call it before writing:
    damage in the middle of the file is otherwise met only by the pages a query happens to
    read, and SQLite would happily write next to it."""
    problems = integrity_problems(path)
    if problems:
        lines = [ln for p in problems for ln in str(p).splitlines() if ln.strip() and not ln.startswith("***")]
        detail = (lines[0] if lines else str(problems[0]))[:120]
        raise StoreError(damaged_message(path, detail + (f" and {len(lines) - 1:,} more problems" if len(lines) > 1 else "")))


def backup(path: Path | str | None = None, dest: Path | str | None = None) -> Path:
    """Copy the database (consistently, with SQLite's backup API) to ``dest`` (default: PATH.bak)."""
    path = Path(default_db_path() if path is None else path)
    dest = Path(dest) if dest else Path(str(path) + ".bak")
    src = _open(path)
    try:
        out = sqlite3.connect(str(dest))
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()
    return dest


# --- generic frame I/O -------------------------------------------------------------------------
def _to_sql_value(v):
    if v is None:
        return None
    if isinstance(v, float) and v != v:  # NaN
        return None
    if v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    if hasattr(v, "item"):  # numpy scalar
        return v.item()
    return v


def frame_rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Rows of ``frame`` as tuples ready for ``executemany``: NaN/NaT -> NULL, dates -> ISO text.
    Built column by column: a column's values are converted in one pass, and a cell goes
    through :func:`_to_sql_value` only when it is not already text, a Python number or NULL
    (the demo's 370,000 cells: 1.2 s cell by cell)."""
    out = frame.reindex(columns=columns)
    cols = []
    for col in columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.strftime("%Y-%m-%d")
        values = s.astype(object).where(s.notna(), None).tolist()
        cols.append([v if v is None or type(v) in _PLAIN else _to_sql_value(v) for v in values])
    return list(zip(*cols)) if cols else [()] * len(out)


#: Cell types that :func:`_to_sql_value` returns unchanged (a float here is never NaN: NaN is None by then).
_PLAIN = frozenset({str, int, float, bool})


def insert_frame(conn: sqlite3.Connection, table: str, frame: pd.DataFrame, *, replace: bool = False) -> int:
    """Insert the rows of ``frame`` (columns named as the table's) in one ``executemany``."""
    cols = [c for c in table_columns(conn, table) if c in frame.columns]
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    sql = f'{verb} INTO {table} ({", ".join(f"{c!r}".replace(chr(39), chr(34)) for c in cols)}) VALUES ({", ".join("?" * len(cols))})'
    rows = frame_rows(frame, cols)
    conn.executemany(sql, rows)
    return len(rows)


#: Rows per multi-row INSERT statement (within SQLite's limit of 32766 bound variables; 2000 rows
#: measured ~3% less CPU than 500).
ROWS_PER_STATEMENT = 2000
MAX_VARIABLES = 32_000
INSERT_CHUNK = 200_000


def column_lists(frame: pd.DataFrame, columns: list[str]) -> list[list]:
    """Columns as Python lists ready to bind: NaN/NaT/None -> None, numpy scalars -> Python."""
    out = []
    for c in columns:
        if c not in frame.columns:
            out.append([None] * len(frame))
            continue
        s = frame[c]
        if pd.api.types.is_float_dtype(s.dtype):
            arr = s.to_numpy(dtype=object)
            arr[np.isnan(s.to_numpy(dtype=float))] = None
        elif pd.api.types.is_integer_dtype(s.dtype):
            arr = s.to_numpy(dtype=object)
        else:
            arr = s.to_numpy(dtype=object)
            mask = pd.isna(s).to_numpy()
            if mask.any():
                arr = arr.copy()
                arr[mask] = None
        out.append(arr.tolist())
    return out


def insert_columns(conn: sqlite3.Connection, table: str, columns: list[str], frame: pd.DataFrame, *,
                   verb: str = "INSERT", constants: dict | None = None,
                   on_rows: Callable[[int], None] | None = None) -> int:
    """Insert ``frame[columns]`` plus ``constants`` (one value for every row) with multi-row
    ``VALUES (...), (...), ...`` statements: one SQLite step per few hundred rows instead of
    one per row (measured about twice as fast as a plain executemany). ``on_rows`` is called
    with the number of rows written so far after each chunk."""
    constants = constants or {}
    columns = [c for c in columns if c not in constants]
    # integer and NULL constants go into the SQL text (nothing to bind per row); others are bound
    literal = {c: ("NULL" if v is None else str(int(v))) for c, v in constants.items()
               if v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool))}
    bound = {c: v for c, v in constants.items() if c not in literal}
    n, k = len(frame), len(columns) + len(bound)
    if not n:
        return 0
    per = max(1, min(ROWS_PER_STATEMENT, MAX_VARIABLES // max(k, 1)))
    one = "(" + ", ".join(["?"] * k + list(literal.values())) + ")"
    head = f"{verb} INTO {table} ({', '.join([*columns, *bound, *literal])}) VALUES "
    many = head + ", ".join([one] * per)
    constants = bound
    for lo in range(0, n, INSERT_CHUNK):
        part = frame.iloc[lo: lo + INSERT_CHUNK]
        m = len(part)
        flat: list = [None] * (m * k)
        lists = column_lists(part, columns) + [[v] * m for v in constants.values()]
        for j, values in enumerate(lists):
            flat[j::k] = values
        del lists
        full = m // per * per
        step = per * k
        if full:
            conn.executemany(many, (flat[i: i + step] for i in range(0, full * k, step)))
        if m > full:
            conn.executemany(head + one, (flat[i: i + k] for i in range(full * k, m * k, k)))
        if on_rows is not None:
            on_rows(lo + m)
    return n


def replace_table(conn: sqlite3.Connection, table: str, frame: pd.DataFrame) -> int:
    """Delete every row of ``table`` and insert ``frame`` (inside the caller's transaction)."""
    conn.execute(f"DELETE FROM {table}")
    return insert_frame(conn, table, frame)


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]


def read_frame(conn: sqlite3.Connection, sql: str, params: tuple | dict = ()) -> pd.DataFrame:
    try:
        return pd.read_sql_query(sql, conn, params=params)
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:
        if is_damage(exc):
            raise StoreError(damaged_message(_conn_path(conn), str(exc).rsplit(": ", 1)[-1])) from None
        raise


def _conn_path(conn: sqlite3.Connection) -> str:
    try:
        return conn.execute("PRAGMA database_list").fetchone()[2] or "the database"
    except sqlite3.Error:
        return "the database"


def _parse_dates(frame: pd.DataFrame, columns) -> pd.DataFrame:
    for col in columns:
        if col in frame.columns:
            frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d", errors="coerce")
    return frame


# --- domain reads ------------------------------------------------------------------------------
DEAL_COLUMNS = [c for c in S.OPPORTUNITY_COLUMNS if c != S.EXTRA]


def load_deals(conn: sqlite3.Connection, *, with_extra: bool = False, rowid_index: bool = False,
               columns: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every opportunity: dates as datetime64, amount and probability as float.

    The ``extra`` JSON column is left out unless ``with_extra``; ``rowid_index`` indexes the
    rows by their database rowid (as the workspace's deal facts are); ``columns`` reads only
    those columns (in the table's order), each exactly as the full read gives it."""
    cols = list(S.OPPORTUNITY_COLUMNS) if with_extra else DEAL_COLUMNS
    if columns is not None:
        cols = [c for c in cols if c in columns]
    frame = read_frame(conn, f"SELECT {'rowid AS _rowid, ' if rowid_index else ''}{', '.join(cols)} FROM opportunities")
    if rowid_index:
        frame = frame.set_index("_rowid")
        frame.index.name = None
    for col in (S.AMOUNT, S.PROBABILITY):
        if col in frame.columns:
            frame[col] = frame[col].astype(float)
    return _parse_dates(frame, S.DATE_FIELDS)


#: The narrow columns of :func:`load_deal_facts` (the KPI engine's and the filters' input).
FACT_COLUMNS = [S.OWNER, S.REGION, S.SEGMENT, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.PROBABILITY,
                S.FORECAST_CATEGORY]
_NO_NUMBER = -1e308  # stands for NULL in the columnar read (every value of a column has one type)


def _codes_sql(column: str, values) -> str:
    cases = " ".join(f"WHEN '{v}' THEN {i}" for i, v in enumerate(values))
    return f"CASE {column} {cases} ELSE -1 END AS {column}"


def load_deal_facts(path: Path | str, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """One narrow row per deal: ``rowid``, :data:`FACT_COLUMNS` and ``text_columns`` (further
    text columns, e.g. account and industry for the account-derived fields); text as categories,
    dates as datetime64 (NaT where blank or not a date), blanks as NaN.

    Read column-wise with the ADBC SQLite driver (Apache Arrow) on two connections at once
    (text columns on one, numbers and dates on the other): a fraction of a row-by-row read
    in time and memory. Statuses and forecast categories outside the canonical lists read
    as missing (the store only holds canonical ones)."""
    from concurrent.futures import ThreadPoolExecutor

    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow.compute as pc

    texts_read = (S.OWNER, S.REGION, S.SEGMENT, *[c for c in text_columns if c in S.OPPORTUNITY_COLUMNS])
    text_sql = "SELECT rowid, " + ", ".join(f"IFNULL(CAST({c} AS TEXT), '') AS {c}" for c in texts_read) \
        + " FROM opportunities"
    rest_sql = ("SELECT rowid, " + _codes_sql(S.STATUS, S.STATUSES) + ", "
                + _codes_sql(S.FORECAST_CATEGORY, S.FORECAST_CATEGORIES) + ", "
                + f"IFNULL(CAST(amount AS REAL), {_NO_NUMBER}) AS amount, "
                + f"IFNULL(CAST(probability AS REAL), {_NO_NUMBER}) AS probability, "
                + "IFNULL(CAST(created_date AS TEXT), '') AS created_date, IFNULL(CAST(close_date AS TEXT), '') AS close_date "
                + "FROM opportunities")
    uri = read_only_uri(path) if read_only_reason(path) else Path(path).resolve().as_uri()

    def read(sql: str):
        with adbc.connect(uri) as conn:
            cur = conn.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                cur.execute(sql)
                return cur.fetch_arrow_table()
            finally:
                cur.close()

    try:
        with connect(path), ThreadPoolExecutor(2) as pool:  # the open connection keeps the WAL index in place
            texts, rest = pool.map(read, (text_sql, rest_sql))
    except (adbc.Error, OSError) as exc:
        if is_damage(exc):
            raise StoreError(damaged_message(path, "database disk image is malformed")) from None
        raise StoreError(explain(path, exc)) from None
    if rest.num_rows == 0:  # no rows: the driver cannot tell the column types; give them
        frame = pd.DataFrame({"rowid": np.array([], dtype=np.int64)})
        for c in (*FACT_COLUMNS, *texts_read[3:]):
            if c in (S.AMOUNT, S.PROBABILITY):
                frame[c] = np.array([], dtype=float)
            elif c in S.DATE_FIELDS:
                frame[c] = np.array([], dtype="datetime64[ns]")
            else:
                cats = list(S.STATUSES) if c == S.STATUS else (list(S.FORECAST_CATEGORIES) if c == S.FORECAST_CATEGORY else [])
                frame[c] = pd.Categorical([], categories=cats)
        return frame
    rowid = texts.column("rowid").to_numpy().astype(np.int64)
    if not np.array_equal(rowid, rest.column("rowid").to_numpy().astype(np.int64)):  # both scan in rowid order
        raise StoreError(f"{path}: the deal table changed while it was read; reload the page")
    data: dict = {"rowid": rowid}
    for c in texts_read:
        col = pc.dictionary_encode(texts.column(c)).to_pandas()
        data[c] = col.cat.remove_categories([""]) if "" in col.cat.categories else col
    data[S.STATUS] = pd.Categorical.from_codes(rest.column(S.STATUS).to_numpy().astype(np.int64), list(S.STATUSES))
    data[S.FORECAST_CATEGORY] = pd.Categorical.from_codes(rest.column(S.FORECAST_CATEGORY).to_numpy().astype(np.int64),
                                                          list(S.FORECAST_CATEGORIES))
    for c in (S.AMOUNT, S.PROBABILITY):
        v = rest.column(c).to_numpy().astype(float)
        v[v == _NO_NUMBER] = np.nan
        data[c] = v
    for c in (S.CREATED_DATE, S.CLOSE_DATE):
        parsed = pc.strptime(rest.column(c), format="%Y-%m-%d", unit="s", error_is_null=True)
        data[c] = parsed.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    frame = pd.DataFrame({k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v) for k, v in data.items()})
    return frame[["rowid", *FACT_COLUMNS, *texts_read[3:]]]


def load_deal_rows(conn: sqlite3.Connection, rowids: list[int], columns: list[str] | None = None) -> pd.DataFrame:
    """The full rows (``columns``, default :data:`DEAL_COLUMNS`) of the deals with these
    ``rowid``s, indexed by rowid and in the order given; dates parsed."""
    cols = [c for c in (columns or DEAL_COLUMNS) if c in S.OPPORTUNITY_COLUMNS]
    ids = [int(r) for r in rowids]
    frames = []
    for i in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        chunk = ids[i:i + 900]
        frames.append(read_frame(conn, f"SELECT rowid AS _rowid, {', '.join(cols)} FROM opportunities "
                                       f"WHERE rowid IN ({', '.join('?' * len(chunk))})", tuple(chunk)))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["_rowid", *cols])
    frame = frame.set_index("_rowid").reindex(ids)
    frame.index.name = None
    for col in (S.AMOUNT, S.PROBABILITY):
        if col in frame.columns:
            frame[col] = frame[col].astype(float)
    return _parse_dates(frame, S.DATE_FIELDS)


def load_snapshots(conn: sqlite3.Connection, as_of: str | None = None) -> pd.DataFrame:
    """Snapshot rows (all, or one ``as_of`` date), dates parsed: one row per (as_of, deal)
    present in that date's export(s), ordered by as_of then opportunity_id, with the columns
    of ``schema.SNAPSHOT_COLUMNS``. Materialised from the versions (see :func:`write_snapshot`)
    exactly as the full-copy table read before (same rows, order, columns and dtypes)."""
    slots = read_frame(conn, "SELECT slot_id, as_of, import_id FROM snapshot_slots ORDER BY as_of, slot_id")
    n_slots = len(slots)
    where, params = "", ()
    if as_of is not None:
        hit = np.flatnonzero(slots["as_of"].to_numpy(dtype=object) == str(as_of))
        if not len(hit):
            return _snapshot_frame({})
        first, last = int(hit[0]), int(hit[-1])  # slots of one date are contiguous in (as_of, slot_id) order
        ids = slots["slot_id"].astype(int).tolist()
        # versions starting at or before the date's last slot and not ended by its first
        where = (" WHERE valid_from IN (SELECT value FROM json_each(?)) AND (valid_to IS NULL OR valid_to IN "
                 "(SELECT value FROM json_each(?)))")
        params = (json.dumps(ids[: last + 1]), json.dumps(ids[first + 1:]))
    v = read_frame(conn, f"SELECT opportunity_id, valid_from, valid_to, {', '.join(SNAPSHOT_STATE)} "
                         f"FROM snapshot_versions{where}", params)
    if v.empty or not n_slots:
        return _snapshot_frame({})
    rank = pd.Series(np.arange(n_slots), index=slots["slot_id"].astype(int).to_numpy())
    lo = rank.reindex(v["valid_from"].astype(int).to_numpy()).to_numpy()
    hi = np.full(len(v), n_slots, dtype=np.int64)
    ended = v["valid_to"].notna().to_numpy()
    hi[ended] = rank.reindex(v.loc[ended, "valid_to"].astype(int).to_numpy()).to_numpy()
    if as_of is not None:
        lo, hi = np.maximum(lo, first), np.minimum(hi, last + 1)
    order = np.lexsort((lo, v[S.OPPORTUNITY_ID].to_numpy(dtype=object).astype(str)))
    keep = order[hi[order] > lo[order]]
    counts = (hi - lo)[keep]
    rep = np.repeat(keep, counts)
    starts = np.cumsum(counts) - counts
    ranks = lo[rep] + (np.arange(len(rep)) - np.repeat(starts, counts))
    dates = slots["as_of"].to_numpy(dtype=object)
    date_code = pd.factorize(dates)[0]  # slots are sorted by as_of: codes increase with the date
    code = date_code[ranks]
    by_date = np.argsort(code, kind="stable")
    rep, ranks, code = rep[by_date], ranks[by_date], code[by_date]
    opp = v[S.OPPORTUNITY_ID].to_numpy(dtype=object)[rep]
    if len(rep) > 1 and n_slots > len(set(dates)):  # several slots on one date: the latest slot wins per deal
        last_of = np.ones(len(rep), dtype=bool)
        last_of[:-1] = ~((code[1:] == code[:-1]) & (opp[1:] == opp[:-1]))
        rep, ranks, opp = rep[last_of], ranks[last_of], opp[last_of]
    cols = {S.AS_OF: dates[ranks], S.OPPORTUNITY_ID: opp}
    for c in SNAPSHOT_STATE:
        cols[c] = v[c].to_numpy(dtype=object)[rep]
    cols[S.IMPORT_ID] = slots["import_id"].to_numpy(dtype=object)[ranks]
    return _snapshot_frame(cols)


def _snapshot_frame(cols: dict) -> pd.DataFrame:
    """The snapshot frame with the dtypes pandas gives the same rows read from SQL: numbers
    float64 (int64 for integers without blanks), object when every value is blank; dates
    parsed."""
    out = {}
    for c, sqltype in S.SNAPSHOT_COLUMNS.items():
        values = cols.get(c)
        if values is None or not len(values):
            out[c] = pd.Series([], dtype=object)
            continue
        values = np.asarray(values, dtype=object)
        if sqltype in ("REAL", "INTEGER"):
            blank = pd.isna(values)
            if blank.all():
                values = np.full(len(values), None, dtype=object)
            elif sqltype == "INTEGER" and not blank.any() and all(float(x).is_integer() for x in set(values)):
                values = values.astype(np.int64)
            else:
                values = np.where(blank, np.nan, values).astype(float)
        else:
            values = np.where(pd.isna(values), None, values)
        out[c] = pd.Series(values, dtype=values.dtype, copy=False)
    return _parse_dates(pd.DataFrame(out), (S.AS_OF, *S.DATE_FIELDS))


def snapshot_dates(conn: sqlite3.Connection) -> list[str]:
    """The as-of dates that have a snapshot, oldest first."""
    return [r[0] for r in conn.execute("SELECT DISTINCT as_of FROM snapshot_slots ORDER BY as_of")]


# --- snapshots as versions -------------------------------------------------------------------------
# A *slot* is one write of a snapshot: an import's (or the demo's) deals as of its date. Slots are
# ordered by (as_of, slot_id): a later import for the same date comes after the earlier one. A
# *version* holds one state of one deal from slot ``valid_from`` (inclusive) to ``valid_to``
# (exclusive; NULL while current): a deal unchanged over ten weekly exports is one row, not ten.
# The snapshot of a date holds every deal that a slot of that date covers, in the state of the
# latest such slot (a second import for the same date replaces its own deals and keeps the
# others, as a full copy with INSERT OR REPLACE did); its import_id is that slot's.

_STATE_SQL = ", ".join(f"v.{c}" for c in SNAPSHOT_STATE)
_COVER_SQL = ("FROM snapshot_versions v JOIN snapshot_slots f ON f.slot_id = v.valid_from "
              "LEFT JOIN snapshot_slots t ON t.slot_id = v.valid_to "
              "JOIN snapshot_slots s ON (s.as_of, s.slot_id) >= (f.as_of, f.slot_id) "
              "AND (t.slot_id IS NULL OR (s.as_of, s.slot_id) < (t.as_of, t.slot_id))")
_SNAPSHOTS_VIEW_SQL = (
    f"SELECT as_of, opportunity_id, {', '.join(SNAPSHOT_STATE)}, import_id FROM ("
    f"SELECT s.as_of AS as_of, v.opportunity_id AS opportunity_id, {_STATE_SQL}, s.import_id AS import_id, "
    f"ROW_NUMBER() OVER (PARTITION BY s.as_of, v.opportunity_id ORDER BY s.slot_id DESC) AS latest_ "
    f"{_COVER_SQL}) WHERE latest_ = 1")


@dataclass
class SnapshotWrite:
    """What :func:`write_snapshot` wrote: the slot, and how many version rows it touched."""

    slot_id: int
    deals: int = 0  # deals in the snapshot
    unchanged: int = 0  # deals whose current version simply continues (nothing written)
    versions_new: int = 0  # version rows inserted (new or changed deals, continuations)
    versions_closed: int = 0  # version rows whose valid_to was set (changed or absent deals)


def _state_frame(deals: pd.DataFrame) -> pd.DataFrame:
    """opportunity_id + the state columns, as stored: dates as ISO text, REAL as float, text
    as object with None for blanks."""
    out = pd.DataFrame({S.OPPORTUNITY_ID: deals[S.OPPORTUNITY_ID].astype(object).to_numpy()})
    for c in SNAPSHOT_STATE:
        if c not in deals.columns:
            out[c] = np.full(len(deals), None, dtype=object)
            continue
        col = deals[c]
        if S.SNAPSHOT_COLUMNS[c] == "REAL":
            out[c] = pd.to_numeric(col, errors="coerce").astype(float).to_numpy()
        elif pd.api.types.is_datetime64_any_dtype(col):
            txt = col.dt.strftime("%Y-%m-%d")
            out[c] = txt.astype(object).where(txt.notna(), None).to_numpy()
        else:
            arr = col.astype(object).to_numpy()
            out[c] = np.where(pd.isna(arr), None, arr)
    return out


def stage_snapshot(conn: sqlite3.Connection, deals: pd.DataFrame, table: str = "snapshot_new") -> str:
    """Put ``deals`` (opportunity_id + the state columns) in a temporary table of this
    connection, for :func:`write_snapshot`; returns its name."""
    state = {c: S.SNAPSHOT_COLUMNS[c] for c in SNAPSHOT_STATE}
    conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
    conn.execute(f"CREATE TEMP TABLE {table} (opportunity_id TEXT PRIMARY KEY NOT NULL, {_columns_sql(state)})")
    insert_columns(conn, f"temp.{table}", [S.OPPORTUNITY_ID, *SNAPSHOT_STATE], _state_frame(deals))
    return f"temp.{table}"


def write_snapshot(conn: sqlite3.Connection, as_of: str, deals: pd.DataFrame | None = None, *,
                   import_id: int | None = None, log_undo: bool = True, staged: str | None = None,
                   bulk_source: tuple[str, tuple] | None = None) -> SnapshotWrite:
    """Record a snapshot of ``as_of`` written by ``import_id`` (inside the caller's write
    transaction): the deals are ``deals`` (opportunity_id + the state columns; one row per
    deal), or the table ``staged`` that holds them (opportunity_id unique).

    Only what changed is written: a deal whose state equals its version at the preceding slot
    continues that version (nothing written); a changed deal closes it and opens a new one; a
    deal of the preceding slot absent here closes its version. An import dated between existing
    snapshots splits the versions that span it. With ``log_undo`` the prior ``valid_to`` of every
    version it closes goes to ``import_prior_versions``, and :func:`undo_snapshot` reverses it
    exactly. ``bulk_source`` = (a SELECT of opportunity_id + the state columns, params) giving
    exactly the deals: copied inside SQLite when nothing precedes them (a first import). The
    comparison runs inside SQLite, so a weekly re-import of a million deals reads none of them
    into Python."""
    slot = int(conn.execute("INSERT INTO snapshot_slots (as_of, import_id) VALUES (?, ?)",
                            (str(as_of), import_id)).lastrowid)
    nxt = conn.execute("SELECT slot_id, as_of FROM snapshot_slots WHERE as_of > ? ORDER BY as_of, slot_id LIMIT 1",
                       (str(as_of),)).fetchone()
    prev = conn.execute("SELECT slot_id, as_of FROM snapshot_slots WHERE (as_of, slot_id) < (?, ?) "
                        "ORDER BY as_of DESC, slot_id DESC LIMIT 1", (str(as_of), slot)).fetchone()
    new_to = None if nxt is None else int(nxt[0])
    cols = ", ".join(SNAPSHOT_STATE)
    out = SnapshotWrite(slot)
    if prev is not None and conn.execute("SELECT 1 FROM snapshot_versions LIMIT 1").fetchone() is None:
        prev = None  # nothing to continue (every earlier snapshot is empty)
    if prev is None and bulk_source is not None:
        sql, params = bulk_source
        cur = conn.execute(f"INSERT INTO snapshot_versions (opportunity_id, {cols}, valid_from, valid_to, import_id) "
                           f"SELECT *, ?, ?, ? FROM ({sql})", (slot, new_to, import_id, *params))
        out.deals = out.versions_new = cur.rowcount
        return out
    if staged is None:
        staged = stage_snapshot(conn, deals if deals is not None else pd.DataFrame({S.OPPORTUNITY_ID: []}))
    out.deals = conn.execute(f"SELECT COUNT(*) FROM {staged}").fetchone()[0]
    keep = None
    if prev is not None:
        # the versions covering the preceding slot (after it they would cover this one too)
        if nxt is None:  # appended after every slot: they are the current ones
            joins, cover, cover_params = "", "v.valid_to IS NULL", ()
            covers_next = "0"
        else:
            joins = ("JOIN snapshot_slots f ON f.slot_id = v.valid_from "
                     "LEFT JOIN snapshot_slots t ON t.slot_id = v.valid_to ")
            cover = "(f.as_of, f.slot_id) <= (?, ?) AND (t.slot_id IS NULL OR (t.as_of, t.slot_id) > (?, ?))"
            cover_params = (prev[1], prev[0], prev[1], prev[0])
            covers_next = f"(t.slot_id IS NULL OR (t.as_of, t.slot_id) > ({_sql_text(nxt[1])}, {int(nxt[0])}))"
        same = " AND ".join(f"s.{c} IS v.{c}" for c in SNAPSHOT_STATE)
        # one pass over the covering versions: which continue (same state in the file), which close
        conn.execute("DROP TABLE IF EXISTS temp.snapshot_cover")
        conn.execute(f"CREATE TEMP TABLE snapshot_cover AS SELECT v.version_id AS version_id, "
                     f"v.opportunity_id AS opportunity_id, v.valid_to AS valid_to, {covers_next} AS covers_next, "
                     f"(s.opportunity_id IS NOT NULL AND {same}) AS same FROM snapshot_versions v {joins}"
                     f"LEFT JOIN {staged} s ON s.opportunity_id = v.opportunity_id WHERE {cover}", cover_params)
        out.unchanged = conn.execute("SELECT COUNT(*) FROM temp.snapshot_cover WHERE same").fetchone()[0]
        keep = "(SELECT opportunity_id FROM temp.snapshot_cover WHERE same)"
        if log_undo:
            conn.execute("INSERT INTO import_prior_versions (undo_import_id, version_id, valid_to) "
                         "SELECT ?, version_id, valid_to FROM temp.snapshot_cover WHERE NOT same", (import_id,))
        if nxt is not None:  # the part after the next slot keeps its state
            out.versions_new += conn.execute(
                f"INSERT INTO snapshot_versions (opportunity_id, valid_from, valid_to, {cols}, import_id) "
                f"SELECT v.opportunity_id, ?, c.valid_to, {', '.join('v.' + c for c in SNAPSHOT_STATE)}, ? "
                "FROM temp.snapshot_cover c JOIN snapshot_versions v ON v.version_id = c.version_id "
                "WHERE NOT c.same AND c.covers_next", (int(nxt[0]), import_id)).rowcount
        out.versions_closed = conn.execute(
            "UPDATE snapshot_versions SET valid_to = ? FROM temp.snapshot_cover c "
            "WHERE c.version_id = snapshot_versions.version_id AND NOT c.same", (slot,)).rowcount
    fresh = f" WHERE s.opportunity_id NOT IN {keep}" if keep else ""
    out.versions_new += conn.execute(
        f"INSERT INTO snapshot_versions (opportunity_id, {cols}, valid_from, valid_to, import_id) "
        f"SELECT s.opportunity_id, {', '.join('s.' + c for c in SNAPSHOT_STATE)}, ?, ?, ? FROM {staged} s{fresh}",
        (slot, new_to, import_id)).rowcount
    conn.execute("DROP TABLE IF EXISTS temp.snapshot_cover")
    return out


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def undo_snapshot(conn: sqlite3.Connection, import_id: int) -> None:
    """Remove the snapshot written by ``import_id`` and put back the versions it closed."""
    conn.execute("DELETE FROM snapshot_versions WHERE import_id = ?", (import_id,))
    # UPDATE ... FROM walks the import's undo rows and finds each version by its key (a correlated
    # subquery would scan the undo rows once per version)
    conn.execute("UPDATE snapshot_versions SET valid_to = p.valid_to FROM import_prior_versions p "
                 "WHERE p.undo_import_id = ? AND p.version_id = snapshot_versions.version_id", (import_id,))
    conn.execute("DELETE FROM snapshot_slots WHERE import_id = ?", (import_id,))
    conn.execute("DELETE FROM import_prior_versions WHERE undo_import_id = ?", (import_id,))


def replace_snapshots(conn: sqlite3.Connection, frame: pd.DataFrame) -> int:
    """Replace every snapshot with ``frame`` in the full-copy shape (as_of, opportunity_id, the
    state columns, optional import_id: one row per deal and date), stored as versions.
    Returns the number of (as_of, deal) rows, as :func:`load_snapshots` will show them."""
    for table in ("snapshot_versions", "snapshot_slots", "import_prior_versions"):
        conn.execute(f"DELETE FROM {table}")
    if frame is None or frame.empty:
        return 0
    f = frame.copy()
    f[S.AS_OF] = pd.to_datetime(f[S.AS_OF]).dt.strftime("%Y-%m-%d")
    if S.IMPORT_ID not in f.columns:
        f[S.IMPORT_ID] = None
    key = f[S.IMPORT_ID].astype(float).fillna(-1.0)
    for (as_of, imp), part in f.groupby([f[S.AS_OF], key], sort=True):
        write_snapshot(conn, as_of, part, import_id=None if imp < 0 else int(imp), log_undo=False)
    return len(f)


def _convert_full_copy_snapshots(conn: sqlite3.Connection) -> None:
    """Schema 2 -> 3: re-encode the full-copy ``snapshots`` table and its undo data
    (``import_prior_snapshots``) as versions.

    Replays history: for each date, the state before the first applied import of that date
    (its saved prior rows, or the table's rows when no applied import wrote that date) becomes
    the base; then every applied import is written again, in the order they ran, with exactly
    the rows it had written (what the table, or the next import's prior rows, hold under its
    import_id). Undoing any of them afterwards gives what undo gave before."""
    cols = ", ".join(S.SNAPSHOT_COLUMNS)
    total = conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    chain = conn.execute("SELECT id, as_of FROM imports WHERE kind = 'opportunities' AND status = 'applied' "
                         "AND as_of IS NOT NULL ORDER BY id").fetchall()
    if not total and not chain:
        return
    by_date: dict[str, list[int]] = {}
    for iid, as_of in chain:
        by_date.setdefault(as_of, []).append(int(iid))

    def table_rows(as_of):
        return read_frame(conn, f"SELECT {cols} FROM snapshots WHERE as_of = ? ORDER BY opportunity_id", (as_of,))

    def prior_rows(iid):
        return read_frame(conn, f"SELECT {cols} FROM import_prior_snapshots WHERE undo_import_id = ? "
                                "ORDER BY opportunity_id", (iid,))

    def rows_after(as_of, iid):
        """The rows of date ``as_of`` right after import ``iid`` wrote them."""
        later = [j for j in by_date[as_of] if j > iid]
        return prior_rows(later[0]) if later else table_rows(as_of)

    dates = sorted({r[0] for r in conn.execute("SELECT DISTINCT as_of FROM snapshots")} | set(by_date))
    for as_of in dates:
        base = prior_rows(by_date[as_of][0]) if as_of in by_date else table_rows(as_of)
        if base.empty:
            continue
        key = base[S.IMPORT_ID].astype(float).fillna(-1.0)
        for imp, part in base.groupby(key, sort=True):
            write_snapshot(conn, as_of, part, import_id=None if imp < 0 else int(imp), log_undo=False)
    for iid, as_of in chain:
        rows = rows_after(as_of, int(iid))
        rows = rows[rows[S.IMPORT_ID].astype(float) == float(iid)]
        if len(rows):
            write_snapshot(conn, as_of, rows, import_id=int(iid), log_undo=True)
    got = conn.execute(f"SELECT COUNT(*) FROM ({_SNAPSHOTS_VIEW_SQL})").fetchone()[0]
    if got != total:
        raise StoreError(f"converting the snapshots to versions gave {got} rows instead of {total}; the database "
                         "was left at its earlier schema")


def load_stage_history(conn: sqlite3.Connection) -> pd.DataFrame:
    frame = read_frame(conn, "SELECT opportunity_id, stage, entered_at, import_id FROM stage_history ORDER BY opportunity_id, entered_at")
    frame[S.ENTERED_AT] = pd.to_datetime(frame[S.ENTERED_AT], errors="coerce", format="mixed")
    return frame


def load_reps(conn: sqlite3.Connection) -> pd.DataFrame:
    frame = read_frame(conn, f"SELECT {', '.join(S.REP_COLUMNS)} FROM reps ORDER BY name")
    frame = _parse_dates(frame, (S.HIRE_DATE, S.END_DATE))
    frame[S.ACTIVE] = frame[S.ACTIVE].fillna(1).astype(bool)
    return frame


def load_accounts(conn: sqlite3.Connection) -> pd.DataFrame:
    return read_frame(conn, f"SELECT {', '.join(S.ACCOUNT_COLUMNS)} FROM accounts ORDER BY name")


def load_targets(conn: sqlite3.Connection) -> pd.DataFrame:
    frame = read_frame(conn, f"SELECT {', '.join(S.TARGET_COLUMNS)} FROM targets")
    return _parse_dates(frame, (S.PERIOD_START, S.PERIOD_END))


def load_imports(conn: sqlite3.Connection) -> pd.DataFrame:
    return read_frame(conn, "SELECT * FROM imports ORDER BY id DESC")


def is_empty(conn: sqlite3.Connection) -> bool:
    """True when no deal has been loaded yet."""
    return conn.execute("SELECT 1 FROM opportunities LIMIT 1").fetchone() is None


def workspace_summary(conn: sqlite3.Connection, deal_stats: dict | None = None) -> dict:
    """Counts and freshness for the sidebar: deals, reps, latest as-of date, last import.

    ``deal_stats`` (deals, max_close_date, max_created_date) saves three scans of the deal
    table when the caller already has the deals in memory."""
    q = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    last = conn.execute("SELECT file_name, created_at FROM imports WHERE status = 'applied' ORDER BY id DESC LIMIT 1").fetchone()
    stats = deal_stats or {
        "deals": q("SELECT COUNT(*) FROM opportunities"),
        "max_close_date": q("SELECT MAX(close_date) FROM opportunities WHERE status != 'open'"),
        "max_created_date": q("SELECT MAX(created_date) FROM opportunities"),
    }
    return {
        "deals": stats["deals"],
        "reps": q("SELECT COUNT(*) FROM reps"),
        "latest_as_of": q("SELECT MAX(as_of) FROM snapshot_slots"),
        "max_close_date": stats["max_close_date"],
        "max_created_date": stats["max_created_date"],
        "last_import_file": last[0] if last else None,
        "last_import_at": last[1] if last else None,
    }


def data_as_of(conn: sqlite3.Connection, summary: dict | None = None) -> str | None:
    """The as-of date of the data (ISO text), or None for an empty workspace.

    The newest snapshot says when the export was taken, but a historical export imported
    today would make "today" years after its last deal; so the as-of date is the newest
    snapshot or the last activity in the data (latest close of a closed deal, latest
    created date), whichever is earlier."""
    summary = summary or workspace_summary(conn)
    activity = max((d for d in (summary["max_close_date"], summary["max_created_date"]) if d), default=None)
    snapshot = summary["latest_as_of"]
    if snapshot and activity:
        return min(str(snapshot)[:10], str(activity)[:10])
    return str(snapshot or activity)[:10] if (snapshot or activity) else None


# --- settings and the stage map ---------------------------------------------------------------
def get_settings(conn: sqlite3.Connection) -> dict:
    """The workspace settings, defaults filled in."""
    out = dict(S.DEFAULT_SETTINGS)
    for key, value in conn.execute("SELECT key, value FROM settings"):
        out[key] = json.loads(value)
    return out


def set_settings(conn: sqlite3.Connection, **values) -> None:
    """Write settings (inside a write transaction)."""
    if "fiscal_year_start_month" in values:
        m = int(values["fiscal_year_start_month"])
        if not 1 <= m <= 12:
            raise StoreError(f"fiscal_year_start_month must be 1-12, not {m}")
        values["fiscal_year_start_month"] = m
    conn.executemany("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                     [(k, json.dumps(v)) for k, v in values.items()])


def stage_rules(conn: sqlite3.Connection) -> dict[str, S.StageRule]:
    """The effective stage map keyed by :func:`schema.stage_key`: defaults, then the user's edits."""
    rules = dict(S.DEFAULT_STAGE_RULES)
    for stage, status, prob, order in conn.execute("SELECT stage, status, probability, sort_order FROM stage_map"):
        rules[S.stage_key(stage)] = S.StageRule(status, float(prob), int(order))
    return rules


def load_stage_map(conn: sqlite3.Connection) -> pd.DataFrame:
    """The stage map for editing: every stage the data uses plus the user's own entries, with
    the rule in force (the user's, a default, or open/0 for stages nobody mapped yet)."""
    rules = stage_rules(conn)
    own = {r[0] for r in conn.execute("SELECT stage FROM stage_map")}
    seen = {r[0] for r in conn.execute("SELECT DISTINCT stage FROM opportunities WHERE stage IS NOT NULL")}
    rows = []
    for stage in sorted(own | seen):
        rule = rules.get(S.stage_key(stage))
        rows.append({"stage": stage,
                     "status": rule.status if rule else S.OPEN,
                     "probability": rule.probability if rule else 0.0,
                     "sort_order": rule.order if rule else 0,
                     "known": rule is not None})
    frame = pd.DataFrame(rows, columns=["stage", "status", "probability", "sort_order", "known"])
    return frame.sort_values(["sort_order", "stage"], kind="stable").reset_index(drop=True)


def stage_map_rows(frame: pd.DataFrame) -> list[tuple[str, str, float, int]]:
    """The rows of an edited stage map (stage, status, probability, sort_order), checked:
    (stage, status, probability, sort_order) tuples; blank stages are left out."""
    rows = []
    for i, r in enumerate(frame.itertuples(index=False), start=1):
        stage = "" if r.stage is None or (isinstance(r.stage, float) and r.stage != r.stage) else str(r.stage).strip()
        if not stage:
            continue
        if r.status not in S.STATUSES:
            raise StoreError(f"stage map row {i} ({stage!r}): status must be open, won or lost, not {r.status!r}")
        p = float(r.probability)
        if not 0 <= p <= 1:
            raise StoreError(f"stage map row {i} ({stage!r}): probability must be between 0 and 1, not {p}")
        rows.append((stage, r.status, p, int(r.sort_order)))
    return rows


def _rules_with(rows: list[tuple[str, str, float, int]]) -> dict[str, S.StageRule]:
    """The stage map in force if the user's map were ``rows``: the defaults, then the rows."""
    rules = dict(S.DEFAULT_STAGE_RULES)
    for stage, status, prob, order in rows:
        rules[S.stage_key(stage)] = S.StageRule(status, float(prob), int(order))
    return rules


def stage_map_changes(conn: sqlite3.Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """What saving ``frame`` as the user's stage map would change: one row per (stage, status
    now, status then) with the number of ``deals``, for the deals whose status came from the
    stage map (``status_source = 'stage_map'``); explicit statuses from a file never change.
    A stage the map does not know counts as open, as on import. Columns: stage, status,
    new_status, deals (largest first)."""
    rules = _rules_with(stage_map_rows(frame))
    groups = conn.execute("SELECT stage, status, COUNT(*) FROM opportunities WHERE status_source = 'stage_map' "
                          "GROUP BY stage, status").fetchall()
    rows = []
    for stage, status, n in groups:
        if stage is None:
            continue  # no stage: nothing in the map decides it
        rule = rules.get(S.stage_key(stage))
        new = rule.status if rule else S.OPEN
        if new != status:
            rows.append({"stage": stage, "status": status, "new_status": new, "deals": int(n)})
    out = pd.DataFrame(rows, columns=["stage", "status", "new_status", "deals"])
    return out.sort_values(["deals", "stage"], ascending=[False, True], kind="stable").reset_index(drop=True)


def save_stage_map(conn: sqlite3.Connection, frame: pd.DataFrame) -> int:
    """Replace the user's stage map with ``frame`` (stage, status, probability, sort_order) and
    re-derive the status of the deals whose status came from the stage map (inside a write
    transaction). Deals whose status came from the file keep it. Returns how many deals
    changed status (exactly the deals :func:`stage_map_changes` lists)."""
    rows = stage_map_rows(frame)
    changes = stage_map_changes(conn, frame)
    conn.execute("DELETE FROM stage_map")
    conn.executemany("INSERT OR REPLACE INTO stage_map (stage, status, probability, sort_order) VALUES (?, ?, ?, ?)", rows)
    changed = 0
    for r in changes.itertuples(index=False):
        changed += conn.execute("UPDATE opportunities SET status = ? WHERE stage = ? AND status = ? "
                                "AND status_source = 'stage_map'", (r.new_status, r.stage, r.status)).rowcount
    return changed


# --- saved, versioned user work (comp plans, scenarios, forecast runs) ------------------------
SAVED_WORK_TABLES = ("comp_plans", "scenarios", "forecast_runs")


def save_document(conn: sqlite3.Connection, table: str, name: str, payload: dict, *,
                  kind: str | None = None, created_by: str | None = None) -> tuple[int, int]:
    """Save ``payload`` as the next version of ``name`` in ``table``; returns (id, version).

    Call inside a write transaction (``connect(write=True)``) so the version read and the
    insert cannot interleave with another writer."""
    if table not in SAVED_WORK_TABLES:
        raise ValueError(f"not a saved-work table: {table}")
    name = str(name).strip()
    if not name:
        raise StoreError("a name is needed to save")
    version = conn.execute(f"SELECT COALESCE(MAX(version), 0) + 1 FROM {table} WHERE name = ?", (name,)).fetchone()[0]
    cols = ["name", "version", "created_at", "created_by", "payload"]
    vals = [name, version, now_iso(), created_by or current_user(), json.dumps(payload, default=str)]
    if kind is not None and table != "comp_plans":
        cols.append("kind")
        vals.append(kind)
    cur = conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", vals)
    return cur.lastrowid, version


def list_documents(conn: sqlite3.Connection, table: str, kind: str | None = None) -> pd.DataFrame:
    """Every saved version in ``table`` (newest first), without payloads."""
    if table not in SAVED_WORK_TABLES:
        raise ValueError(f"not a saved-work table: {table}")
    where, params = "", ()
    if kind is not None and table != "comp_plans":
        where, params = "WHERE kind = ?", (kind,)
    return read_frame(conn, f"SELECT id, name, version, created_at, created_by FROM {table} {where} ORDER BY name, version DESC", params)


def load_document(conn: sqlite3.Connection, table: str, name: str, version: int | None = None) -> dict | None:
    """The payload of ``name`` at ``version`` (default: the latest), or None."""
    if table not in SAVED_WORK_TABLES:
        raise ValueError(f"not a saved-work table: {table}")
    if version is None:
        row = conn.execute(f"SELECT payload FROM {table} WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)).fetchone()
    else:
        row = conn.execute(f"SELECT payload FROM {table} WHERE name = ? AND version = ?", (name, int(version))).fetchone()
    return json.loads(row[0]) if row else None
