"""Issue 14 in a real browser: a workspace whose names are Markdown images, links and HTML.
Every page (filtered to hostile reps through a link, then walked with the app's own
navigation, the filter staying in the address) renders with its title and without an error,
makes no request to any host but the app's own, loads no image from the names, and renders no
link or markup from them. (This is also the every-page walk in Chromium; AppTest walks every
page on the demo, Acme and Maven: tests/app/test_every_page.py.)"""
from __future__ import annotations

import os
import urllib.parse

import pytest

from tests.app.test_hostile_names import HTML, IMAGE, hostile_workspace

from .conftest import CHROMIUM, PAGES, app_server, free_port, navigate, open_page, settle

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    db = tmp_path_factory.mktemp("hostile") / "hostile.db"
    hostile_workspace(db)
    port = free_port()
    with app_server(db, port=port) as url:
        yield url, port


@pytest.mark.slow
def test_hostile_names_make_no_request_and_no_markup(hostile_server, context):
    url, port = hostile_server
    query = urllib.parse.urlencode([("rep", f"Ann {IMAGE}"), ("rep", f"Cy {HTML}")])
    requests: list[str] = []
    page = open_page(context, 1400, 1000)
    page.on("request", lambda r: requests.append(r.url))
    try:
        for path in PAGES:
            if not path:  # the link opens the Overview; the app's own navigation walks the rest
                page.goto(f"{url}/?{query}")
                settle(page)
            else:
                navigate(page, path)
            assert "rep=Ann" in page.url, path  # the hostile filter stays on every page
            text = page.inner_text('[data-testid="stMain"]')
            assert "This app has encountered an error" not in text and "Traceback" not in text, path
            title = (path or "overview").capitalize()
            assert page.locator("h1").first.inner_text().startswith(title), path  # every page has its own title
            assert page.query_selector_all('[data-testid="stException"]') == [], path
            assert page.query_selector_all('img[src*="127.0.0.1:9"]') == [], path
            assert page.query_selector_all('a[href*="evil.example"]') == [], path
            bolds = [b.inner_text() for b in page.query_selector_all("[data-testid='stMain'] b, [data-testid='stSidebar'] b")]
            assert "bold" not in bolds, path
    finally:
        page.close()
    own = {f"127.0.0.1:{port}", f"localhost:{port}"}
    foreign = [r for r in requests if urllib.parse.urlsplit(r).scheme in ("http", "https", "ws", "wss")
               and urllib.parse.urlsplit(r).netloc not in own]
    assert not foreign, foreign[:10]
    assert requests, "no request was recorded"
