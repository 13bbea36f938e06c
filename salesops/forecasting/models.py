"""The forecasting models: Prophet (tunable), seasonal naive, ETS, Theta, ARIMA and their
ensemble (the median of them all).

Every model answers the same question for one series: given ``y`` (complete periods, oldest
first) forecast the next ``h`` periods with a central value and its own interval of ``level``
(default 80%; the backtest replaces it with a conformal range where it can, see
:mod:`.backtest`). Nothing here draws random numbers: Prophet's own intervals come from a
global numpy RNG (unsafe in a threaded server), so Prophet runs with ``uncertainty_samples=0``
and its interval is built from its in-sample residual spread, widening with the horizon like
the seasonal naive's.

Guards (RELIABILITY.md, forecasts): a constant series is forecast as that constant by every
model; a model that needs more points than the series has, or whose optimiser fails, is
skipped with a reason (:class:`ModelSkipped`); a seasonal fit that fails is retried without the
season; outliers are found with a robust z-score and handled as :class:`ProphetParams`
``outliers`` says.
"""
from __future__ import annotations

import logging
import threading
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from statistics import NormalDist

from ..errors import InputError

PROPHET = "prophet"
SEASONAL_NAIVE = "seasonal_naive"
ETS = "ets"
THETA = "theta"
ARIMA = "arima"
ENSEMBLE = "ensemble"
MODELS = (SEASONAL_NAIVE, ETS, THETA, ARIMA, PROPHET, ENSEMBLE)
#: The statsforecast models, fitted together.
STAT_MODELS = (ETS, THETA, ARIMA)
#: The ensemble's members (Prophet only when it is run): a combination of methods beats each of
#: them on average (the M4 competition's lesson); the median keeps one member's blow-up out.
COMBINATION = (SEASONAL_NAIVE, ETS, THETA, ARIMA, PROPHET)
#: Order of preference when backtest errors tie: the simpler model wins.
PREFERENCE = {SEASONAL_NAIVE: 0, ETS: 1, THETA: 2, ARIMA: 3, ENSEMBLE: 4, PROPHET: 5}
MODEL_LABELS = {SEASONAL_NAIVE: "Seasonal naive", ETS: "ETS", THETA: "Theta", ARIMA: "ARIMA", PROPHET: "Prophet",
                ENSEMBLE: "Ensemble"}
#: Fewest complete periods each model needs.
MIN_POINTS = {SEASONAL_NAIVE: 2, ETS: 7, THETA: 4, ARIMA: 4, PROPHET: 6}
OUTLIER_Z = 5.0
#: Seconds one Prophet fit may take before it is stopped and a baseline used instead.
FIT_TIMEOUT = 20.0
_QUIET = ("prophet", "cmdstanpy", "prophet.plot")
# Numerical chatter of the fitting libraries (e.g. ETS dividing by zero degrees of freedom on a
# short series): narrow, permanent filters, because catch_warnings is not thread-safe.
for _module in ("statsforecast", "prophet", "cmdstanpy"):
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=_module)
    warnings.filterwarnings("ignore", category=FutureWarning, module=_module)


class ModelSkipped(Exception):
    """A model could not be used on a series; the message says why (shown to users)."""


@contextmanager
def quiet_logging():
    """Silence INFO chatter of prophet and cmdstanpy (and numerical warnings) around fits."""
    from cmdstanpy.utils import get_logger  # cmdstanpy installs its handler (and INFO level) on first use: do that first

    get_logger()
    loggers = [logging.getLogger(n) for n in _QUIET]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        if threading.current_thread() is threading.main_thread():
            with warnings.catch_warnings():  # not thread-safe: only from the main thread
                warnings.simplefilter("ignore")
                yield
        else:
            yield
    finally:
        for lg, lvl in zip(loggers, old):
            lg.setLevel(lvl)


