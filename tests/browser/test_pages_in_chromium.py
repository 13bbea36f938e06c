"""The app in a real browser: Streamlit served on localhost, Chromium driven by Playwright (the
every-page walk is tests/browser/test_hostile_names_in_chromium.py, on hostile names).

Skips (with the reason) where Chromium is not installed: `apt-get install chromium`.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGES = ["", "team", "reps", "pipeline", "review", "forecast", "goals", "compensation", "segments", "territories", "import",
         "settings", "users", "audit"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt-get install chromium)")


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _start_server(_demo_template, tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "app.db"
    shutil.copyfile(_demo_template, db)
    port = _free_port()
    env = {**os.environ, "SALESOPS_DB": str(db)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    for _ in range(60):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the app did not start: " + proc.stderr.read().decode()[-2000:])
    return proc, url


@pytest.fixture(scope="module")
def server(_demo_template, tmp_path_factory):
    proc, url = _start_server(_demo_template, tmp_path_factory)
    yield url
    proc.terminate()
    proc.wait(10)


def _settle(page, timeout: float = 90) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector('[data-testid="stSidebar"]', timeout=timeout * 1000)
    deadline = time.time() + timeout
    time.sleep(1.5)
    while time.time() < deadline:
        if page.query_selector('[data-testid="stStatusWidget"]') is None:
            time.sleep(1.0)
            if page.query_selector('[data-testid="stStatusWidget"]') is None:
                return
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.slow
def test_sidebar_filter_changes_the_overview(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(server)
        _settle(page)
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
        _settle(page)
        assert page.inner_text('[data-testid="stMain"]').count("Region: EMEA") == 1
    finally:
        page.close()


@pytest.mark.slow
def test_a_deep_link_as_the_first_request_gets_the_whole_app(_demo_template, tmp_path_factory, browser):
    """A bookmarked page opened right after the server starts: the app's own navigation
    (sections, page titles) and the shared sidebar, not a bare page with a file-name menu."""
    proc, url = _start_server(_demo_template, tmp_path_factory)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{url}/reps")
        _settle(page)
        sidebar = page.inner_text('[data-testid="stSidebar"]')
        for text in ("Performance", "Planning", "Overview", "Compensation", "As of", "Period"):
            assert text in sidebar, text
        assert "compensation" not in sidebar.split()  # no lower-case file names
        assert page.inner_text("h1").startswith("Reps")
    finally:
        page.close()
        proc.terminate()
        proc.wait(10)
