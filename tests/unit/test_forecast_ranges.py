"""The forecast's ranges (conformal, from the backtest errors, and their measured coverage), the
running period (booked to date + the forecast of the rest) and the benchmark's relations on
small fixed series. Every number here is recomputed independently with numpy/pandas."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from salesops.cli import main
from salesops.forecasting import backtest as B
from salesops.forecasting import models as M
from salesops.forecasting import run_forecast
from salesops.forecasting.series import series_from_values

from .test_forecast import deals_from, monthly_deals, seasonal_values


# --- an independent implementation of the documented range ----------------------------------------
def conformal_q(scores, level):
    s = np.sort(np.asarray(scores, float))
    r = math.ceil((len(s) + 1) * level)
    return s[min(r, len(s)) - 1]


def pav(v):
    """Pool adjacent violators: the non-decreasing least-squares fit."""
    out = []
    for x in v:
        out.append([x, 1])
        while len(out) > 1 and out[-2][0] > out[-1][0]:
            b = out.pop()
            a = out.pop()
            out.append([(a[0] * a[1] + b[0] * b[1]) / (a[1] + b[1]), a[1] + b[1]])
    return np.concatenate([[x] * n for x, n in out])


def step_q(steps, scores, h, level, min_scores=15):
    q = []
    for k in range(1, h + 1):
        w = 0
        while (np.abs(steps - k) <= w).sum() < min_scores and w < h:
            w += 1
        q.append(conformal_q(scores[np.abs(steps - k) <= w], level))
    return pav(q)


def level_at(y, o, m=12):
    return float(np.mean(np.abs(y[max(o - m, 0):o])))


@pytest.fixture(scope="module")
def long_run():
    """70 months of seasonal sales, trained to a month end (no started period), horizon 6."""
    vals = seasonal_values(70, noise=0.1, seed=11)
    deals = monthly_deals(vals)
    res = run_forecast(deals, freq="M", horizon=6, include_prophet=False,
                       train_until=deals["close_date"].max() + pd.offsets.MonthEnd(0))
    return np.array(vals), res


def test_backtest_windows_and_errors_are_the_series_own(long_run):
    y, res = long_run
    assert res.windows == 5 and res.running is None
    pts = res.backtest_points[res.backtest_points["model"] == M.SEASONAL_NAIVE]
    for cut, part in pts.groupby("cutoff"):
        o = int(np.flatnonzero(res.series.frame["period_start"] == cut)[0]) + 1
        assert list(part["y"]) == pytest.approx(list(y[o:o + 6]))
        assert list(part["yhat"]) == pytest.approx(list(y[o - 12:o - 6]))   # seasonal naive: a year before


def test_range_is_the_conformal_quantile_of_the_backtest_errors(long_run):
    y, res = long_run
    model = res.model
    pts = res.backtest_points[res.backtest_points["model"] == model]
    lv = np.array([level_at(y, int(np.flatnonzero(res.series.frame["period_start"] == c)[0]) + 1) for c in pts["cutoff"]])
    d = np.maximum(np.abs(pts["yhat"].to_numpy()), 0.1 * lv)
    scores = np.abs(pts["y"].to_numpy() - pts["yhat"].to_numpy()) / d
    q = step_q(pts["step"].to_numpy(), scores, 6, 0.8)
    fc = res.forecast
    half = q * np.maximum(fc["yhat"].to_numpy(), 0.1 * level_at(y, len(y)))
    assert fc["yhat_upper"].to_numpy() == pytest.approx(fc["yhat"].to_numpy() + half)
    assert fc["yhat_lower"].to_numpy() == pytest.approx(np.maximum(fc["yhat"].to_numpy() - half, 0))
    assert res.interval == "conformal"
    assert (np.diff(half / np.maximum(fc["yhat"].to_numpy(), 1e-9)) >= -1e-9).all()   # wider further ahead


def test_backtest_coverage_is_each_window_against_the_other_windows_errors(long_run):
    y, res = long_run
    for model in (res.model, M.SEASONAL_NAIVE, M.ETS):
        pts = res.backtest_points[res.backtest_points["model"] == model]
        lv = np.array([level_at(y, int(np.flatnonzero(res.series.frame["period_start"] == c)[0]) + 1) for c in pts["cutoff"]])
        d = np.maximum(np.abs(pts["yhat"].to_numpy()), 0.1 * lv)
        scores = np.abs(pts["y"].to_numpy() - pts["yhat"].to_numpy()) / d
        steps, cuts = pts["step"].to_numpy(), pts["cutoff"].to_numpy()
        inside = []
        for c in np.unique(cuts):
            held = cuts == c
            q = step_q(steps[~held], scores[~held], 6, 0.8)
            half = q[steps[held] - 1] * d[held]
            lo = np.maximum(pts["yhat"].to_numpy()[held] - half, 0)
            hi = pts["yhat"].to_numpy()[held] + half
            yy = pts["y"].to_numpy()[held]
            inside += list((yy >= lo - 1e-9) & (yy <= hi + 1e-9))
        got = res.backtest.set_index("model").loc[model, "coverage"]
        assert got == pytest.approx(np.mean(inside))
    assert res.coverage == pytest.approx(res.backtest.set_index("model").loc[res.model, "coverage"])
    assert f"held the actual {res.coverage:.0%}" in res.summary()


def test_without_a_backtest_the_range_is_the_models_own_and_says_so():
    res = run_forecast(monthly_deals(seasonal_values(16)), freq="M", horizon=3, include_prophet=False)
    assert res.windows == 0 and res.interval == "model" and res.coverage is None
    assert any("range is the model's own" in n for n in res.notes)
    assert "not checked against past errors" in res.summary()


def test_80_range_covers_about_80_percent_of_held_out_actuals():
    """Eight origins of a long noisy seasonal series, each forecast (auto) from its own past only."""
    vals = np.array(seasonal_values(130, noise=0.12, seed=21))
    ds = pd.date_range("2010-01-01", periods=len(vals), freq="MS")
    hits = []
    for o in range(58, 130 - 6 + 1, 9):
        res = run_forecast(pd.DataFrame(columns=["status", "amount", "close_date"]),
                           series=series_from_values(vals[:o], ds[:o], "M"), horizon=6, include_prophet=False,
                           n_cutoffs=4)
        assert res.interval == "conformal"
        act = vals[o:o + 6]
        hits += list((act >= res.forecast["yhat_lower"].to_numpy()) & (act <= res.forecast["yhat_upper"].to_numpy()))
    assert len(hits) == 48
    assert 0.7 <= np.mean(hits) <= 0.92, np.mean(hits)


# --- the running period ---------------------------------------------------------------------------
def running_deals():
    """Two years of won deals: one early (the 5th) and one late (the 25th) in each month, and
    November 2021's so far."""
    rows = []
    for i, d in enumerate(pd.date_range("2020-01-01", "2021-10-01", freq="MS")):
        rows += [(d + pd.Timedelta(days=4), 100.0 + 5 * i), (d + pd.Timedelta(days=24), 300.0 + 40 * (i % 3))]
    rows += [(pd.Timestamp("2021-11-05"), 700.0), (pd.Timestamp("2021-11-18"), 50.0), (pd.Timestamp("2021-11-27"), 9e9)]
    return deals_from(rows)


