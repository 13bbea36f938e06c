"""Speed of goal setting and comp plans on the demo workspace (prints figures; never passes or
fails on time). Run from the project folder: python -m bench.planning [--scale 1]

Measures, on one workspace: fitting the bookings model, simulating bookings and a plan's cost
(a quarter and a fiscal year of four quarters), payouts once per plan period (a quarter, a
year), and the goal plan behind the Goals page. The baseline, measured in the same run, is a
plain numpy Poisson draw of the same size as one simulation of the team.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from salesops import compensation as C
from salesops import demo, goals, workspace
from salesops.filters import Filters


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
        ws = workspace.load(db)
        ws.deals, ws.snapshots()          # read once: the page's workspace holds them
        quarter, year = Filters.make(ws, period="2027Q1"), Filters.make(ws, period="2026")
        plan = C.plan_json(C.load_plan_file(C.PLANS_DIR / "new_logo_hunter.json"))
        standard = C.plan_json(C.load_plan_file(C.PLANS_DIR / "standard.json"))

        fit = _time(lambda: goals.fit_bookings_model(ws.deals, ws.reps, quarter.period, as_of=quarter.as_of))
        model = goals.team_model(ws, quarter.period, quarter.as_of)
        base = _time(lambda: np.random.default_rng(0).poisson(5.0, size=(10_000, len(model.reps))))
        print(f"deals {len(ws.facts):,}, reps modelled {len(model.reps)}")
        print(f"fit bookings model (one quarter): {fit * 1000:.0f} ms")
        for n in (1_000, 10_000, 50_000):
            t = _time(lambda: goals.simulate_bookings(model, n_sims=n, seed=0), repeat=2)
            tq = _time(lambda: C.simulate(ws, quarter, plan, n_sims=n, seed=0), repeat=2)
            print(f"{n:>6} sims: bookings {t * 1000:7.0f} ms ({n / t:,.0f} sims/s), plan cost of a quarter {tq * 1000:7.0f} ms")
        ty = _time(lambda: C.simulate(ws, year, plan, n_sims=2_000, seed=0), repeat=2)
        tw = _time(lambda: C.simulate(ws, quarter, plan, n_sims=2_000, seed=0, win_rate_uplift=0.1, extra_hires=2), repeat=2)
        print(f"plan cost of a fiscal year (four quarters), 2,000 sims: {ty * 1000:.0f} ms; a quarter with what-ifs "
              f"(+10% wins, +2 hires): {tw * 1000:.0f} ms")
        pq = _time(lambda: C.payouts(ws, Filters.make(ws, period="2026Q3"), standard))
        py = _time(lambda: C.payouts(ws, year, standard))
        print(f"payouts from actual bookings: a quarter {pq * 1000:.0f} ms, a fiscal year (four plan periods) {py * 1000:.0f} ms")
        tg = _time(lambda: goals.goal_plan(ws, quarter, 10_000_000.0, "capacity", 0.1, (), 2_000, 0), repeat=2)
        print(f"goal plan (allocation + 2,000 sims + realism, model kept): {tg * 1000:.0f} ms")
        ten = _time(lambda: goals.simulate_bookings(model, n_sims=10_000, seed=0), 2)
        print(f"baseline: numpy Poisson draw of 10,000 x reps {base * 1000:.1f} ms; 10,000 bookings sims = {ten / base:.0f}x that")


if __name__ == "__main__":
    main()
