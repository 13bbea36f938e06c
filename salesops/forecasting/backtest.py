"""Rolling-origin backtests, error metrics, the recommended model and the forecast itself.

:func:`run_forecast` is the one entry point the page, the CLI and the benchmarks share, so
the numbers agree everywhere. For every group it fits each model at several cut-offs
(origins) inside the training data, scores the ``horizon`` periods after each cut-off, and
then fits once more on everything to forecast the future. The recommended model is the one
with the lowest backtest MAPE (ties go to the simpler model); ``model="auto"`` uses it.

Metrics (pooled over cut-offs, steps and groups):

- ``mape``: mean of |actual - forecast| / |actual| over points whose actual is not 0;
- ``wape``: sum |error| / sum |actual| (defined when some actuals are 0);
- ``mase``: mean |error| scaled by the in-sample mean absolute seasonal difference of the
  training data at that cut-off (below 1 = better than a seasonal naive in-sample);
- ``bias``: sum (forecast - actual) / sum actual (positive = over-forecast);
- ``coverage``: share of actuals inside the forecast interval.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import InputError
from ..periods import FiscalCalendar
from . import models as M
from .series import ALL, FREQ_WORDS, GROUP, PERIOD_START, SEASON_LENGTH, SeriesSet, actuals, build_series, default_train_until

BASE_MEMBERS = (M.SEASONAL_NAIVE, M.ETS, M.THETA)


@dataclass
class ForecastResult:
    """Everything the page and the CLI show about one forecast run."""

    model: str                     # the model used for ``forecast`` (auto -> the recommended one)
    requested: str                 # what the user asked for (auto or a model name)
    recommended: str | None
    freq: str
    horizon: int
    measure: str
    by: str | None
    series: SeriesSet
    backtest: pd.DataFrame         # one row per model: mape, wape, mase, bias, coverage, points, cutoffs
    backtest_by_cutoff: pd.DataFrame  # model, cutoff, mape, wape, bias, coverage
    backtest_points: pd.DataFrame  # group, model, cutoff, period_start, y, yhat, yhat_lower, yhat_upper
    forecasts: pd.DataFrame        # every model: model, group, period_start, yhat, yhat_lower, yhat_upper
    forecast: pd.DataFrame         # the used model: group, period_start, yhat, yhat_lower, yhat_upper, model
    fallbacks: list = field(default_factory=list)   # {group, model, reason}
    notes: list = field(default_factory=list)
    components: pd.DataFrame | None = None           # Prophet's trend/seasonality of the first group
    params: M.ProphetParams | None = None
    level: float = 0.8

    def summary(self) -> str:
        """The backtest error in words (what the user reads first)."""
        return describe_backtest(self)

    def to_doc(self) -> dict:
        """The JSON document of the CLI contract (DESIGN.md section 6), plus extra keys."""
        bt = self.backtest
        return {
            "model": self.model,
            "requested": self.requested,
            "recommended": self.recommended,
            "freq": self.freq,
            "horizon": self.horizon,
            "measure": self.measure,
            "by": self.by,
            "train_until": self.series.train_until,
            "last_period_start": self.series.last_start,
            "level": self.level,
            "summary": self.summary(),
            "backtest": [
                {"model": r.model, "mape": r.mape, "mase": r.mase, "coverage": r.coverage, "bias": r.bias,
                 "wape": r.wape, "points": int(r.points), "cutoffs": int(r.cutoffs), "recommended": r.model == self.recommended}
                for r in bt.itertuples(index=False)
            ],
            "backtest_by_cutoff": [
                {"model": r.model, "cutoff": r.cutoff, "mape": r.mape, "wape": r.wape, "bias": r.bias, "coverage": r.coverage}
                for r in self.backtest_by_cutoff.itertuples(index=False)
            ],
            "forecast": [
                {"group": r.group, "period_start": r.period_start, "yhat": r.yhat, "yhat_lower": r.yhat_lower,
                 "yhat_upper": r.yhat_upper, "model": r.model}
                for r in self.forecast.itertuples(index=False)
            ],
            "fallbacks": list(self.fallbacks),
            "notes": list(self.notes),
            "prophet_params": self.params.to_dict() if self.params else None,
        }


# --- cut-offs and metrics -----------------------------------------------------------------------
def choose_origins(n: int, h: int, n_cutoffs: int, m: int) -> list[int]:
    """Origins (training lengths) of the rolling backtest, oldest first.

    The newest origin leaves exactly ``h`` periods to score; older ones step back by up to
    half the horizon, keeping at least a season plus one period of training where possible."""
    if n_cutoffs <= 0 or n - h < 4:
        return []
    min_train = m + 1 if n - h >= m + 1 else 4
    last = n - h
    for step in range(max(1, h // 2), 0, -1):
        if last - step * (n_cutoffs - 1) >= min_train:
            return [last - step * i for i in range(n_cutoffs - 1, -1, -1)]
    k = (last - min_train) + 1
    return [last - i for i in range(k - 1, -1, -1)]


def seasonal_scale(y: np.ndarray, m: int) -> float:
    """Mean absolute seasonal difference of ``y`` (lag 1 when shorter than a season)."""
    y = np.asarray(y, dtype=float)
    lag = m if len(y) > m else 1
    if len(y) <= lag:
        return float("nan")
    d = np.abs(y[lag:] - y[:-lag])
    s = float(np.mean(d))
    return s if s > 0 else float("nan")


def score(points: pd.DataFrame) -> dict:
    """The metrics of the module docstring over ``points`` (y, yhat, yhat_lower, yhat_upper, scale)."""
    y = points["y"].to_numpy(dtype=float)
    f = points["yhat"].to_numpy(dtype=float)
    e = f - y
    nz = y != 0
    mape = float(np.mean(np.abs(e[nz]) / np.abs(y[nz]))) if nz.any() else float("nan")
    tot = float(np.sum(np.abs(y)))
    wape = float(np.sum(np.abs(e)) / tot) if tot > 0 else float("nan")
    bias = float(np.sum(e) / np.sum(y)) if np.sum(y) != 0 else float("nan")
    scale = points["scale"].to_numpy(dtype=float) if "scale" in points else np.full(len(y), np.nan)
    ok = np.isfinite(scale) & (scale > 0)
    mase = float(np.mean(np.abs(e[ok]) / scale[ok])) if ok.any() else float("nan")
    inside = (y >= points["yhat_lower"].to_numpy(dtype=float) - 1e-9) & (y <= points["yhat_upper"].to_numpy(dtype=float) + 1e-9)
    coverage = float(np.mean(inside)) if len(y) else float("nan")
    return {"mape": mape, "wape": wape, "mase": mase, "bias": bias, "coverage": coverage, "points": int(len(y))}


def _headline(row) -> float:
    return row["mape"] if np.isfinite(row["mape"]) else row["wape"]


# --- one group's fits (run in worker processes or threads when there are many groups) ----------
def _fit_group(y, ds, tasks, params_dict, freq, level, fiscal_start, want_components, include_prophet, h, m):
    """ETS, Theta and (optionally) Prophet for every (origin, future) task of one group.

    Returns {origin: {model: Prediction | reason}}."""
    out = {o: {} for o, _ in tasks}
    batch = M.statsforecast_batch({o: y[:o] for o, _ in tasks}, h, m, level)
    for o, res in batch.items():
        for name, v in res.items():
            out[o][name] = str(v) if isinstance(v, M.ModelSkipped) else v
    if include_prophet:
        params = M.ProphetParams.from_dict(params_dict)
        for origin, future in tasks:
            try:
                out[origin][M.PROPHET] = M.prophet_predict(y[:origin], ds[:origin], future, params, freq, level=level,
                                                           fiscal_start=fiscal_start,
                                                           components=want_components and origin == len(y))
            except M.ModelSkipped as exc:
                out[origin][M.PROPHET] = str(exc)
    return out


def _executor(n_jobs: int):
    """Forked processes from the main thread (the CLI, benchmarks): they run the Python side of
    Prophet and pandas in parallel too (about 1.6x on 2 cores, against 1.1x for threads).
    Inside the threaded Streamlit server, threads: forking there could copy held locks and a
    spawned interpreter would re-import the server's main module; threads still overlap
    Prophet's Stan optimiser (a separate process) and the compiled ETS/Theta code."""
    if threading.current_thread() is threading.main_thread() and os.name == "posix":
        return ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("fork"))
    return ThreadPoolExecutor(max_workers=n_jobs)


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


