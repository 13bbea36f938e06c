"""The app in a real browser: Streamlit served on localhost, Chromium driven by Playwright (the
every-page walk is tests/browser/test_hostile_names_in_chromium.py, on hostile names).

Skips (with the reason) where Chromium is not installed: `apt-get install chromium`.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import CHROMIUM, app_server, settle
PAGES = ["", "team", "reps", "pipeline", "review", "forecast", "goals", "compensation", "segments", "territories", "import",
         "settings", "users", "audit"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt-get install chromium)")


@contextmanager
def _demo_server(_demo_template, tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "app.db"
    shutil.copyfile(_demo_template, db)
    with app_server(db) as url:
        yield url


@pytest.fixture(scope="module")
def server(_demo_template, tmp_path_factory):
    with _demo_server(_demo_template, tmp_path_factory) as url:
        yield url


@pytest.mark.slow
def test_sidebar_filter_changes_the_overview(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(server)
        settle(page)
        before = page.inner_text('[data-testid="stMetric"]')
        page.get_by_text("Filters").click()
        region = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
        region.wait_for(state="visible")
        option = page.get_by_role("option", name="EMEA")
        timeout_error = pytest.importorskip("playwright.sync_api").TimeoutError
        for _ in range(5):  # the expander animates open; a click during it may not open the list
            region.locator("input").click()
            try:
                option.wait_for(state="visible", timeout=3000)
                break
            except timeout_error:
                page.keyboard.press("Escape")
        option.click()
        page.keyboard.press("Escape")
        # wait for the rerun's result itself: the caption names the filter, the first tile changes
        page.wait_for_function(
            "() => document.querySelector('[data-testid=\"stMain\"]').innerText.includes('Region: EMEA')", timeout=90_000)
        page.wait_for_function(
            "(before) => { const m = document.querySelector('[data-testid=\"stMetric\"]'); return m && m.innerText !== before; }",
            arg=before, timeout=90_000)
        settle(page)
        assert page.inner_text('[data-testid="stMain"]').count("Region: EMEA") == 1
    finally:
        page.close()


@pytest.mark.slow
def test_a_deep_link_as_the_first_request_gets_the_whole_app(_demo_template, tmp_path_factory, browser):
    """A bookmarked page opened right after the server starts: the app's own navigation
    (sections, page titles) and the shared sidebar, not a bare page with a file-name menu."""
    with _demo_server(_demo_template, tmp_path_factory) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/reps")
            settle(page)
            sidebar = page.inner_text('[data-testid="stSidebar"]')
            for text in ("Performance", "Planning", "Overview", "Compensation", "As of", "Period"):
                assert text in sidebar, text
            assert "compensation" not in sidebar.split()  # no lower-case file names
            assert page.inner_text("h1").startswith("Reps")
        finally:
            page.close()