# --- Prophet's knobs ------------------------------------------------------------------------
GROWTHS = ("linear", "flat", "logistic")
SEASONALITY_MODES = ("additive", "multiplicative")
OUTLIER_MODES = ("keep", "clip", "drop")
EVENT_KINDS = ("once", "step")


@dataclass(frozen=True)
class ProphetParams:
    """Everything a user can tune about Prophet.

    growth: linear, flat or logistic (logistic needs ``cap``, the ceiling per period in the
    series' unit; default 1.5 x the largest value). yearly / quarterly: seasonalities with
    their Fourier orders (capped by what the frequency can show). changepoint_prior_scale:
    trend flexibility; changepoint_range: share of history where the trend may bend.
    holidays_country: ISO code for the ``holidays`` package (each holiday lands in the
    period containing it). events: dicts {name, date, kind}: ``once`` marks the period of the
    date, ``step`` a lasting change from that date (a price change). interval_width: the
    interval's coverage. outliers: keep, clip (to median +- 5 robust SDs) or drop (left out
    of the fit).
    """

    growth: str = "linear"
    cap: float | None = None
    seasonality_mode: str = "additive"
    yearly: bool = True
    yearly_order: int = 3
    quarterly: bool = False
    quarterly_order: int = 2
    changepoint_prior_scale: float = 0.05
    changepoint_range: float = 0.8
    holidays_country: str | None = None
    events: tuple = ()
    interval_width: float = 0.8
    outliers: str = "clip"

    def validate(self) -> "ProphetParams":
        problems = []
        if self.growth not in GROWTHS:
            problems.append(f"growth must be one of {', '.join(GROWTHS)}")
        if self.seasonality_mode not in SEASONALITY_MODES:
            problems.append(f"seasonality mode must be one of {', '.join(SEASONALITY_MODES)}")
        if self.outliers not in OUTLIER_MODES:
            problems.append(f"outlier handling must be one of {', '.join(OUTLIER_MODES)}")
        if not 0 < self.changepoint_prior_scale <= 10:
            problems.append("changepoint prior scale must be in (0, 10]")
        if not 0.1 <= self.changepoint_range <= 1:
            problems.append("changepoint range must be between 0.1 and 1")
        if not 0.5 <= self.interval_width < 1:
            problems.append("interval width must be between 0.5 and 0.99")
        if self.yearly_order < 1 or self.quarterly_order < 1:
            problems.append("Fourier orders must be at least 1")
        if self.holidays_country:
            import holidays as holidays_pkg

            if self.holidays_country.upper() not in holidays_pkg.list_supported_countries():
                problems.append(f"no holiday calendar for country {self.holidays_country!r}; use an ISO code such as US, DE, GB")
        if self.cap is not None and not self.cap > 0:
            problems.append("the logistic cap must be positive")
        for ev in self.events:
            if not isinstance(ev, dict) or not ev.get("name") or not ev.get("date"):
                problems.append(f"event {ev!r} needs a name and a date")
            elif ev.get("kind", "once") not in EVENT_KINDS:
                problems.append(f"event {ev.get('name')!r}: kind must be once or step")
            else:
                try:
                    pd.Timestamp(ev["date"])
                except (ValueError, TypeError):
                    problems.append(f"event {ev.get('name')!r}: date {ev.get('date')!r} is not a date")
        if problems:
            raise InputError("Prophet settings: " + "; ".join(problems))
        return self

    def to_dict(self) -> dict:
        d = asdict(self)
        d["events"] = [dict(e) for e in self.events]
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "ProphetParams":
        d = dict(d or {})
        known = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in known}
        d["events"] = tuple(dict(e) for e in d.get("events", ()) or ())
        return cls(**d)


