"""Forecast benchmarks: speed, held-out accuracy against the standard methods, the calibration
of the 80% range, and the landing zone's calibration. Prints figures; never passes or fails.

Run: ``python bench/forecast.py [--quick] [--only speed|accuracy|landing] [--tuning]``.

Accuracy (``accuracy``): the 10 series of ../shared/datasets/sales_series plus Superstore's
monthly sales by category (3 series), three origins per series: the last three
non-overlapping windows of horizon 12 (6 for monthly series under 84 points, 4 for the
quarterly one). At each origin ``auto`` (``run_forecast`` with its own inner backtests on the
training part only) and the standard methods (statsforecast's AutoETS, AutoARIMA, AutoTheta and
seasonal naive, Prophet with its own defaults, all with library defaults) are fitted on the
training part and scored on the window. Per series: MAPE over its three windows; then the
geometric mean over the series of the ratio of ``auto``'s MAPE to each method's.

Tuning (``--tuning``) prints the same table on data kept apart from the scored windows: the
two windows *before* the scored ones of each sales series, Superstore by region (4 series) and
by segment (3), and the demo workspace's team series and its 3 regions (last three windows of
6 months each). Every choice of the forecasting code (models, selection rule, combination,
range) was made on these only.

Landing (``landing``): the landing zone at mid-quarter (day 45) of past quarters, each made
with only that day's data: on the demo (its last 8 complete quarters) and on the Maven CRM
dataset (2017Q2-Q4): share of actuals inside P10-P90, mean width (P90 - P10) / P50, mean
|P50 / actual - 1|. With ``--tuning``: the same on the sets the landing zone's choices were
tuned on instead (the demo and Maven at days 20 and 70, the Salesforce Wave sample of
../shared/datasets/public_exports at days 20, 45 and 70 of 2016Q2-2017Q1).

Speed (``speed``): wall and CPU seconds (this process and its workers) with the load average
before and after, since the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python bench/forecast.py` from a checkout
    sys.path.insert(0, str(ROOT))

from salesops import demo, store, workspace  # noqa: E402
from salesops import schema as S  # noqa: E402
from salesops.forecasting import backtest as B  # noqa: E402
from salesops.forecasting import landing_zone as L  # noqa: E402
from salesops.forecasting import models as M  # noqa: E402
from salesops.forecasting.series import series_from_values  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets"
SUPERSTORE = DATASETS / "superstore" / "superstore_tableau_export.csv"
SALES_SERIES = DATASETS / "sales_series"
MAVEN = DATASETS / "maven_crm" / "sales_pipeline.csv"
STANDARD = ("seasonal_naive", "AutoETS", "AutoARIMA", "AutoTheta", "Prophet()")


# --- data ---------------------------------------------------------------------------------------
def superstore_deals(path: Path = SUPERSTORE) -> pd.DataFrame:
    raw = pd.read_csv(path, encoding="utf-8-sig")
    amount = raw["Sales"].astype(str).str.replace(r"[$,]", "", regex=True).astype(float)
    day = pd.to_datetime(raw["Order Date"], format="%m/%d/%Y")
    return pd.DataFrame({"opportunity_id": raw["Order ID"] + "-" + raw.index.astype(str), "owner": raw["Region"],
                         "region": raw["Region"], "segment": raw["Segment"], "category": raw["Category"], "status": "won",
                         "amount": amount, "created_date": day, "close_date": day, "stage": "Closed Won", "probability": 1.0})


def superstore_series(by: str) -> dict:
    """Monthly sales per value of ``by`` (Category or Region), 2014-01 .. 2017-12."""
    d = superstore_deals()
    months = pd.period_range("2014-01", "2017-12", freq="M")
    out = {}
    for g, part in d.groupby(by.lower()):
        s = part.groupby(part["close_date"].dt.to_period("M"))["amount"].sum().reindex(months, fill_value=0.0)
        out[f"superstore {by.lower()} {g}"] = (s.to_numpy(float), s.index.to_timestamp(), "M")
    return out


def sales_series() -> dict:
    out = {}
    for f in sorted(SALES_SERIES.glob("*.csv")):
        d = pd.read_csv(f, parse_dates=["ds"])
        out[f.stem] = (d["y"].to_numpy(float), pd.DatetimeIndex(d["ds"]), "Q" if "quarterly" in f.stem else "M")
    return out


def demo_tables():
    path = Path(tempfile.mkdtemp()) / "demo.db"
    demo.load_demo(path)
    with store.connect(path) as conn:
        deals = workspace.attach_roster(store.load_deals(conn), store.load_reps(conn))
        return deals, store.load_snapshots(conn), store.load_stage_history(conn)


def demo_series(deals) -> dict:
    from salesops.forecasting.series import build_series

    y, ds = build_series(deals, freq="M").values("all")
    return {"demo team": (y, ds, "M")}


def maven_deals(path: Path = MAVEN) -> pd.DataFrame:
    """The Maven CSV mapped onto the opportunities table (what an import of it writes)."""
    pipe = pd.read_csv(path, dtype={"opportunity_id": str})
    status = pipe["deal_stage"].map({"Won": S.WON, "Lost": S.LOST, "Engaging": S.OPEN, "Prospecting": S.OPEN})
    return pd.DataFrame({S.OPPORTUNITY_ID: pipe["opportunity_id"], S.OWNER: pipe["sales_agent"], S.STAGE: pipe["deal_stage"],
                         S.STATUS: status, S.AMOUNT: pipe["close_value"].where(status != S.OPEN).astype(float),
                         S.CREATED_DATE: pd.to_datetime(pipe["engage_date"]), S.CLOSE_DATE: pd.to_datetime(pipe["close_date"]),
                         S.PROBABILITY: np.nan})


WAVE = DATASETS / "public_exports" / "salesforce_wave_oktana-wave-tooling.csv"


def wave_deals(path: Path = WAVE) -> pd.DataFrame:
    """The Salesforce Analytics (Wave) sample's opportunities (2015-2017, 5,197 deals, lost
    deals keep their amount, no stage history): a landing-zone tuning set only."""
    d = pd.read_csv(path)
    status = d["StageName"].map(lambda s: S.WON if s == "Closed Won" else (S.LOST if s == "Closed Lost" else S.OPEN))
    return pd.DataFrame({S.OPPORTUNITY_ID: d["External_Id__c"].astype(str), S.OWNER: d["Owner.External_Id__c"],
                         S.STAGE: d["StageName"], S.STATUS: status, S.AMOUNT: d["Amount"].astype(float),
                         S.CREATED_DATE: pd.to_datetime(d["DateTimeCreated__c"]).dt.normalize(),
                         S.CLOSE_DATE: pd.to_datetime(d["CloseDate"]), S.PROBABILITY: np.nan})


def bench_horizon(n: int, freq: str) -> int:
    return 4 if freq == "Q" else (12 if n >= 84 else 6)


def scored_windows() -> list:
    """(series, y, ds, freq, origin, h): the last three non-overlapping windows of each series."""
    out = []
    sets = dict(sales_series())
    if SUPERSTORE.exists():
        sets.update(superstore_series("Category"))
    for name, (y, ds, freq) in sets.items():
        h = bench_horizon(len(y), freq)
        out += [(name, y, ds, freq, len(y) - k * h, h) for k in (3, 2, 1)]
    return out


def tuning_windows(deals) -> list:
    """Windows kept apart from the scored ones (see the module docstring)."""
    out = []
    for name, (y, ds, freq) in sales_series().items():
        h = bench_horizon(len(y), freq)
        m = 4 if freq == "Q" else 12
        out += [(name, y, ds, freq, len(y) - k * h, h) for k in (5, 4) if len(y) - k * h >= 2 * m]
    extra = dict(demo_series(deals))
    from salesops.forecasting.series import build_series

    regions = build_series(deals, freq="M", by="region")
    extra.update({f"demo {g}": (*regions.values(g), "M") for g in regions.groups})
    if SUPERSTORE.exists():
        extra.update(superstore_series("Region"))
        extra.update(superstore_series("Segment"))
    for name, (y, ds, freq) in extra.items():
        out += [(name, y, ds, freq, len(y) - k * 6, 6) for k in (3, 2, 1)]
    return out


# --- the standard methods, with library defaults --------------------------------------------------
def standard_forecasts(y: np.ndarray, ds: pd.DatetimeIndex, freq: str, h: int) -> dict:
    """Each standard method's forecast of the ``h`` periods after ``y`` (library defaults)."""
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    m = {"M": 12, "Q": 4}[freq]
    out = {"seasonal_naive": M.seasonal_naive(y, h, m).yhat}
    for name, model in (("AutoETS", AutoETS(season_length=m)), ("AutoARIMA", AutoARIMA(season_length=m)),
                        ("AutoTheta", AutoTheta(season_length=m))):
        try:
            with M.quiet_logging():
                out[name] = np.asarray(model.forecast(y=y.astype(float), h=h)["mean"], dtype=float)
        except Exception:  # noqa: BLE001 - a method that fails scores as seasonal naive, and we say so
            out[name] = out["seasonal_naive"]
            print(f"  ({name} failed on a window; scored as seasonal naive)")
    with M.quiet_logging():
        from prophet import Prophet

        fit = Prophet().fit(pd.DataFrame({"ds": ds, "y": y}))
        step = pd.offsets.MonthBegin(1) if freq == "M" else pd.offsets.QuarterBegin(1, startingMonth=1)
        fut = pd.DataFrame({"ds": pd.date_range(ds[-1] + step, periods=h, freq="MS" if freq == "M" else "QS")})
        out["Prophet()"] = fit.predict(fut)["yhat"].to_numpy(dtype=float)
    return {k: np.maximum(v, 0.0) for k, v in out.items()}


