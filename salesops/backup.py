"""Backups of a workspace database: written before every destructive action, listed, restored.

A backup is a complete, self-contained SQLite file written with ``VACUUM INTO`` (consistent
even while others read or write; no WAL beside it) into a ``backups`` folder beside the
database::

    data/salesops.db
    data/backups/salesops-20261201T120501123456Z-load-demo.db

The stable API (other features, e.g. an undo from the audit trail, link to it):

* :func:`backup_now` ``(db_path, reason) -> Path``: the file written; its name carries the
  database's stem, the UTC time and the reason, so it sorts by time.
* :func:`list_backups` ``(db_path) -> list[BackupInfo]``: the backups of that database, newest
  first; ``BackupInfo.path`` is what :func:`backup_now` returned.
* :func:`restore` ``(db_path, backup_file) -> Path``: checks the backup's schema version
  (a newer one is refused, an older one migrated), backs up the current state first (the path
  it returns), then replaces the database's content in one SQLite transaction.
* :func:`backup_bytes` ``(db_path) -> bytes``: a backup as bytes (the Settings download).
"""
from __future__ import annotations

import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import store
from .errors import InputError, SchemaTooNewError, StoreError

#: The folder beside the database that holds its backups.
FOLDER = "backups"
_NAME = re.compile(r"^(?P<stem>.+)-(?P<stamp>\d{8}T\d{12}Z)-(?P<reason>[a-z0-9-]+)\.db$")


@dataclass(frozen=True)
class BackupInfo:
    """One backup file: where, when (UTC), why, how big, and its schema version."""

    path: Path
    created: datetime
    reason: str
    size: int
    schema_version: int | None

    @property
    def label(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M:%S} UTC · {self.reason} · {self.size / 1e6:.1f} MB"


def backups_dir(db_path: Path | str) -> Path:
    """The backups folder of the database at ``db_path`` (``<folder of the db>/backups``)."""
    return Path(db_path).resolve().parent / FOLDER


def _slug(reason: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(reason).lower()).strip("-")[:40] or "backup"


def _vacuum_into(db_path: Path, dest: Path) -> None:
    if not db_path.is_file():
        raise StoreError(f"{db_path}: there is no database to back up")
    try:
        conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=store.BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {store.BUSY_TIMEOUT_MS}")
            conn.execute("VACUUM INTO ?", (str(dest),))
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        dest.unlink(missing_ok=True)
        raise StoreError(f"the backup of {db_path} could not be written: {store.explain(db_path, exc)}") from None


def backup_now(db_path: Path | str, reason: str) -> Path:
    """Write a backup of the database at ``db_path`` now and return its path
    (``backups/<stem>-<UTC time>-<reason>.db`` beside the database)."""
    db_path = Path(db_path)
    folder = backups_dir(db_path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the backups folder {folder}: {exc.strerror}; nothing was changed") from None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    dest = folder / f"{db_path.stem}-{stamp}-{_slug(reason)}.db"
    _vacuum_into(db_path, dest)
    from . import audit

    entry = audit.pending()  # inside a change: its audit entry names the backup, so the change can be undone
    if entry is not None and "backup" not in entry.extra:
        entry.extra["backup"] = dest.name
    return dest


def _schema_version(path: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None


def list_backups(db_path: Path | str) -> list[BackupInfo]:
    """The backups of the database at ``db_path``, newest first."""
    folder = backups_dir(db_path)
    stem = Path(db_path).stem
    out = []
    if not folder.is_dir():
        return out
    for f in folder.glob(f"{stem}-*.db"):
        m = _NAME.match(f.name)
        if not m or m["stem"] != stem:
            continue
        created = datetime.strptime(m["stamp"], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)
        out.append(BackupInfo(f, created, m["reason"], f.stat().st_size, _schema_version(f)))
    return sorted(out, key=lambda b: b.created, reverse=True)


def backup_bytes(db_path: Path | str) -> bytes:
    """A backup of the database as bytes (written to a temporary file beside it, then removed)."""
    db_path = Path(db_path)
    tmp = db_path.resolve().parent / f".{db_path.stem}-download-{uuid.uuid4().hex}.db"
    try:
        _vacuum_into(db_path, tmp)
        return tmp.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)


def check_backup(backup_file: Path | str) -> int:
    """The schema version of a backup file, after checking that it is a readable salesops
    database no newer than this app. Raises InputError / SchemaTooNewError."""
    path = Path(backup_file)
    name = path.name
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
            problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall() if r[0] != "ok"]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{name} is not a salesops backup: it is not a readable SQLite database ({exc}); nothing "
                         "was changed") from None
    if version > store.SCHEMA_VERSION:
        raise SchemaTooNewError(f"{name} was written by a newer salesops (schema {version}, this app knows "
                                f"{store.SCHEMA_VERSION}); update salesops to restore it. Nothing was changed.")
    if version < 1 or not {"meta", "opportunities", "settings"} <= tables:
        raise InputError(f"{name} is not a salesops backup (it has no salesops tables); nothing was changed")
    if problems:
        raise InputError(f"{name} is damaged ({problems[0]}); choose another backup. Nothing was changed.")
    return version


def restore(db_path: Path | str, backup_file: Path | str) -> Path:
    """Replace the content of the database at ``db_path`` with ``backup_file``.

    The backup's schema version is checked (newer: refused; older: migrated on a private
    copy), the current state is backed up first (the returned path, reason "before-restore"),
    and the content is then copied in with SQLite's backup API: one transaction, so other
    connections see the old database or the new one. The data version moves past both, so no
    cache can serve the old numbers."""
    from . import audit

    with audit.action("restore", f"restored {Path(backup_file).name}") as entry:
        safety = _restore(Path(db_path), backup_file)
        entry.after = {"restored": Path(backup_file).name, "state before": safety.name}
        with store.connect(db_path, write=True):  # the entry goes into the restored trail
            pass
    return safety


def _restore(db_path: Path, backup_file: Path | str) -> Path:
    check_backup(backup_file)
    work = db_path.resolve().parent / f".{db_path.stem}-restore-{uuid.uuid4().hex}.db"
    try:
        _vacuum_into(Path(backup_file), work)  # a private, self-contained copy (the backup file is never changed)
        with store.connect(work):  # migrates an older backup
            pass
        current = store.data_version(db_path) if db_path.exists() else 0
        page_size = _page_size(db_path)
        conn = sqlite3.connect(str(work), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = DELETE")
            restored = store.version_of(conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'data_version'", (str(max(current, restored) + 1),))
            conn.execute("UPDATE meta SET value = ? WHERE key = 'facts_token'", (store.new_facts_token(),))
            if page_size and conn.execute("PRAGMA page_size").fetchone()[0] != page_size:
                conn.execute(f"PRAGMA page_size = {page_size}")  # the backup API needs equal pages into a WAL database
                conn.execute("VACUUM")
        finally:
            conn.close()
        safety = backup_now(db_path, "before-restore") if db_path.exists() else None
        src = sqlite3.connect(str(work))
        try:
            dst = store.open_connection(db_path)
            try:
                src.backup(dst)
            except sqlite3.DatabaseError as exc:
                raise StoreError(store.explain(db_path, exc)) from None
            finally:
                dst.close()
        finally:
            src.close()
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(work) + suffix).unlink(missing_ok=True)
    return safety or Path(backup_file)


def _page_size(db_path: Path) -> int | None:
    if not db_path.exists():
        return None
    conn = sqlite3.connect(str(db_path))
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


__all__ = ["BackupInfo", "FOLDER", "backups_dir", "backup_now", "list_backups", "backup_bytes", "check_backup",
           "restore"]
