"""The Forecast page under AppTest: renders, shows the same backtest numbers as the CLI, and
falls back with a reason when Prophet fails. Prophet's fit is stubbed where it would be slow."""
from __future__ import annotations

import json

import numpy as np
import pytest

from salesops.cli import main
from salesops.forecasting import models as M
from salesops.memo import Kept

from .conftest import no_exceptions

PAGE = "views/forecast.py"


def _new_caches() -> tuple[Kept, Kept, Kept]:
    """Empty stores for the time-series fits, the landing zones and the forecasts."""
    return Kept(1024), Kept(128), Kept(32)


def _kept_apart(monkeypatch, fits: Kept, landings: Kept, forecasts: Kept) -> None:
    """The landing zone keeps its time-series fits (by the deals' content) and whole landing
    zones (by the facts token) in the process, and so does the forecast (by the facts token): a
    test that swaps Prophet for a stand-in keeps what it makes apart from the real results the
    other tests share, and sees none of them."""
    from salesops import outlook
    from salesops.forecasting import landing_zone as L

    monkeypatch.setattr(L, "_TS_CACHE", fits)
    monkeypatch.setattr(outlook, "_LANDINGS", landings)
    monkeypatch.setattr(outlook, "_FORECASTS", forecasts)


#: What the tests with :func:`quick_prophet`'s stand-in make: shared by them only.
_STAND_IN = _new_caches()


@pytest.fixture
def quick_prophet(monkeypatch):
    """Replace Prophet's fit with a deterministic stand-in (last-season mean) of the same shape."""
    def fake(y, ds, future, params, freq, level=None, fiscal_start=1, components=False):
        if len(y) < M.MIN_POINTS[M.PROPHET]:
            raise M.ModelSkipped("Prophet needs more periods")
        yhat = np.full(len(future), float(np.mean(y[-3:])))
        return M.Prediction(yhat, yhat * 0.8, yhat * 1.2)
    monkeypatch.setattr(M, "prophet_predict", fake)
    _kept_apart(monkeypatch, *_STAND_IN)


def test_page_renders_with_backtest_and_summary(app_at, demo_db, quick_prophet):
    at = app_at(PAGE, demo_db)
    no_exceptions(at)
    assert at.title[0].value == "Forecast"
    assert any("has been off by" in i.value for i in at.info)
    table = at.dataframe[1].value
    assert set(table["Model"]) >= {"Seasonal naive", "ETS", "Theta", "ARIMA", "Prophet", "Ensemble"}
    assert table["Recommended"].sum() == 1
    # the started month: booked so far + the forecast of its rest, in a tile and in the table
    assert at.metric[0].label == "This month (booked + rest)" and "booked +" in at.metric[0].delta
    rows = at.dataframe[0].value
    assert rows["Booked so far"].iloc[0] > 0 and (rows["Booked so far"].iloc[1:] == 0).all()
    assert rows["Forecast"].iloc[0] == pytest.approx(rows["Booked so far"].iloc[0] + rows["Still to come"].iloc[0])


