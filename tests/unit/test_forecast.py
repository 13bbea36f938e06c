"""Forecasting: series building, models, guards, metrics, backtests and the CLI contract."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from salesops import store, workspace
from salesops.cli import main
from salesops.forecasting import backtest as B
from salesops.forecasting import models as M
from salesops.forecasting import run_forecast
from salesops.forecasting.series import build_series


def deals_from(rows):
    """Won deals from (close_date, amount[, owner]) tuples."""
    recs = []
    for i, r in enumerate(rows):
        recs.append({"opportunity_id": f"D{i}", "owner": r[2] if len(r) > 2 else "Ann", "status": "won",
                     "amount": float(r[1]), "created_date": pd.Timestamp(r[0]) - pd.Timedelta(days=20),
                     "close_date": pd.Timestamp(r[0]), "stage": "Closed Won", "probability": 1.0})
    return pd.DataFrame(recs)


def monthly_deals(values, start="2020-01-15", owner="Ann"):
    dates = pd.date_range(start, periods=len(values), freq="MS") + pd.Timedelta(days=14)
    return deals_from([(d, v, owner) for d, v in zip(dates, values) if v])


def seasonal_values(n=40, noise=0.05, seed=1):
    rng = np.random.default_rng(seed)
    base = np.array([80, 85, 120, 90, 95, 130, 85, 90, 140, 100, 110, 180], dtype=float)
    return [base[i % 12] * (1 + 0.01 * i) * (1 + rng.normal(0, noise)) for i in range(n)]


# --- series -----------------------------------------------------------------------------------
def test_series_sums_won_amount_per_month_and_fills_gaps():
    deals = deals_from([("2021-01-05", 100), ("2021-01-20", 50), ("2021-03-02", 70), ("2021-04-30", 10)])
    lost = deals_from([("2021-02-10", 999)]).assign(status="lost", opportunity_id="L1")
    ss = build_series(pd.concat([deals, lost]), freq="M", horizon=2)
    y, ds = ss.values("all")
    assert list(ds.strftime("%Y-%m")) == ["2021-01", "2021-02", "2021-03", "2021-04"]
    assert list(y) == [150.0, 0.0, 70.0, 10.0]
    assert [d.strftime("%Y-%m-%d") for d in ss.future] == ["2021-05-01", "2021-06-01"]


def test_train_until_drops_later_deals_and_the_unfinished_period():
    deals = deals_from([("2021-01-05", 100), ("2021-02-10", 50), ("2021-03-02", 70), ("2021-03-20", 5)])
    ss = build_series(deals, freq="M", train_until="2021-03-10", horizon=1)
    y, ds = ss.values("all")
    assert list(y) == [100.0, 50.0]  # March is not over on 10 March
    assert ss.future[0] == pd.Timestamp("2021-03-01")


def test_count_measure_and_groups():
    deals = deals_from([("2021-01-05", 100, "Ann"), ("2021-01-06", 100, "Bob"), ("2021-02-06", 1, "Bob")])
    ss = build_series(deals, freq="M", measure="won_count", by="owner", train_until="2021-02-28")
    assert ss.groups == ["Ann", "Bob"]
    assert list(ss.values("Bob")[0]) == [1.0, 1.0]
    assert list(ss.values("Ann")[0]) == [1.0, 0.0]


# --- models and guards ------------------------------------------------------------------------
def test_seasonal_naive_repeats_last_season_with_widening_interval():
    y = np.array([1, 2, 3, 4, 2, 3, 4, 5], dtype=float)  # season 4, every seasonal difference is 1
    p = M.seasonal_naive(y, h=6, m=4, level=0.8)
    assert list(p.yhat) == [2, 3, 4, 5, 2, 3]
    half = p.upper - p.yhat
    z = M.z_value(0.8)
    assert half[0] == pytest.approx(z * 1.0)          # sd of seasonal differences = 1
    assert half[4] == pytest.approx(z * np.sqrt(2))   # second season ahead


def test_constant_series_gives_that_constant_everywhere():
    deals = monthly_deals([500.0] * 20)
    res = run_forecast(deals, freq="M", horizon=3, include_prophet=False)
    assert np.allclose(res.forecast["yhat"], 500.0)
    assert any("constant" in n for n in res.notes)


def test_too_short_series_falls_back_with_a_reason():
    deals = monthly_deals([100, 120, 90])
    res = run_forecast(deals, freq="M", horizon=2, model="prophet", n_cutoffs=3)
    assert res.forecast["model"].iloc[0] != M.PROPHET
    reasons = [f["reason"] for f in res.fallbacks]
    assert any("Prophet needs at least" in r for r in reasons)
    assert "too little history" in res.summary()


def test_optimiser_failure_falls_back_to_a_baseline(monkeypatch):
    import prophet

    def boom(self, *a, **k):
        raise RuntimeError("Error during optimization!")

    monkeypatch.setattr(prophet.Prophet, "fit", boom)
    deals = monthly_deals(seasonal_values(30))
    res = run_forecast(deals, freq="M", horizon=3, model="prophet", n_cutoffs=2, n_jobs=1)
    assert set(res.forecast["model"]) <= {M.SEASONAL_NAIVE, M.ETS, M.THETA, M.ARIMA, M.ENSEMBLE}
    assert any("optimiser failed" in f["reason"] for f in res.fallbacks)
    assert M.PROPHET not in set(res.backtest["model"])


def test_outliers_are_found_and_clipped():
    y = np.array([100, 105, 98, 102, 5000, 101, 99, 103], dtype=float)
    assert list(np.flatnonzero(M.outlier_mask(y))) == [4]
    clipped = M.clip_outliers(y)
    assert clipped[4] < 200 and clipped[0] == 100


def test_prophet_params_validate_and_round_trip():
    p = M.ProphetParams(growth="logistic", cap=10.0, events=({"name": "price change", "date": "2021-06-01", "kind": "step"},))
    assert M.ProphetParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    with pytest.raises(Exception, match="growth"):
        M.ProphetParams(growth="cubic").validate()


# --- metrics and backtests --------------------------------------------------------------------
def test_score_by_hand():
    pts = pd.DataFrame({"y": [100.0, 200.0, 0.0], "yhat": [110.0, 150.0, 10.0],
                        "yhat_lower": [90.0, 160.0, 0.0], "yhat_upper": [120.0, 180.0, 20.0], "scale": [20.0, 20.0, 20.0]})
    s = B.score(pts)
    assert s["mape"] == pytest.approx((0.1 + 0.25) / 2)          # the zero actual is left out
    assert s["wape"] == pytest.approx((10 + 50 + 10) / 300)
    assert s["bias"] == pytest.approx((10 - 50 + 10) / 300)
    assert s["mase"] == pytest.approx((10 + 50 + 10) / 3 / 20)
    assert s["coverage"] == pytest.approx(2 / 3)


def test_origins_are_non_overlapping_windows_after_a_season_plus_the_horizon():
    # 40 months, horizon 6: windows end with the data, step back by the horizon, and each
    # training part holds at least 12 + 6 = 18 months
    assert B.choose_origins(40, 6, 5, 12) == [22, 28, 34]
    assert B.choose_origins(144, 12, 5, 12) == [84, 96, 108, 120, 132]      # as many as fit, up to 5
    assert B.choose_origins(144, 12, 10, 12) == [24 + 12 * i for i in range(10)]
    assert B.choose_origins(24, 6, 5, 12) == [18]                           # one window: 18 + 6 = 24
    assert B.choose_origins(23, 6, 5, 12) == []                             # none fits
    assert B.choose_origins(20, 2, 5, 4) == [10, 12, 14, 16, 18]


def expected_recommendation(bt: pd.DataFrame) -> str:
    """The rule of the docs, applied to a backtest table: the lowest MASE wins only if it is at
    least 20% below the ensemble's; ties go to the simpler model."""
    ok = bt[bt["complete"] & np.isfinite(bt["mase"])].set_index("model")
    best = min(ok.index, key=lambda m: (round(ok.loc[m, "mase"], 6), M.PREFERENCE[m]))
    if best != M.ENSEMBLE and ok.loc[best, "mase"] > 0.8 * ok.loc[M.ENSEMBLE, "mase"]:
        return M.ENSEMBLE
    return best


