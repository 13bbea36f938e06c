"""The app in a real browser (Streamlit served on 127.0.0.1, Chromium driven by Playwright), on
one server for the whole module: a deep link as the first request gets the whole app; a
shared link with a period and filters shows the same tiles as the page set by hand (a region
picked in the sidebar reruns the Overview on it and says so once), the URL follows the sidebar
and the back button works; the Review's presentation walks with next/previous; and names from
a file (a rep called <img src=x onerror=alert(1)>, a region called a Markdown image) show as
text: no dialog, no request. (The every-page walk is tests/browser/test_hostile_names_in_chromium.py.)

Skips (with the reason) where Chromium is not installed: `apt-get install chromium`."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from salesops import store

from .conftest import CHROMIUM, app_server, open_page, settle

XSS = "<img src=x onerror=alert(1)>"
MD = "![x](http://127.0.0.1:9/x.png)"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt-get install chromium)")]


def _hostile_copy(template: Path, folder: Path) -> Path:
    """The demo with its top rep of 2026Q3 renamed to an HTML payload and the APAC region to a
    Markdown image (in deals, snapshots, roster and targets alike: the numbers do not move)."""
    db = folder / "hostile.db"
    shutil.copyfile(template, db)
    with store.connect(db, write=True) as conn:  # a new data version and facts token
        for table, col in (("opportunities", "owner"), ("snapshot_versions", "owner"), ("reps", "name")):
            conn.execute(f"UPDATE {table} SET {col} = ? WHERE {col} = 'Bruno Berg'", (XSS,))
        conn.execute("UPDATE targets SET scope_name = ? WHERE scope = 'owner' AND scope_name = 'Bruno Berg'", (XSS,))
        for table in ("opportunities", "snapshot_versions", "reps"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            if "region" in cols:
                conn.execute(f"UPDATE {table} SET region = ? WHERE region = 'APAC'", (MD,))
        conn.execute("UPDATE targets SET scope_name = ? WHERE scope = 'region' AND scope_name = 'APAC'", (MD,))
    return db


@pytest.fixture(scope="module")
def server(_demo_template, tmp_path_factory):
    db = _hostile_copy(_demo_template, tmp_path_factory.mktemp("review-browser"))
    with app_server(db) as url:
        yield url


@pytest.fixture(scope="module")
def first_page(server, context):
    """The module's first request: a bookmarked page (Reps) opened right after the server
    starts. The tab stays open until the module ends, so the module's other tabs share its
    renderer process (conftest: --process-per-site) and the app's code compiled there."""
    page = open_page(context, 1400, 1000)
    page.goto(f"{server}/reps")
    settle(page)
    yield page
    page.close()


def test_a_deep_link_as_the_first_request_gets_the_whole_app(first_page):
    """A bookmarked page opened as the server's first request: the app's own navigation
    (sections, page titles) and the shared sidebar, not a bare page with a file-name menu."""
    sidebar = first_page.inner_text('[data-testid="stSidebar"]')
    for text in ("Performance", "Planning", "Overview", "Compensation", "As of", "Period"):
        assert text in sidebar, text
    assert "compensation" not in sidebar.split()  # no lower-case file names
    assert first_page.inner_text("h1").startswith("Reps")


def _settle(page, timeout: float = 120) -> None:
    """Settled once the script has drawn a heading (a page title or a slide's) and is idle."""
    settle(page, '[data-testid="stMain"] h1, [data-testid="stMain"] h2', timeout)


def _watch(page) -> tuple[list, list]:
    dialogs, requests = [], []

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda r: requests.append(r.url))
    return dialogs, requests


def _tiles(page) -> list[str]:
    return [m.inner_text() for m in page.query_selector_all('[data-testid="stMain"] [data-testid="stMetric"]')]


def _pick(page, opener, option: str) -> None:
    timeout_error = pytest.importorskip("playwright.sync_api").TimeoutError
    target = page.get_by_role("option", name=option, exact=True)
    for _ in range(5):  # an expander may still be animating open: retry opening the list
        opener.click()
        try:
            target.wait_for(state="visible", timeout=3000)
            break
        except timeout_error:
            page.keyboard.press("Escape")
    target.click()
    page.keyboard.press("Escape")