def test_running_period_is_booked_to_date_plus_the_rest():
    deals = running_deals()
    as_of = pd.Timestamp("2021-11-20")
    res = run_forecast(deals, freq="M", horizon=3, as_of=as_of, include_prophet=False)
    assert res.series.train_until == as_of                     # as_of alone is the training date too
    full = run_forecast(deals, freq="M", horizon=3, train_until="2021-10-31", include_prophet=False)
    row = res.forecast.iloc[0]
    ref = full.forecast.iloc[0]
    assert row["period_start"] == pd.Timestamp("2021-11-01") == ref["period_start"]
    booked = 700.0 + 50.0                                       # won 1-20 November; the 27th is after as_of
    # the share booked by day 20 in the months at the same place of the quarter: Aug, May, Feb 2021, Nov 2020
    won = deals.set_index("close_date")["amount"]
    by_day = sum(won[f"{m}-01":f"{m}-20"].sum() for m in ("2021-08", "2021-05", "2021-02", "2020-11"))
    total = sum(won[m].sum() for m in ("2021-08", "2021-05", "2021-02", "2020-11"))
    share = by_day / total
    assert 0.25 < share < 0.4 and res.running["share"] == pytest.approx(share)
    assert row["booked_to_date"] == pytest.approx(booked)
    assert row["forecast_rest"] == pytest.approx(ref["yhat"] * (1 - share))
    assert row["yhat"] == pytest.approx(booked + ref["yhat"] * (1 - share))
    assert row["yhat_lower"] == pytest.approx(booked + ref["yhat_lower"] * (1 - share))
    assert row["yhat_upper"] == pytest.approx(booked + ref["yhat_upper"] * (1 - share))
    later = res.forecast.iloc[1:]
    assert (later["booked_to_date"] == 0).all() and np.allclose(later["forecast_rest"], later["yhat"])
    assert np.allclose(later["yhat"], full.forecast.iloc[1:]["yhat"])
    # every model's row is split the same way
    first = res.forecasts[res.forecasts["period_start"] == row["period_start"]]
    assert (first["booked_to_date"] == booked).all()


