"""salesops.audit: every write records who did it (the acting user, not the OS user) and what
changed; writes without a declared action are refused for non-admins."""
import json


import pandas as pd
import pytest

from salesops import audit, auth, demo, goals, store, workspace
from salesops.errors import InputError, PermissionDenied
from tests.fixtures import write_acme_without_audit

ALICE = auth.User("alice@example.com", auth.ADMIN)
MIA = auth.User("mia@example.com", auth.MANAGER, person="Mia Ross")
ANN = auth.User("ann@example.com", auth.REP, person="Ann Lee")


@pytest.fixture
def acme(tmp_path):
    return write_acme_without_audit(tmp_path / "acme.db")


def test_settings_change_records_the_acting_user_and_before_after(acme):
    with auth.acting(ALICE):
        workspace.save_settings(acme, currency="EUR")
    row = audit.entries(acme, action="settings").iloc[0]
    assert row["user"] == "alice@example.com" and row["role"] == "admin"
    assert json.loads(row["before"]) == {"currency": "USD"}
    assert json.loads(row["after"]) == {"currency": "EUR"}
    assert "currency" in row["summary"]


def test_cli_writes_are_the_local_admin(acme, monkeypatch):
    monkeypatch.setenv("SALESOPS_USER", "ops-cron")
    workspace.save_settings(acme, workspace_name="Acme 2")
    assert audit.entries(acme).iloc[0]["user"] == "ops-cron"


def test_roster_save_records_who_changed(acme):
    ws = workspace.load(acme)
    roster = ws.reps.copy()
    roster.loc[roster["name"] == "Ann Lee", "team"] = "East Commercial"
    roster = roster[roster["name"] != "Fay Ito"]
    with auth.acting(ALICE):
        workspace.save_roster(acme, roster)
    row = audit.entries(acme, action="roster").iloc[0]
    before, after = json.loads(row["before"]), json.loads(row["after"])
    assert list(before["removed"]) == ["Fay Ito"]
    assert list(after["changed"]) == ["Ann Lee"] and "East Commercial" in after["changed"]["Ann Lee"]
    assert before["reps"] == 6 and after["reps"] == 5


def test_stage_map_and_targets_and_plans_are_recorded(acme):
    ws = workspace.load(acme)
    period = ws.calendar.parse("2027Q3")
    with auth.acting(ALICE):
        workspace.add_stages(acme, pd.DataFrame([{"stage": "Signed", "status": "won", "probability": 1.0}]))
        goals.publish(ws, period, {"Ann Lee": 110_000, "Bob Park": 90_000})
    with auth.acting(MIA):
        ws.save("scenarios", "East stretch", {"x": 1}, kind="goals")
    got = audit.entries(acme)
    assert list(got["action"]) == ["scenario", "targets", "stage_map"]
    assert list(got["user"]) == ["mia@example.com", "alice@example.com", "alice@example.com"]
    targets = got[got["action"] == "targets"].iloc[0]
    assert json.loads(targets["before"])["quotas"] == {"Ann Lee": 100_000.0, "Bob Park": 80_000.0, "Cat Diaz": 50_000.0,
                                                       "Eve Moss": 40_000.0, "Dan Cho": 60_000.0, "Fay Ito": 0.0}
    assert json.loads(targets["after"])["total"] == 200_000.0
    assert json.loads(got.iloc[2]["after"])["stages (status, probability, order)"] == {"Signed": ["won", 1.0, 0]}


def test_demo_load_and_clear_are_recorded_with_counts(acme):
    with auth.acting(ALICE):
        workspace.clear_workspace(acme)
    row = audit.entries(acme, action="clear").iloc[0]
    assert json.loads(row["before"])["opportunities"] == 13
    assert json.loads(row["after"])["opportunities"] == 0


def test_a_rep_and_a_manager_are_refused_admin_writes_and_nothing_changes(acme):
    for user in (MIA, ANN):
        with auth.acting(user):
            with pytest.raises(PermissionDenied, match="only admins may change the settings"):
                workspace.save_settings(acme, currency="EUR")
            with pytest.raises(PermissionDenied, match="only admins may load the demo"):
                demo.load_demo(acme)
            with pytest.raises(PermissionDenied, match="only admins may clear"):
                workspace.clear_workspace(acme)
            with pytest.raises(PermissionDenied):  # a raw write without a declared action
                with store.connect(acme, write=True) as conn:
                    conn.execute("DELETE FROM opportunities")
    with auth.acting(ANN), pytest.raises(PermissionDenied, match="only admins or managers may save a goal scenario"):
        workspace.load(acme).save("scenarios", "mine", {}, kind="goals")
    assert workspace.load(acme).settings.currency == "USD"
    assert len(workspace.load(acme).facts) == 13
    assert audit.entries(acme).empty


def test_entries_filter_by_user_action_and_date(acme):
    with auth.acting(ALICE):
        workspace.save_settings(acme, currency="EUR")
    with auth.acting(auth.User("bob@example.com", auth.ADMIN)):
        workspace.save_settings(acme, currency="GBP")
    assert list(audit.entries(acme, user="bob@example.com")["after"].map(json.loads)) == [{"currency": "GBP"}]
    today = audit.entries(acme).iloc[0]["at"][:10]
    assert len(audit.entries(acme, since=today, until=today)) == 2
    assert audit.entries(acme, until="2000-01-01").empty
    assert audit.choices(acme) == {"user": ["alice@example.com", "bob@example.com"], "action": ["settings"]}


def test_a_destructive_change_can_be_undone_from_the_trail(demo_db):
    """Clear, load the demo and restore write a backup first and the trail names it; undoing
    the clear from its entry brings every deal back (and is itself recorded)."""
    from salesops import backup

    with store.connect(demo_db) as conn:
        deals = conn.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0]
    workspace.clear_workspace(demo_db)
    entry = audit.undoable(demo_db).iloc[0]
    assert entry["action"] == "clear" and (backup.backups_dir(demo_db) / entry["backup"]).is_file()
    audit.undo(demo_db, int(entry["id"]))
    with store.connect(demo_db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0] == deals
    assert audit.entries(demo_db, limit=1)["action"].iloc[0] == "restore"
    workspace.save_settings(demo_db, workspace_name="Renamed")  # a change without a backup
    with pytest.raises(InputError, match="no backup"):
        audit.undo(demo_db, int(audit.entries(demo_db, action="settings")["id"].iloc[0]))
