"""Simulation speed of goals and comp plans on the demo workspace (prints figures; never
passes or fails on time). Run from the project folder: python -m bench.planning [--scale 1]"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from salesops import compensation as C
from salesops import demo, goals, store
from salesops.periods import FiscalCalendar


def _time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=float, default=1.0, help="demo deal volume multiplier")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        demo.load_demo(db, scale=args.scale)
        with store.connect(db) as conn:
            deals, reps = store.load_deals(conn), store.load_reps(conn)
    period = FiscalCalendar(1).parse("2027Q1")
    plan = C.load_plan_file(Path(__file__).resolve().parents[1] / "data" / "plans" / "new_logo_hunter.json")
    fit = _time(lambda: goals.fit_bookings_model(deals, reps, period))
    model = goals.fit_bookings_model(deals, reps, period)
    print(f"deals {len(deals):,}, reps modelled {len(model.reps)}")
    print(f"fit bookings model: {fit * 1000:.0f} ms")
    base = _time(lambda: np.random.default_rng(0).poisson(5.0, size=(10_000, len(model.reps))))
    for n in (1_000, 10_000, 50_000):
        t = _time(lambda: goals.simulate_bookings(model, n_sims=n, seed=0), repeat=2)
        tp = _time(lambda: C.simulate_plan(plan, model, period, n_sims=n, seed=0), repeat=2)
        print(f"{n:>6} sims: bookings {t * 1000:7.0f} ms ({n / t:,.0f} sims/s), plan cost {tp * 1000:7.0f} ms")
    print(f"baseline: numpy Poisson draw of 10,000 x reps {base * 1000:.1f} ms; "
          f"10,000 bookings sims = {_time(lambda: goals.simulate_bookings(model, n_sims=10_000, seed=0), 2) / base:.0f}x that")


if __name__ == "__main__":
    main()