def recommended_params(freq: str = "M") -> ProphetParams:
    """Settings that hold up on short monthly/weekly/quarterly sales series: a stiff trend,
    a low-order yearly seasonality, for months a quarterly cycle (the quarter-end rush), and
    clipped outliers. Prophet's own defaults, tuned for daily data, overfit a few years of
    months (Superstore through May 2016: MAPE 0.50 with Prophet(), 0.22 with these)."""
    order = {"W": 6, "M": 3, "Q": 1}.get(freq, 3)
    return ProphetParams(yearly_order=order, changepoint_prior_scale=0.05 if freq != "W" else 0.1,
                         quarterly=freq == "M", quarterly_order=1,
                         seasonality_mode="additive", outliers="clip")


# --- helpers ----------------------------------------------------------------------------------
def z_value(level: float) -> float:
    """The standard normal quantile for a central interval of ``level`` (0.8 -> 1.2816)."""
    return float(NormalDist().inv_cdf(0.5 + level / 2))


def is_constant(y: np.ndarray) -> bool:
    y = y[~np.isnan(y)]
    return len(y) > 0 and float(np.ptp(y)) == 0.0


def outlier_mask(y: np.ndarray, z: float = OUTLIER_Z) -> np.ndarray:
    """Points further than ``z`` robust standard deviations (1.4826 MAD) from the median."""
    y = np.asarray(y, dtype=float)
    if len(y) < 6:
        return np.zeros(len(y), dtype=bool)
    med = np.nanmedian(y)
    mad = 1.4826 * np.nanmedian(np.abs(y - med))
    if not mad > 0:
        mad = np.nanmean(np.abs(y - med)) * 1.2533
    if not mad > 0:
        return np.zeros(len(y), dtype=bool)
    return np.abs(y - med) > z * mad


def clip_outliers(y: np.ndarray, z: float = OUTLIER_Z) -> np.ndarray:
    mask = outlier_mask(y, z)
    if not mask.any():
        return y
    med = np.nanmedian(y)
    mad = 1.4826 * np.nanmedian(np.abs(y - med)) or np.nanmean(np.abs(y - med)) * 1.2533
    return np.clip(y, med - z * mad, med + z * mad)


@dataclass
class Prediction:
    """One model's forecast of one series: arrays of length h."""

    yhat: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    components: pd.DataFrame | None = None
    note: str | None = None


def constant_prediction(y: np.ndarray, h: int) -> Prediction:
    v = float(y[~np.isnan(y)][-1])
    a = np.full(h, v)
    return Prediction(a, a.copy(), a.copy(), note="the series is constant, so every model forecasts that constant")


