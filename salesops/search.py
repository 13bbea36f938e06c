"""Find anything: a full-text index (SQLite FTS5, through sqlite-utils) of every account, deal
and rep, searched by a few letters of a name ("acm cor" finds "Acme Corp").

The index lives in the workspace's database (``search_items`` and its FTS5 table
``search_items_fts``, kept in step by sqlite-utils' triggers). It is derived data: writing it
changes no number, so it does not move the data version. It is kept current two ways:

* every deal import updates it for the deals it wrote, inside the import's own transaction
  (:func:`after_import`, called at the end of ``ingest.writer.write_deals``), when the index
  exists and the import wrote fewer than :data:`BULK_ROWS` deals (a bulk load would take 1.6x
  as long: it is left to the next search, which rebuilds in one pass, about half the import's
  time; ``bench/territories.py``);
* anything else that changes names (loading the demo, an undo, the accounts or roster import,
  a roster edit, clearing the workspace) changes the index's *fingerprint* (row counts and
  names of the indexed tables, the list of imports); the next search sees it and rebuilds
  the parts that changed (:func:`ensure`).
"""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass

import sqlite_utils

from . import schema as S
from . import store

TABLE = "search_items"
FTS = f"{TABLE}_fts"
META_KEY = "search_fingerprint"
KINDS = ("account", "rep", "deal")
KIND_LABELS = {"account": "Account", "rep": "Rep", "deal": "Deal"}
PER_KIND = {"account": 5, "rep": 5, "deal": 8}
MIN_LETTERS = 2
#: From this many deals written by one import on, the import leaves the index to the next
#: search (one bulk rebuild) instead of updating it row by row inside the import.
BULK_ROWS = 100_000

#: A deal is found by its name and its id (its account and rep are found as accounts and reps;
#: the hit's details are read when it is shown): half the words to index of name + account + owner.
_DEALS_SQL = (f"INSERT INTO {TABLE} (kind, key, label, detail) SELECT 'deal', opportunity_id, "
              "COALESCE(NULLIF(name, ''), opportunity_id), opportunity_id FROM opportunities")
_SOURCES = {
    "account": [f"INSERT INTO {TABLE} (kind, key, label, detail) SELECT 'account', name, name, "
                "trim(COALESCE(industry, '') || ' · ' || COALESCE(region, ''), ' ·') FROM accounts",
                f"INSERT INTO {TABLE} (kind, key, label, detail) SELECT DISTINCT 'account', account, account, '' "
                "FROM opportunities WHERE account IS NOT NULL AND account != '' "
                "AND account NOT IN (SELECT name FROM accounts)"],
    "rep": [f"INSERT INTO {TABLE} (kind, key, label, detail) SELECT 'rep', name, name, "
            "trim(COALESCE(team, '') || ' · ' || COALESCE(region, ''), ' ·') FROM reps",
            f"INSERT INTO {TABLE} (kind, key, label, detail) SELECT DISTINCT 'rep', owner, owner, 'not on the roster' "
            "FROM opportunities WHERE owner IS NOT NULL AND owner != '' AND owner NOT IN (SELECT name FROM reps)"],
    "deal": [_DEALS_SQL],
}


@dataclass(frozen=True)
class Hit:
    """One search result: ``kind`` (account, rep, deal), ``key`` (account or rep name, deal
    id), ``label`` (what to show), ``detail`` (account, owner, team...)."""

    kind: str
    key: str
    label: str
    detail: str


# --- the index --------------------------------------------------------------------------------------
def _exists(conn: sqlite3.Connection) -> bool:
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name IN (?, ?)", (TABLE, FTS))}
    return names == {TABLE, FTS}


def _create(conn: sqlite3.Connection) -> None:
    """Create the table and its FTS5 index (with sqlite-utils; outside any transaction)."""
    db = sqlite_utils.Database(conn)
    if db[TABLE].exists() and not db[FTS].exists():
        db[TABLE].drop()
    if not db[TABLE].exists():
        db[TABLE].create({"id": int, "kind": str, "key": str, "label": str, "detail": str}, pk="id")
        db[TABLE].create_index(["kind", "key"])
        db[TABLE].enable_fts(["label", "detail"], create_triggers=True, tokenize="unicode61 remove_diacritics 2")
        conn.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))


def fingerprint(conn: sqlite3.Connection) -> dict[str, str]:
    """Per kind, a short hash of what its part of the index is built from."""
    def h(*rows) -> str:
        return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()[:16]

    imports = conn.execute("SELECT group_concat(id || ':' || status) FROM imports").fetchone()[0]
    deals = conn.execute("SELECT count(*), max(rowid) FROM opportunities").fetchone()
    return {
        "deal": h(deals, imports),
        "account": h(conn.execute("SELECT count(*), group_concat(name, char(31)), total(length(industry)), "
                                  "total(length(region)) FROM accounts").fetchone(), deals, imports),
        "rep": h(conn.execute("SELECT count(*), group_concat(name, char(31)), group_concat(team, char(31)) FROM reps").fetchone(),
                 deals, imports),
    }


def _stored(conn: sqlite3.Connection) -> dict:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_KEY,)).fetchone()
    try:
        return json.loads(row[0]) if row else {}
    except ValueError:
        return {}


