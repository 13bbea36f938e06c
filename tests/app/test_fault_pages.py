"""Issue 14: a database from a newer schema, a damaged one (also damaged after start-up) and a
read-only one: every page shows the message, and no crash box beside it."""
import sqlite3

from streamlit.testing.v1 import AppTest

from salesops import store

from .conftest import APP
from .test_every_page import PAGES
from tests.unit.test_store_faults import _damage


def _app(db, monkeypatch) -> AppTest:
    monkeypatch.setenv("SALESOPS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    return at


def _errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error] + [str(e.value) for e in at.sidebar.error]


def test_a_newer_schema_shows_the_refusal_and_nothing_else_on_every_page(demo_db, monkeypatch):
    conn = sqlite3.connect(demo_db)
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    conn.close()
    at = _app(demo_db, monkeypatch)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        errors = _errors(at)
        assert len(errors) == 1 and "newer salesops" in errors[0], (page, errors)
        assert not at.title, page  # the page itself did not run


def test_damage_after_start_up_is_said_on_the_next_page(demo_db, monkeypatch):
    at = _app(demo_db, monkeypatch)
    assert not at.exception and not _errors(at)
    with store.connect(demo_db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _damage(demo_db, (1 / 3, 1 / 2, 2 / 3))
    for page in PAGES[:3]:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        errors = _errors(at)
        assert errors and "is damaged" in errors[0], (page, errors)


def test_a_read_only_database_is_shown_as_read_only(read_only_db, monkeypatch):
    at = _app(read_only_db, monkeypatch)
    for page in ("views/overview.py", "views/reps.py", "views/settings.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not any("damaged" in e for e in _errors(at)), _errors(at)
        assert any("Read-only" in w.value for w in at.sidebar.warning)
    assert at.title  # the pages render (reading works)