def test_auto_keeps_the_ensemble_unless_a_model_is_clearly_better():
    # noisy seasonal sales: no model is 20% better than the median of all of them
    noisy = run_forecast(monthly_deals(seasonal_values(54, noise=0.12, seed=4)), freq="M", horizon=6, include_prophet=False)
    # a clean seasonal pattern growing 2% a month: ARIMA on log values (the airline model) fits it
    # nearly exactly, far ahead of the ensemble, which also holds seasonal naive and Theta
    t = np.arange(54)
    clean = np.array([80, 85, 120, 90, 95, 130, 85, 90, 140, 100, 110, 180.0])[t % 12] * 10 * (1 + 0.02 * t)
    sharp = run_forecast(monthly_deals(list(clean)), freq="M", horizon=6, include_prophet=False)
    for res in (noisy, sharp):
        assert res.windows >= 3 and res.selection in ("backtest", "ensemble")
        assert res.recommended == expected_recommendation(res.backtest)
        assert res.model == res.recommended
        expected = res.forecasts[res.forecasts["model"] == res.recommended]["yhat"].to_numpy()
        assert np.allclose(res.forecast["yhat"].to_numpy(), expected)
    assert noisy.model == M.ENSEMBLE
    assert sharp.model == M.ARIMA and "lowest scaled error (MASE)" in sharp.summary()