def test_page_backtest_equals_cli(app_at, demo_db, capsys):
    """Real fits, Prophet included (quarterly: a handful of fast fits): the page and forecast
    --json agree on the model, the backtest and the range."""
    at = app_at(PAGE, demo_db)
    at.selectbox(key="fc_freq").set_value("Quarter")
    at.number_input(key="fc_horizon").set_value(2)
    at.run()
    no_exceptions(at)
    table = at.dataframe[1].value
    assert "Prophet" in set(table["Model"])
    assert main(["--db", str(demo_db), "forecast", "--freq", "Q", "--horizon", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cli = {r["model"]: r for r in doc["backtest"]}
    labels = {v: k for k, v in M.MODEL_LABELS.items()}
    assert len(table) == len(cli)
    for row in table.itertuples(index=False):
        ref = cli[labels[row.Model]]
        assert row.mape == pytest.approx(ref["mape"], rel=1e-12)
        assert row.mase == pytest.approx(ref["mase"], rel=1e-12)
        assert row.coverage == pytest.approx(ref["coverage"], rel=1e-12)
        assert bool(row.Recommended) == ref["recommended"]
    # the model used and the range drawn
    assert any(M.MODEL_LABELS[doc["model"]] in m.delta for m in at.metric if m.label == "Backtest error (MAPE)")
    rows = at.dataframe[0].value
    assert len(rows) == len(doc["forecast"])
    for row, ref in zip(rows.itertuples(index=False), doc["forecast"]):
        assert str(row.Period) == ref["period_start"]
        assert (row.Forecast, row.Low, row.High) == pytest.approx((ref["yhat"], ref["yhat_lower"], ref["yhat_upper"]), rel=1e-12)
    if doc["coverage"] is not None:
        assert f"held {doc['coverage']:.0%} of the actuals" in at.info[0].value or \
            f"held the actual {doc['coverage']:.0%}" in at.info[0].value


def test_running_quarter_on_the_page_is_the_landing_zones_time_series_view(app_at, demo_db, quick_prophet):
    at = app_at(PAGE, demo_db)
    at.selectbox(key="fc_freq").set_value("Quarter")
    at.run()
    no_exceptions(at)
    tile = next(m for m in at.metric if m.label == "This quarter (booked + rest)")
    at.segmented_control(key="fc_view").set_value("Quarter landing zone")
    at.run()
    no_exceptions(at)
    ts = next(m for m in at.metric if m.label == "Time-series view")
    assert ts.value == tile.value
    assert any("rebuilt without its own quarter" in c.value or "Too few earlier quarters" in c.value for c in at.caption)


def test_prophet_failure_is_explained(app_at, demo_db, monkeypatch):
    def broken(*a, **k):
        raise M.ModelSkipped("Prophet's optimiser failed (RuntimeError: test)")
    monkeypatch.setattr(M, "prophet_predict", broken)
    _kept_apart(monkeypatch, *_new_caches())
    at = app_at(PAGE, demo_db)
    at.selectbox(key="fc_model").set_value("Prophet")
    at.run()
    no_exceptions(at)
    assert any("optimiser failed" in w.value for w in at.warning)


def test_landing_view_and_saved_history(app_at, demo_db, quick_prophet):
    at = app_at(PAGE, demo_db)
    at.button(key="FormSubmitter:fc_save_form-Save forecast").click()
    at.run()
    no_exceptions(at)
    assert any("Saved" in s.value for s in at.success)
    at.segmented_control(key="fc_view").set_value("Quarter landing zone")
    at.run()
    no_exceptions(at)
    assert any("will likely land at" in i.value for i in at.info)
    at.button(key="FormSubmitter:fc_save_landing_form-Save landing zone").click()
    at.run()
    no_exceptions(at)
    assert any("Saved" in s.value for s in at.success)
    at.segmented_control(key="fc_view").set_value("Accuracy of saved forecasts")
    at.run()
    no_exceptions(at)
    assert [h.value for h in at.subheader] == ["Accuracy and bias per model", "Every saved forecast",
                                              "Saved landing zones against where the period landed"]


def test_empty_workspace_shows_the_empty_state(app_at, empty_db):
    at = app_at(PAGE, empty_db)
    no_exceptions(at)
    assert any("no deals" in i.value for i in at.info)


def test_prophet_knobs_reset_and_bad_country(app_at, demo_db, quick_prophet):
    at = app_at(PAGE, demo_db)
    at.slider(key="fcp_yearly_order").set_value(8)
    at.text_input(key="fcp_holidays").set_value("XX")
    at.button(key="fc_apply").click()
    at.run()
    assert any("no holiday calendar for country 'XX'" in e.value for e in at.error)
    at.button(key="fc_reset").click()
    at.run()
    no_exceptions(at)
    assert at.slider(key="fcp_yearly_order").value == 3 and at.text_input(key="fcp_holidays").value == ""
    assert not at.error


def test_sidebar_filter_narrows_forecast_and_landing(app_at, demo_db, quick_prophet):
    at = app_at(PAGE, demo_db)
    team_next = at.metric[0].value
    at.multiselect(key="region").set_value(["EMEA"])
    at.run()
    no_exceptions(at)
    assert at.metric[0].value != team_next            # EMEA alone forecasts less than the team
    at.segmented_control(key="fc_view").set_value("Quarter landing zone")
    at.run()
    no_exceptions(at)
    assert any("will likely land at" in i.value for i in at.info)


@pytest.mark.parametrize("region", [None, "EMEA"])
def test_landing_zone_on_the_page_equals_landing_json(app_at, demo_db, quick_prophet, capsys, region):
    """The landing zone the page states (P10, P50, P90, target, closed won) is what
    ``landing --json`` prints for the same quarter, as-of date and slice."""
    from salesops import formats

    args = ["--db", str(demo_db), "landing", "--json"] + (["--region", region] if region else [])
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    at = app_at(PAGE, demo_db)
    if region:
        at.sidebar.multiselect(key="region").set_value([region])
    at.segmented_control(key="fc_view").set_value("Quarter landing zone")
    at.run()
    no_exceptions(at)
    words = next(i.value for i in at.info if "will likely land at" in i.value)
    money = lambda x: formats.money(x, "USD")  # noqa: E731
    assert f"**{money(doc['p50'])}**" in words
    assert f"{money(doc['p10'])} – {money(doc['p90'])}" in words
    assert doc["target"] and f"target {money(doc['target'])}" in words
    tile = next(m for m in at.metric if m.label == "Closed won")
    assert tile.value == money(doc["closed_won"])