def ape(y, f) -> np.ndarray:
    y, f = np.asarray(y, float), np.asarray(f, float)
    nz = y != 0
    return np.abs(f[nz] - y[nz]) / np.abs(y[nz])


def evaluate(windows: list, *, include_prophet: bool = True, verbose: bool = True) -> pd.DataFrame:
    """One row per (series, window, method): APEs and, for auto, the range's hits."""
    rows = []
    for name, y, ds, freq, o, h in windows:
        ss = series_from_values(y[:o], ds[:o], freq)
        res = B.run_forecast(pd.DataFrame(columns=["status", "amount", "close_date"]), series=ss, horizon=h,
                             include_prophet=include_prophet, n_jobs=1)
        act = y[o:o + h]
        fc = res.forecast
        auto_mape = float(np.mean(ape(act, fc["yhat"])))
        inside = (act >= fc["yhat_lower"].to_numpy() - 1e-9) & (act <= fc["yhat_upper"].to_numpy() + 1e-9)
        rows.append({"series": name, "origin": str(ds[o].date()), "method": "auto", "ape": ape(act, fc["yhat"]),
                     "inside": inside, "picked": res.model, "windows": res.windows})
        for model, part in res.forecasts.groupby("model"):
            rows.append({"series": name, "origin": str(ds[o].date()), "method": f"ours: {model}", "ape": ape(act, part["yhat"])})
        for method, f in standard_forecasts(y[:o], ds[:o], freq, h).items():
            rows.append({"series": name, "origin": str(ds[o].date()), "method": method, "ape": ape(act, f)})
        if verbose:
            print(f"  {name:<32} from {ds[o]:%Y-%m}: auto = {res.model:<15} ({res.windows} inner windows, "
                  f"{res.selection}), MAPE {auto_mape:.3f}")
    return pd.DataFrame(rows)