def test_fewer_than_three_windows_fall_back_to_the_ensemble_and_say_so():
    res = run_forecast(monthly_deals(seasonal_values(31)), freq="M", horizon=6, include_prophet=False)
    # 30 complete months: windows after 18 and 24 months of training, no room for a third
    assert res.windows == 2 and res.selection == "combination" and res.model == M.ENSEMBLE
    assert any("only 2 backtest windows of 6 months fit" in n and "auto uses the ensemble" in n for n in res.notes), res.notes
    assert "Too few backtests fit" in res.summary()


def test_ensemble_is_the_median_of_the_members():
    res = run_forecast(monthly_deals(seasonal_values(40)), freq="M", horizon=3, include_prophet=False, n_cutoffs=0)
    fc = res.forecasts.pivot(index="period_start", columns="model", values="yhat")
    members = fc[[M.SEASONAL_NAIVE, M.ETS, M.THETA, M.ARIMA]].to_numpy()
    assert np.allclose(fc[M.ENSEMBLE].to_numpy(), np.median(members, axis=1))


def test_backtest_numbers_recomputed_independently():
    """The seasonal naive backtest MAPE, recomputed by hand from the series."""
    vals = seasonal_values(36, seed=3)
    deals = monthly_deals(vals)
    res = run_forecast(deals, freq="M", horizon=3, include_prophet=False, n_cutoffs=2,
                       train_until=deals["close_date"].max() + pd.offsets.MonthEnd(0))
    y = np.array(vals)
    assert len(res.series.values("all")[0]) == len(y)
    apes = []
    for o in B.choose_origins(len(y), 3, 2, 12):
        for k in range(3):
            apes.append(abs(y[o - 12 + k] - y[o + k]) / y[o + k])
    got = res.backtest.set_index("model").loc["seasonal_naive", "mape"]
    assert got == pytest.approx(np.mean(apes))


def test_forecast_rows_never_negative():
    deals = monthly_deals([10, 500, 5, 700, 3, 900, 1, 800, 2, 900, 1, 1000, 2, 50])
    res = run_forecast(deals, freq="M", horizon=4, include_prophet=False)
    assert (res.forecasts[["yhat", "yhat_lower", "yhat_upper"]] >= 0).all().all()


@pytest.mark.slow
def test_prophet_fit_gives_components_and_finite_numbers():
    deals = monthly_deals(seasonal_values(36))
    res = run_forecast(deals, freq="M", horizon=3, model="prophet", n_cutoffs=1, n_jobs=1)
    assert res.model == "prophet" and not res.fallbacks
    assert np.isfinite(res.forecast["yhat"]).all()
    assert {"trend", "yearly"} <= set(res.components.columns)


# --- demo workspace: auto is no worse than seasonal naive on held-out months -------------------
def demo_deals(path):
    with store.connect(path) as conn:
        return workspace.attach_roster(store.load_deals(conn), store.load_reps(conn))


