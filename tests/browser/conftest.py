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
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
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
        proc.wait(10)


#: Streamlit's own run state on the app root ("initial", "running", "rerunRequested",
#: "notRunning"...): what Streamlit's end-to-end tests wait on.
_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def _idle(page) -> bool:
    return page.query_selector(_IDLE) is not None and page.query_selector('[data-testid="stStatusWidget"]') is None


def settle(page, ready: str = '[data-testid="stSidebar"]', timeout: float = 90) -> None:
    """Wait until ``ready`` is on the page and Streamlit has finished running the script: the
    app root says "notRunning" and no running-status widget shows, three times 0.4 s apart (a
    click's rerun request, or a new session's first run, may take a moment to show in the
    app's state; a loaded machine makes that moment longer)."""
    page.wait_for_selector(ready, timeout=timeout * 1000)
    deadline = time.time() + timeout
    time.sleep(0.4)
    calm = 0
    while time.time() < deadline and calm < 3:
        calm = calm + 1 if _idle(page) else 0
        time.sleep(0.4)


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
            "--disable-backgrounding-occluded-windows"])
        yield b
        b.close()
