"""How fast the Reps page re-renders after a filter change: demo workspace and 1M deals.

    python bench/reps.py                      # demo + 1M deals (builds the big database, ~1-2 min)
    python bench/reps.py --deals 200000
    python bench/reps.py --db /tmp/big.db     # reuse a database built before (any size)

What is measured (wall-clock, one process, AppTest running app.py switched to views/reps.py,
so the shared sidebar, the workspace loader and the page all run exactly as in the app):

* first load: cold caches, i.e. reading the workspace from SQLite, summing the rep/day cube
  (once per data version) and the first leaderboard;
* rerun: nothing changed (every loader hits its cache);
* filter change: a new sidebar region, then team filter, then another period: the cube is
  cached, the leaderboard for the new filter is computed from it (cache miss), and the page is
  redrawn. This is the issue's "< 1 s" figure;
* the direct cost of the functions behind it, without Streamlit: building the cube, the
  leaderboard from the cube, and, for comparison, metrics.period_kpis straight over the deals
  (what a filter change would cost without the cube).

The baseline, measured in the same run, is a plain pandas read of the opportunities table.
Prints figures; never passes or fails on time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from salesops import demo, metrics, store  # noqa: E402
from salesops import performance as P  # noqa: E402
from salesops import schema as S  # noqa: E402
from salesops.periods import FiscalCalendar  # noqa: E402


def build(path: Path, deals: int) -> int:
    t = time.perf_counter()
    counts = demo.load_demo(path, scale=deals / 10_500, with_snapshots=deals <= 20_000)
    print(f"  built {counts['opportunities']:,} deals in {time.perf_counter() - t:.1f} s")
    return counts["opportunities"]


CPU = {}


def timed(fn) -> float:
    """Wall-clock seconds of ``fn()``; its CPU seconds (all threads of this process, so
    AppTest's script thread too) go to CPU[the returned wall time] for the report."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    wall = time.perf_counter() - t
    CPU[wall] = time.process_time() - c
    return wall


def fmt(wall: float, baseline: float) -> str:
    return f"{wall:7.2f} s  (CPU {CPU.get(wall, float('nan')):5.2f} s, {wall / baseline:5.2f}x baseline)"


def direct(path: Path) -> dict:
    """The functions behind the page, without Streamlit."""
    with store.connect(path) as conn:
        deals, reps, targets = store.load_deals(conn), store.load_reps(conn), store.load_targets(conn)
        as_of = store.workspace_summary(conn)["latest_as_of"] or str(deals[S.CLOSE_DATE].max().date())
    deals = metrics.attach_roster(deals, reps)
    cal = FiscalCalendar(1)
    q = cal.quarter_of(pd_date(as_of))
    out = {}
    t = time.perf_counter()
    cube = P.with_roster_fields(P.rep_day_cube(deals), reps)
    out["cube"] = time.perf_counter() - t
    out["cube_rows"] = len(cube)
    region = sorted(deals[S.REGION].dropna().unique())[0]
    part = cube[cube[S.REGION] == region]
    t = time.perf_counter()
    lb = P.leaderboard(part, q.start, q.end, pd_date(as_of), reps=reps, targets=targets, calendar=cal)
    P.coaching_flags(lb, elapsed_share=0.5)
    out["leaderboard_from_cube"] = time.perf_counter() - t
    t = time.perf_counter()
    metrics.period_kpis(deals[deals[S.REGION] == region], q.start, q.end, by=S.OWNER, targets=targets, reps=reps)
    out["period_kpis_on_deals"] = time.perf_counter() - t
    return out


def pd_date(text):
    from datetime import date

    return date.fromisoformat(str(text)[:10])


def measure(path: Path, label: str) -> None:
    def read():
        with store.connect(path) as conn:
            store.load_deals(conn)
    baseline = timed(read)
    os.environ["SALESOPS_DB"] = str(path)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    at.switch_page("views/reps.py")
    first = timed(at.run)
    assert not at.exception, [e.value for e in at.exception]
    reruns = [timed(at.run) for _ in range(3)]
    regions = at.sidebar.multiselect(key="region").options
    teams = at.sidebar.multiselect(key="team").options
    changes = []
    at.sidebar.multiselect(key="region").set_value([regions[0]])
    changes.append(("region filter", timed(at.run)))
    at.sidebar.multiselect(key="region").set_value([regions[-1]])
    changes.append(("another region", timed(at.run)))
    at.sidebar.multiselect(key="region").set_value([])
    at.sidebar.multiselect(key="team").set_value([teams[0]])
    changes.append(("team filter", timed(at.run)))
    periods = at.sidebar.selectbox(key="period").options
    at.sidebar.selectbox(key="period").set_value(periods[3])
    changes.append(("another period", timed(at.run)))
    again = timed(at.run)
    assert not at.exception, [e.value for e in at.exception]
    d = direct(path)
    med = statistics.median(t for _, t in changes)
    print(f"{label}:  (wall-clock; CPU = this process's CPU seconds, which other load on the machine does not inflate)")
    print(f"  baseline: read the opportunities table with pandas   {fmt(baseline, baseline)}")
    print(f"  Reps page first load (cold caches)                   {fmt(first, baseline)}")
    print(f"  Reps page rerun, cached (best of 3)                  {fmt(min(reruns), baseline)}")
    for name, t in changes:
        print(f"  filter change: {name:<37} {fmt(t, baseline)}")
    print(f"  filter change, median                                {med:7.2f} s")
    print(f"  same choices again (cached)                          {fmt(again, baseline)}")
    print(f"  direct: rep/day cube, once per data version          {d['cube']:7.2f} s   ({d['cube_rows']:,} rows)")
    print(f"  direct: leaderboard + flags from the cube            {d['leaderboard_from_cube']:7.3f} s")
    print(f"  direct: period_kpis by owner over the deals instead  {d['period_kpis_on_deals']:7.3f} s   "
          f"({d['period_kpis_on_deals'] / max(d['leaderboard_from_cube'], 1e-9):.1f}x the cube's leaderboard, which also does consistency)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, help="measure this existing database instead of building a big one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "demo.db"
        build(small, 10_500)
        measure(small, "Demo workspace")
        if args.db:
            with store.connect(args.db) as conn:
                n = store.workspace_summary(conn)["deals"]
            measure(args.db, f"{n:,} deals ({args.db})")
        else:
            big = Path(tmp) / "big.db"
            n = build(big, args.deals)
            measure(big, f"{n:,} deals")


if __name__ == "__main__":
    main()
