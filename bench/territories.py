"""What the customer dimensions and the search index cost (issue 15).

    python bench/territories.py                       # 1M deals / 1M-row import (several minutes)
    python bench/territories.py --deals 200000 --rows 200000
    python bench/territories.py --big-db /tmp/big.db  # reuse a demo-shaped database (created when missing)

1. Workspace load: every deal now carries its account's industry, size band and territory (the
   active plan's rules evaluated over every account). Measured in fresh processes on the same
   database: the baseline is the issue-10 load of the compact facts (no account columns),
   then the full ``workspace.load`` with them; seconds, peak memory and the facts' size.
2. Search index: a ``bench/import.py`` CSV imported into a fresh database without an index
   (the baseline) and into one whose index exists (the import then updates the index in its
   own transaction); the difference is what keeping the index current costs an import. Then
   the full build of the index on the first database and a few searches on it.

Prints figures and ratios to the baselines measured in the same run; never passes or fails.
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


def child(what: str, path: str) -> None:
    t = time.perf_counter()
    if what == "facts":
        from salesops import store, workspace

        raw = store.load_deal_facts(path)
        with store.connect(path) as conn:
            reps = store.load_reps(conn)
        facts = workspace._facts(raw, reps)
    else:
        from salesops import workspace

        facts = workspace.load(path).facts
    dt = time.perf_counter() - t
    from bench.overview import peak_mb

    peak = peak_mb()
    print(json.dumps({"seconds": dt, "peak_mb": peak, "facts_mb": facts.memory_usage(deep=True).sum() / 2**20,
                      "rows": len(facts), "columns": len(facts.columns)}))


def run_child(what: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", what, path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return time.perf_counter() - t


def load_part(big: Path, deals: int) -> None:
    from salesops import demo

    if not big.exists():
        t = time.perf_counter()
        counts = demo.load_demo(big, scale=deals / 10_500, with_snapshots=False)
        print(f"  built {counts['opportunities']:,} deals in {time.perf_counter() - t:.0f} s", flush=True)
    best = {}
    for _ in range(2):  # interleaved, best of two
        for what in ("facts", "load"):
            r = run_child(what, str(big))
            if what not in best or r["seconds"] < best[what]["seconds"]:
                best[what] = r
    b, w = best["facts"], best["load"]
    print(f"Workspace load, {w['rows']:,} deals")
    print(f"  baseline: compact facts without account fields   {b['seconds']:6.2f} s  peak {b['peak_mb']:6.0f} MB  "
          f"facts {b['facts_mb']:5.0f} MB ({b['columns']} columns)")
    print(f"  workspace.load with industry, size band, territory {w['seconds']:6.2f} s  peak {w['peak_mb']:6.0f} MB  "
          f"facts {w['facts_mb']:5.0f} MB ({w['columns']} columns)")
    print(f"  ratio {w['seconds'] / b['seconds']:.2f}x time, {w['peak_mb'] / b['peak_mb']:.2f}x peak memory", flush=True)


def search_part(rows: int, folder: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import importlib

    gen = importlib.import_module("import").generate
    csv = folder / f"search_{rows}.csv"
    if not csv.exists():
        gen(csv, rows)
    plain, indexed = folder / "plain.db", folder / "indexed.db"
    for p in (plain, indexed):
        for suffix in ("", "-wal", "-shm"):
            Path(str(p) + suffix).unlink(missing_ok=True)
    cli = [sys.executable, "-m", "salesops"]
    subprocess.run([*cli, "--db", str(indexed), "imports"], check=True, capture_output=True, cwd=ROOT)
    from salesops import search

    search.ensure(indexed)  # the index exists (empty) before the import
    t_plain = timed([*cli, "--db", str(plain), "import", str(csv)])
    t_indexed = timed([*cli, "--db", str(indexed), "import", str(csv)])
    print(f"Search index and a {rows:,}-row import")
    print(f"  baseline: import into a database without an index  {t_plain:7.1f} s")
    print(f"  import into a database with an index                {t_indexed:7.1f} s  ({t_indexed / t_plain:.2f}x)"
          + ("  (a bulk load: left to the next search)" if rows >= search.BULK_ROWS else "  (the import updated the index)"))
    t = time.perf_counter()
    rebuilt = search.ensure(indexed)
    t_build = time.perf_counter() - t
    print(f"  first search afterwards rebuilds in one pass          {t_build:7.1f} s  ({', '.join(rebuilt) or 'nothing'}; "
          f"{t_build / t_plain:.2f}x the import)")
    for q in ("deal 12345", "acct 42", "müller"):
        t = time.perf_counter()
        hits = search.find(indexed, q)
        print(f"  search {q!r:<14} {1000 * (time.perf_counter() - t):7.0f} ms  {len(hits)} hits")
    # a weekly re-export: 50,000 deals changed, into both databases (now both of the same size)
    small = folder / "search_changes.csv"
    gen(small, min(50_000, rows), seed=2)
    search.ensure(plain)
    with_index = timed([*cli, "--db", str(indexed), "import", str(small)])
    fresh = indexed.with_name("plain2.db")
    subprocess.run(["cp", str(plain), str(fresh)], check=True)
    from salesops import store

    with store.connect(fresh, write=False) as conn:
        conn.execute("DROP TABLE IF EXISTS search_items_fts")
        conn.execute("DROP TABLE IF EXISTS search_items")
    without = timed([*cli, "--db", str(fresh), "import", str(small)])
    stale = search.ensure(indexed)
    print(f"  then {min(50_000, rows):,} changed deals: import without an index {without:6.1f} s, with one {with_index:6.1f} s "
          f"({with_index / without:.2f}x; index current after it: {'yes' if not stale else 'no'})")
    print(f"  database size: {os.path.getsize(fresh) / 2**20:.0f} MB without the index, "
          f"{os.path.getsize(indexed) / 2**20:.0f} MB with it")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deals", type=int, default=1_000_000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big-db", help="demo-shaped database to measure the load on (created when missing)")
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    folder = Path(tempfile.mkdtemp(prefix="salesops_bench_"))
    print(f"machine load average (1 min) at the start {os.getloadavg()[0]:.2f}")
    if not args.skip_load:
        load_part(Path(args.big_db) if args.big_db else folder / "big.db", args.deals)
    if not args.skip_search:
        search_part(args.rows, folder)
    print(f"machine load average (1 min) at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
