"""salesops.auth: roles, the first signed-in user becomes admin, the users table."""

import pandas as pd
import pytest

from salesops import audit, auth
from salesops.errors import InputError, PermissionDenied
from tests.fixtures import REPS, write_acme_without_audit


@pytest.fixture
def acme(tmp_path):
    return write_acme_without_audit(tmp_path / "acme.db")


def test_first_signed_in_user_becomes_admin_and_strangers_get_nothing(acme):
    first = auth.sign_in(acme, "Alice@Example.com")
    assert first.role == auth.ADMIN and first.email == "alice@example.com"
    assert auth.sign_in(acme, "alice@example.com").role == auth.ADMIN  # known now
    assert auth.sign_in(acme, "mallory@example.com") is None           # the second stranger is not let in
    assert list(auth.users(acme)["email"]) == ["alice@example.com"]
    row = audit.entries(acme).iloc[0]
    assert (row["user"], row["action"]) == ("alice@example.com", "users")


def test_admin_edits_users_and_one_admin_must_remain(acme):
    auth.sign_in(acme, "alice@example.com")
    frame = pd.DataFrame([{"email": "alice@example.com", "role": "admin"},
                          {"email": "mia@example.com", "role": "manager", "person": "Mia Ross"},
                          {"email": "ann@example.com", "role": "rep", "person": "Ann Lee"}])
    with auth.acting(auth.find(acme, "alice@example.com")):
        assert auth.save_users(acme, frame) == 3
        with pytest.raises(InputError, match="at least one admin"):
            auth.save_users(acme, frame.assign(role="rep"))
        with pytest.raises(InputError, match="role must be"):
            auth.save_users(acme, frame.assign(role="boss"))
    mia = auth.sign_in(acme, "mia@example.com")
    assert (mia.role, mia.person) == ("manager", "Mia Ross")
    with auth.acting(mia), pytest.raises(PermissionDenied, match="only admins may change users"):
        auth.save_users(acme, frame)


def test_scopes_from_the_roster():
    mia = auth.User("mia@example.com", auth.MANAGER, person="Mia Ross")
    assert mia.scope(REPS) == auth.Scope(auth.MANAGER, teams=("East Enterprise",))
    two = auth.User("x@example.com", auth.MANAGER, teams=("East Commercial", "West Commercial"))
    assert two.scope(REPS).teams == ("East Commercial", "West Commercial")
    ann = auth.User("ann@example.com", auth.REP, person="Ann Lee")
    assert ann.scope(REPS) == auth.Scope(auth.REP, teams=("East Enterprise",), reps=("Ann Lee",))
    assert auth.User("a", auth.ADMIN).scope(REPS) is None


def test_permission_table():
    rep, mgr, adm = (auth.User("u", r) for r in (auth.REP, auth.MANAGER, auth.ADMIN))
    for action in ("import", "settings", "stage_map", "roster", "targets", "demo", "clear", "users"):
        assert adm.can(action) and not mgr.can(action) and not rep.can(action)
    for action in ("scenario", "comp_plan", "forecast"):
        assert adm.can(action) and mgr.can(action) and not rep.can(action)
