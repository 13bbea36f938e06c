from salesops import store

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
    with store.connect(str(demo_db) + ".bak") as conn:
        assert not store.is_empty(conn)


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