def test_demo_with_a_short_history_uses_the_ensemble_and_scores_the_held_out_months(demo_db):
    deals = demo_deals(demo_db)
    r = B.holdout_scores(deals, "2025-08-31", freq="M", horizon=6, include_prophet=False)
    assert r["periods"] == 6
    # 26 complete months (the first, a partial start, is left out): one window fits, too few to pick from
    assert r["windows"] == 1 and r["selection"] == "combination" and r["auto_model"] == M.ENSEMBLE
    assert r["mape"]["auto"] == pytest.approx(r["mape"][M.ENSEMBLE])
    assert 0.0 <= r["coverage"]["auto"] <= 1.0


@pytest.mark.slow
def test_prophet_is_an_ensemble_member_on_the_demo(demo_db):
    res = run_forecast(demo_deals(demo_db), freq="M", horizon=6, n_jobs=1)
    fc = res.forecasts.pivot(index="period_start", columns="model", values="yhat")
    members = fc[[M.SEASONAL_NAIVE, M.ETS, M.THETA, M.ARIMA, M.PROPHET]]
    rest = ~fc.index.isin([res.running["period_start"]])   # the started month is booked + the same share of each
    assert np.allclose(fc.loc[rest, M.ENSEMBLE], np.median(members[rest].to_numpy(), axis=1))
    assert set(res.backtest["model"]) == set(M.MODELS)
    assert res.recommended == expected_recommendation(res.backtest)
    if res.selection == "ensemble":   # a single model was lowest, but not by 20%: the summary names it
        assert "No single model beat it by 20%" in res.summary() and "the closest single model" in res.summary()


