"""The lean Prophet used by the forecasts gives Prophet's own numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesops.forecasting import models as M


def test_lean_prophet_predicts_what_prophet_predicts():
    from prophet import Prophet

    rng = np.random.default_rng(3)
    n = 30
    ds = pd.date_range("2022-01-01", periods=n, freq="MS")
    y = 1e5 * (1 + 0.3 * np.sin(np.arange(n) / 12 * 2 * np.pi)) + rng.normal(0, 1e4, n)
    df = pd.DataFrame({"ds": ds, "y": y, "step": (ds >= "2023-01-01").astype(float)})
    fut = pd.DataFrame({"ds": pd.date_range("2022-01-01", periods=n + 6, freq="MS")})
    fut["step"] = (fut["ds"] >= "2023-01-01").astype(float)
    hol = pd.DataFrame({"holiday": "fair", "ds": pd.to_datetime(["2022-06-01", "2023-06-01", "2024-06-01"]),
                        "lower_window": 0, "upper_window": 0})

    def fit(cls):
        with M.quiet_logging():
            m = cls(yearly_seasonality=False, weekly_seasonality=False, daily_seasonality=False,
                    uncertainty_samples=0, holidays=hol, seasonality_mode="multiplicative")
            m.add_seasonality("yearly", period=365.25, fourier_order=3)
            m.add_regressor("step", mode="additive")
            m.fit(df, algorithm="BFGS")
        return m

    lean, plain = fit(M._lean_prophet_class()), fit(Prophet)
    pd.testing.assert_frame_equal(lean.train_component_cols, plain.train_component_cols)
    want = plain.predict(fut)["yhat"].to_numpy()
    assert lean.predict_yhat(fut) == pytest.approx(want, rel=1e-9)
    assert lean.predict(fut)["yhat"].to_numpy() == pytest.approx(want, rel=1e-9)
