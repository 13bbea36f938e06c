"""Sign-in in a real browser: a local OpenID Connect provider (oidc-provider-mock) on 127.0.0.1,
``streamlit run app.py`` with a secrets file pointing at it (in a temp folder, given by
``--secrets.files``: no secret is written into the repository), Chromium driven by Playwright.

Signs in as an admin, a manager and a rep and checks the permission matrix: what each role
sees (other teams' numbers and names absent from the page) and can do (imports, settings and
plans refused with the domain's message). Then eight sessions at once (different users and
filters, an import running) all get their pages; the slowest page time is printed, never
asserted.

Skips (with the reason) where Chromium is not installed: `apt-get install chromium`.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesops import auth, demo, formats, metrics, workspace
from salesops import schema as S
from salesops.filters import Filters

from .conftest import CHROMIUM, ROOT, app_server, free_port, idle, navigate, new_context, open_page, settle

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt-get install chromium)")

TEAM = "EMEA Enterprise"
ADMIN, MANAGER, REP = "alice@example.com", "mgr@example.com", "rep@example.com"


@pytest.fixture(scope="module")
def oidc():
    """The OpenID provider on 127.0.0.1 (any client id and secret; the user types a subject,
    which becomes the e-mail claim)."""
    mock = pytest.importorskip("oidc_provider_mock")
    from werkzeug.serving import make_server

    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on 127.0.0.1 (the provider checks it)
    server = make_server("127.0.0.1", 0, mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture(scope="module")
def world(tmp_path_factory, oidc):
    """(app url, database, workspace, rep name): an eighth-size demo (30 reps, fewer deals: small
    data keeps the test fast) with three users, served with sign-in."""
    tmp = tmp_path_factory.mktemp("signin")
    db = tmp / "app.db"
    demo.load_demo(db, scale=0.12)
    ws = workspace.load(db)
    rep = str(ws.reps.loc[ws.reps[S.TEAM] == TEAM, S.NAME].iloc[0])
    auth.sign_in(db, ADMIN)
    with auth.acting(auth.find(db, ADMIN)):
        auth.save_users(db, pd.DataFrame([{"email": ADMIN, "role": "admin"},
                                          {"email": MANAGER, "role": "manager", "teams": TEAM},
                                          {"email": REP, "role": "rep", "person": rep}]))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secrets_file = tmp / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "salesops-test"\n'
        'client_secret = "test-only"\n'
        f'server_metadata_url = "{oidc}/.well-known/openid-configuration"\n')
    with app_server(db, port=port, args=("--secrets.files", str(secrets_file)), env={"AUTHLIB_INSECURE_TRANSPORT": "1"}):
        yield url, db, ws, rep


#: A page's title: it is drawn once the script has run.
_TITLE = '[data-testid="stMain"] h1'


def _done(page) -> bool:
    """Streamlit finished the run: the page has its title and the app is idle."""
    return idle(page, _TITLE)


def _settle(page, timeout: float = 90) -> None:
    settle(page, _TITLE, timeout)


def _main(page) -> str:
    return page.inner_text('[data-testid="stMain"]')


def _sign_in(browser, url: str, email: str):
    """A browser context signed in as ``email`` through the provider's form."""
    context = new_context(browser, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('input[name="sub"]', timeout=30_000)  # the provider's authorisation form
    page.fill('input[name="sub"]', email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    _settle(page)
    assert f"Signed in as {email}" in page.inner_text('[data-testid="stSidebar"]')
    return context, page


def _open(page, path: str) -> str:
    """The text of the page at ``path``, reached through the app's navigation in this session."""
    navigate(page, path, _TITLE)
    text = _main(page)
    assert "Traceback" not in text and page.query_selector_all('[data-testid="stException"]') == []
    return text


def _tile(page, label: str) -> str:
    """The value of the KPI tile labelled exactly ``label``."""
    tile = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text(label, exact=True)).first
    return tile.locator('[data-testid="stMetricValue"]').inner_text()


def _bookings(page) -> str:
    return _tile(page, "Bookings")


@pytest.fixture(scope="module")
def sessions(world, browser):
    url = world[0]
    out = {email: _sign_in(browser, url, email) for email in (ADMIN, MANAGER, REP)}
    yield out
    for context, _ in out.values():
        context.close()


@pytest.mark.slow
def test_permission_matrix(world, sessions):
    url, db, ws, rep = world
    everyone = metrics.team(ws, Filters.make(ws))["won_amount"]
    team = metrics.team(ws, Filters.make(ws, team=[TEAM]))["won_amount"]
    own = metrics.team(ws, Filters.make(ws, rep=[rep]))["won_amount"]
    others = sorted(set(ws.reps.loc[ws.reps[S.TEAM] != TEAM, S.NAME].astype(str)))
    mates = sorted(set(ws.reps.loc[(ws.reps[S.TEAM] == TEAM) & (ws.reps[S.NAME] != rep), S.NAME].astype(str)))
    assert len({everyone, team, own}) == 3

    _, admin = sessions[ADMIN]  # each session is on the Overview after signing in
    assert _bookings(admin) == formats.money(everyone)
    assert "only admins" not in _open(admin, "settings")
    assert admin.get_by_role("button", name="Save stage map").count() == 1

    _, mgr = sessions[MANAGER]
    assert _bookings(mgr) == formats.money(team)
    reps_page = _open(mgr, "reps")
    assert [n for n in others if n in reps_page] == [] and any(n in reps_page for n in mates)
    assert [n for n in others if n in mgr.content()] == []  # not in the page at all, not merely hidden
    assert "only admins may import a file" in _open(mgr, "import")
    assert "only admins may change the settings" in _open(mgr, "settings")

    _, rp = sessions[REP]
    assert _bookings(rp) == formats.money(own)
    assert f"Your team · {TEAM}" in _main(rp)
    assert _tile(rp, "Team bookings") == formats.money(team)
    _open(rp, "reps")
    assert [n for n in others + mates if n in rp.content()] == []
    assert "only admins may change the settings" in _open(rp, "settings")
    _open(rp, "compensation")
    rp.get_by_role("button", name="Save").first.click()
    rp.get_by_text("only admins or managers may save a compensation plan").first.wait_for(timeout=30_000)


def _big_export(path: Path, n: int = 5_000) -> Path:
    rng = np.random.default_rng(14)
    pd.DataFrame({"Opportunity ID": [f"B{i:06d}" for i in range(n)], "Opportunity Name": [f"Deal {i}" for i in range(n)],
                  "Account Name": [f"Account {i % 400}" for i in range(n)],
                  "Opportunity Owner": rng.choice(["New Rep A", "New Rep B"], n),
                  "Stage": rng.choice(["Prospecting", "Closed Won", "Closed Lost"], n),
                  "Amount": rng.integers(1_000, 90_000, n), "Created Date": "2026-01-05",
                  "Close Date": "2026-06-30"}).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_eight_sessions_at_once_with_an_import_running(world, sessions, tmp_path):
    url, db, ws, rep = world
    plan = [(ADMIN, ""), (ADMIN, "reps?region=EMEA"), (ADMIN, "team?period_kind=Year"), (MANAGER, ""),
            (MANAGER, "team"), (MANAGER, "reps"), (REP, ""), (REP, "pipeline")]
    # each a new tab (its own Streamlit session) in its user's signed-in browser context, whose
    # cache already holds the app's code (see conftest.context)
    pages = [open_page(sessions[email][0], 1300, 900) for email, _ in plan]
    export = _big_export(tmp_path / "big.csv")
    importing = subprocess.Popen([sys.executable, "-m", "salesops", "--db", str(db), "import", str(export)],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        started = {}
        for page, (_, path) in zip(pages, plan):
            started[id(page)] = time.perf_counter()
            page.goto(f"{url}/{path}", wait_until="commit")
        took, deadline = {}, time.time() + 240
        while len(took) < len(pages) and time.time() < deadline:
            for page in pages:
                if id(page) not in took and _done(page):
                    took[id(page)] = time.perf_counter() - started[id(page)]
            time.sleep(0.2)
        assert importing.wait(120) == 0, importing.stderr.read().decode()[-1000:]
        assert len(took) == len(pages), f"{len(pages) - len(took)} of {len(pages)} sessions did not get their page"
        for page, (email, path) in zip(pages, plan):
            _settle(page)
            text = _main(page)
            assert "Traceback" not in text and page.query_selector_all('[data-testid="stException"]') == [], (email, path)
            assert f"Signed in as {email}" in page.inner_text('[data-testid="stSidebar"]'), (email, path)
        print(f"\neight sessions at once (an import running): slowest page {max(took.values()):.1f} s, "
              f"median {sorted(took.values())[len(took) // 2]:.1f} s")
    finally:
        if importing.poll() is None:
            importing.kill()
        for page in pages:
            page.close()
