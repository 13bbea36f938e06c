"""Who is acting, what their role lets them do, and which part of the business they see.

Three roles (docs/access.md):

- ``admin``: everything: imports and undo, settings, the stage map, the roster, plans,
  publishing targets, territory plans, loading the demo, clearing, users.
- ``manager``: the numbers of their teams (the teams listed for them, else the teams the
  roster gives them as manager) and their plans (goal scenarios, comp plans, forecasts).
- ``rep``: their own deals and numbers in detail, beside their team's totals only.

The acting user lives in a context variable: ``salesops.ui`` sets it for each script run from
the signed-in user (:func:`acting`); the command line and notebooks act as the local admin
(the OS user, ``SALESOPS_USER`` overrides). Permissions are checked here, in the domain
(:func:`require`), and the store refuses any write by a non-admin that no permitted action
declared (see :mod:`salesops.audit`).

The users table (migration ``users``) holds e-mail -> role, roster person and teams; the first
user who signs in to a workspace without users becomes its admin (:func:`sign_in`).
"""
from __future__ import annotations

import getpass
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

import pandas as pd

from . import schema as S
from .errors import InputError, PermissionDenied

ADMIN, MANAGER, REP = "admin", "manager", "rep"
ROLES = (ADMIN, MANAGER, REP)
ROLE_LABELS = {ADMIN: "Admin", MANAGER: "Manager", REP: "Rep"}

#: What each write action is called in words, and which roles may do it.
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "import": ("import a file", (ADMIN,)),
    "undo_import": ("undo an import", (ADMIN,)),
    "mapping": ("remember a column mapping", (ADMIN,)),
    "settings": ("change the settings", (ADMIN,)),
    "stage_map": ("change the stage map", (ADMIN,)),
    "roster": ("change the rep roster", (ADMIN,)),
    "targets": ("publish targets", (ADMIN,)),
    "territory_plan": ("save or activate a territory plan", (ADMIN,)),
    "size_bands": ("change the company-size bands", (ADMIN,)),
    "demo": ("load the demo workspace", (ADMIN,)),
    "clear": ("clear the workspace", (ADMIN,)),
    "restore": ("restore a backup", (ADMIN,)),
    "users": ("change users and roles", (ADMIN,)),
    "scenario": ("save a goal scenario", (ADMIN, MANAGER)),
    "comp_plan": ("save a compensation plan", (ADMIN, MANAGER)),
    "forecast": ("save a forecast", (ADMIN, MANAGER)),
    "write": ("change this workspace", (ADMIN,)),
}


@dataclass(frozen=True)
class Scope:
    """The part of the business a user may see: ``teams`` (roster teams) and ``reps`` (deal
    owners). A manager's scope has teams only; a rep's has their own name in ``reps`` and
    their team in ``teams`` (for the team's totals, :func:`salesops.team_view.team_totals`).
    Hashable: it is part of :class:`~salesops.filters.Filters`, the cache key."""

    role: str
    teams: tuple[str, ...] = ()
    reps: tuple[str, ...] = ()

    def cuts(self) -> dict[str, tuple[str, ...]]:
        """The scope as filter cuts: a rep by owner, a manager by team."""
        if self.role == REP:
            return {S.OWNER: self.reps}
        return {S.TEAM: self.teams}

    def describe(self) -> str:
        if self.role == REP:
            return f"your own deals ({', '.join(self.reps) or 'none'})"
        return f"your teams ({', '.join(self.teams) or 'none'})"


@dataclass(frozen=True)
class User:
    """The acting user: ``email`` (the id from the identity provider, or the OS user), role,
    ``person`` (their name on the roster: the rep, or the manager) and explicit ``teams``."""

    email: str
    role: str = ADMIN
    person: str = ""
    teams: tuple[str, ...] = ()
    local: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def label(self) -> str:
        return f"{self.email} ({ROLE_LABELS.get(self.role, self.role)})"

    def can(self, action: str) -> bool:
        return self.role in ACTIONS.get(action, ACTIONS["write"])[1]

    def scope(self, reps: pd.DataFrame | None) -> Scope | None:
        """The user's scope on a roster (None: an admin sees everything)."""
        if self.role == ADMIN:
            return None
        person = self.person or self.email
        if self.role == MANAGER:
            teams = set(self.teams)
            if not teams and reps is not None and not reps.empty and S.MANAGER in reps.columns:
                teams = {str(t) for t in reps.loc[reps[S.MANAGER].astype(str) == person, S.TEAM].dropna()}
            return Scope(MANAGER, teams=tuple(sorted(teams)))
        teams = set(self.teams)
        if not teams and reps is not None and not reps.empty:
            teams = {str(t) for t in reps.loc[reps[S.NAME].astype(str) == person, S.TEAM].dropna()}
        return Scope(REP, teams=tuple(sorted(teams)), reps=(person,))


