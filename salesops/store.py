"""The SQLite store: one connection per unit of work, numbered migrations, read/write API.

Rules (DESIGN.md section 8): no connection lives across reruns or threads; WAL mode and a busy
timeout so writers wait instead of failing; ``BEGIN IMMEDIATE`` for every read-then-write;
migrations take the write lock and re-read the schema version inside it.

Use::

    with store.connect(path) as conn:            # read
        deals = store.load_deals(conn)
    with store.connect(path, write=True) as conn:  # one transaction, BEGIN IMMEDIATE
        store.set_settings(conn, currency="EUR")

Every committed write bumps ``data_version``; caches key on it.
"""
from __future__ import annotations

import getpass
import json
import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from . import schema as S
from .errors import SchemaTooNewError, StoreError

BUSY_TIMEOUT_MS = 30_000
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_db_path() -> Path:
    """``SALESOPS_DB`` if set, else data/salesops.db in the project folder."""
    env = os.environ.get("SALESOPS_DB")
    return Path(env) if env else PROJECT_ROOT / "data" / "salesops.db"


def current_user() -> str:
    """Who is doing the work, for the audit trail (the OS user; SALESOPS_USER overrides)."""
    try:
        return os.environ.get("SALESOPS_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - getpass raises various errors without a login name
        return "unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# --- DDL -------------------------------------------------------------------------------------
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


def _migration_1(conn: sqlite3.Connection) -> None:
    """The schema of DESIGN.md section 2."""
    opp = dict(S.OPPORTUNITY_COLUMNS)
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
                 f"{_columns_sql(S.OPPORTUNITY_COLUMNS)})")
    conn.execute("CREATE INDEX idx_import_prior_opportunities ON import_prior_opportunities (undo_import_id)")
    conn.execute(f"CREATE TABLE import_prior_snapshots (undo_import_id INTEGER NOT NULL, "
                 f"{_columns_sql(S.SNAPSHOT_COLUMNS)})")
    conn.execute("CREATE INDEX idx_import_prior_snapshots ON import_prior_snapshots (undo_import_id)")
    conn.execute("""CREATE TABLE import_prior_rows (
        import_id INTEGER NOT NULL, table_name TEXT NOT NULL, row_key TEXT NOT NULL, row TEXT)""")
    conn.execute("CREATE INDEX idx_import_prior_rows ON import_prior_rows (import_id)")
    conn.execute("ALTER TABLE imports ADD COLUMN details TEXT")
    conn.execute("ALTER TABLE imports ADD COLUMN rejected_rows TEXT")


#: Numbered migrations: MIGRATIONS[i] takes the schema from version i to i + 1. Append only.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1, _migration_import_undo]
SCHEMA_VERSION = len(MIGRATIONS)

#: The tables that hold a workspace's data (as opposed to settings and saved work): what
#: "load the demo" and "start empty" replace, including the undo data of past imports.
WORKSPACE_DATA_TABLES = ("opportunities", "snapshots", "stage_history", "imports", "reps", "accounts", "targets",
                         "import_prior_opportunities", "import_prior_snapshots", "import_prior_rows")


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
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=True)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _refuse_newer(conn, path)  # before anything (even the journal mode) touches the file
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal" and str(path) != ":memory:":
            # a network share or read-only folder cannot hold a WAL; rollback journal still works
            conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise StoreError(_explain(path, exc)) from None
    return conn


def _explain(path: Path | str, exc: Exception) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return (f"{path} is not a readable salesops database ({text}). "
                f"Restore the backup {Path(str(path) + '.bak')} if there is one, or choose another file.")
    if "readonly" in text or "read-only" in text:
        return f"{path} cannot be written: the file or its folder is read-only"
    if "locked" in text:
        return f"{path} is busy: another import or save is still running; try again in a moment"
    if "disk" in text and "full" in text or "SQLITE_FULL" in text:
        return f"{path}: the disk is full; nothing was written"
    return f"{path}: {text}"


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
        conn.execute("BEGIN IMMEDIATE")
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


@contextmanager
def connect(path: Path | str | None = None, *, write: bool = False) -> Iterator[sqlite3.Connection]:
    """Open the database for one unit of work, migrated to the current schema.

    With ``write=True`` the block runs in one ``BEGIN IMMEDIATE`` transaction that commits at the
    end (bumping ``data_version``) or rolls back on any exception. The connection is closed on
    exit either way."""
    path = default_db_path() if path is None else path
    conn = _open(path)
    try:
        try:
            migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(path, exc)) from None
        if not write:
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(_explain(path, exc)) from None
        try:
            yield conn
            conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'data_version'")
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(_explain(path, exc)) from None
            raise
    finally:
        conn.close()


def data_version(path: Path | str | None = None) -> int:
    """A number that changes with every committed write: the cache key of derived results."""
    with connect(path) as conn:
        return int(conn.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0])


