"""What the Chromium tests share: the browser (Playwright driving Debian's chromium) and
:func:`app_server`, ``streamlit run app.py`` on 127.0.0.1 for one database."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The browser the tests drive: Debian's ``chromium-headless-shell`` where it is installed (the
#: headless build Playwright itself runs by default: no browser window machinery, a first page
#: load about a third cheaper in CPU than the full browser's headless mode on this machine),
#: else Debian's ``chromium``. Both are the same Chromium release and engine.
CHROMIUM = next((found for name in ("chromium-headless-shell", "chromium") if (found := shutil.which(name))),
                "/usr/bin/chromium")
#: Every page's path ("" is the Overview).
PAGES = ["", "team", "reps", "pipeline", "review", "forecast", "goals", "compensation", "segments", "territories", "import",
         "settings", "users", "audit"]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextmanager
def app_server(db: Path, *, port: int | None = None, args: tuple[str, ...] = (), env: dict | None = None):
    """Serve app.py on ``db`` (on ``port``, default a free one) until the block ends; yields the
    URL once the health check answers (the test fails with the app's stderr if it never does)."""
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port), *args],
                            cwd=ROOT, env={**os.environ, **(env or {}), "SALESOPS_DB": str(db)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(90):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            proc.kill()
            pytest.fail("the app did not start: " + proc.stderr.read().decode()[-2000:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # a server busy with a page run may not stop on SIGTERM in time
            proc.kill()
            proc.wait(10)


#: Streamlit's own run state on the app root ("initial", "running", "rerunRequested",
#: "notRunning"...): what Streamlit's end-to-end tests wait on.
_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
_RUNNING = '[data-testid="stStatusWidget"]'
#: True once the app has been idle (the root says "notRunning", no running-status widget) and
#: the page has stayed as it is (the same number of elements, no new file fetched) for ``ms``
#: milliseconds, polled every 50 ms without a gap. A finished run's elements are still being
#: drawn for a second or so after the script ends: the browser fetches and runs the code of
#: each kind of element on first use (KPI tiles, Vega charts), and while it is busy the poll
#: itself is late, which starts the count again.
_CALM = """([idle, running, ms]) => {
  const now = performance.now();
  const n = document.getElementsByTagName("*").length;
  const files = performance.getEntriesByType("resource").length;
  const ok = document.querySelector(idle) !== null && document.querySelector(running) === null;
  const c = window.__salesopsCalm;
  if (!ok || !c || c.n !== n || c.files !== files || now - c.t > 200) {
    window.__salesopsCalm = {n: n, files: files, t: now, since: now};
    return false;
  }
  c.t = now;
  return now - c.since >= ms;
}"""


#: :func:`idle` asked in one call to the page.
_IDLE_NOW = """([ready, idle, running]) => (ready === null || document.querySelector(ready) !== null)
  && document.querySelector(idle) !== null && document.querySelector(running) === null"""


def idle(page, ready: str | None = None) -> bool:
    """True when Streamlit is not running the script (and ``ready``, if given, is on the page),
    asked in one call to the page: a wait over several pages asks each of them often."""
    return bool(page.evaluate(_IDLE_NOW, [ready, _IDLE, _RUNNING]))


def settle(page, ready: str = '[data-testid="stSidebar"]', timeout: float = 90, calm_ms: int = 600) -> None:
    """Wait until ``ready`` is on the page and Streamlit has finished running the script and
    the browser drawing its result: see :data:`_CALM` (a new page's root says "initial" until
    its first run has started; a click's rerun request takes a moment to show, hence the
    short wait first)."""
    page.wait_for_selector(ready, timeout=timeout * 1000)
    time.sleep(0.2)
    page.evaluate("() => { window.__salesopsCalm = null; }")
    page.wait_for_function(_CALM, arg=[_IDLE, _RUNNING, calm_ms], polling=50, timeout=timeout * 1000)


def navigate(page, path: str, ready: str = '[data-testid="stSidebar"]') -> None:
    """Open the page at ``path`` ("team", "settings"...) as a user does: a click on its entry in
    the app's own navigation (opening "View more" when the list is cut at ten), then
    :func:`settle`. The session stays the same, and the browser keeps the app's code loaded: a
    fresh load of the whole app costs Chromium two to three seconds of CPU per page."""
    nav = page.locator('[data-testid="stSidebarNav"]')
    link = nav.get_by_text(path.capitalize(), exact=True)
    more = nav.get_by_test_id("stSidebarNavViewButton")
    if not link.is_visible() and more.is_visible():
        more.click()
    link.click()
    page.wait_for_url(f"**/{path}**", timeout=60_000)
    settle(page, ready)


#: Run in every test page before the app's own code: CSS animations and transitions off. Each
#: page's skeletons, spinners and fades otherwise keep Chromium drawing frames while the server
#: works; with eight pages loading at once that is a fifth of Chromium's CPU. The tests read
#: what the pages say, never how they move.
_NO_ANIMATIONS = """document.addEventListener("DOMContentLoaded", () => {
  const style = document.createElement("style");
  style.textContent = "*, *::before, *::after { animation: none !important; transition: none !important; }";
  document.head.appendChild(style);
});"""


def new_context(browser, **kwargs):
    """``browser.new_context(**kwargs)`` with animations off (:data:`_NO_ANIMATIONS`)."""
    context = browser.new_context(**kwargs)
    context.add_init_script(_NO_ANIMATIONS)
    return context


def open_page(context, width: int, height: int):
    """A new page (a new tab: its own Streamlit session) in ``context``, ``width`` x ``height``."""
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    return page


@pytest.fixture(scope="module")
def context(browser):
    """One browser context for a module's pages (animations off). Its pages are separate tabs,
    each its own Streamlit session, but they share the context's cache: the first page loads
    and compiles the app's code (about 4.5 to 5 s of Chromium's CPU on this machine), the next
    ones take the files from the cache (a new tab about 3.5 s, a click in the app's navigation
    0.6 to 1.5 s). A page in a context of its own pays the whole cost each time."""
    ctx = new_context(browser)
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            # several pages at once (the sign-in test's eight sessions): none of them is the focused
            # tab, and Chromium must not slow the others down
            "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
            "--disable-backgrounding-occluded-windows",
            # a context's tabs on the app share one renderer process, as tabs of one site did
            # before site isolation: a new tab then starts from the app's code already compiled in
            # that process (the eight sessions: 55 to 35 s of CPU, their pages ready in 14 s, not 24)
            "--process-per-site"])
        yield b
        b.close()