def test_as_of_is_checked():
    deals = running_deals()
    with pytest.raises(Exception, match="after the training date"):
        run_forecast(deals, freq="M", horizon=2, train_until="2021-11-10", as_of="2021-11-20", include_prophet=False)
    with pytest.raises(Exception, match="inside the training data"):
        run_forecast(deals, freq="M", horizon=2, train_until="2021-11-10", as_of="2021-09-15", include_prophet=False)


def test_cli_forecast_json_has_the_split_and_the_measured_coverage(demo_db, capsys):
    assert main(["--db", str(demo_db), "forecast", "--freq", "M", "--horizon", "2", "--no-prophet", "--json",
                 "--as-of", "2026-11-20"]) == 0
    doc = json.loads(capsys.readouterr().out)
    first = doc["forecast"][0]
    assert first["period_start"] == "2026-11-01" and doc["as_of"] == "2026-11-20"
    assert first["booked_to_date"] == pytest.approx(doc["running_period"]["booked_to_date"])
    assert first["yhat"] == pytest.approx(first["booked_to_date"] + first["forecast_rest"])
    assert doc["forecast"][1]["booked_to_date"] == 0
    bt = {r["model"]: r for r in doc["backtest"]}
    assert doc["coverage"] == pytest.approx(bt[doc["model"]]["coverage"])
    assert doc["selection"] in ("backtest", "ensemble", "combination") and doc["interval"] == "conformal"
    assert main(["--db", str(demo_db), "forecast", "--no-prophet", "--as-of", "20/11/2026"]) == 2
    assert "--as-of" in capsys.readouterr().err


# --- the benchmark's relations on small real series ----------------------------------------------------
@pytest.mark.slow
@pytest.mark.datasets
def test_auto_beats_each_single_model_on_short_real_series(datasets_dir):
    """The last 60 points of each real sales series (and Superstore's 48 months by category),
    two non-overlapping origins each, Prophet left out for speed: auto's geometric-mean MAPE is
    at most 0.95x every single model's, and its 80% range holds 70-92% of the actuals."""
    series = {}
    for f in sorted((datasets_dir / "sales_series").glob("*.csv")):
        d = pd.read_csv(f, parse_dates=["ds"])
        series[f.stem] = (d["y"].to_numpy(float), pd.DatetimeIndex(d["ds"]), "Q" if "quarterly" in f.stem else "M")
    raw = pd.read_csv(datasets_dir / "superstore" / "superstore_tableau_export.csv", encoding="utf-8-sig")
    amount = raw["Sales"].astype(str).str.replace(r"[$,]", "", regex=True).astype(float)
    month = pd.to_datetime(raw["Order Date"], format="%m/%d/%Y").dt.to_period("M")
    for cat, part in amount.groupby(raw["Category"]):
        s = part.groupby(month[part.index]).sum().reindex(pd.period_range("2014-01", "2017-12", freq="M"), fill_value=0)
        series[cat] = (s.to_numpy(float), s.index.to_timestamp(), "M")
    per, hits = {}, []
    for name, (y, ds, freq) in series.items():
        y, ds = y[-60:], ds[-60:]
        h = 4 if freq == "Q" else 6
        for o in (len(y) - 2 * h, len(y) - h):
            res = run_forecast(pd.DataFrame(columns=["status", "amount", "close_date"]),
                               series=series_from_values(y[:o], ds[:o], freq), horizon=h, include_prophet=False)
            act = y[o:o + h]
            hits += list((act >= res.forecast["yhat_lower"].to_numpy()) & (act <= res.forecast["yhat_upper"].to_numpy()))
            d = per.setdefault(name, {})
            d.setdefault("auto", []).extend(np.abs(res.forecast["yhat"].to_numpy() - act) / act)
            for model, part in res.forecasts.groupby("model"):
                d.setdefault(model, []).extend(np.abs(part["yhat"].to_numpy() - act) / act)
    table = pd.DataFrame({k: {m: np.mean(v) for m, v in d.items()} for k, d in per.items()}).T
    for model in (M.SEASONAL_NAIVE, M.ETS, M.THETA, M.ARIMA):
        ratio = float(np.exp(np.mean(np.log(table["auto"] / table[model]))))
        assert ratio <= 0.95, (model, ratio, table)
    assert 0.7 <= np.mean(hits) <= 0.92, np.mean(hits)
