"""Backtests, error metrics, the recommended model, conformal ranges and the forecast itself.

:func:`run_forecast` is the one entry point the page, the CLI, the landing zone's time-series
view and the benchmarks share, so the numbers agree everywhere. For every group it fits each
model on the training part of non-overlapping backtest windows (:func:`choose_origins`),
scores the ``horizon`` periods of each window, and then fits once more on everything to
forecast the future. ``model="auto"`` uses the recommendation: the ensemble, unless a single
model's backtest MASE is at least :data:`SELECT_MARGIN` lower (and the ensemble whenever fewer
than :data:`MIN_WINDOWS` windows fit). Ranges are conformal: quantiles of the backtest's
relative errors per horizon step (:func:`step_quantiles`).

Metrics (pooled over windows, steps and groups):

- ``mase``: mean |error| scaled by the in-sample mean absolute seasonal difference of the
  training data at that cut-off (below 1 = better than a seasonal naive in-sample): the
  recommendation's yardstick;
- ``mape``: mean of |actual - forecast| / |actual| over points whose actual is not 0;
- ``wape``: sum |error| / sum |actual| (defined when some actuals are 0);
- ``bias``: sum (forecast - actual) / sum actual (positive = over-forecast);
- ``coverage``: share of actuals inside the range that window would have had from the other
  windows' errors (leave one window out): the measured coverage of the drawn range.
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
from .series import (ALL, FREQ_WORDS, GROUP, PERIOD_START, SEASON_LENGTH, SeriesSet, actuals, booked_between, build_series,
                     default_train_until, share_booked, split_running, with_horizon)

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
    as_of: pd.Timestamp | None = None               # the day the forecast is made
    running: dict | None = None                      # the started forecast period: booked per group, share
    selection: str = "backtest"                      # how auto chose: "backtest" (the lowest MASE), "ensemble"
    #                                                  (no model clearly better) or "combination" (too few windows)
    windows: int = 0                                 # backtest windows (cut-offs) of the longest series
    interval: str = "conformal"                      # the used range: "conformal" (backtest errors) or "model"

    def summary(self) -> str:
        """The backtest error in words (what the user reads first)."""
        return describe_backtest(self)

    @property
    def coverage(self) -> float | None:
        """The measured coverage of the drawn range: how often the used model's range, built
        from the other backtest windows' errors, held the actual (None when not measured)."""
        bt = self.backtest.set_index("model") if not self.backtest.empty else None
        if bt is None or self.model not in bt.index or self.interval != "conformal":
            return None
        v = float(bt.loc[self.model, "coverage"])
        return v if np.isfinite(v) else None

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
                 "yhat_upper": r.yhat_upper, "model": r.model, "booked_to_date": r.booked_to_date,
                 "forecast_rest": r.forecast_rest}
                for r in self.forecast.itertuples(index=False)
            ],
            "as_of": self.as_of,
            "running_period": None if self.running is None else {
                "period_start": self.running["period_start"], "as_of": self.running["as_of"],
                "share_booked": self.running["share"], "share_rule": self.running["share_rule"],
                "booked_to_date": float(sum(self.running["booked"].values()))},
            "selection": self.selection,
            "windows": self.windows,
            "interval": self.interval,
            "coverage": self.coverage,
            "fallbacks": list(self.fallbacks),
            "notes": list(self.notes),
            "prophet_params": self.params.to_dict() if self.params else None,
        }


# --- cut-offs and metrics -----------------------------------------------------------------------
#: Fewest backtest windows for ``auto`` to pick a winner; with fewer it uses the ensemble.
MIN_WINDOWS = 3
#: ``auto`` keeps the ensemble unless a single model's backtest MASE is this much lower: with
#: a handful of windows smaller gaps are noise (chosen on the benchmark's tuning windows).
SELECT_MARGIN = 0.2


