"""AppTest helpers: run app.py against a given database, switched to a page."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def run_page(page: str, db: Path, monkeypatch, timeout: float = 120) -> AppTest:
    """A run AppTest of app.py on ``db`` that opens on ``page`` (e.g. "views/team.py"), as a
    bookmarked link does: no Overview run first (the pages are registered by file name)."""
    monkeypatch.setenv("SALESOPS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.switch_page(page)
    at.run()
    return at


@pytest.fixture
def app_at(monkeypatch):
    """``app_at(page, db)`` -> a run AppTest (see :func:`run_page`)."""
    def _run(page: str, db: Path, timeout: float = 120) -> AppTest:
        return run_page(page, db, monkeypatch, timeout)
    return _run


def no_exceptions(at: AppTest) -> None:
    """Fail with the page's own exception text when a script raised."""
    assert not at.exception, [e.value for e in at.exception]
