from salesops import backup, ingest, store, workspace
from salesops.ingest import samples

from .conftest import no_exceptions


def test_settings_save_currency_and_fiscal_year(app_at, demo_db):
    at = app_at("views/settings.py", demo_db)
    no_exceptions(at)
    at.selectbox[0].set_value("April")  # fiscal year start
    at.selectbox[1].set_value("EUR")
    at.button[0].click().run()  # the form's submit button
    no_exceptions(at)
    with store.connect(demo_db) as conn:
        s = store.get_settings(conn)
    assert s["currency"] == "EUR" and s["fiscal_year_start_month"] == 4


def test_settings_on_empty_database(app_at, empty_db):
    at = app_at("views/settings.py", empty_db)
    no_exceptions(at)
    assert at.title[0].value == "Settings"


def test_clear_workspace_needs_confirmation_and_keeps_a_backup(app_at, demo_db):
    at = app_at("views/settings.py", demo_db)
    assert at.button(key="clear_ws").disabled
    at.checkbox(key="confirm_clear").check().run()
    at.button(key="clear_ws").click().run()
    no_exceptions(at)
    with store.connect(demo_db) as conn:
        assert store.is_empty(conn)
    written = backup.list_backups(demo_db)
    assert [b.reason for b in written] == ["clear"]
    with store.connect(written[0].path) as conn:
        assert not store.is_empty(conn)


def _pipedrive_workspace(db):
    data, name = samples.SAMPLE_EXPORTS["Pipedrive deals"]()
    ingest.run_import(db, data, name)
    workspace.save_settings(db, workspace_name="Pipedrive team")


def _statuses(db):
    with store.connect(db) as conn:
        return dict(conn.execute("SELECT status, COUNT(*) FROM opportunities GROUP BY status").fetchall())


def test_load_demo_asks_first_and_backs_up(app_at, empty_db):
    """Issue 14: loading the demo replaced 4 imports, the mappings and the workspace name without
    asking and without a backup."""
    _pipedrive_workspace(empty_db)
    at = app_at("views/settings.py", empty_db)
    no_exceptions(at)
    button = at.button(key="settings_load_demo")
    assert button.disabled  # asks first: a click cannot reach it before the check
    assert _statuses(empty_db) == {"won": 15, "lost": 20, "open": 25}  # nothing replaced by a click without the check
    at.checkbox(key="settings_load_demo_confirm").check().run()
    at.button(key="settings_load_demo").click().run()
    no_exceptions(at)
    with store.connect(empty_db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0] > 1000
    written = backup.list_backups(empty_db)
    assert [b.reason for b in written] == ["load-demo"]
    with store.connect(written[0].path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0] == 1
        assert store.get_settings(conn)["workspace_name"] == "Pipedrive team"
        assert dict(conn.execute("SELECT status, COUNT(*) FROM opportunities GROUP BY status").fetchall()) == \
            {"won": 15, "lost": 20, "open": 25}


def test_save_stage_map_without_an_edit_keeps_the_pipedrive_statuses(app_at, empty_db):
    """Issue 14: "Save stage map" with no edit turned the sample's 15 won / 20 lost / 25 open into 60 open."""
    _pipedrive_workspace(empty_db)
    at = app_at("views/settings.py", empty_db)
    at.button(key="save_stage_map").click().run()
    no_exceptions(at)
    assert any("no changes" in i.value for i in at.info)
    assert _statuses(empty_db) == {"won": 15, "lost": 20, "open": 25}
    assert backup.list_backups(empty_db) == []


def test_stage_map_change_shows_a_preview_and_asks(app_at, demo_db):
    at = app_at("views/settings.py", demo_db)
    current = workspace.stage_map(demo_db)
    edited = current.copy()
    stage = str(edited.loc[edited["status"] == "open", "stage"].iloc[0])
    edited.loc[edited["stage"] == stage, "status"] = "lost"
    with store.connect(demo_db) as conn:
        moving = conn.execute("SELECT COUNT(*) FROM opportunities WHERE stage = ? AND status = 'open'", (stage,)).fetchone()[0]
    assert moving > 0
    at.session_state["stage_map_pending"] = edited  # what the editor's save puts there (AppTest cannot edit grids)
    at.run()
    no_exceptions(at)
    assert any(f"{moving:,} deals" in w.value for w in at.warning)
    before = _statuses(demo_db)
    at.button(key="cancel_stage_map").click().run()
    assert _statuses(demo_db) == before
    at.session_state["stage_map_pending"] = edited
    at.run()
    at.button(key="confirm_stage_map").click().run()
    no_exceptions(at)
    after = _statuses(demo_db)
    assert after["open"] == before["open"] - moving and after["lost"] == before["lost"] + moving
    assert [b.reason for b in backup.list_backups(demo_db)] == ["stage-map"]


def test_restore_a_backup_from_the_list(app_at, demo_db):
    saved = backup.backup_now(demo_db, "manual")
    workspace.clear_workspace(demo_db)
    at = app_at("views/settings.py", demo_db)
    no_exceptions(at)
    at.selectbox(key="restore_choice").set_value(saved.name).run()
    assert at.button(key="restore_backup").disabled
    at.checkbox(key="confirm_restore").check().run()
    at.button(key="restore_backup").click().run()
    no_exceptions(at)
    with store.connect(demo_db) as conn:
        assert not store.is_empty(conn)
    assert "before-restore" in [b.reason for b in backup.list_backups(demo_db)]


def test_a_new_fiscal_year_start_moves_the_sidebar_to_the_current_quarter_of_the_new_calendar(app_at, demo_db):
    at = app_at("views/settings.py", demo_db)
    at.sidebar.selectbox(key="period").set_value("2026Q3").run()
    at.selectbox[0].set_value("April")
    at.button[0].click().run()
    no_exceptions(at)
    # "2026Q3" on an April calendar would be Oct-Dec 2025, a year before the data's as-of date (20 Nov 2026)
    assert at.sidebar.selectbox(key="period").value == "2027Q3"
    at.switch_page("views/overview.py").run()
    no_exceptions(at)
    assert at.title[0].value == "Overview · 2027Q3"


def test_settings_shows_no_stray_none(app_at, demo_db, empty_db):
    for db in (demo_db, empty_db):
        at = app_at("views/settings.py", db)
        texts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.text]
        assert not any("None" in t for t in texts), [t for t in texts if "None" in t]  # Streamlit magic printed `None`
