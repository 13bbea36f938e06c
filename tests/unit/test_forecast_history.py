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


def test_saved_landing_zone_scored_once_the_period_is_over(demo_db, capsys):
    import json

    from salesops.cli import main
    from salesops.forecasting import landing_accuracy

    assert main(["--db", str(demo_db), "landing", "--period", "2026Q3", "--as-of", "2026-08-01", "--samples", "500",
                 "--save", "Q3 call", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["saved"]["version"] == 1
    with store.connect(demo_db) as conn:
        runs = load_runs(conn, kind="landing")
        deals = store.load_deals(conn)
    acc = landing_accuracy(runs, deals)
    row = acc.iloc[0]
    actual = deals[(deals.status == "won") & deals.close_date.between("2026-07-01", "2026-09-30")].amount.sum()
    assert row["period"] == "2026Q3" and row["actual"] == pytest.approx(actual)
    assert row["error"] == pytest.approx(doc["p50"] / actual - 1)
    assert row["inside"] == (doc["p10"] <= actual <= doc["p90"])
