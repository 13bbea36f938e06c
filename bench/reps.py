"""How long the Reps and Team pages take to render on the semantic layer: the demo workspace and
1M deals; first load (cold caches), the cached rerun, filter changes (a region, another
region, a team, another period), and the domain functions behind them called directly.

    python bench/reps.py                        # demo + 1M deals (built once, ~2 min)
    python bench/reps.py --deals 200000
    python bench/reps.py --big-db /tmp/big.db   # build once, measure again later

Each page is measured in a fresh child process (AppTest running app.py switched to the page,
so the shared sidebar, the workspace loader and the page run as in the app), so its peak
memory is its own. The baseline, measured in the same run, is a plain pandas read of the
opportunities table. Prints figures; never passes or fails on time.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import overview  # noqa: E402
from bench.overview import build, peak_mb, read_whole_table, timed  # noqa: E402


def child(path: str, what: str) -> None:
    """In a fresh process: one JSON line of timings and the peak memory."""
    if what == "baseline":
        out = {"baseline": timed(lambda: read_whole_table(path))}
    elif what == "direct":
        from salesops import leaderboard, trends, workspace
        from salesops.filters import Filters

        ws = workspace.load(path)
        region = ws.values("region")[0]
        out = {}
        for name, fields in (("all", {}), ("region", {"region": [region]})):
            f = Filters.make(ws, **fields)
            out[f"leaderboard_{name}"] = timed(lambda: leaderboard.leaderboard(ws, f))
            out[f"team_sections_{name}"] = timed(lambda: (trends.compare(ws, f), trends.pacing(ws, f),
                                                          trends.trend(ws, f), leaderboard.hierarchy(ws, f, "team")))
    else:
        from streamlit.testing.v1 import AppTest

        os.environ["SALESOPS_DB"] = path
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
        at.run()
        at.switch_page(f"views/{what}.py")
        out = {"first": timed(at.run)}
        assert not at.exception, [e.value for e in at.exception]
        out["rerun"] = min(timed(at.run) for _ in range(3))
        regions = at.sidebar.multiselect(key="region").options
        teams = at.sidebar.multiselect(key="team").options
        at.sidebar.multiselect(key="region").set_value([regions[0]])
        out["region"] = timed(at.run)
        at.sidebar.multiselect(key="region").set_value([regions[-1]])
        out["another_region"] = timed(at.run)
        at.sidebar.multiselect(key="region").set_value([])
        at.sidebar.multiselect(key="team").set_value([teams[0]])
        out["team"] = timed(at.run)
        sel = at.sidebar.selectbox(key="period")
        sel.set_value(sel.options[3])
        out["period"] = timed(at.run)
        out["again"] = timed(at.run)
        assert not at.exception, [e.value for e in at.exception]
    out["peak_mb"] = peak_mb()
    print("RESULT " + json.dumps(out), flush=True)


def run_child(path: Path, what: str) -> dict:
    return overview.run_child(path, what, script=__file__)


def measure(path: Path, label: str) -> None:
    base = run_child(path, "baseline")["baseline"]
    print(f"{label}:")
    print(f"  baseline: pandas read of the opportunities table   {base:7.2f} s")
    for page in ("reps", "team"):
        r = run_child(path, page)
        print(f"  {page.title()} page  (peak memory {r['peak_mb']:,.0f} MB)")
        for key, words in (("first", "first load, cold caches"), ("rerun", "rerun, cached (best of 3)"),
                           ("region", "filter change: a region"), ("another_region", "filter change: another region"),
                           ("team", "filter change: a team"), ("period", "another period"), ("again", "the same again, cached")):
            print(f"    {words:<38} {r[key]:7.2f} s   ({r[key] / base:5.2f}x baseline)")
    d = run_child(path, "direct")
    print("  direct (no Streamlit): leaderboard {:.2f} s, with a region {:.2f} s; Team's sections {:.2f} s, "
          "with a region {:.2f} s".format(d["leaderboard_all"], d["leaderboard_region"], d["team_sections_all"],
                                          d["team_sections_region"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--big-db", type=Path, help="measure this database (built first when it does not exist)")
    ap.add_argument("--child", nargs=2, metavar=("WHAT", "DB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[1], args.child[0])
        return
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "demo.db"
        build(small, 10_500)
        measure(small, "Demo workspace")
        big = args.big_db or Path(tmp) / "big.db"
        if not big.exists():
            build(big, args.deals)
        measure(big, f"{args.deals:,} deals" if not args.big_db else str(big))


if __name__ == "__main__":
    main()