# --- seasonal naive ---------------------------------------------------------------------------
def seasonal_naive(y: np.ndarray, h: int, m: int, level: float = 0.8) -> Prediction:
    """Repeat the last season; interval from the seasonal differences' spread, widening with
    the number of seasons ahead. With less than one season of history: the last value."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < MIN_POINTS[SEASONAL_NAIVE]:
        raise ModelSkipped(f"seasonal naive needs at least {MIN_POINTS[SEASONAL_NAIVE]} periods, the series has {n}")
    steps = np.arange(h)
    note = None
    if n >= m + 1:
        yhat = y[n - m + (steps % m)]
        resid = y[m:] - y[:-m]
        k = steps // m + 1
    else:
        yhat = np.full(h, y[-1])
        resid = np.diff(y)
        k = steps + 1
        note = f"less than one season plus a period of history ({n} periods): seasonal naive repeats the last value"
    sd = float(np.sqrt(np.mean(resid ** 2))) if len(resid) else 0.0
    half = z_value(level) * sd * np.sqrt(k)
    return Prediction(yhat.astype(float), yhat - half, yhat + half, note=note)


# --- statsforecast: ETS, Theta and ARIMA -------------------------------------------------------
#: Fitted on log values when every value is positive: multiplicative seasonality, trend and
#: error become additive there (the souvenir shop's growing swings), at a fifth of the cost of
#: AutoETS's full search; the back-transformed forecast is the median. Theta keeps the raw
#: values (AutoTheta decomposes a seasonal series multiplicatively itself).
LOG_MODELS = ("ets", "arima")


def _positive(y: np.ndarray) -> bool:
    return bool(len(y)) and bool(np.all(y > 0))


def _sf_model(name: str, n: int, m: int):
    """The statsforecast model for ``name`` on a series of ``n`` points with season ``m``, or
    None when the series is too short for it."""
    from statsforecast.models import ARIMA as SfARIMA
    from statsforecast.models import AutoETS, AutoTheta

    season = m if n >= m + 2 and m <= 24 else 1  # a seasonal model needs more than a season of history
    if name == ETS:  # AutoETS over additive error, trend (none, linear, damped) and season
        return AutoETS(season_length=season, model="AZZ")
    if name == THETA:
        return AutoTheta(season_length=season)
    if name == ARIMA:
        # the airline model (Box & Jenkins): ARIMA(0,1,1)(0,1,1) where two seasons and a bit are
        # known, else ARIMA(0,1,1); AutoARIMA's stepwise search costs 0.5-1.5 s a fit,
        # too slow to refit at every cut-off of 30 rep series, and was no more accurate here
        if season > 1 and n >= 2 * season + 2:
            return SfARIMA(order=(0, 1, 1), seasonal_order=(0, 1, 1), season_length=season)
        if n >= 4:  # no drift: on a short history a drift extrapolates its first jump
            return SfARIMA(order=(0, 1, 1))
        return None
    raise ValueError(name)


def _sf_forecast(name: str, y: np.ndarray, h: int, m: int, level: float | None) -> "Prediction":
    """One statsforecast model on one series (on log values for :data:`LOG_MODELS` when every
    value is positive). ``level=None``: the central forecast only (bounds = it), for backtest
    cut-offs, whose ranges are conformal and never the model's own."""
    use_log = name in LOG_MODELS and _positive(y)
    z = np.log(y) if use_log else y
    lv = None if level is None else int(round(level * 100))
    res = None
    # a seasonal fit that fails is retried without the season, and ETS then as simple smoothing
    for season, simple in ((m, False), (1, False), (1, True)) if m > 1 else ((1, False), (1, True)):
        if simple and name != ETS:
            continue
        model = _sf_model(name, len(y), season)
        if model is None:
            raise ModelSkipped(f"{MODEL_LABELS[name]} needs more periods than the series has ({len(y)})")
        if simple:
            from statsforecast.models import AutoETS

            model = AutoETS(season_length=1, model="ANN")
        with quiet_logging():
            try:
                res = model.forecast(y=z.astype(float), h=h, level=[lv]) if lv else model.forecast(y=z.astype(float), h=h)
                break
            except Exception as exc:  # noqa: BLE001 - a numerical failure must fall back, not crash
                failure = exc
    if res is None:
        raise ModelSkipped(f"{MODEL_LABELS[name]} failed to fit ({type(failure).__name__})")
    yhat = np.asarray(res["mean"], dtype=float)
    lo = np.asarray(res.get(f"lo-{lv}", yhat), dtype=float)
    hi = np.asarray(res.get(f"hi-{lv}", yhat), dtype=float)
    if use_log:
        with np.errstate(over="ignore"):
            yhat, lo, hi = np.exp(yhat), np.exp(lo), np.exp(hi)
    if not np.all(np.isfinite(yhat)) or np.max(np.abs(yhat)) > 1e6 * max(np.max(np.abs(y)), 1.0):
        raise ModelSkipped(f"{MODEL_LABELS[name]} produced no usable forecast")
    lo = np.where(np.isfinite(lo), lo, yhat)
    hi = np.where(np.isfinite(hi), hi, yhat)
    return Prediction(yhat, np.minimum(lo, yhat), np.maximum(hi, yhat))