def report_accuracy(ev: pd.DataFrame, title: str) -> dict:
    per = ev.groupby(["series", "method"])["ape"].apply(lambda s: float(np.mean(np.concatenate(list(s))))).unstack()
    print(f"\n{title}: MAPE per series over its windows")
    cols = ["auto"] + [c for c in per.columns if c.startswith("ours: ")] + list(STANDARD)
    cols = [c for c in cols if c in per.columns]
    short = {c: c.replace("ours: ", "").replace("seasonal_naive", "SN")[:10] for c in cols}
    print(f"{'series':<34}" + "".join(f"{short[c]:>11}" for c in cols))
    for s, r in per.iterrows():
        print(f"{s[:33]:<34}" + "".join(f"{r[c]:>11.3f}" for c in cols))
    out = {}
    print("geometric mean over the series of auto's MAPE / the method's MAPE:")
    for c in cols[1:]:
        ratio = float(np.exp(np.mean(np.log(per["auto"] / per[c]))))
        out[c] = ratio
        print(f"  auto / {c:<24} {ratio:.3f}")
    best = per[list(STANDARD)].min(axis=1)
    out["hindsight"] = float(np.exp(np.mean(np.log(per["auto"] / best))))
    best_std = max(list(STANDARD), key=lambda c: out[c])
    print(f"  auto / the best standard method per series in hindsight {out['hindsight']:.3f}")
    print(f"  best single standard method: {best_std} (auto / it = {out[best_std]:.3f}; target at most 0.95)")
    hits = np.concatenate(list(ev.loc[ev["method"] == "auto", "inside"]))
    out["coverage"] = float(np.mean(hits))
    print(f"auto's 80% range held {hits.sum()} of {len(hits)} held-out actuals: {out['coverage']:.1%} (target 75-85%)")
    picks = ev[ev["method"] == "auto"]["picked"].value_counts()
    print("auto picked: " + ", ".join(f"{k} {v}" for k, v in picks.items()))
    return out