# --- CLI -----------------------------------------------------------------------------------------
def test_cli_forecast_json_contract(demo_db, capsys):
    code = main(["--db", str(demo_db), "forecast", "--freq", "Q", "--horizon", "2", "--no-prophet", "--json",
                 "--train-until", "2026-06-30"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["freq"] == "Q" and doc["model"] == doc["recommended"]
    assert {"model", "mape", "mase", "coverage", "bias"} <= set(doc["backtest"][0])
    assert [r["period_start"] for r in doc["forecast"]] == ["2026-07-01", "2026-10-01"]
    assert all(r["group"] == "all" for r in doc["forecast"])
    assert all(r["yhat_lower"] <= r["yhat"] <= r["yhat_upper"] for r in doc["forecast"])


def test_cli_train_until_ignores_later_deals(demo_db, capsys):
    args = ["forecast", "--freq", "M", "--horizon", "2", "--no-prophet", "--json", "--train-until", "2025-12-31"]
    assert main(["--db", str(demo_db)] + args) == 0
    before = json.loads(capsys.readouterr().out)
    with store.connect(demo_db, write=True) as conn:  # a huge deal closed after the cut-off
        conn.execute("UPDATE opportunities SET amount = 1e9 WHERE status = 'won' AND close_date > '2026-01-15'")
    assert main(["--db", str(demo_db)] + args) == 0
    after = json.loads(capsys.readouterr().out)
    assert before["forecast"] == after["forecast"] and before["backtest"] == after["backtest"]


def test_cli_forecast_by_owner_one_series_per_rep(demo_db, capsys):
    assert main(["--db", str(demo_db), "forecast", "--by", "region", "--horizon", "1", "--no-prophet", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["group"] for r in doc["forecast"]} == {"North America", "EMEA", "APAC"}


@pytest.mark.parametrize("argv, message", [
    (["forecast", "--freq", "D"], "--freq"),
    (["forecast", "--model", "lstm"], "--model"),
    (["forecast", "--by", "colour"], "--by"),
    (["forecast", "--train-until", "31/12/2025"], "--train-until"),
    (["forecast", "--horizon", "0"], "--horizon"),
])
def test_cli_bad_options_exit_2(demo_db, capsys, argv, message):
    assert main(["--db", str(demo_db)] + argv) == 2
    assert message in capsys.readouterr().err


def test_cli_forecast_empty_database_says_so(empty_db, capsys):
    assert main(["--db", str(empty_db), "forecast", "--no-prophet"]) == 2
    assert "no won deals" in capsys.readouterr().err


# --- Superstore (real data): each order line a won deal on its Order Date -------------------------
def superstore_deals(datasets_dir):
    raw = pd.read_csv(datasets_dir / "superstore" / "superstore_tableau_export.csv", encoding="utf-8-sig")
    day = pd.to_datetime(raw["Order Date"], format="%m/%d/%Y")
    return pd.DataFrame({"opportunity_id": raw.index.astype(str), "owner": raw["Region"], "status": "won",
                         "amount": raw["Sales"].astype(str).str.replace(r"[$,]", "", regex=True).astype(float),
                         "created_date": day, "close_date": day})


@pytest.mark.datasets
def test_auto_no_worse_than_seasonal_naive_on_superstore_baselines(datasets_dir):
    deals = superstore_deals(datasets_dir)
    assert deals["amount"].sum() == pytest.approx(2_297_200, rel=0.01)   # Superstore's well-known total sales
    for cutoff in ("2015-12-31", "2016-05-31", "2017-03-31"):
        r = B.holdout_scores(deals, cutoff, freq="M", horizon=6, include_prophet=False)
        assert r["mape"]["auto"] <= r["mape"]["seasonal_naive"] + 1e-12, (cutoff, r)


def test_fiscal_quarters_follow_the_fiscal_year_start():
    from salesops.periods import FiscalCalendar

    deals = deals_from([("2021-02-03", 10), ("2021-04-30", 5), ("2021-05-02", 7), ("2021-07-31", 1), ("2021-08-01", 2)])
    ss = build_series(deals, freq="Q", train_until="2021-10-31", horizon=2, calendar=FiscalCalendar(2))
    y, ds = ss.values("all")
    assert list(ds.strftime("%Y-%m-%d")) == ["2021-02-01", "2021-05-01", "2021-08-01"]
    assert list(y) == [15.0, 8.0, 2.0]
    assert [d.strftime("%Y-%m-%d") for d in ss.future] == ["2021-11-01", "2022-02-01"]


def test_a_huge_outlier_is_reported():
    vals = seasonal_values(30)
    vals[20] = 100_000.0
    res = run_forecast(monthly_deals(vals), freq="M", horizon=3, include_prophet=False)
    assert any("1 outlier period(s) (Oct 2021" in n for n in res.notes), res.notes
    assert np.isfinite(res.forecast["yhat"]).all()


def test_level_widens_the_range_and_prophet_params_are_checked(demo_db, capsys):
    deals = monthly_deals(seasonal_values(70, noise=0.1, seed=5))
    widths = {}
    for level in (0.8, 0.95):
        res = run_forecast(deals, freq="M", horizon=6, include_prophet=False, model="seasonal_naive", level=level)
        widths[level] = (res.forecast["yhat_upper"] - res.forecast["yhat_lower"]).to_numpy()
    assert (widths[0.95] >= widths[0.8] - 1e-9).all() and (widths[0.95] > widths[0.8]).any()
    assert main(["--db", str(demo_db), "forecast", "--prophet-params", '{"yearly_orders": 3}']) == 2
    assert "unknown key(s) yearly_orders" in capsys.readouterr().err


def test_a_slow_prophet_fit_is_stopped_and_a_baseline_used(monkeypatch):
    """A Prophet fit still running after FIT_TIMEOUT is stopped and a baseline used, with the
    reason. The Stan optimiser is made slow for real (its process is a 60 s sleep), so the
    timeout decides, not the machine's load: with a 1 ms timeout and the real optimiser, a
    busy machine let the fit finish before the timer fired in 7 of 40 tries."""
    real = subprocess.Popen

    def slow_stan(cmd, *args, **kwargs):
        if isinstance(cmd, (list, tuple)) and cmd and "prophet_model" in str(cmd[0]):
            cmd = ["sleep", "60"]
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", slow_stan)
    monkeypatch.setattr(M, "FIT_TIMEOUT", 0.2)
    res = run_forecast(monthly_deals(seasonal_values(30)), freq="M", horizon=3, model="prophet", n_cutoffs=1, n_jobs=1)
    assert res.forecast["model"].iloc[0] != M.PROPHET
    assert any("took longer than 0.2 s" in f["reason"] for f in res.fallbacks)
