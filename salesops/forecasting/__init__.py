"""Forecasting (DESIGN.md section 5): Prophet and baselines with rolling-origin backtests,
the pipeline-weighted forecast and the quarter's landing zone, and saved-forecast accuracy.

Public API::

    run_forecast(deals, freq="M", horizon=6, model="auto", by=None, train_until=None, ...)
        -> ForecastResult (backtest table, recommended model, forecast rows; .to_doc() = CLI JSON)
    landing(deals, snapshots, period, as_of, targets=None, calendar=..., n_samples=..., seed=...)
        -> dict {period, as_of, closed_won, open_expected, new_expected, p10, p50, p90, target, samples, ...}
    win_probabilities(...), deals_as_of(...): the pieces of the pipeline view
    save_run(...), accuracy_history(...): saved forecasts against actuals

Modules: ``series`` (booked revenue per period), ``models`` (Prophet, seasonal naive, ETS,
Theta, ensemble; guards), ``backtest`` (metrics, rolling origin, recommendation),
``landing`` (as-of reconstruction, learned win probabilities, landing zone, calibration),
``history`` (saved runs and their accuracy).
"""
from .backtest import ForecastResult, describe_backtest, holdout_scores, run_forecast
from .models import MODEL_LABELS, MODELS, ProphetParams, recommended_params
from .series import build_series

__all__ = ["ForecastResult", "run_forecast", "holdout_scores", "describe_backtest", "ProphetParams",
           "recommended_params", "MODELS", "MODEL_LABELS", "build_series"]

try:  # the pipeline view and saved-run history (kept importable on their own)
    from .landing import deals_as_of, landing, win_probabilities  # noqa: F401
    from .history import accuracy_history, save_run  # noqa: F401
    __all__ += ["landing", "deals_as_of", "win_probabilities", "save_run", "accuracy_history"]
except ImportError:  # pragma: no cover - while those modules are being written
    pass
