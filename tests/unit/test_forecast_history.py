"""Saved forecast runs scored against the actuals that came in later."""
from __future__ import annotations

import pandas as pd
import pytest

from salesops import store
from salesops.forecasting import accuracy_by_model, accuracy_history, load_runs, run_forecast, save_run


def won(close, amount, i):
    return {"opportunity_id": f"D{i}", "owner": "Ann", "status": "won", "amount": float(amount), "stage": "Won",
            "created_date": pd.Timestamp(close) - pd.Timedelta(days=10), "close_date": pd.Timestamp(close), "probability": 1.0}


def test_saved_run_is_scored_on_complete_periods_only(empty_db):
    history = [won(d, 100 + (i % 12) * 10, i) for i, d in enumerate(pd.date_range("2021-01-01", periods=24, freq="MS") + pd.Timedelta(days=9))]
    deals = pd.DataFrame(history)
    res = run_forecast(deals, freq="M", horizon=3, include_prophet=False, train_until="2022-12-31")
    with store.connect(empty_db, write=True) as conn:
        run_id, version = save_run(conn, "Q1 plan", res)
    assert version == 1
    # later: January 2023 booked 300, February 150, March not over yet (data ends 10 March)
    later = deals.copy()
    later = pd.concat([later, pd.DataFrame([won("2023-01-10", 300, 100), won("2023-02-10", 150, 101), won("2023-03-10", 10, 102)])])
    with store.connect(empty_db) as conn:
        runs = load_runs(conn)
    assert runs[0]["payload"]["settings"]["train_until"] == "2022-12-31"
    hist = accuracy_history(runs, later)
    row = hist[hist["model"] == "seasonal_naive"].iloc[0]
    fc = res.forecasts[res.forecasts["model"] == "seasonal_naive"]["yhat"].to_numpy()
    assert row["periods"] == 2
    assert row["mape"] == pytest.approx((abs(fc[0] - 300) / 300 + abs(fc[1] - 150) / 150) / 2)
    assert row["bias"] == pytest.approx((fc[0] + fc[1] - 450) / 450)
    assert bool(hist.loc[hist["model"] == res.model, "used"].iloc[0])
    summary = accuracy_by_model(hist)
    assert set(summary["model"]) == set(hist["model"]) and (summary["runs"] == 1).all()
