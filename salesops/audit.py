"""The audit trail: every write records who did it and what changed (before/after where small).

A domain function that writes declares its action::

    with audit.action("settings", "currency USD -> EUR", before={...}, after={...}):
        with store.connect(path, write=True) as conn:
            ...

:func:`action` checks the acting user's permission first (:func:`salesops.auth.require`), and
the store writes the entry into ``audit_log`` inside the same transaction as the change, just
before it commits (:func:`on_commit`): a change and its record land together or not at all. A
write that no action declared is refused for a non-admin and recorded as ``write`` for an
admin (nothing is written unrecorded). :func:`note` adds what is known only inside the
transaction (an import's id).
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterator

import pandas as pd

from . import auth
from .errors import InputError

#: Actions as the Audit page names them.
ACTION_LABELS = {
    "import": "Import", "undo_import": "Undo import", "mapping": "Mapping remembered", "settings": "Settings",
    "stage_map": "Stage map", "roster": "Roster", "targets": "Targets published", "territory_plan": "Territory plan",
    "size_bands": "Company-size bands", "demo": "Demo loaded", "clear": "Workspace cleared", "restore": "Backup restored", "users": "Users",
    "scenario": "Goal scenario", "comp_plan": "Comp plan", "forecast": "Forecast saved", "write": "Other change",
}
#: Longest JSON text kept for a before or after value (larger values are summarised).
MAX_DETAIL = 4_000
COLUMNS = ["id", "at", "user", "role", "action", "summary", "before", "after", "backup"]


@dataclass
class Entry:
    action: str
    summary: str = ""
    before: object = None
    after: object = None
    user: auth.User | None = None
    recorded: bool = False
    cancelled: bool = False
    extra: dict = field(default_factory=dict)


_PENDING: ContextVar[Entry | None] = ContextVar("salesops_audit_entry", default=None)


@contextmanager
def action(name: str, summary: str = "", *, before=None, after=None) -> Iterator[Entry]:
    """Declare the write ``name`` for the block: the acting user's permission is checked
    (PermissionDenied otherwise) and every write transaction in the block records the entry
    (once)."""
    user = auth.require(name)
    outer = _PENDING.get()
    if outer is not None and not outer.cancelled:  # an action inside another: the outer one records
        yield outer
        return
    entry = Entry(name, summary, before, after, user)
    token = _PENDING.set(entry)
    try:
        yield entry
    finally:
        _PENDING.reset(token)


def note(summary: str | None = None, **after) -> None:
    """Add to the pending entry: a summary, and ``after`` values (merged into a dict)."""
    entry = _PENDING.get()
    if entry is None:
        return
    if summary is not None:
        entry.summary = summary
    if after:
        entry.after = {**(entry.after if isinstance(entry.after, dict) else {}), **after}


def pending() -> Entry | None:
    """The entry the running action will record (None outside an action)."""
    return _PENDING.get()


def cancel() -> None:
    """Record nothing for the pending entry (the write turned out not to happen)."""
    entry = _PENDING.get()
    if entry is not None:
        entry.cancelled = True


def _json(value) -> str | None:
    if value is None:
        return None
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > MAX_DETAIL:
        kind = type(value).__name__
        size = len(value) if hasattr(value, "__len__") else None
        text = json.dumps({"summary": f"{kind} of {size} items (too large to keep in full)" if size is not None
                           else "too large to keep in full", "start": text[:MAX_DETAIL // 2]}, ensure_ascii=False)
    return text


def on_commit(conn) -> None:
    """Write the pending entry into ``audit_log`` (called by the store inside every write
    transaction, just before it commits). A write without a declared action is refused for a
    non-admin and recorded as ``write`` for an admin."""
    from . import store

    entry = _PENDING.get()
    if entry is None:
        user = auth.require("write")
        entry = Entry("write", "a change without a named action", user=user)
    if entry.recorded or entry.cancelled:
        return
    user = entry.user or auth.current()
    conn.execute("INSERT INTO audit_log (at, user, role, action, summary, before, after, backup) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (store.now_iso(), user.email, user.role, entry.action, entry.summary, _json(entry.before),
                  _json(entry.after), entry.extra.get("backup")))
    entry.recorded = True


def check_write() -> None:
    """Refuse a write transaction before it starts when the acting user may not do the pending
    action (or, without one, any write)."""
    entry = _PENDING.get()
    if entry is None:
        auth.require("write")


# --- reading -----------------------------------------------------------------------------------------
def entries(path, *, user: str | list[str] | None = None, action: str | list[str] | None = None,
            since: date | str | None = None, until: date | str | None = None, limit: int | None = None) -> pd.DataFrame:
    """The audit trail, newest first: id, at (UTC ISO), user, role, action, summary, before,
    after (JSON text). ``user`` and ``action`` filter by one or several values; ``since`` and
    ``until`` are inclusive dates."""
    from . import store

    where, params = [], []
    for col, val in (("user", user), ("action", action)):
        if val:
            vals = [val] if isinstance(val, str) else list(val)
            where.append(f"{col} IN ({', '.join('?' * len(vals))})")
            params += vals
    for op, val in ((">=", since), ("<", until)):
        if val:
            try:
                d = val if isinstance(val, date) else date.fromisoformat(str(val))
            except ValueError:
                raise InputError(f"{val!r} is not a date; use YYYY-MM-DD") from None
            if op == "<":
                d = date.fromordinal(d.toordinal() + 1)
            where.append(f"substr(at, 1, 10) {op} ?")
            params.append(d.isoformat())
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    with store.connect(path) as conn:
        return store.read_frame(conn, sql, tuple(params))


def choices(path) -> dict[str, list[str]]:
    """The users and actions present in the trail (the Audit page's filters)."""
    from . import store

    with store.connect(path) as conn:
        users = [r[0] for r in conn.execute("SELECT DISTINCT user FROM audit_log ORDER BY user")]
        actions = [r[0] for r in conn.execute("SELECT DISTINCT action FROM audit_log ORDER BY action")]
    return {"user": users, "action": actions}


def undoable(path) -> pd.DataFrame:
    """The changes that can be undone: entries with a backup of the state before them (load
    demo, clear, restore, a stage-map change that moved statuses) whose file still exists."""
    from .backup import backups_dir

    trail = entries(path)
    folder = backups_dir(path)
    keep = trail["backup"].notna() & trail["backup"].map(lambda n: bool(n) and (folder / str(n)).is_file())
    return trail[keep].reset_index(drop=True)


def undo(path, entry_id: int) -> Path:
    """Undo the change of audit entry ``entry_id``: restore the backup written just before it
    (salesops.backup.restore: schema checked, the current state backed up first, the restore
    itself recorded). Returns the backup of the state that was replaced."""
    from .backup import backups_dir, restore

    row = entries(path).loc[lambda t: t["id"] == int(entry_id)]
    if row.empty or not row["backup"].iloc[0]:
        raise InputError(f"change #{entry_id} has no backup of the state before it; it cannot be undone from here")
    file = backups_dir(path) / str(row["backup"].iloc[0])
    if not file.is_file():
        raise InputError(f"the backup of change #{entry_id} ({file.name}) is no longer in {file.parent}")
    return restore(path, file)


def for_people(frame: pd.DataFrame) -> pd.DataFrame:
    """The trail with actions in words and before/after as short text (the Audit page, CSV)."""
    out = frame.copy().drop(columns=["backup"], errors="ignore")
    out["action"] = out["action"].map(lambda a: ACTION_LABELS.get(a, a))
    for col in ("summary", "before", "after", "role"):
        out[col] = out[col].astype(object).where(out[col].notna(), "")
    return out


__all__ = ["action", "note", "cancel", "on_commit", "check_write", "entries", "choices", "for_people", "undoable", "undo",
           "ACTION_LABELS"]
