"""Forecast benchmarks: speed of fits and backtests, held-out accuracy against the seasonal
naive baseline (demo workspace and Superstore), and the landing zone's calibration.

Run: ``python bench/forecast.py [--quick]``. Prints figures; never passes or fails.
Superstore (../shared/datasets/superstore) is read as one won deal per order line, closed on
its Order Date, grouped by Region for the many-series figures.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python bench/forecast.py` from a checkout
    sys.path.insert(0, str(ROOT))

from salesops import demo, metrics, store  # noqa: E402
from salesops.forecasting import backtest as B  # noqa: E402
from salesops.forecasting import landing_zone as L  # noqa: E402
from salesops.forecasting.models import quiet_logging  # noqa: E402

SUPERSTORE = ROOT.parent / "shared" / "datasets" / "superstore" / "superstore_tableau_export.csv"


def superstore_deals(path: Path = SUPERSTORE) -> pd.DataFrame:
    raw = pd.read_csv(path, encoding="utf-8-sig")
    amount = raw["Sales"].astype(str).str.replace(r"[$,]", "", regex=True).astype(float)
    day = pd.to_datetime(raw["Order Date"], format="%m/%d/%Y")
    return pd.DataFrame({"opportunity_id": raw["Order ID"] + "-" + raw.index.astype(str), "owner": raw["Region"],
                         "region": raw["Region"], "segment": raw["Segment"], "status": "won", "amount": amount,
                         "created_date": day, "close_date": day, "stage": "Closed Won", "probability": 1.0})


def demo_tables():
    path = Path(tempfile.mkdtemp()) / "demo.db"
    demo.load_demo(path)
    with store.connect(path) as conn:
        deals = metrics.attach_roster(store.load_deals(conn), store.load_reps(conn))
        return deals, store.load_snapshots(conn), store.load_stage_history(conn)


def plain_prophet_mape(deals: pd.DataFrame, train_end="2016-05-01", months=6) -> float:
    """Prophet() untouched (yearly Fourier order 10, L-BFGS) on the monthly series: the issue's
    reference figure."""
    with quiet_logging():
        from prophet import Prophet

        m = deals.set_index("close_date")["amount"].resample("MS").sum()
        train = m[:train_end]
        test = m[pd.Timestamp(train_end) + pd.DateOffset(months=1):].iloc[:months]
        fit = Prophet().fit(pd.DataFrame({"ds": train.index, "y": train.to_numpy()}))
        yhat = fit.predict(pd.DataFrame({"ds": test.index}))["yhat"].to_numpy()
    return float(np.mean(np.abs(yhat - test.to_numpy()) / test.to_numpy()))


def timed(fn, *a, **k):
    t = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t


def holdout_table(name, deals, cutoffs, horizon=6, params=None, by=None):
    print(f"\n{name}: MAPE over the {horizon} months after each cut-off (train to the cut-off only)")
    cols = ["seasonal_naive", "ets", "theta", "prophet", "ensemble", "auto"]
    print(f"{'cut-off':<12}" + "".join(f"{c:>15}" for c in cols) + f"{'auto model':>16}{'auto/SN':>9}")
    ratios = []
    for c in cutoffs:
        r = B.holdout_scores(deals, c, freq="M", horizon=horizon, params=params, by=by)
        m = r["mape"]
        ratio = m["auto"] / m["seasonal_naive"] if m["seasonal_naive"] else float("nan")
        ratios.append(ratio)
        print(f"{c:<12}" + "".join(f"{m.get(k, float('nan')):>15.3f}" for k in cols) + f"{r['auto_model']:>16}{ratio:>9.2f}")
    print(f"auto MAPE / seasonal naive MAPE: mean {np.mean(ratios):.2f}, worst {np.max(ratios):.2f} "
          f"({'auto never worse' if max(ratios) <= 1 + 1e-9 else 'auto worse at some cut-off'})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer cut-offs")
    args = ap.parse_args()
    print(f"CPUs: {os.cpu_count()}")
    deals, snaps, hist = demo_tables()
    B.run_forecast(deals, freq="M", horizon=6, n_jobs=1)  # warm-up: imports and Stan model load

    # --- speed
    print("\nSpeed (after imports are warm)")
    _, t_base = timed(B.run_forecast, deals, freq="M", horizon=6, include_prophet=False)
    _, t_one = timed(B.run_forecast, deals, freq="M", horizon=6, n_jobs=1)
    print(f"one monthly series, all models, 5 cut-offs + final fit: {t_one:.2f} s "
          f"(baselines alone {t_base:.2f} s; Prophet share {t_one - t_base:.2f} s)")
    reps = deals["owner"].nunique()
    r_par, t_par = timed(B.run_forecast, deals, freq="M", horizon=6, by="owner", n_jobs=2)
    _, t_ser = timed(B.run_forecast, deals, freq="M", horizon=6, by="owner", n_jobs=1)
    print(f"{reps} rep series, all models, 5 cut-offs: {t_par:.2f} s with 2 workers, {t_ser:.2f} s with one "
          f"(ratio {t_par / t_ser:.2f})")

    # --- held-out accuracy
    cut_demo = ["2025-05-31", "2025-08-31", "2025-11-30", "2026-02-28", "2026-04-30"]
    cut_ss = ["2015-12-31", "2016-05-31", "2016-08-31", "2016-12-31", "2017-03-31", "2017-06-30"]
    if args.quick:
        cut_demo, cut_ss = cut_demo[::2], cut_ss[::2]
    holdout_table("Demo workspace (team)", deals, cut_demo)
    if SUPERSTORE.exists():
        ss = superstore_deals()
        holdout_table("Superstore (all regions, recommended Prophet settings)", ss, cut_ss)
        r = B.holdout_scores(ss, "2016-05-31", freq="M", horizon=6)
        print(f"Superstore trained through May 2016, next 6 months: Prophet() with the library's own defaults "
              f"MAPE {plain_prophet_mape(ss):.3f}; our recommended Prophet {r['mape']['prophet']:.3f}; seasonal naive "
              f"{r['mape']['seasonal_naive']:.3f}; auto {r['mape']['auto']:.3f} ({r['auto_model']})")
        _, t_reg = timed(B.run_forecast, ss, freq="M", horizon=6, by="region", n_jobs=2)
        print(f"Superstore, 4 region series, all models: {t_reg:.2f} s")
    else:
        print(f"\n(Superstore not found at {SUPERSTORE}: skipped)")

    # --- landing zone calibration
    print("\nLanding zone on the demo: past quarters, each forecast with only the data of its day")
    for offset in (0, 45):
        bt, t = timed(L.landing_backtest, deals, snaps, stage_history=hist, periods=8, offset_days=offset, n_samples=1000)
        width = (bt["p90"] / bt["p10"]).mean()
        err = (bt["p50"] / bt["actual"] - 1).abs().mean()
        print(f"{offset:>3} days into the quarter: actual inside P10-P90 in {bt['inside'].sum()} of {len(bt)} "
              f"({bt['inside'].mean():.0%}; target 80%), mean P90/P10 {width:.2f}, P50 off by {err:.0%} on average, "
              f"{t / len(bt):.2f} s per landing")


if __name__ == "__main__":
    main()
