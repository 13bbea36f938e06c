"""Sign-in through st.user (AppTest simulates the identity provider's claims): the sign-in
screen, the first user becomes admin, a UI write records the signed-in user (not the OS user),
a manager's pages hold only their teams' numbers, a rep is refused plans and admin pages."""
import getpass
import json
import re

import pandas as pd
from streamlit.testing.v1 import AppTest

from salesops import audit, auth, formats, metrics, workspace
from salesops import schema as S
from salesops.filters import Filters

from .conftest import APP, no_exceptions

AUTH = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "test-only-not-a-secret",
        "client_id": "salesops", "client_secret": "test-only",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


def signed_in(db, monkeypatch, email: str | None, page: str = "views/overview.py") -> AppTest:
    monkeypatch.setenv("SALESOPS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False} if email is None else {"is_logged_in": True, "email": email, "name": email}
    if email is not None:
        at.switch_page(page)
    at.run()
    return at


def texts(at) -> str:
    """Every text a user reads, as shown (the Markdown escapes of plain text removed)."""
    return re.sub(r"\\(.)", r"\1", _texts(at))


def _texts(at) -> str:
    return " ".join(str(e.value) for kind in ("title", "subheader", "markdown", "caption", "text", "info", "warning",
                                              "error") for e in at.get(kind))


def test_signed_out_sees_only_the_sign_in_screen(demo_db, monkeypatch):
    at = signed_in(demo_db, monkeypatch, None)
    no_exceptions(at)
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric and "Overview" not in texts(at)


def test_first_user_is_admin_and_a_settings_save_records_them(demo_db, monkeypatch):
    at = signed_in(demo_db, monkeypatch, "alice@example.com", "views/settings.py")
    no_exceptions(at)
    assert "Signed in as alice@example.com · Admin" in texts(at)
    at.text_input[0].set_value("Alice's workspace")
    next(b for b in at.button if b.label == "Save settings").click().run()
    no_exceptions(at)
    assert workspace.load(demo_db).settings.workspace_name == "Alice's workspace"
    row = audit.entries(demo_db, action="settings").iloc[0]
    assert row["user"] == "alice@example.com" != getpass.getuser()
    assert json.loads(row["after"]) == {"workspace_name": "Alice's workspace"}
    assert auth.find(demo_db, "alice@example.com").role == auth.ADMIN


def _roles(db):
    """An admin, a manager of EMEA Enterprise and a rep of that team (its first rep) on ``db``;
    returns (the workspace, the rep's name)."""
    ws = workspace.load(db)
    rep = str(ws.reps.loc[ws.reps[S.TEAM] == "EMEA Enterprise", S.NAME].iloc[0])
    auth.sign_in(db, "alice@example.com")
    with auth.acting(auth.find(db, "alice@example.com")):
        auth.save_users(db, pd.DataFrame([
            {"email": "alice@example.com", "role": "admin"},
            {"email": "mgr@example.com", "role": "manager", "teams": "EMEA Enterprise"},
            {"email": "rep@example.com", "role": "rep", "person": rep}]))
    return ws, rep


def test_manager_sees_only_their_team_and_is_refused_settings(demo_db, monkeypatch):
    ws, _ = _roles(demo_db)
    at = signed_in(demo_db, monkeypatch, "mgr@example.com", "views/reps.py")
    no_exceptions(at)
    shown = texts(at) + " ".join(" ".join(map(str, df.value.astype(str).to_numpy().ravel())) for df in at.dataframe)
    others = set(ws.reps.loc[ws.reps[S.TEAM] != "EMEA Enterprise", S.NAME])
    mine = set(ws.reps.loc[ws.reps[S.TEAM] == "EMEA Enterprise", S.NAME])
    assert not [n for n in others if n in shown]
    assert any(n in shown for n in mine)
    at.switch_page("views/overview.py").run()
    won = [m.value for m in at.metric if m.label == "Bookings"]
    mine_only = metrics.team(ws, Filters.make(ws, team=["EMEA Enterprise"]))["won_amount"]
    everyone = metrics.team(ws, Filters.make(ws))["won_amount"]
    assert won == [formats.money(mine_only)] and mine_only < everyone
    at.switch_page("views/settings.py").run()
    assert "only admins may change the settings" in texts(at)
    assert not [b for b in at.button if b.label == "Save stage map"]


def test_rep_is_refused_a_plan_save_with_the_domains_message(demo_db, monkeypatch):
    ws, rep = _roles(demo_db)
    at = signed_in(demo_db, monkeypatch, "rep@example.com", "views/import.py")
    assert "only admins may import a file" in texts(at)
    at.switch_page("views/overview.py").run()
    no_exceptions(at)
    assert "Your team · EMEA Enterprise" in texts(at)
    own = metrics.team(ws, Filters.make(ws, rep=[rep]))["won_amount"]
    team = metrics.team(ws, Filters.make(ws, team=["EMEA Enterprise"]))["won_amount"]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Team bookings"] == formats.money(team) and tiles["Bookings"] == formats.money(own)
    before = len(audit.entries(demo_db))
    at.switch_page("views/compensation.py").run()
    no_exceptions(at)
    save = [b for b in at.button if "Save" in b.label]
    assert save, [b.label for b in at.button]
    save[0].click().run()
    assert "only admins or managers may save a compensation plan" in texts(at)
    assert len(audit.entries(demo_db)) == before


def test_stranger_is_told_they_have_no_role(demo_db, monkeypatch):
    _roles(demo_db)
    at = signed_in(demo_db, monkeypatch, "mallory@example.com")
    no_exceptions(at)
    assert "has no role for you" in texts(at)
    assert not at.metric