def statsforecast_batch(series: dict, h: int, m: int, level: float = 0.8, models: tuple | None = None,
                        intervals: set | None = None) -> dict:
    """ETS, Theta and ARIMA (statsforecast) for every series in ``series`` ({key: y array}).
    ``intervals``: the keys that need the model's own interval (default all; the others get
    the central forecast only, a little cheaper).

    Returns {key: {"ets": Prediction | ModelSkipped, "theta": ..., "arima": ...}}. Series that
    are too short or constant are answered without fitting; a model that fails on one series
    is skipped there only."""
    names = STAT_MODELS if models is None else tuple(models)
    out: dict = {}
    for key, y in series.items():
        y = np.asarray(y, dtype=float)
        if len(y) and is_constant(y):
            out[key] = {name: constant_prediction(y, h) for name in names}
            continue
        res = {}
        for name in names:
            if len(y) < MIN_POINTS[name]:
                res[name] = ModelSkipped(f"{MODEL_LABELS[name]} needs at least {MIN_POINTS[name]} periods, the series has {len(y)}")
                continue
            try:
                res[name] = _sf_forecast(name, y, h, m, level if intervals is None or key in intervals else None)
            except ModelSkipped as exc:
                res[name] = exc
        out[key] = res
    return out


# --- Prophet -----------------------------------------------------------------------------------
def _holiday_frame(params: ProphetParams, ds_all: pd.DatetimeIndex, freq: str, fiscal_start: int) -> pd.DataFrame | None:
    from ..periods import FiscalCalendar

    cal = FiscalCalendar(fiscal_start)
    rows = []
    if params.holidays_country:
        import holidays as holidays_pkg

        years = range(ds_all.min().year - 1, ds_all.max().year + 2)
        try:
            hol = holidays_pkg.country_holidays(params.holidays_country.upper(), years=years)
        except (NotImplementedError, KeyError, AttributeError):
            raise InputError(f"no holiday calendar for country {params.holidays_country!r}; use an ISO code such as US, DE, GB") from None
        for d, name in sorted(hol.items()):
            rows.append((str(name).split(";")[0].strip(), pd.Timestamp(d)))
    for ev in params.events:
        if ev.get("kind", "once") == "once":
            rows.append((f"event: {ev['name']}", pd.Timestamp(ev["date"])))
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["holiday", "date"])
    # each holiday lands on the period that contains it (monthly data has no daily dates)
    frame["ds"] = cal.period_starts(frame["date"], freq)
    frame = frame.drop_duplicates(["holiday", "ds"])
    frame["lower_window"] = 0
    frame["upper_window"] = 0
    return frame[["holiday", "ds", "lower_window", "upper_window"]]


_LEAN_PROPHET = None