def choose_origins(n: int, h: int, n_cutoffs: int, m: int) -> list[int]:
    """Origins (training lengths) of the backtest, oldest first.

    Windows of ``h`` periods that do not overlap, the newest ending with the data; each
    training part holds at least a full season plus the horizon (``m + h`` periods), so a
    seasonal model has seen a season before it is scored. As many as fit, up to
    ``n_cutoffs``; none when not even one fits."""
    if n_cutoffs <= 0 or h <= 0:
        return []
    min_train = m + h
    out = []
    o = n - h
    while o >= min_train and len(out) < n_cutoffs:
        out.append(o)
        o -= h
    return out[::-1]


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
    lo = points["yhat_lower"].to_numpy(dtype=float)
    hi = points["yhat_upper"].to_numpy(dtype=float)
    known = np.isfinite(lo) & np.isfinite(hi)
    inside = (y >= lo - 1e-9) & (y <= hi + 1e-9)
    coverage = float(np.mean(inside[known])) if known.any() else float("nan")
    return {"mape": mape, "wape": wape, "mase": mase, "bias": bias, "coverage": coverage, "points": int(len(y))}


def _headline(row) -> float:
    return row["mape"] if np.isfinite(row["mape"]) else row["wape"]


# --- conformal ranges from the backtest errors --------------------------------------------------
#: Fewest past errors behind one horizon step's range; neighbouring steps are pooled until
#: this many are in (all steps, when the backtest holds fewer).
MIN_SCORES = 15
#: Relative errors are taken against max(|forecast|, this share of the series' recent level),
#: so a forecast near zero does not make every error look infinite.
LEVEL_FLOOR = 0.1


