"""Shared fixtures: databases (empty, demo) and the real datasets folder."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from streamlit.runtime.pages_manager import PagesManager

from salesops import demo, store

PROJECT = Path(__file__).resolve().parent.parent

# AppTest resets PagesManager.uses_pages_directory before every run and re-derives it from the
# existence of a pages/ folder beside app.py, so every rerun after the first would execute only
# the page script (Streamlit's legacy MPA v1 path) and skip app.py: no sidebar, no navigation.
# app.py always calls st.navigation, which is v2, so the legacy flag is never wanted here.
_pages_manager_init = PagesManager.__init__


def _v2_only_init(self, *args, **kwargs):
    _pages_manager_init(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False


PagesManager.__init__ = _v2_only_init
DATASETS = PROJECT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> Path:
    """The demo workspace built once per test session."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    demo.load_demo(path)
    with store.connect(path) as conn:  # fold the WAL into the main file so a plain copy is complete
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def demo_db(_demo_template, tmp_path) -> Path:
    """A private copy of the demo workspace database for one test."""
    path = tmp_path / "demo.db"
    shutil.copyfile(_demo_template, path)
    return path


@pytest.fixture
def empty_db(tmp_path) -> Path:
    """An empty, migrated database."""
    path = tmp_path / "empty.db"
    with store.connect(path):
        pass
    return path


@pytest.fixture
def datasets_dir() -> Path:
    """../shared/datasets beside the project; tests using it skip when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip(f"the shared datasets folder {DATASETS} is not here (it sits beside the project checkout)")
    return DATASETS