def test_a_shared_link_opens_the_same_view_and_the_back_button_works(server, context, first_page):
    shared = open_page(context, 1280, 900)
    by_hand = open_page(context, 1280, 900)
    try:
        dialogs, requests = _watch(shared)
        shared.goto(f"{server}/?period=2026Q3&region=EMEA")
        _settle(shared)
        linked = _tiles(shared)
        assert len(linked) >= 8 and shared.locator("h1").first.inner_text() == "Overview · 2026Q3"
        assert "Region: EMEA" in shared.inner_text('[data-testid="stMain"]')

        by_hand.goto(server)
        _settle(by_hand)
        assert by_hand.locator("h1").first.inner_text() != "Overview · 2026Q3"  # the default is the running quarter
        sidebar = by_hand.locator('[data-testid="stSidebar"]')
        _pick(by_hand, sidebar.locator('[data-testid="stSelectbox"]').first, "2026Q3")
        _settle(by_hand)
        everywhere = _tiles(by_hand)
        # picking a region in the sidebar reruns the Overview on it, and says so once
        by_hand.get_by_text("Filters").click()
        _pick(by_hand, sidebar.locator('[data-testid="stMultiSelect"]').first.locator("input"), "EMEA")
        by_hand.wait_for_function(
            "() => document.querySelector('[data-testid=\"stMain\"]').innerText.includes('Region: EMEA')", timeout=90_000)
        _settle(by_hand)
        assert by_hand.inner_text('[data-testid="stMain"]').count("Region: EMEA") == 1
        assert _tiles(by_hand) == linked and linked != everywhere
        assert "period=2026Q3" in by_hand.url and "region=EMEA" in by_hand.url  # the URL follows the sidebar

        by_hand.locator('[data-testid="stSidebarNav"]').get_by_text("Review", exact=True).click()
        by_hand.wait_for_url("**/review**", timeout=60_000)
        _settle(by_hand)
        assert "period=2026Q3" in by_hand.url and "region=EMEA" in by_hand.url
        by_hand.go_back()
        _settle(by_hand)
        assert "/review" not in by_hand.url and by_hand.locator("h1").first.inner_text() == "Overview · 2026Q3"
        assert _tiles(by_hand) == linked
        assert dialogs == [] and not [u for u in requests if "127.0.0.1:9/" in u]
    finally:
        shared.close()
        by_hand.close()


def test_the_presentation_walks_and_names_from_files_stay_text(server, context, first_page):
    page = open_page(context, 1280, 720)
    try:
        dialogs, requests = _watch(page)
        page.goto(f"{server}/review?period=2026Q3")
        _settle(page)
        main = page.locator('[data-testid="stMain"]')
        assert "slide 1 of 9" in main.inner_text()
        assert "2026Q3 business review" in main.inner_text()
        # the top region is the Markdown image: shown as written, nothing loaded
        assert f"{MD} carried the quarter" in main.inner_text()
        page.get_by_text("Present", exact=True).click()
        _settle(page)
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        seen = []
        for _ in range(5):
            page.get_by_role("button", name="Next").click()
            _settle(page)
            seen.append(page.locator(".st-key-rv_title h2").inner_text())
        assert seen == ["Bookings against target", "Where the quarter came from", "Wins, losses and win rate",
                        "Team highlights", "Rep highlights: top movers and new hires"]
        text = main.inner_text()
        assert "slide 6 of 9" in text
        assert XSS in text  # the top gainer's name, as text
        page.get_by_role("button", name="Previous").click()
        _settle(page)
        assert page.locator(".st-key-rv_title h2").inner_text() == "Team highlights"
        assert page.query_selector('img[src="x"]') is None
        assert page.query_selector('img[src^="http://127.0.0.1:9"]') is None
        assert dialogs == []
        assert not [u for u in requests if "127.0.0.1:9/" in u or u.endswith("/x")]
        assert page.query_selector_all('[data-testid="stException"]') == []
    finally:
        page.close()