# --- speed ------------------------------------------------------------------------------------------
def cpu_seconds() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def timed(fn, *a, **k):
    c, t = cpu_seconds(), time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t, cpu_seconds() - c


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def speed(deals) -> None:
    print(f"\nSpeed (after imports are warm; {load()}; the machine is shared, so wall times vary with the load: "
          "CPU seconds (this process and its workers) beside them)")
    r, t_one, c_one = timed(B.run_forecast, deals, freq="M", horizon=6, n_jobs=1)
    _, t_base, _ = timed(B.run_forecast, deals, freq="M", horizon=6, include_prophet=False, n_jobs=1)
    print(f"one monthly series ({len(r.series.frame)} months), every model, {r.windows} backtest windows + the final fit: "
          f"{t_one:.2f} s wall, {c_one:.2f} s CPU (without Prophet {t_base:.2f} s; target under 3 s)")
    reps = deals["owner"].nunique()
    r2, t_par, c_par = timed(B.run_forecast, deals, freq="M", horizon=6, by="owner", n_jobs=2)
    print(f"  ({load()})")
    _, t_ser, c_ser = timed(B.run_forecast, deals, freq="M", horizon=6, by="owner", n_jobs=1)
    print(f"{reps} rep series, every model, backtests: {t_par:.2f} s wall with 2 workers ({c_par:.1f} s CPU), "
          f"{t_ser:.2f} s with one ({c_ser:.1f} s CPU); ratio {t_par / t_ser:.2f}; target under 15 s ({load()})")


# --- landing zone -------------------------------------------------------------------------------------
def landing_rows(deals, snaps, hist, quarters: list[str], offset: int, n_samples: int = 1000) -> pd.DataFrame:
    cal = L.FiscalCalendar()
    book = L.Book.build(deals, snaps, hist)
    rows = []
    for q in quarters:
        p = cal.parse(q)
        t = pd.Timestamp(p.start) + pd.Timedelta(days=offset)
        res, wall, _ = timed(L.landing, deals, snaps, p, t, calendar=cal, n_samples=n_samples, seed=0, stage_history=hist)
        actual = book.won_between(p.start, p.end)
        c = res["calibration"]
        rows.append({"quarter": q, "as_of": t.date(), "p10": res["p10"], "p50": res["p50"], "p90": res["p90"], "actual": actual,
                     "inside": res["p10"] <= actual <= res["p90"], "width": (res["p90"] - res["p10"]) / res["p50"],
                     "error": res["p50"] / actual - 1, "kappa": res["kappa"], "w": res["pipeline_weight"], "cal_points": c.get("points"),
                     "cal_coverage": c.get("coverage"), "cal_width": c.get("width"), "seconds": wall})
    return pd.DataFrame(rows)


def report_landing(bt: pd.DataFrame, title: str) -> None:
    print(f"\n{title}")
    print(f"{'quarter':<9}{'as of':>12}{'P10':>12}{'P50':>12}{'P90':>12}{'actual':>12}{'inside':>8}{'width':>8}{'P50 err':>9}"
          f"{'kappa':>7}{'w':>6}{'calib':>7}{'s':>6}")
    for r in bt.itertuples(index=False):
        print(f"{r.quarter:<9}{str(r.as_of):>12}{r.p10:>12,.0f}{r.p50:>12,.0f}{r.p90:>12,.0f}{r.actual:>12,.0f}"
              f"{'yes' if r.inside else 'no':>8}{r.width:>8.0%}{r.error:>+9.1%}{r.kappa:>7.2f}{r.w:>6.2f}{r.cal_points or 0:>7}{r.seconds:>6.1f}")
    print(f"inside P10-P90: {int(bt['inside'].sum())} of {len(bt)} ({bt['inside'].mean():.0%}; target about 80%); "
          f"mean width (P90 - P10) / P50 {bt['width'].mean():.0%} (target at most 40%); "
          f"mean |P50 error| {bt['error'].abs().mean():.1%} (target under 5%)")