def _rebuild(conn: sqlite3.Connection, kinds) -> None:
    """Rebuild the index rows of ``kinds`` (inside the caller's transaction). With the deals
    (the big part) everything is rebuilt in bulk: sqlite-utils' triggers are set aside, the
    rows written, and FTS5 rebuilds its index from them in one pass (measured faster than
    row-by-row triggers); small kinds go through the triggers."""
    if "deal" in kinds:
        triggers = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (TABLE,))]
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (TABLE,)).fetchall():
            conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute(f"DELETE FROM {TABLE}")
        for kind in KINDS:
            for sql in _SOURCES[kind]:
                conn.execute(sql)
        conn.execute(f"INSERT INTO {FTS} ({FTS}) VALUES ('rebuild')")
        for sql in triggers:
            conn.execute(sql)
        return
    for kind in kinds:
        conn.execute(f"DELETE FROM {TABLE} WHERE kind = ?", (kind,))
        for sql in _SOURCES[kind]:
            conn.execute(sql)


def ensure(path) -> list[str]:
    """Make the index current (create it, or rebuild the kinds whose sources changed) and
    return the kinds rebuilt. Its own short write, which does not move the data version."""
    with store.connect(path) as conn:
        if not _exists(conn):
            _create(conn)
        if _stored(conn) == fingerprint(conn):
            return []
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = fingerprint(conn)  # re-read under the write lock
            stale = [k for k in KINDS if _stored(conn).get(k) != now[k]]
            _rebuild(conn, stale)
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (META_KEY, json.dumps(now)))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return stale


def after_import(conn: sqlite3.Connection, import_id: int) -> None:
    """Bring the index up to date with a deal import, inside the import's transaction: the
    deals it wrote, and the accounts and reps they name. Nothing when no index exists yet
    (the first search builds it)."""
    if not _exists(conn):
        return
    written = conn.execute("SELECT count(*) FROM opportunities WHERE import_id = ?", (int(import_id),)).fetchone()[0]
    if written >= BULK_ROWS:  # a bulk load: leave it to the next search's one-pass rebuild (see the module docstring)
        return
    before = _stored(conn)
    conn.execute(f"DELETE FROM {TABLE} WHERE kind = 'deal' AND key IN (SELECT opportunity_id FROM opportunities "
                 "WHERE import_id = ?)", (int(import_id),))
    conn.execute(_DEALS_SQL + " WHERE import_id = ?", (int(import_id),))
    _rebuild(conn, ("account", "rep"))  # small: the new deals may name new accounts and owners
    now = fingerprint(conn)
    if before:  # only a complete index is marked current
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (META_KEY, json.dumps(now)))


# --- searching ------------------------------------------------------------------------------------
def query(text: str) -> str | None:
    """The FTS5 query for what the user typed: every word as a prefix ("acm cor" ->
    ``"acm"* "cor"*``); None when there are fewer than two letters to go on."""
    words = [w for w in re.split(r"[\s\"'()*:^+\-.,;/\\]+", str(text or "")) if w]
    if sum(len(w) for w in words) < MIN_LETTERS:
        return None
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words[:8])


def find(path, text: str, per_kind: dict | None = None) -> list[Hit]:
    """Accounts, then reps, then deals matching ``text`` (best matches first within each)."""
    q = query(text)
    if q is None:
        return []
    ensure(path)
    limits = {**PER_KIND, **(per_kind or {})}
    out: list[Hit] = []
    with store.connect(path) as conn:
        db = sqlite_utils.Database(conn)
        table = db[TABLE]
        for kind in KINDS:
            try:
                rows = table.search(q, where="kind = :kind", where_args={"kind": kind}, limit=limits[kind],
                                    columns=["kind", "key", "label", "detail"])
                out += [Hit(r["kind"], str(r["key"]), str(r["label"]), str(r["detail"] or "")) for r in rows]
            except sqlite3.OperationalError:  # a query FTS5 cannot parse finds nothing
                continue
        deals = [h.key for h in out if h.kind == "deal"]
        if deals:
            marks = ", ".join("?" * len(deals))
            info = {k: " · ".join(str(v) for v in (acc, owner, k) if v) for k, acc, owner in conn.execute(
                f"SELECT opportunity_id, account, owner FROM opportunities WHERE opportunity_id IN ({marks})", deals)}
            out = [Hit(h.kind, h.key, h.label, info.get(h.key, h.detail)) if h.kind == "deal" else h for h in out]
    return out


def within(ws, hits: list[Hit]) -> list[Hit]:
    """The hits a user whose workspace is ``ws`` (a scoped workspace: Workspace.scoped) may
    see: accounts their deals name, reps on their roster or owning their deals, their deals.
    A whole workspace keeps every hit."""
    if getattr(ws, "scope", None) is None:
        return hits
    accounts = {str(a) for a in ws.facts[S.ACCOUNT].dropna().unique()} if S.ACCOUNT in ws.facts.columns else set()
    reps = set(ws.reps[S.NAME].astype(str)) | {str(o) for o in ws.facts[S.OWNER].dropna().unique()}
    deals = set(ws.deals[S.OPPORTUNITY_ID].astype(str))
    keep = {"account": accounts, "rep": reps, "deal": deals}
    return [h for h in hits if h.key in keep.get(h.kind, set())]


__all__ = ["Hit", "find", "within", "ensure", "after_import", "query", "fingerprint", "KIND_LABELS"]
