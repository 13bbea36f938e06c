"""Forecasting (DESIGN.md section 5): Prophet and baselines with rolling-origin backtests,
the pipeline-weighted forecast and the quarter's landing zone, and saved-forecast accuracy.

Public API::

    run_forecast(deals, freq="M", horizon=6, model="auto", by=None, train_until=None, as_of=None, ...)
        -> ForecastResult (backtest table, recommended model, forecast rows with the running
           period's booked_to_date and forecast_rest; .to_doc() = CLI JSON)
    landing(deals, snapshots, period, as_of, targets=None, calendar=..., n_samples=..., seed=...)
        -> dict {period, as_of, closed_won, open_expected, new_expected, p10, p50, p90, target, samples, ...}
    deals_as_of(deals, snapshots, as_of, stage_history=None): the open deals of that day
    save_run(conn, name, result), load_runs(conn), accuracy_history(runs, deals): saved forecasts vs actuals

Modules: ``series`` (booked revenue per period, the running period's split), ``models``
(Prophet, seasonal naive, ETS, Theta, ARIMA, the median ensemble; guards), ``backtest``
(metrics, non-overlapping backtest windows, the recommendation, conformal ranges),
``landing_zone`` (as-of reconstruction, learned win probabilities, landing zone, calibration),
``history`` (saved runs and their accuracy).
"""
from .backtest import ForecastResult, describe_backtest, holdout_scores, run_forecast
from .models import MODEL_LABELS, MODELS, ProphetParams, recommended_params
from .history import accuracy_by_model, accuracy_history, landing_accuracy, load_runs, save_landing, save_run
from .landing_zone import calibration_words, deals_as_of, landing, landing_backtest, landing_doc
from .series import build_series

__all__ = ["ForecastResult", "run_forecast", "holdout_scores", "describe_backtest", "ProphetParams",
           "recommended_params", "MODELS", "MODEL_LABELS", "build_series", "landing", "landing_doc",
           "landing_backtest", "deals_as_of", "save_run", "load_runs", "accuracy_history", "accuracy_by_model",
           "save_landing", "landing_accuracy", "calibration_words"]

