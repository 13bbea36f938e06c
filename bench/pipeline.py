"""How long the pipeline-health computations take on the demo workspace and a larger one.

    python bench/pipeline.py               # demo (scale 1) and scale 3
    python bench/pipeline.py --scales 1 5
    python bench/pipeline.py --db /tmp/x.db   # a database built before

Prints figures; never passes or fails on time. The baseline, measured in the same run, is
reading every snapshot row from SQLite (what the movement, risk and hygiene views must at least
pay once); each figure is also shown as a ratio to it.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from salesops import demo, hygiene, pipeline, store  # noqa: E402
from salesops import schema as S  # noqa: E402


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run(path: Path) -> None:
    with store.connect(path) as conn:
        dates = store.snapshot_dates(conn)
        base, snaps = timed(lambda: store.load_snapshots(conn))
        deals = store.load_deals(conn)
        hist = store.load_stage_history(conn)
        rules = store.stage_rules(conn)
    as_of = pd.Timestamp(dates[-1]) if dates else deals[S.CLOSE_DATE].max()
    print(f"  {len(deals):,} deals, {len(snaps):,} snapshot rows ({len(dates)} snapshots), {len(hist):,} history rows")
    print(f"  baseline: read all snapshots            {base * 1000:8.0f} ms  (1.0x)")
    q = pd.Timestamp(as_of).to_period("Q")
    s1 = snaps[snaps[S.AS_OF] == pd.Timestamp(dates[-2])] if len(dates) >= 2 else snaps
    s2 = snaps[snaps[S.AS_OF] == pd.Timestamp(dates[-1])] if dates else snaps
    cases = {
        "movement (one quarter, two snapshots)": lambda: pipeline.movement(s1, s2, q.start_time, q.end_time),
        "funnel from stage history": lambda: pipeline.funnel(hist, rules, as_of),
        "leaks by rep": lambda: pipeline.leaks(hist, rules, deals, S.OWNER, as_of=as_of),
        "time to close by segment": lambda: pipeline.time_to_close(deals, as_of, by=S.SEGMENT),
        "push counts": lambda: pipeline.push_counts(snaps),
        "deals at risk": lambda: pipeline.at_risk(deals, snaps, as_of, history=hist),
        "hygiene: deal checks + scorecard": lambda: hygiene.scorecard(
            hygiene.deal_issues(deals, rules, as_of, snapshots=snaps, history=hist)),
        "hygiene: score per import": lambda: hygiene.by_import(snaps, rules, deals=deals, history=hist),
    }
    for name, fn in cases.items():
        t, _ = timed(fn, repeat=2)
        print(f"  {name:<40}{t * 1000:8.0f} ms  ({t / base:.1f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="*", default=[1.0, 3.0])
    ap.add_argument("--db", help="measure this database instead of building demo workspaces")
    args = ap.parse_args()
    if args.db:
        print(f"database {args.db}")
        run(Path(args.db))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for scale in args.scales:
            path = Path(tmp) / f"demo_{scale}.db"
            t = time.perf_counter()
            demo.load_demo(path, scale=scale)
            print(f"demo workspace at scale {scale:g} (built in {time.perf_counter() - t:.1f} s)")
            run(path)


if __name__ == "__main__":
    main()