def _lean_prophet_class():
    """Prophet with two of its slow pandas steps done in numpy, same numbers (a test checks
    them against Prophet's own): the indicator matrix of which feature columns make up which
    component (``pd.crosstab`` in Prophet: a third of a fit on a 40-month series), and, when the
    components are not wanted, ``yhat`` alone (Prophet's ``predict`` builds every component's
    frame). With ``uncertainty_samples=0`` nothing else in ``predict`` is needed."""
    global _LEAN_PROPHET
    if _LEAN_PROPHET is not None:
        return _LEAN_PROPHET
    from prophet import Prophet

    class LeanProphet(Prophet):
        def regressor_column_matrix(self, seasonal_features, modes):
            pairs = [(i, str(c).split("_delim_")[0]) for i, c in enumerate(seasonal_features.columns)]

            def group(name, members):
                members = set(members)
                cols = list(dict.fromkeys(c for c, comp in pairs if comp in members))
                pairs.extend((c, name) for c in cols)

            if self.train_holiday_names is not None:
                group("holidays", self.train_holiday_names.unique())
            for mode in ("additive", "multiplicative"):
                group(mode + "_terms", modes[mode])
                group("extra_regressors_" + mode, [r for r, props in self.extra_regressors.items() if props["mode"] == mode])
                modes[mode].append(mode + "_terms")
                modes[mode].append("extra_regressors_" + mode)
            modes[self.holidays_mode].append("holidays")
            rows = sorted({c for c, _ in pairs})
            names = sorted({comp for _, comp in pairs})
            ri = {c: i for i, c in enumerate(rows)}
            ci = {n: j for j, n in enumerate(names)}
            mat = np.zeros((len(rows), len(names)), dtype=np.int64)
            for c, comp in pairs:
                mat[ri[c], ci[comp]] += 1
            component_cols = pd.DataFrame(mat, index=pd.Index(rows, name="col"),
                                          columns=pd.Index(names, name="component"))
            for name in ("additive_terms", "multiplicative_terms"):
                if name not in component_cols:
                    component_cols[name] = 0
            component_cols = component_cols.drop(columns="zeros", errors="ignore")
            if (component_cols["additive_terms"] + component_cols["multiplicative_terms"]).max() > 1:
                raise Exception("A bug occurred in seasonal components.")
            if self.train_component_cols is not None:
                component_cols = component_cols[self.train_component_cols.columns]
                if not component_cols.equals(self.train_component_cols):
                    raise Exception("A bug occurred in constructing regressors.")
            return component_cols, modes

        def predict_yhat(self, df: pd.DataFrame) -> np.ndarray:
            """``predict(df)["yhat"]`` without building the component frames."""
            df, _ = self._prepare_regressors_for_predict(df.copy(), None)
            df = self.setup_dataframe(df)
            trend = np.asarray(self.predict_trend(df), dtype=float)
            features, _, cols, _ = self.make_all_seasonality_features(df)
            x = features.to_numpy(dtype=float)
            beta = np.asarray(self.params["beta"], dtype=float)
            add = np.nanmean(x @ (beta * cols["additive_terms"].to_numpy()).T, axis=1) * self.y_scale
            mult = np.nanmean(x @ (beta * cols["multiplicative_terms"].to_numpy()).T, axis=1)
            return trend * (1 + mult) + add

    _LEAN_PROPHET = LeanProphet
    return LeanProphet


