"""Shared fixtures: databases (empty, demo) and the real datasets folder."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from salesops import demo, store

PROJECT = Path(__file__).resolve().parent.parent

DATASETS = PROJECT.parent / "shared" / "datasets"


def _scan_installed_components_once() -> None:
    """Every new AppTest scans the metadata of every installed package for Streamlit
    components on its first run (about a second each, a tenth of an AppTest's time); the
    installed packages do not change during a test run, so scan once per process."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    if not hasattr(scan, "cache_info"):
        manifest_scanner.scan_component_manifests = functools.lru_cache(maxsize=None)(scan)


_scan_installed_components_once()


def _wait_for_app_test_runs_without_polling() -> None:
    """AppTest waits for each script run by waking every millisecond to scan its event list
    (``local_script_runner.require_widgets_deltas``); the script thread itself then gives up the
    interpreter a thousand times a second. The run has ended when that thread has (it emits its
    SHUTDOWN event last): join it instead, with the same timeout and the same error."""
    from streamlit.testing.v1 import local_script_runner

    def require_widgets_deltas(runner, timeout: float = 3) -> None:
        thread = runner._script_thread
        if thread is not None:
            thread.join(timeout)
        if runner.script_stopped():
            return
        runner.request_stop()
        runner.join()
        raise RuntimeError(f"AppTest script run timed out after {timeout}(s)")

    local_script_runner.require_widgets_deltas = require_widgets_deltas


_wait_for_app_test_runs_without_polling()


def _compile_each_script_once() -> None:
    """Every AppTest run makes a new, empty ScriptCache, so app.py and the page are read, passed
    through Streamlit's "magic" (an AST rewrite) and compiled again at each run; the files do
    not change during a test run: keep the bytecode per process, by path, size and mtime."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    original = ScriptCache.get_bytecode
    if getattr(original, "kept", False):
        return
    kept: dict = {}

    def get_bytecode(self, script_path: str):
        st = os.stat(script_path)
        key = (os.path.abspath(script_path), st.st_size, st.st_mtime_ns)
        if key not in kept:
            kept[key] = original(self, script_path)
        return kept[key]

    get_bytecode.kept = True
    ScriptCache.get_bytecode = get_bytecode


_compile_each_script_once()

#: The order files are handed to the workers (pytest-xdist, --dist loadfile): the longest first,
#: so that both workers finish together instead of one starting a browser test at the end.
_HEAVY_FIRST = ("tests/browser/", "tests/app/")


def pytest_collection_modifyitems(session, config, items):
    def weight(item):
        path = item.nodeid.replace("\\", "/")
        return next((i for i, prefix in enumerate(_HEAVY_FIRST) if path.startswith(prefix)), len(_HEAVY_FIRST))
    items.sort(key=weight)  # stable: the order inside each file (and of files in a group) is kept


def _build_demo(path: Path) -> Path:
    demo.load_demo(path)
    with store.connect(path) as conn:  # fold the WAL into the main file so a plain copy is complete
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory, worker_id) -> Path:
    """The demo workspace built once per test run and shared by every worker (read it, copy
    it, never write to it): the first worker to need it builds it under a lock file while the
    others wait for it, instead of each building its own."""
    if worker_id == "master":  # one process (-n 0)
        return _build_demo(tmp_path_factory.mktemp("demo") / "demo.db")
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, common to the workers
    final = shared / "demo-template.db"
    try:
        os.close(os.open(shared / "demo-template.lock", os.O_CREAT | os.O_EXCL))
    except FileExistsError:  # another worker builds it
        deadline = time.monotonic() + 300
        while not final.exists():
            if time.monotonic() > deadline:  # it never came: build this worker's own
                return _build_demo(tmp_path_factory.mktemp("demo") / "demo.db")
            time.sleep(0.2)
        return final
    building = _build_demo(shared / f"demo-template.{os.getpid()}.db")
    for extra in ("-wal", "-shm"):
        Path(f"{building}{extra}").unlink(missing_ok=True)
    os.replace(building, final)
    return final


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


@pytest.fixture
def read_only_db(demo_db, tmp_path):
    """The demo database on a read-only file system (a read-only tmpfs when root may mount one,
    else a read-only file in a read-only folder)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs to make a read-only file system")
        shutil.copyfile(demo_db, folder / "demo.db")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder / "demo.db"
        subprocess.run(["umount", str(folder)], check=False)
    else:
        shutil.copyfile(demo_db, folder / "demo.db")
        (folder / "demo.db").chmod(0o444)
        folder.chmod(0o555)
        yield folder / "demo.db"
        folder.chmod(0o755)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how many real-browser tests ran and how many skipped (and why), so that a run
    without Chromium cannot pass for one that tested in a browser."""
    ran, skipped, reasons = 0, 0, set()
    for category, reports in terminalreporter.stats.items():
        for r in reports:
            nodeid = getattr(r, "nodeid", "")
            if "tests/browser/" not in nodeid.replace("\\", "/"):
                continue
            if category == "skipped":
                skipped += 1
                longrepr = getattr(r, "longrepr", None)
                if isinstance(longrepr, tuple) and len(longrepr) == 3:
                    reasons.add(str(longrepr[2]).removeprefix("Skipped: "))
            elif category in ("passed", "failed", "error") and getattr(r, "when", "") == "call":
                ran += 1
    if ran or skipped:
        line = f"browser tests: {ran} ran, {skipped} skipped"
        if reasons:
            line += " (" + "; ".join(sorted(reasons))[:200] + ")"
        terminalreporter.write_sep("-", line)