def local_user() -> User:
    """The local single user (the command line, notebooks, the app without sign-in): an admin
    named by ``SALESOPS_USER`` or the OS login."""
    try:
        name = os.environ.get("SALESOPS_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - getpass raises various errors without a login name
        name = "unknown"
    return User(email=name, role=ADMIN, local=True)


_ACTOR: ContextVar[User | None] = ContextVar("salesops_actor", default=None)


def current() -> User:
    """The acting user (the local admin unless :func:`acting` set one)."""
    return _ACTOR.get() or local_user()


def set_current(user: User | None) -> None:
    """Make ``user`` the acting user of this thread's context (salesops.ui, once per run)."""
    _ACTOR.set(user)


@contextmanager
def acting(user: User | None) -> Iterator[User]:
    """Act as ``user`` inside the block."""
    token = _ACTOR.set(user)
    try:
        yield current()
    finally:
        _ACTOR.reset(token)


def require(action: str, user: User | None = None) -> User:
    """The acting user if their role may do ``action``; else :class:`PermissionDenied` with
    words for the user."""
    user = user or current()
    words, roles = ACTIONS.get(action, ACTIONS["write"])
    if user.role not in roles:
        who = " or ".join(ROLE_LABELS[r].lower() + "s" for r in roles)
        raise PermissionDenied(f"You are signed in as {user.email} ({ROLE_LABELS.get(user.role, user.role).lower()}): "
                               f"only {who} may {words}. Nothing was changed.")
    return user


# --- the users table -------------------------------------------------------------------------------
USER_COLUMNS = ["email", "role", "person", "teams", "created_at", "updated_at", "updated_by"]


def _norm(email: str) -> str:
    return str(email or "").strip().lower()


def _split(teams) -> tuple[str, ...]:
    if teams is None or (isinstance(teams, float) and teams != teams):
        return ()
    if isinstance(teams, str):
        teams = teams.split(",")
    return tuple(sorted({str(t).strip() for t in teams if str(t).strip()}))


def _from_row(row) -> User:
    return User(email=row[0], role=row[1], person=row[2] or "", teams=_split(row[3]))


def users(path) -> pd.DataFrame:
    """Every user with role, person and teams (email order)."""
    from . import store

    with store.connect(path) as conn:
        return store.read_frame(conn, f"SELECT {', '.join(USER_COLUMNS)} FROM users ORDER BY email")


def find(path, email: str) -> User | None:
    from . import store

    with store.connect(path) as conn:
        row = conn.execute("SELECT email, role, person, teams FROM users WHERE email = ?", (_norm(email),)).fetchone()
    return _from_row(row) if row else None


def sign_in(path, email: str, name: str = "") -> User | None:
    """The user signed in as ``email``: their row, or, when the workspace has no users yet, a
    new admin (the first signed-in user of a new workspace; decided under the write lock, so
    two first sign-ins at once make one admin). None when the workspace has users and this
    e-mail is not one of them."""
    from . import audit, store

    email = _norm(email)
    if not email:
        raise InputError("the identity provider gave no e-mail or subject for this sign-in")
    known = find(path, email)
    if known is not None:
        return known
    with store.connect(path) as conn:
        if conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None:
            return None
    first = User(email=email, role=ADMIN, person=name or "")
    with acting(first), audit.action("users", f"{email} signed in first and became admin", after={"email": email, "role": ADMIN}):
        with store.connect(path, write=True) as conn:
            if conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None:  # someone else was first
                audit.cancel()
                row = conn.execute("SELECT email, role, person, teams FROM users WHERE email = ?", (email,)).fetchone()
                return _from_row(row) if row else None
            now = store.now_iso()
            conn.execute("INSERT INTO users (email, role, person, teams, created_at, updated_at, updated_by) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (email, ADMIN, name or "", "", now, now, email))
    return first


def save_users(path, frame: pd.DataFrame) -> int:
    """Replace the users table with ``frame`` (email, role, person, teams) in one transaction
    (admins only); at least one admin must remain. Returns the number of users."""
    from . import audit, store

    rows, seen = [], set()
    for i, r in enumerate(pd.DataFrame(frame).to_dict("records"), start=1):
        email = _norm(r.get("email"))
        if not email:
            continue
        role = str(r.get("role") or "").strip().lower()
        if role not in ROLES:
            raise InputError(f"user row {i} ({email}): the role must be admin, manager or rep, not {r.get('role')!r}")
        if email in seen:
            raise InputError(f"user row {i}: {email} is listed twice")
        seen.add(email)
        person = r.get("person")
        person = "" if person is None or (isinstance(person, float) and person != person) else str(person).strip()
        rows.append((email, role, person, ", ".join(_split(r.get("teams")))))
    if not any(role == ADMIN for _, role, _, _ in rows):
        raise InputError("at least one admin must remain; nothing was saved")
    before = users(path)
    old = {e: (ro, p, t) for e, ro, p, t in before[["email", "role", "person", "teams"]].itertuples(index=False)}
    new = {e: (ro, p, t) for e, ro, p, t in rows}
    changes = {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
               "changed": {e: {"before": list(old[e]), "after": list(new[e])} for e in sorted(set(old) & set(new))
                           if tuple(old[e]) != tuple(new[e])}}
    summary = (f"{len(changes['added'])} added, {len(changes['removed'])} removed, "
               f"{len(changes['changed'])} changed")
    with audit.action("users", summary, before={"users": len(old)}, after=changes):
        with store.connect(path, write=True) as conn:
            now, by = store.now_iso(), current().email
            created = dict(conn.execute("SELECT email, created_at FROM users").fetchall())
            conn.execute("DELETE FROM users")
            conn.executemany("INSERT INTO users (email, role, person, teams, created_at, updated_at, updated_by) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [(e, ro, p, t, created.get(e, now), now, by) for e, ro, p, t in rows])
    return len(rows)


__all__ = ["ADMIN", "MANAGER", "REP", "ROLES", "ACTIONS", "Scope", "User", "current", "set_current", "acting",
           "require", "local_user", "users", "find", "sign_in", "save_users"]