# --- the run ------------------------------------------------------------------------------------
def run_forecast(deals: pd.DataFrame, *, freq: str = "M", horizon: int = 6, measure: str = "won_amount",
                 by: str | None = None, train_until=None, model: str = "auto",
                 params: M.ProphetParams | None = None, calendar: FiscalCalendar | None = None,
                 n_cutoffs: int = 5, level: float = 0.8, n_jobs: int | None = None,
                 include_prophet: bool = True, progress: Callable[[float, str], None] | None = None,
                 series: SeriesSet | None = None) -> ForecastResult:
    """Backtest every model, pick the best, and forecast ``horizon`` periods per group.

    ``deals``: the deals frame (status, amount, close_date and the ``by`` column).
    ``params``: Prophet's settings (default :func:`models.recommended_params`).
    ``include_prophet=False`` skips Prophet (fast baselines only; ``model`` cannot be prophet).
    ``n_jobs``: workers when there are several groups (default: CPUs, max 4; see :func:`_executor`).
    Raises :class:`InputError` when there is nothing to forecast."""
    requested = M.check_model(model)
    calendar = calendar or FiscalCalendar()
    ss = series or build_series(deals, freq=freq, measure=measure, by=by, train_until=train_until,
                                horizon=horizon, calendar=calendar)
    freq, h = ss.freq, int(horizon)
    if ss.frame.empty:
        raise InputError("there are no won deals to forecast from"
                         + (f" up to {ss.train_until.date()}" if ss.train_until is not None and not pd.isna(ss.train_until) else "")
                         + "; import deals or choose a later --train-until")
    params = (params or M.recommended_params(freq)).validate()
    if requested == M.PROPHET:
        include_prophet = True
    m = SEASON_LENGTH[freq]
    report = progress or (lambda frac, text: None)
    groups = ss.groups
    data = {g: ss.values(g) for g in groups}
    origins = {g: choose_origins(len(data[g][0]), h, n_cutoffs, m) for g in groups}
    notes: list[str] = []
    fallbacks: list[dict] = []

    handling = {"clip": "Prophet clips them", "drop": "Prophet leaves them out", "keep": "Prophet keeps them"}[params.outliers]
    for g in groups:
        y, ds = data[g]
        mask = M.outlier_mask(y)
        if mask.any():
            where = ", ".join(f"{d:%b %Y}" if freq != "W" else f"{d:%d %b %Y}" for d in ds[mask][:3])
            notes.append(f"{'' if g == ALL else f'{g}: '}{int(mask.sum())} outlier period(s) ({where}{', ...' if mask.sum() > 3 else ''}), "
                         f"more than {M.OUTLIER_Z:.0f} robust standard deviations from the median; {handling}, "
                         "the baselines see them as they are")

    # tasks: (group, origin); origin == n is the final fit on everything
    preds: dict[tuple, dict] = {}
    report(0.05, "Fitting the models")
    for g in groups:
        y, ds = data[g]
        for o in origins[g] + [len(y)]:
            preds[(g, o)] = {}
            try:
                preds[(g, o)][M.SEASONAL_NAIVE] = M.seasonal_naive(y[:o], h, m, level) if not M.is_constant(y[:o]) else M.constant_prediction(y[:o], h)
            except M.ModelSkipped as exc:
                preds[(g, o)][M.SEASONAL_NAIVE] = str(exc)

    jobs = default_jobs() if n_jobs is None else max(1, int(n_jobs))
    args = {}
    for i, g in enumerate(groups):
        y, ds = data[g]
        tasks = [(o, list(ds[o:o + h])) for o in origins[g]] + [(len(y), ss.future)]
        args[g] = (y, ds, tasks, params.to_dict(), freq, level, calendar.start_month, i == 0, include_prophet, h, m)
    what = "ETS, Theta and Prophet" if include_prophet else "ETS and Theta"
    results = {}
    if jobs > 1 and len(groups) > 1:
        with _executor(min(jobs, len(groups))) as ex:
            futs = {g: ex.submit(_fit_group, *a) for g, a in args.items()}
            for i, g in enumerate(groups):
                results[g] = futs[g].result()
                report(0.05 + 0.85 * (i + 1) / len(groups), f"{what}: {i + 1} of {len(groups)} series")
    else:
        for i, g in enumerate(groups):
            results[g] = _fit_group(*args[g])
            report(0.05 + 0.85 * (i + 1) / len(groups), f"{what}: {i + 1} of {len(groups)} series")
    for g, res in results.items():
        for o, fitted in res.items():
            preds[(g, o)].update(fitted)
    components = None
    first = results[groups[0]].get(len(data[groups[0]][0]), {}).get(M.PROPHET)
    if isinstance(first, M.Prediction):
        components = first.components

    # the ensemble: mean of whichever members worked at that task
    for key, res in preds.items():
        members = [res[k] for k in (M.SEASONAL_NAIVE, M.ETS, M.THETA, M.PROPHET) if isinstance(res.get(k), M.Prediction)]
        try:
            res[M.ENSEMBLE] = M.ensemble(members)
        except M.ModelSkipped as exc:
            res[M.ENSEMBLE] = str(exc)
    for res in preds.values():  # bookings cannot be negative
        for name, p in res.items():
            if isinstance(p, M.Prediction):
                p.yhat = np.maximum(p.yhat, 0.0)
                p.lower = np.clip(p.lower, 0.0, None)
                p.upper = np.maximum(p.upper, p.yhat)
    model_names = [k for k in M.MODELS if k != M.PROPHET or include_prophet]

    # --- score the backtests
    report(0.92, "Scoring the backtests")
    rows = []
    failed_tasks = {k: 0 for k in model_names}
    failed_why: dict[str, str] = {}
    for g in groups:
        y, ds = data[g]
        for o in origins[g]:
            scale = seasonal_scale(y[:o], m)
            for name in model_names:
                p = preds[(g, o)].get(name)
                if not isinstance(p, M.Prediction):
                    failed_tasks[name] += 1
                    failed_why.setdefault(name, p if isinstance(p, str) else "not run")
                    continue
                k = min(h, len(y) - o)
                rows.append(pd.DataFrame({GROUP: g, "model": name, "cutoff": ds[o - 1], PERIOD_START: ds[o:o + k],
                                          "step": np.arange(1, k + 1), "y": y[o:o + k], "yhat": p.yhat[:k],
                                          "yhat_lower": p.lower[:k], "yhat_upper": p.upper[:k], "scale": scale}))
    points = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=[GROUP, "model", "cutoff", PERIOD_START, "step", "y", "yhat", "yhat_lower", "yhat_upper", "scale"])
    summary_rows, cut_rows = [], []
    n_cut = max((len(o) for o in origins.values()), default=0)
    for name in model_names:
        part = points[points["model"] == name]
        if part.empty:
            continue
        s = score(part)
        s.update(model=name, cutoffs=int(part["cutoff"].nunique()), complete=failed_tasks[name] == 0)
        summary_rows.append(s)
        for c, cp in part.groupby("cutoff", sort=True):
            cs = score(cp)
            cs.update(model=name, cutoff=c)
            cut_rows.append(cs)
    cols = ["model", "mape", "wape", "mase", "bias", "coverage", "points", "cutoffs", "complete"]
    backtest = pd.DataFrame(summary_rows, columns=cols)
    by_cutoff = pd.DataFrame(cut_rows, columns=["model", "cutoff", "mape", "wape", "mase", "bias", "coverage", "points"])

    n_tasks = sum(len(o) for o in origins.values())
    for name, k in failed_tasks.items():
        if k:
            notes.append(f"{M.MODEL_LABELS[name]} is left out of the recommendation: it could not be fitted at {k} of "
                         f"{n_tasks} backtest cut-offs ({failed_why.get(name)})")
    recommended = None
    eligible = backtest[backtest["complete"]].copy()
    if not eligible.empty:
        eligible["headline"] = eligible.apply(_headline, axis=1)
        eligible = eligible[np.isfinite(eligible["headline"])]
    if not eligible.empty:
        eligible["pref"] = eligible["model"].map(M.PREFERENCE)
        eligible["rounded"] = eligible["headline"].round(6)
        recommended = eligible.sort_values(["rounded", "pref"]).iloc[0]["model"]
    else:
        notes.append("too little history to backtest: the forecast uses seasonal naive, the most robust baseline")
    chosen = requested if requested != "auto" else (recommended or M.SEASONAL_NAIVE)
    if chosen == M.PROPHET and recommended and recommended != M.PROPHET:
        notes.append(f"Prophet backtests worse than {M.MODEL_LABELS[recommended]} on this data")

    # --- the forecast rows (every model), then the used model per group with fall-backs
    frows = []
    for g in groups:
        res = preds[(g, len(data[g][0]))]
        for name in model_names:
            p = res.get(name)
            if isinstance(p, M.Prediction):
                frows.append(pd.DataFrame({"model": name, GROUP: g, PERIOD_START: ss.future, "yhat": p.yhat,
                                           "yhat_lower": p.lower, "yhat_upper": p.upper}))
    forecasts = pd.concat(frows, ignore_index=True) if frows else pd.DataFrame(
        columns=["model", GROUP, PERIOD_START, "yhat", "yhat_lower", "yhat_upper"])
    pick = []
    for g, use in zip(groups, _used_per_group(groups, preds, data, chosen, recommended)):
        res = preds[(g, len(data[g][0]))]
        if use != chosen:
            p = res.get(chosen)
            reason = p if isinstance(p, str) else f"{M.MODEL_LABELS.get(chosen, chosen)} was not run"
            fallbacks.append({"group": g, "model": chosen, "used": use, "reason": reason})
        if use is None:
            continue
        note = res[use].note
        if note and note not in notes:
            notes.append(note)
        pick.append(forecasts[(forecasts[GROUP] == g) & (forecasts["model"] == use)])
    forecast = (pd.concat(pick, ignore_index=True) if pick else forecasts.iloc[0:0])[
        [GROUP, PERIOD_START, "yhat", "yhat_lower", "yhat_upper", "model"]]
    if include_prophet and chosen != M.PROPHET:
        for g in groups:
            p = preds[(g, len(data[g][0]))].get(M.PROPHET)
            if isinstance(p, str):
                fallbacks.append({"group": g, "model": M.PROPHET, "used": None, "reason": p})
    report(1.0, "Done")
    return ForecastResult(model=chosen, requested=requested, recommended=recommended, freq=freq, horizon=h,
                          measure=ss.measure, by=by, series=ss, backtest=backtest,
                          backtest_by_cutoff=by_cutoff, backtest_points=points, forecasts=forecasts,
                          forecast=forecast, fallbacks=fallbacks, notes=notes, components=components,
                          params=params if include_prophet else None, level=level)