def integrity_problems(path: Path | str | None = None) -> list[str]:
    """``PRAGMA quick_check`` results other than ok (empty list = healthy)."""
    path = default_db_path() if path is None else path
    if not Path(path).exists():
        return []
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [r for r in rows if r != "ok"]


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
    """Rows of ``frame`` as tuples ready for ``executemany``: NaN/NaT -> NULL, dates -> ISO text."""
    out = frame.reindex(columns=columns).copy()
    for col in columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    out = out.astype(object).where(out.notna(), None)
    return [tuple(_to_sql_value(v) for v in row) for row in out.itertuples(index=False, name=None)]


def insert_frame(conn: sqlite3.Connection, table: str, frame: pd.DataFrame, *, replace: bool = False) -> int:
    """Insert the rows of ``frame`` (columns named as the table's) in one ``executemany``."""
    cols = [c for c in table_columns(conn, table) if c in frame.columns]
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    sql = f'{verb} INTO {table} ({", ".join(f"{c!r}".replace(chr(39), chr(34)) for c in cols)}) VALUES ({", ".join("?" * len(cols))})'
    rows = frame_rows(frame, cols)
    conn.executemany(sql, rows)
    return len(rows)


def replace_table(conn: sqlite3.Connection, table: str, frame: pd.DataFrame) -> int:
    """Delete every row of ``table`` and insert ``frame`` (inside the caller's transaction)."""
    conn.execute(f"DELETE FROM {table}")
    return insert_frame(conn, table, frame)


def table_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]


def read_frame(conn: sqlite3.Connection, sql: str, params: tuple | dict = ()) -> pd.DataFrame:
    return pd.read_sql_query(sql, conn, params=params)


def _parse_dates(frame: pd.DataFrame, columns) -> pd.DataFrame:
    for col in columns:
        if col in frame.columns:
            frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d", errors="coerce")
    return frame


# --- domain reads ------------------------------------------------------------------------------
DEAL_COLUMNS = [c for c in S.OPPORTUNITY_COLUMNS if c != S.EXTRA]


def load_deals(conn: sqlite3.Connection, *, with_extra: bool = False, rowid_index: bool = False) -> pd.DataFrame:
    """Every opportunity: dates as datetime64, amount and probability as float.

    The ``extra`` JSON column is left out unless ``with_extra``; ``rowid_index`` indexes the
    rows by their database rowid (as the workspace's deal facts are)."""
    cols = list(S.OPPORTUNITY_COLUMNS) if with_extra else DEAL_COLUMNS
    frame = read_frame(conn, f"SELECT {'rowid AS _rowid, ' if rowid_index else ''}{', '.join(cols)} FROM opportunities")
    if rowid_index:
        frame = frame.set_index("_rowid")
        frame.index.name = None
    frame[S.AMOUNT] = frame[S.AMOUNT].astype(float)
    frame[S.PROBABILITY] = frame[S.PROBABILITY].astype(float)
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
    uri = Path(path).resolve().as_uri()

    def read(sql: str):
        with adbc.connect(uri) as conn:
            cur = conn.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                cur.execute(sql)
                return cur.fetch_arrow_table()
            finally:
                cur.close()

    with connect(path), ThreadPoolExecutor(2) as pool:  # the open connection keeps the WAL index in place
        texts, rest = pool.map(read, (text_sql, rest_sql))
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
    """Snapshot rows (all, or one ``as_of`` date), dates parsed."""
    cols = ", ".join(S.SNAPSHOT_COLUMNS)
    if as_of is None:
        frame = read_frame(conn, f"SELECT {cols} FROM snapshots ORDER BY as_of")
    else:
        frame = read_frame(conn, f"SELECT {cols} FROM snapshots WHERE as_of = ?", (str(as_of),))
    return _parse_dates(frame, (S.AS_OF, *S.DATE_FIELDS))


def snapshot_dates(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT as_of FROM snapshots ORDER BY as_of")]


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
        "latest_as_of": q("SELECT MAX(as_of) FROM snapshots"),
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


def save_stage_map(conn: sqlite3.Connection, frame: pd.DataFrame) -> None:
    """Replace the user's stage map with ``frame`` (stage, status, probability, sort_order) and
    re-derive the status of every deal from it (inside a write transaction)."""
    rows = []
    for i, r in enumerate(frame.itertuples(index=False), start=1):
        stage = str(r.stage).strip()
        if not stage:
            continue
        if r.status not in S.STATUSES:
            raise StoreError(f"stage map row {i} ({stage!r}): status must be open, won or lost, not {r.status!r}")
        p = float(r.probability)
        if not 0 <= p <= 1:
            raise StoreError(f"stage map row {i} ({stage!r}): probability must be between 0 and 1, not {p}")
        rows.append((stage, r.status, p, int(r.sort_order)))
    conn.execute("DELETE FROM stage_map")
    conn.executemany("INSERT OR REPLACE INTO stage_map (stage, status, probability, sort_order) VALUES (?, ?, ?, ?)", rows)
    for stage, status, _, _ in rows:
        conn.execute("UPDATE opportunities SET status = ? WHERE stage = ?", (status, stage))


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
