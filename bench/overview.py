"""How long the Overview page takes to render: demo workspace and 1M deals, first load
(cold caches) and after (cached reruns, and a filter change).

    python bench/overview.py            # demo + 1M deals
    python bench/overview.py --deals 200000
    python bench/overview.py --big-db /tmp/big.db   # build once, measure again later

Prints figures; never passes or fails on time. The baseline, measured in the same run, is a
plain pandas read of the opportunities table (what any page must at least pay once).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from salesops import demo, store  # noqa: E402


def build(path: Path, deals: int) -> int:
    scale = deals / 10_500
    t = time.perf_counter()
    counts = demo.load_demo(path, scale=scale, with_snapshots=deals <= 20_000)
    print(f"  built {counts['opportunities']:,} deals in {time.perf_counter() - t:.1f} s")
    return counts["opportunities"]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(path: Path, label: str) -> None:
    def read():
        with store.connect(path) as conn:
            store.load_deals(conn)
    baseline = timed(read)
    os.environ["SALESOPS_DB"] = str(path)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    first = timed(at.run)
    assert not at.exception, at.exception
    reruns = [timed(at.run) for _ in range(3)]
    at.sidebar.multiselect(key="sb_f_region").set_value(["EMEA"])
    filt_first = timed(at.run)
    filt_again = timed(at.run)
    at.sidebar.selectbox(key="sb_period").set_value(at.sidebar.selectbox(key="sb_period").options[2])
    period_change = timed(at.run)
    print(f"{label}:")
    print(f"  baseline: read the opportunities table with pandas  {baseline:7.2f} s")
    print(f"  Overview first load (cold caches)                   {first:7.2f} s   ({first / baseline:.1f}x baseline)")
    print(f"  Overview rerun, cached (best of 3)                  {min(reruns):7.2f} s   ({min(reruns) / baseline:.2f}x baseline)")
    print(f"  filter change (region = EMEA), first time           {filt_first:7.2f} s")
    print(f"  same filter again (cached)                          {filt_again:7.2f} s")
    print(f"  another period                                      {period_change:7.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--big-db", help="reuse this large database instead of generating one (it is created when missing)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "demo.db"
        build(small, 10_500)
        measure(small, "Demo workspace")
        big = Path(args.big_db) if args.big_db else Path(tmp) / "big.db"
        if big.exists():
            with store.connect(big) as conn:
                n = store.workspace_summary(conn)["deals"]
        else:
            n = build(big, args.deals)
        measure(big, f"{n:,} deals")


if __name__ == "__main__":
    main()