def _used_per_group(groups, preds, data, chosen, recommended):
    for g in groups:
        res = preds[(g, len(data[g][0]))]
        if isinstance(res.get(chosen), M.Prediction):
            yield chosen
            continue
        order = [recommended] if recommended and recommended != chosen else []
        order += [k for k in (M.SEASONAL_NAIVE, M.ETS, M.THETA) if k not in order and k != chosen]
        yield next((k for k in order if isinstance(res.get(k), M.Prediction)), None)


def describe_backtest(result: ForecastResult) -> str:
    """One or two sentences: how far off the used model has been, and against what."""
    bt = result.backtest.set_index("model") if not result.backtest.empty else None
    unit = FREQ_WORDS[result.freq]
    if bt is None or result.model not in bt.index:
        return (f"There is too little history to backtest {M.MODEL_LABELS.get(result.model, result.model)}, "
                "so its accuracy is unknown: treat this forecast as a rough guide.")
    r = bt.loc[result.model]
    err = r["mape"] if np.isfinite(r["mape"]) else r["wape"]
    cut = int(r["cutoffs"])
    text = (f"{M.MODEL_LABELS[result.model]} has been off by {err:.0%} on average over the last {cut} backtest"
            f"{'s' if cut != 1 else ''} ({result.horizon} {unit}{'s' if result.horizon != 1 else ''} ahead each)")
    if np.isfinite(r["bias"]) and abs(r["bias"]) >= 0.05:
        text += f", and has tended to {'over' if r['bias'] > 0 else 'under'}-forecast by {abs(r['bias']):.0%}"
    text += "."
    if result.recommended == result.model:
        text += " It is the most accurate model in the backtest."
    elif result.recommended in bt.index:
        rr = bt.loc[result.recommended]
        e2 = rr["mape"] if np.isfinite(rr["mape"]) else rr["wape"]
        text += f" {M.MODEL_LABELS[result.recommended]} did better ({e2:.0%}) and is recommended."
    if np.isfinite(r["coverage"]):
        text += f" The {result.level:.0%} range held the actual {r['coverage']:.0%} of the time."
    return text