def prophet_predict(y: np.ndarray, ds: pd.DatetimeIndex, future: list, params: ProphetParams, freq: str,
                    level: float | None = None, fiscal_start: int = 1, components: bool = False) -> Prediction:
    """Fit Prophet on (ds, y) and forecast the ``future`` period starts.

    Raises :class:`ModelSkipped` when the series is too short or the optimiser fails."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    h = len(future)
    if n < MIN_POINTS[PROPHET]:
        raise ModelSkipped(f"Prophet needs at least {MIN_POINTS[PROPHET]} periods, the series has {n}")
    if is_constant(y):
        return constant_prediction(y, h)
    level = params.interval_width if level is None else level
    note = None
    y_fit = y.copy()
    mask = outlier_mask(y)
    if mask.any() and params.outliers != "keep":
        if params.outliers == "clip":
            y_fit = clip_outliers(y)
        else:
            y_fit[mask] = np.nan
        note = f"{int(mask.sum())} outlier period(s) {'clipped' if params.outliers == 'clip' else 'left out of the fit'}"
    m = {"W": 52, "M": 12, "Q": 4}[freq]
    all_ds = pd.DatetimeIndex(list(ds) + list(future))
    df = pd.DataFrame({"ds": pd.DatetimeIndex(ds), "y": y_fit})
    fut = pd.DataFrame({"ds": all_ds})
    with quiet_logging():
        Prophet = _lean_prophet_class()

        cap = None
        if params.growth == "logistic":
            cap = float(params.cap) if params.cap else 1.5 * float(np.nanmax(y_fit))
            if not cap > 0:
                raise ModelSkipped("logistic growth needs a positive cap")
            df["cap"], fut["cap"] = cap, cap
            df["floor"], fut["floor"] = 0.0, 0.0
        model = Prophet(growth=params.growth, seasonality_mode=params.seasonality_mode,
                        yearly_seasonality=False, weekly_seasonality=False, daily_seasonality=False,
                        changepoint_prior_scale=params.changepoint_prior_scale,
                        changepoint_range=params.changepoint_range, interval_width=level,
                        uncertainty_samples=0,
                        holidays=_holiday_frame(params, all_ds, freq, fiscal_start))
        if params.yearly and n >= max(m // 2, 4):
            model.add_seasonality("yearly", period=365.25, fourier_order=int(min(params.yearly_order, max(1, m // 2))))
        if params.quarterly and freq in ("W", "M"):
            model.add_seasonality("quarterly", period=365.25 / 4, fourier_order=int(min(params.quarterly_order, 1 if freq == "M" else 6)))
        for ev in params.events:
            if ev.get("kind") == "step":
                col = "step_" + "".join(ch if ch.isalnum() else "_" for ch in str(ev["name"]))[:40]
                model.add_regressor(col)
                when = pd.Timestamp(ev["date"])
                df[col] = (df["ds"] >= when).astype(float)
                fut[col] = (fut["ds"] >= when).astype(float)
        try:
            # BFGS reaches the same optimum as Prophet's default (Newton below 100 points, else
            # L-BFGS) on these short series in about half the time; Prophet retries with Newton
            # if it fails. A fit that runs past FIT_TIMEOUT seconds is stopped (a slow fit).
            model.fit(df, algorithm="BFGS", timeout=FIT_TIMEOUT)
            pred = model.predict(fut) if components else None
            yhat_all = pred["yhat"].to_numpy(dtype=float) if components else model.predict_yhat(fut)
        except InputError:
            raise
        except TimeoutError:
            raise ModelSkipped(f"Prophet took longer than {FIT_TIMEOUT:g} s to fit") from None
        except Exception as exc:  # noqa: BLE001 - optimiser failures fall back to a baseline
            raise ModelSkipped(f"Prophet's optimiser failed ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not np.all(np.isfinite(yhat_all)):
        raise ModelSkipped("Prophet produced no finite forecast")
    fitted, yhat = yhat_all[:n], yhat_all[n:]
    ok = ~np.isnan(y_fit)
    resid = y_fit[ok] - fitted[ok]
    dof = max(int(ok.sum()) - 1, 1)
    sd = float(np.sqrt(np.sum(resid ** 2) / dof))
    k = np.arange(h)
    half = z_value(level) * sd * np.sqrt(1 + k / m * 2)
    comp = None
    if components:
        cols = [c for c in ("trend", "yearly", "quarterly", "holidays", "extra_regressors_additive",
                            "extra_regressors_multiplicative") if c in pred.columns]
        comp = pred[["ds"] + cols].copy()
        comp["actual"] = np.concatenate([y, np.full(h, np.nan)])
    return Prediction(yhat, yhat - half, yhat + half, components=comp, note=note)


def ensemble(preds: list[Prediction]) -> Prediction:
    """The median of the members' forecasts (and of their own bounds), period by period."""
    if not preds:
        raise ModelSkipped("no member model produced a forecast")
    yhat = np.median([p.yhat for p in preds], axis=0)
    lo = np.median([p.lower for p in preds], axis=0)
    hi = np.median([p.upper for p in preds], axis=0)
    notes = {p.note for p in preds}
    return Prediction(yhat, np.minimum(lo, yhat), np.maximum(hi, yhat), note=notes.pop() if len(notes) == 1 else None)


def check_model(name: str) -> str:
    n = str(name).lower()
    if n != "auto" and n not in MODELS:
        raise InputError(f"--model must be auto or one of {', '.join(MODELS)}, not {name!r}")
    return n


__all__ = ["ProphetParams", "recommended_params", "ModelSkipped", "Prediction", "seasonal_naive",
           "statsforecast_batch", "prophet_predict", "ensemble", "quiet_logging", "MODELS"]