DEMO_QUARTERS = ["2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3"]
MAVEN_QUARTERS = ["2017Q2", "2017Q3", "2017Q4"]
WAVE_QUARTERS = ["2016Q2", "2016Q3", "2016Q4", "2017Q1"]  # 2017Q2: the extract holds no deal created after 1 Jun 2017


def landing(deals, snaps, hist, quick: bool) -> None:
    """The scored landing-zone figures: day 45 (mid-quarter) on the demo and Maven."""
    quarters = DEMO_QUARTERS[-4:] if quick else DEMO_QUARTERS
    bt = landing_rows(deals, snaps, hist, quarters, 45)
    report_landing(bt, "Landing zone on the demo at day 45 of each quarter (only that day's data)")
    if not quick:
        last = bt.tail(4)
        print(f"  last 4 quarters: inside {int(last['inside'].sum())} of 4, mean width {last['width'].mean():.0%}, "
              f"mean |P50 error| {last['error'].abs().mean():.1%}")
        report_landing(landing_rows(deals, snaps, hist, quarters, 0), "Landing zone on the demo at the start of each quarter")
    if MAVEN.exists():
        report_landing(landing_rows(maven_deals(), None, None, MAVEN_QUARTERS, 45),
                       "Landing zone on the Maven CRM quarters at day 45 (no snapshots: rebuilt from the table)")


def landing_tuning(deals, snaps, hist) -> None:
    """The landing zone where its choices were tuned, apart from the scored figures: the demo
    and Maven at days 20 and 70 of the same quarters, and the Wave sample at days 20, 45, 70."""
    sets = [("demo", deals, snaps, hist, DEMO_QUARTERS, (20, 70))]
    if MAVEN.exists():
        sets.append(("Maven", maven_deals(), None, None, MAVEN_QUARTERS, (20, 70)))
    if WAVE.exists():
        sets.append(("Wave", wave_deals(), None, None, WAVE_QUARTERS, (20, 45, 70)))
    allrows = []
    for name, d, s, h, quarters, offsets in sets:
        for off in offsets:
            bt = landing_rows(d, s, h, quarters, off)
            report_landing(bt, f"Tuning: landing zone on {name} at day {off}")
            allrows.append(bt)
    tot = pd.concat(allrows, ignore_index=True)
    print(f"\nTuning sets together ({len(tot)} landing zones): inside {int(tot['inside'].sum())} of {len(tot)} "
          f"({tot['inside'].mean():.0%}), mean width {tot['width'].mean():.0%}, mean |P50 error| {tot['error'].abs().mean():.1%}")


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer quarters in the landing section")
    ap.add_argument("--only", choices=("speed", "accuracy", "landing"), help="run one section")
    ap.add_argument("--tuning", action="store_true", help="the accuracy table on the tuning windows instead (with "
                    "--only landing: the landing zone's tuning sets)")
    ap.add_argument("--no-prophet", dest="no_prophet", action="store_true", help="auto without Prophet (faster)")
    args = ap.parse_args()
    print(f"CPUs: {os.cpu_count()}; {load()}")
    deals, snaps, hist = demo_tables()
    B.run_forecast(deals, freq="M", horizon=6, n_jobs=1)  # warm-up: imports and Stan model load
    if args.only in (None, "speed"):
        speed(deals)
    if args.only in (None, "accuracy"):
        if args.tuning:
            ev = evaluate(tuning_windows(deals), include_prophet=not args.no_prophet)
            report_accuracy(ev, "Tuning windows (kept apart from the scored ones)")
        else:
            ev, t, c = timed(evaluate, scored_windows(), include_prophet=not args.no_prophet)
            report_accuracy(ev, f"Benchmark: {ev['series'].nunique()} series, 3 windows each")
            print(f"({t:.0f} s for the accuracy benchmark)")
    if args.only in (None, "landing"):
        if args.tuning:
            landing_tuning(deals, snaps, hist)
        else:
            landing(deals, snaps, hist, args.quick)


if __name__ == "__main__":
    main()