# --- held-out evaluation (tests and the benchmark) ------------------------------------------------
def holdout_scores(deals: pd.DataFrame, cutoff, *, freq: str = "M", horizon: int = 6, measure: str = "won_amount",
                   by: str | None = None, params: M.ProphetParams | None = None,
                   calendar: FiscalCalendar | None = None, include_prophet: bool = True,
                   n_jobs: int | None = None, n_cutoffs: int = 5) -> dict:
    """Train up to ``cutoff``, forecast ``horizon`` periods, and score every model (and auto)
    against what actually followed. Returns {"auto_model", "mape": {model: value, "auto": value}}."""
    calendar = calendar or FiscalCalendar()
    res = run_forecast(deals, freq=freq, horizon=horizon, measure=measure, by=by, train_until=cutoff,
                       model="auto", params=params, calendar=calendar, include_prophet=include_prophet,
                       n_jobs=n_jobs, n_cutoffs=n_cutoffs)
    act = actuals(deals, freq=freq, measure=measure, by=by, calendar=calendar)
    # score only periods that are over in the data (the newest month may be half-way through)
    data_end = default_train_until(deals)
    complete = [d for d in res.series.future
                if data_end is not None and pd.Timestamp(calendar.period_of(d.date(), freq).end) <= data_end]
    res.forecasts = res.forecasts[res.forecasts[PERIOD_START].isin(complete)]
    res.forecast = res.forecast[res.forecast[PERIOD_START].isin(complete)]
    if not complete:
        raise InputError(f"nothing after {pd.Timestamp(cutoff).date()} is complete yet to score against")
    out = {"cutoff": pd.Timestamp(cutoff), "auto_model": res.model, "recommended": res.recommended, "mape": {},
           "periods": len(complete)}
    for name, part in res.forecasts.groupby("model"):
        merged = part.merge(act, on=[GROUP, PERIOD_START], how="left").fillna({"y": 0.0})
        merged["scale"] = np.nan
        out["mape"][name] = score(merged)["mape"]
    merged = res.forecast.merge(act, on=[GROUP, PERIOD_START], how="left").fillna({"y": 0.0})
    merged["scale"] = np.nan
    out["mape"]["auto"] = score(merged)["mape"]
    return out


__all__ = ["ForecastResult", "run_forecast", "holdout_scores", "choose_origins", "score", "describe_backtest", "ALL"]
