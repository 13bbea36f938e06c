"""How long the Overview page takes to render, and how much memory it needs: the demo workspace
and 1M deals; first load (cold caches) and what of it shows before the landing zone (drawn
last, in its place), the cached rerun, a first filter change, the same filter again, another
period, and the landing zone on request where the workspace is too big for it to run with
the page (above outlook.AUTO_MAX_DEALS).

    python bench/overview.py                      # demo + 1M deals (built once, ~2 min)
    python bench/overview.py --deals 200000
    python bench/overview.py --big-db /tmp/big.db   # build once, measure again later

Each workspace is measured in a fresh child process, so its peak memory (resident set high
water mark) is the page's own. Prints figures; never passes or fails on time. The baseline,
measured in the same run, is a plain pandas read of the opportunities table (what the old
Overview paid before it could show anything). Goals (issue 10): first load <= 5 s and peak
memory < 1 GB at 1M deals, a first filter change <= 0.5 s, the cached rerun ~0.1 s.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(path: Path, deals: int) -> int:
    from salesops import demo

    scale = deals / 10_500
    t = time.perf_counter()
    counts = demo.load_demo(path, scale=scale, with_snapshots=deals <= 20_000)
    print(f"  built {counts['opportunities']:,} deals in {time.perf_counter() - t:.1f} s", flush=True)
    return counts["opportunities"]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def read_whole_table(path: str) -> None:
    """The baseline: a plain pandas read of the opportunities table."""
    from salesops import store

    with store.connect(path) as conn:
        store.load_deals(conn)


def peak_mb() -> float:
    """This process's own peak resident memory (VmHWM, in MB). Not ``ru_maxrss``: Linux carries
    that across fork and exec, so a child of a parent that built the 1M-deal database in-process
    reported the parent's 2.5 GB as its own."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def child(path: str, what: str) -> None:
    """Run in a fresh process: print one JSON line of timings and the peak memory.

    ``page``: the Overview as it opens (first load, reruns, filter and period changes);
    ``first_screen``: its first load without the landing zone, i.e. what the page shows before
    the estimate (the page draws the landing zone last, in its place); ``landing``: the first
    load, then a click on "Estimate the landing zone" where the workspace is too big for it to
    run by itself (outlook.AUTO_MAX_DEALS)."""
    if what == "baseline":
        out = {"baseline": timed(lambda: read_whole_table(path))}
    else:
        from streamlit.testing.v1 import AppTest

        from salesops import outlook

        os.environ["SALESOPS_DB"] = path
        if what == "first_screen":
            outlook.AUTO_MAX_DEALS = -1
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
        out = {"first": timed(at.run)}
        assert not at.exception, [e.value for e in at.exception]
        if what == "landing":
            button = [b for b in at.button if b.key == "ov_landing"]
            out["landing"] = timed(button[0].click().run) if button else None
        elif what == "page":
            out["rerun"] = min(timed(at.run) for _ in range(3))
            region = at.sidebar.multiselect(key="region")
            region.set_value([region.options[0]])
            out["filter_first"] = timed(at.run)
            out["filter_again"] = timed(at.run)
            sel = at.sidebar.selectbox(key="period")
            sel.set_value(sel.options[2])
            out["period"] = timed(at.run)
        assert not at.exception, [e.value for e in at.exception]
    out["peak_mb"] = peak_mb()
    print("RESULT " + json.dumps(out), flush=True)


def run_child(path: Path, what: str, script: str = __file__) -> dict:
    """Run ``script --child WHAT PATH`` in a fresh process and read its RESULT line."""
    proc = subprocess.run([sys.executable, script, "--child", what, str(path)], capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"the {what} run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def measure(path: Path, label: str) -> None:
    from salesops import outlook

    base = run_child(path, "baseline")
    page = run_child(path, "page")
    first_screen = run_child(path, "first_screen")
    b = base["baseline"]
    print(f"{label}:")
    print(f"  baseline: read the opportunities table with pandas  {b:7.2f} s   (peak {base['peak_mb']:,.0f} MB)")
    print(f"  Overview first load (cold caches)                   {page['first']:7.2f} s   ({page['first'] / b:.2f}x baseline)")
    print(f"    of which shown before the landing zone            {first_screen['first']:7.2f} s   ({first_screen['first'] / b:.2f}x baseline)")
    print(f"  Overview rerun, cached (best of 3)                  {page['rerun']:7.2f} s")
    print(f"  filter change (one region), first time              {page['filter_first']:7.2f} s")
    print(f"  same filter again (cached)                          {page['filter_again']:7.2f} s")
    print(f"  another period                                      {page['period']:7.2f} s")
    print(f"  peak memory of the page's process                   {page['peak_mb']:7,.0f} MB")
    landing = run_child(path, "landing")
    if landing["landing"] is None:
        print(f"  the landing zone runs with the page (up to {outlook.AUTO_MAX_DEALS:,} deals): in its first load")
    else:
        print(f"  the landing zone, on request (above {outlook.AUTO_MAX_DEALS:,} deals) "
              f"{landing['landing']:7.2f} s   (peak {landing['peak_mb']:,.0f} MB)")
    print(f"  machine load average (1 min) at the end             {os.getloadavg()[0]:7.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--big-db", help="reuse this large database instead of generating one (it is created when missing)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[1], args.child[0])
        return
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "demo.db"
        build(small, 10_500)
        measure(small, "Demo workspace")
        big = Path(args.big_db) if args.big_db else Path(tmp) / "big.db"
        if big.exists():
            from salesops import store

            with store.connect(big) as conn:
                n = store.workspace_summary(conn)["deals"]
        else:
            n = build(big, args.deals)
        measure(big, f"{n:,} deals")


if __name__ == "__main__":
    main()
