"""Forecast chart builders: valid Vega-Lite, titled, and their data frames right."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesops.charts import forecast as C
from salesops.forecasting import MODEL_LABELS, run_forecast

from .test_forecast import monthly_deals, seasonal_values


@pytest.fixture(scope="module")
def result():
    return run_forecast(monthly_deals(seasonal_values(36)), freq="M", horizon=4, n_cutoffs=2, n_jobs=1)


def test_forecast_frame_joins_history_to_forecast_and_keeps_bounds_in_order(result):
    hist = result.series.frame
    frame = C.forecast_frame(hist, result.forecast)
    fc = frame[frame["series"] == "Forecast"]
    assert fc["period_start"].iloc[0] == hist["period_start"].iloc[-1]   # the dashed line starts at the last actual
    assert (fc["lower"] <= fc["value"]).all() and (fc["value"] <= fc["upper"]).all()   # low is low, high is high
    booked = frame[frame["series"] == "Booked so far"]
    started = result.forecast[result.forecast["booked_to_date"] > 0]
    assert len(started) == 1                                   # the last month was under way on the training date
    assert list(booked["value"]) == list(started["booked_to_date"])
    assert len(frame) == len(hist) + len(result.forecast) + 1 + len(booked)


def test_every_chart_builds_with_a_title(result):
    frame = C.forecast_frame(result.series.frame, result.forecast)
    charts = [
        C.forecast_chart(frame, currency="USD", money=True, freq="M", title="T", subtitle="S"),
        C.backtest_error_chart(result.backtest_by_cutoff, MODEL_LABELS, result.recommended, "4 months"),
        C.components_chart(result.components, currency="USD", money=True),
        C.landing_chart(np.random.default_rng(0).normal(100, 10, 500), 87, 100, 113, 120, currency="USD", period_label="2026Q4"),
    ]
    for ch in charts:
        spec = ch.to_dict()
        assert spec["title"]["text"]


def test_components_frame_labels_parts():
    comp = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=3, freq="MS"), "trend": [1.0, 2, 3],
                         "yearly": [0.5, -0.5, 0.0], "holidays": [0.0, 0, 0]})
    long = C.components_frame(comp)
    assert set(long["component"]) == {"Trend", "Yearly seasonality"}   # an all-zero part is left out


def test_landing_histogram_shares_sum_to_one():
    h = C.landing_frame(np.arange(1000.0))
    assert h["share"].sum() == pytest.approx(1.0) and (h["end"] > h["start"]).all()