def level_of(y: np.ndarray, m: int) -> float:
    """The series' recent level: mean |y| over the last season (all of it when shorter)."""
    y = np.asarray(y, dtype=float)
    tail = np.abs(y[-m:]) if len(y) else np.array([0.0])
    v = float(np.mean(tail))
    return v if v > 0 else float(np.mean(np.abs(y))) if len(y) else 0.0


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The split-conformal quantile: the ceil((n + 1) x level)-th smallest score (the largest
    when n is small), so that a new score falls below it with probability >= level."""
    s = np.sort(np.asarray(scores, dtype=float)[~np.isnan(scores)])
    if len(s) == 0:
        return float("nan")
    r = int(np.ceil((len(s) + 1) * level))
    return float(s[min(r, len(s)) - 1])


def _isotonic(v: np.ndarray) -> np.ndarray:
    """Non-decreasing least-squares fit (pool adjacent violators): ranges widen with the horizon."""
    blocks = [[float(x), 1] for x in v]
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] > blocks[i + 1][0]:
            a, b = blocks[i], blocks.pop(i + 1)
            a[0] = (a[0] * a[1] + b[0] * b[1]) / (a[1] + b[1])
            a[1] += b[1]
            i = max(i - 1, 0)
        else:
            i += 1
    return np.concatenate([np.full(n, x) for x, n in blocks]) if blocks else np.array([])


def step_quantiles(steps: np.ndarray, scores: np.ndarray, h: int, level: float) -> np.ndarray:
    """The conformal quantile of the relative errors at each horizon step 1..h.

    Step k pools the scores of steps k-w..k+w, with w the smallest width holding
    :data:`MIN_SCORES` scores; the quantiles are then made non-decreasing in k."""
    steps = np.asarray(steps, dtype=int)
    scores = np.asarray(scores, dtype=float)
    q = np.full(h, np.nan)
    if len(scores) == 0:
        return q
    counts = np.bincount(np.clip(steps, 0, h + 1), minlength=h + 2)
    cum = np.concatenate([[0], np.cumsum(counts)])  # cum[j] = scores at steps < j
    for k in range(1, h + 1):
        w = 0
        while w < h:
            lo, hi = max(k - w, 0), min(k + w, h + 1)
            if cum[hi + 1] - cum[lo] >= MIN_SCORES:
                break
            w += 1
        q[k - 1] = conformal_quantile(scores[np.abs(steps - k) <= w], level)
    return _isotonic(q) if np.isfinite(q).all() else q


# --- one group's fits (run in worker processes or threads when there are many groups) ----------
def _fit_group(y, ds, tasks, params_dict, freq, level, fiscal_start, want_components, include_prophet, h, m):
    """ETS, Theta and (optionally) Prophet for every (origin, future) task of one group.

    Returns {origin: {model: Prediction | reason}}."""
    out = {o: {} for o, _ in tasks}
    # the model's own interval is used only for the final fit (a backtest's ranges are conformal)
    batch = M.statsforecast_batch({o: y[:o] for o, _ in tasks}, h, m, level, intervals={len(y)})
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
def _check_as_of(ss: SeriesSet, as_of: pd.Timestamp | None) -> pd.Timestamp | None:
    """The as-of date of the run (default: the training date), checked against the series."""
    tu = ss.train_until
    if tu is None or pd.isna(tu):
        return None
    tu = pd.Timestamp(tu).normalize()
    t = tu if as_of is None else pd.Timestamp(as_of).normalize()
    if t > tu:
        raise InputError(f"the as-of date {t.date()} is after the training date {tu.date()}; "
                         "deals closed after the training date are never read")
    if ss.future and t < ss.future[0] - pd.Timedelta(days=1):
        raise InputError(f"the as-of date {t.date()} is inside the training data (complete periods up to "
                         f"{(ss.future[0] - pd.Timedelta(days=1)).date()}); choose a date from then on, or an earlier "
                         "--train-until")
    return t


def _running_period(deals: pd.DataFrame, ss: SeriesSet, as_of: pd.Timestamp | None, by: str | None) -> dict | None:
    """The forecast period that has started by ``as_of``: what is booked in it so far (per
    group) and the share of such a period usually booked by this day."""
    if as_of is None or not ss.future:
        return None
    start = ss.future[0]
    if as_of < start:
        return None
    p = ss.calendar.period_of(start.date(), ss.freq)
    booked = booked_between(deals, start, as_of, measure=ss.measure, by=by)
    share, how = share_booked(deals, ss.calendar, ss.freq, start, as_of, measure=ss.measure)
    return {"period_start": start, "period_end": pd.Timestamp(p.end), "as_of": as_of, "share": float(share),
            "share_rule": how, "booked": {str(k): float(v) for k, v in booked.items()}}


def _apply_running(frame: pd.DataFrame, running: dict | None) -> pd.DataFrame:
    """Add booked_to_date and forecast_rest; the running period's yhat (and range) becomes
    booked to date + the forecast of its rest."""
    out = frame.copy()
    out["booked_to_date"] = 0.0
    out["forecast_rest"] = out["yhat"].astype(float)
    if running is None or out.empty:
        return out
    rows = (out[PERIOD_START] == running["period_start"]).to_numpy()
    booked = out.loc[rows, GROUP].astype(str).map(running["booked"]).fillna(0.0).to_numpy(dtype=float)
    total, lo, hi, rest = split_running(out.loc[rows, "yhat"].to_numpy(dtype=float), out.loc[rows, "yhat_lower"].to_numpy(dtype=float),
                                        out.loc[rows, "yhat_upper"].to_numpy(dtype=float), booked, running["share"])
    for col, v in (("yhat", total), ("yhat_lower", lo), ("yhat_upper", hi), ("booked_to_date", booked), ("forecast_rest", rest)):
        out.loc[rows, col] = v
    return out


def _conformal(points: pd.DataFrame, h: int, level: float) -> tuple[dict, pd.DataFrame]:
    """Conformal ranges from the backtest errors, per (group, model).

    Returns ({(group, model): q per step 1..h}, points with yhat_lower/yhat_upper replaced by
    the range each window would have had from the *other* windows' errors (leave one
    cut-off out): their coverage is the measured coverage of the drawn range). A group with
    fewer than MIN_SCORES errors borrows the errors of every group for that model."""
    qs: dict = {}
    if points.empty:
        return qs, points
    y = points["y"].to_numpy(dtype=float)
    yhat = points["yhat"].to_numpy(dtype=float)
    denom = np.maximum(np.abs(yhat), LEVEL_FLOOR * points["level"].to_numpy(dtype=float))
    err = np.abs(y - yhat)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(denom > 0, err / denom, np.where(err == 0, 0.0, np.inf))
    steps = points["step"].to_numpy(dtype=int)
    lower = np.full(len(points), np.nan)
    upper = np.full(len(points), np.nan)
    model_idx = points.groupby("model", sort=False).indices
    for name, mi in model_idx.items():
        sub = points.iloc[mi]
        for g, gi in sub.groupby(GROUP, sort=False).indices.items():
            gi = mi[gi]
            pool = gi if len(gi) >= MIN_SCORES else mi
            qs[(g, name)] = step_quantiles(steps[pool], scores[pool], h, level)
            cut = points["cutoff"].to_numpy()
            for c in pd.unique(cut[gi]):
                held = gi[cut[gi] == c]
                rest = np.setdiff1d(pool, held, assume_unique=True)
                if len(rest) == 0:
                    continue
                q = step_quantiles(steps[rest], scores[rest], h, level)
                half = q[steps[held] - 1] * denom[held]
                lower[held] = np.maximum(yhat[held] - half, 0.0)
                upper[held] = yhat[held] + half
    pts = points.copy()
    pts["yhat_lower"] = lower
    pts["yhat_upper"] = upper
    return qs, pts


def run_forecast(deals: pd.DataFrame, *, freq: str = "M", horizon: int = 6, measure: str = "won_amount",
                 by: str | None = None, train_until=None, model: str = "auto",
                 params: M.ProphetParams | None = None, calendar: FiscalCalendar | None = None,
                 n_cutoffs: int = 5, level: float = 0.8, n_jobs: int | None = None,
                 include_prophet: bool = True, progress: Callable[[float, str], None] | None = None,
                 series: SeriesSet | None = None, as_of=None) -> ForecastResult:
    """Backtest every model, pick the best, and forecast ``horizon`` periods per group.

    ``deals``: the deals frame (status, amount, close_date and the ``by`` column).
    ``params``: Prophet's settings (default :func:`models.recommended_params`).
    ``include_prophet=False`` skips Prophet (fast baselines only; ``model`` cannot be prophet).
    ``n_jobs``: workers when there are several groups (default: CPUs, max 4; see :func:`_executor`).
    ``as_of``: the day the forecast is made (default: the training date); when the first
    forecast period has started by then, it is reported as booked to date + the forecast of its
    rest (columns booked_to_date and forecast_rest). Given alone, it is the training date too.
    Raises :class:`InputError` when there is nothing to forecast."""
    requested = M.check_model(model)
    calendar = calendar or FiscalCalendar()
    if as_of is not None and train_until is None and series is None:
        train_until = as_of
    ss = series or build_series(deals, freq=freq, measure=measure, by=by, train_until=train_until,
                                horizon=horizon, calendar=calendar)
    if len(ss.future) != int(horizon) and ss.last_start is not None:
        ss = with_horizon(ss, int(horizon))
    freq, h = ss.freq, int(horizon)
    if ss.frame.empty:
        raise InputError("there are no won deals to forecast from"
                         + (f" up to {ss.train_until.date()}" if ss.train_until is not None and not pd.isna(ss.train_until) else "")
                         + "; import deals or choose a later --train-until")
    as_of_ts = _check_as_of(ss, as_of)
    params = (params or M.recommended_params(freq)).validate()
    if requested == M.PROPHET:
        include_prophet = True
    m = SEASON_LENGTH[freq]
    report = progress or (lambda frac, text: None)
    groups = ss.groups
    data = {g: ss.values(g) for g in groups}
    origins = {g: choose_origins(len(data[g][0]), h, n_cutoffs, m) for g in groups}
    windows = max((len(o) for o in origins.values()), default=0)
    notes: list[str] = []
    fallbacks: list[dict] = []

    for g, starts in ss.trimmed.items():
        when = ", ".join(f"{d:%b %Y}" if freq != "W" else f"{d:%d %b %Y}" for d in starts[:3])
        first = f"the first {FREQ_WORDS[freq]}" if len(starts) == 1 else f"the first {len(starts)} {FREQ_WORDS[freq]}s"
        notes.append(f"{'' if g == ALL else f'{g}: '}{first} ({when}{', ...' if len(starts) > 3 else ''}) booked less than a quarter of a typical "
                     f"{FREQ_WORDS[freq]} and {'are' if len(starts) != 1 else 'is'} left out: the history starts part-way through")
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
    what = "ETS, Theta, ARIMA and Prophet" if include_prophet else "ETS, Theta and ARIMA"
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

    # the ensemble: the median of the members that worked at that task
    for key, res in preds.items():
        members = [res[k] for k in M.COMBINATION if isinstance(res.get(k), M.Prediction)]
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

    # --- the backtest points, then conformal ranges from their errors
    report(0.92, "Scoring the backtests")
    cols_pts = [GROUP, "model", "cutoff", PERIOD_START, "step", "y", "yhat", "yhat_lower", "yhat_upper", "scale", "level"]
    acc: dict[str, list] = {c: [] for c in cols_pts}
    failed_tasks = {k: 0 for k in model_names}
    failed_why: dict[str, str] = {}
    for g in groups:
        y, ds = data[g]
        for o in origins[g]:
            scale = seasonal_scale(y[:o], m)
            lvl = level_of(y[:o], m)
            k = min(h, len(y) - o)
            for name in model_names:
                p = preds[(g, o)].get(name)
                if not isinstance(p, M.Prediction):
                    failed_tasks[name] += 1
                    failed_why.setdefault(name, p if isinstance(p, str) else "not run")
                    continue
                for col, v in ((GROUP, [g] * k), ("model", [name] * k), ("cutoff", [ds[o - 1]] * k),
                               (PERIOD_START, list(ds[o:o + k])), ("step", list(range(1, k + 1))), ("y", list(y[o:o + k])),
                               ("yhat", list(p.yhat[:k])), ("yhat_lower", list(p.lower[:k])),
                               ("yhat_upper", list(p.upper[:k])), ("scale", [scale] * k), ("level", [lvl] * k)):
                    acc[col].extend(v)
    points = pd.DataFrame(acc, columns=cols_pts)
    if not points.empty:
        points[["step"]] = points[["step"]].astype(int)
        for col in ("y", "yhat", "yhat_lower", "yhat_upper", "scale", "level"):
            points[col] = points[col].astype(float)
    quantiles, points = _conformal(points, h, level)
    summary_rows, cut_rows = [], []
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
    recommended, selection = None, "backtest"
    eligible = backtest[backtest["complete"]].copy()
    if not eligible.empty:
        eligible["headline"] = eligible["mase"].where(np.isfinite(eligible["mase"]), eligible.apply(_headline, axis=1))
        eligible = eligible[np.isfinite(eligible["headline"])]
    unit = FREQ_WORDS[freq]
    if windows < MIN_WINDOWS:
        selection = "combination"
        need = m + 2 * h
        why = (f"only {windows} backtest window{'s' if windows != 1 else ''} of {h} {unit}{'s' if h != 1 else ''} "
               f"fit{'s' if windows == 1 else ''} in the history" if windows else "no backtest window fits in the history")
        notes.append(f"{why} (each needs a season plus the horizon of training before it: {need} {unit}s for one, "
                     f"{m + (MIN_WINDOWS + 1) * h} for {MIN_WINDOWS}); too few to pick a winner, so auto uses the "
                     "ensemble (the median of every model's forecast)")
        if any(isinstance(preds[(g, len(data[g][0]))].get(M.ENSEMBLE), M.Prediction) for g in groups):
            recommended = M.ENSEMBLE
    elif not eligible.empty:
        eligible["pref"] = eligible["model"].map(M.PREFERENCE)
        eligible["rounded"] = eligible["headline"].round(6)
        recommended = eligible.sort_values(["rounded", "pref"]).iloc[0]["model"]
        ens = eligible[eligible["model"] == M.ENSEMBLE]
        if recommended != M.ENSEMBLE and not ens.empty:
            best = float(eligible.loc[eligible["model"] == recommended, "headline"].iloc[0])
            if best > (1 - SELECT_MARGIN) * float(ens["headline"].iloc[0]):
                recommended, selection = M.ENSEMBLE, "ensemble"
    if recommended is None:
        notes.append(("too little history to backtest" if windows < MIN_WINDOWS else
                      "no model could be backtested at every cut-off") + ": the forecast uses seasonal naive, the most robust baseline")
    chosen = requested if requested != "auto" else (recommended or M.SEASONAL_NAIVE)
    if chosen == M.PROPHET and recommended and recommended != M.PROPHET:
        notes.append(f"Prophet backtests worse than {M.MODEL_LABELS[recommended]} on this data")

    # --- the forecast rows (every model), with conformal ranges where the backtest allows
    fcols = ["model", GROUP, PERIOD_START, "yhat", "yhat_lower", "yhat_upper"]
    facc: dict[str, list] = {c: [] for c in fcols}
    uncalibrated = set()
    for g in groups:
        y = data[g][0]
        res = preds[(g, len(y))]
        lvl = level_of(y, m)
        for name in model_names:
            p = res.get(name)
            if not isinstance(p, M.Prediction):
                continue
            q = quantiles.get((g, name))
            lo, hi = p.lower, p.upper
            if q is not None and np.all(np.isfinite(q)):
                half = q * np.maximum(np.abs(p.yhat), LEVEL_FLOOR * lvl)
                lo, hi = np.maximum(p.yhat - half, 0.0), p.yhat + half
            else:
                uncalibrated.add(name)
            n_f = len(ss.future)
            for col, v in (("model", [name] * n_f), (GROUP, [g] * n_f), (PERIOD_START, list(ss.future)),
                           ("yhat", list(p.yhat)), ("yhat_lower", list(lo)), ("yhat_upper", list(hi))):
                facc[col].extend(v)
    forecasts = pd.DataFrame(facc, columns=fcols)
    for col in ("yhat", "yhat_lower", "yhat_upper"):
        forecasts[col] = forecasts[col].astype(float)
    forecasts[PERIOD_START] = pd.to_datetime(forecasts[PERIOD_START])
    running = _running_period(deals, ss, as_of_ts, by)
    forecasts = _apply_running(forecasts, running)
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
        [GROUP, PERIOD_START, "yhat", "yhat_lower", "yhat_upper", "model", "booked_to_date", "forecast_rest"]]
    used_models = set(forecast["model"])
    interval = "conformal" if not (used_models & uncalibrated) else "model"
    if used_models & uncalibrated:
        notes.append(f"the {level:.0%} range is the model's own (too little history to calibrate it on backtest "
                     "errors): treat it as a rough guide")
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
                          params=params if include_prophet else None, level=level, as_of=as_of_ts,
                          running=running, selection=selection, windows=windows, interval=interval)


def _used_per_group(groups, preds, data, chosen, recommended):
    for g in groups:
        res = preds[(g, len(data[g][0]))]
        if isinstance(res.get(chosen), M.Prediction):
            yield chosen
            continue
        order = [recommended] if recommended and recommended != chosen else []
        order += [k for k in (M.ENSEMBLE, M.SEASONAL_NAIVE, M.ETS, M.THETA, M.ARIMA) if k not in order and k != chosen]
        yield next((k for k in order if isinstance(res.get(k), M.Prediction)), None)


def describe_backtest(result: ForecastResult) -> str:
    """One or two sentences: how far off the used model has been, and against what."""
    bt = result.backtest.set_index("model") if not result.backtest.empty else None
    unit = FREQ_WORDS[result.freq]
    if bt is None or result.model not in bt.index:
        return (f"There is too little history to backtest {M.MODEL_LABELS.get(result.model, result.model)}, "
                f"so its accuracy is unknown and its {result.level:.0%} range is the model's own, not checked against "
                "past errors: treat this forecast as a rough guide.")
    r = bt.loc[result.model]
    err = r["mape"] if np.isfinite(r["mape"]) else r["wape"]
    cut = int(r["cutoffs"])
    text = (f"{M.MODEL_LABELS[result.model]} has been off by {err:.0%} on average over the last {cut} backtest"
            f"{'s' if cut != 1 else ''} ({result.horizon} {unit}{'s' if result.horizon != 1 else ''} ahead each)")
    if np.isfinite(r["bias"]) and abs(r["bias"]) >= 0.05:
        text += f", and has tended to {'over' if r['bias'] > 0 else 'under'}-forecast by {abs(r['bias']):.0%}"
    text += "."
    if result.recommended == result.model and result.selection == "combination":
        text += (" Too few backtests fit in the history to pick a winner, so it is the ensemble (the median of every"
                 " model's forecast), the safest choice.")
    elif result.recommended == result.model and result.selection == "ensemble":
        singles = bt.drop(index=[M.ENSEMBLE], errors="ignore")
        singles = singles[np.isfinite(singles["mase"])]
        text += (f" No single model beat it by {SELECT_MARGIN:.0%} or more in scaled error (MASE), so the ensemble"
                 " (the median of every model's forecast) is recommended")
        if not singles.empty:
            best = singles["mase"].idxmin()
            b = singles.loc[best]
            e3 = b["mape"] if np.isfinite(b["mape"]) else b["wape"]
            text += f"; the closest single model, {M.MODEL_LABELS[best]}, was off by {e3:.0%}"
        text += "."
    elif result.recommended == result.model:
        text += " It has the lowest scaled error (MASE) in the backtest."
    elif result.recommended in bt.index:
        rr = bt.loc[result.recommended]
        e2 = rr["mape"] if np.isfinite(rr["mape"]) else rr["wape"]
        text += f" {M.MODEL_LABELS[result.recommended]} has a lower scaled error (off by {e2:.0%}) and is recommended."
    cov = result.coverage
    if cov is not None:
        text += (f" Its {result.level:.0%} range, set from the backtests' errors, held the actual {cov:.0%} of the time"
                 " when each backtest was checked against a range built from the others.")
    elif result.interval != "conformal":
        text += f" Its {result.level:.0%} range is the model's own, not checked against past errors."
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
           "coverage": {}, "periods": len(complete), "selection": res.selection, "windows": res.windows}
    for name, part in res.forecasts.groupby("model"):
        merged = part.merge(act, on=[GROUP, PERIOD_START], how="left").fillna({"y": 0.0})
        merged["scale"] = np.nan
        sc = score(merged)
        out["mape"][name], out["coverage"][name] = sc["mape"], sc["coverage"]
    merged = res.forecast.merge(act, on=[GROUP, PERIOD_START], how="left").fillna({"y": 0.0})
    merged["scale"] = np.nan
    sc = score(merged)
    out["mape"]["auto"], out["coverage"]["auto"] = sc["mape"], sc["coverage"]
    return out


__all__ = ["ForecastResult", "run_forecast", "holdout_scores", "choose_origins", "score", "describe_backtest", "ALL"]
