"""The landing zone: as-of rule, learned win probabilities, determinism, calibration."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from salesops import store
from salesops.cli import main
from salesops.forecasting import landing_zone as L
from salesops.periods import FiscalCalendar

CAL = FiscalCalendar(1)


def load(path):
    with store.connect(path) as conn:
        return (store.load_deals(conn), store.load_snapshots(conn), store.load_stage_history(conn),
                store.load_targets(conn))


def deal(i, created, close, status, amount=100.0, stage=None):
    return {"opportunity_id": f"D{i}", "owner": "Ann", "status": status, "amount": amount,
            "created_date": pd.Timestamp(created), "close_date": pd.Timestamp(close) if close else pd.NaT,
            "stage": stage or {"won": "Closed Won", "lost": "Closed Lost", "open": "Proposal"}[status], "probability": None}


def test_open_at_rebuilds_the_past_without_later_knowledge():
    deals = pd.DataFrame([
        deal(1, "2024-01-01", "2024-02-01", "won"),    # closed before t: not open
        deal(2, "2024-01-01", "2024-04-01", "won"),    # closed after t: open at t, expected close unknown
        deal(3, "2024-01-10", "2024-05-01", "open"),   # still open: open at t, expected close known
        deal(4, "2024-03-20", "2024-04-10", "lost"),   # created after t: not there yet
    ])
    book = L.Book.build(deals)
    frame, rule = book.open_at("2024-03-01")
    assert sorted(frame["id"]) == ["D2", "D3"]
    row2 = frame.set_index("id").loc["D2"]
    assert pd.isna(row2["expected_close"]) and row2["age_days"] == 60
    assert "rebuilt" in rule
    assert book.won_between("2024-01-01", "2024-03-01") == 100.0


def test_snapshot_at_or_before_as_of_is_used():
    deals = pd.DataFrame([deal(1, "2024-01-01", "2024-04-01", "won"), deal(2, "2024-01-05", "2024-02-20", "lost")])
    snap = pd.DataFrame({"as_of": pd.Timestamp("2024-02-15"), "opportunity_id": ["D1", "D2"], "owner": "Ann",
                         "stage": ["Qualification", "Proposal"], "status": "open", "amount": [80.0, 50.0],
                         "created_date": [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-05")],
                         "close_date": pd.Timestamp("2024-03-31"), "probability": None, "forecast_category": None})
    frame, rule = L.Book.build(deals, snap).open_at("2024-03-01")
    assert list(frame["id"]) == ["D1"]            # D2 closed (lost) between the snapshot and the as-of date
    assert frame["amount"].iloc[0] == 80.0        # the snapshot's amount, not today's
    assert frame["stage_key"].iloc[0] == "qualification"
    assert "snapshot of 15 Feb 2024" in rule


def test_learned_rates_by_stage_and_age_shrink_toward_the_parent():
    obs = pd.DataFrame({"ref": pd.Timestamp("2024-01-01"), "stage_key": ["a"] * 10 + ["b"] * 10,
                        "band": [0] * 20, "y": [True] * 10 + [False] * 10})
    r = L.learned_rates(obs, pd.Timestamp("2024-06-01"), d2=30)
    assert r["all"] == pytest.approx(0.5)
    assert r[("band", 0)] == pytest.approx(0.5)
    assert r[("a", 0)] == pytest.approx((10 + 10 * 0.5) / 20)
    open_deals = pd.DataFrame({"stage_key": ["a", None, "zzz"], "age_days": [3, 3, 400]})
    p = L.apply_rates(r, open_deals)
    assert p[0] == pytest.approx(0.75) and p[1] == pytest.approx(0.5) and p[2] == pytest.approx(0.5)


def test_window_observations_count_open_deals_as_not_yet_not_lost():
    deals = pd.DataFrame([
        deal(1, "2024-01-01", "2024-01-20", "won"),   # won inside (ref, ref + 30]
        deal(2, "2024-01-01", "2024-03-20", "won"),   # won after the window: y = False
        deal(3, "2024-01-01", None, "open"),          # still open today: y = False, not excluded
    ])
    obs = L.Book.build(deals).observations([pd.Timestamp("2024-01-10")], 0, 30)
    assert len(obs) == 3 and obs["y"].tolist() == [True, False, False]


@pytest.fixture(scope="module")
def demo_tables(_demo_template):
    """The demo workspace's tables, read once (the session's template is not modified)."""
    return load(_demo_template)


def test_landing_on_demo_adds_up_and_is_reproducible(demo_tables):
    deals, snaps, hist, targets = demo_tables
    a = L.landing(deals, snaps, "2026Q4", "2026-11-20", targets=targets, stage_history=hist, n_samples=2000, seed=3)
    b = L.landing(deals, snaps, "2026Q4", "2026-11-20", targets=targets, stage_history=hist, n_samples=2000, seed=3)
    assert np.array_equal(a["samples"], b["samples"])
    assert a["p10"] <= a["p50"] <= a["p90"] and a["samples"].shape == (2000,)
    assert a["closed_won"] == pytest.approx(deals[(deals.status == "won") & deals.close_date.between("2026-10-01", "2026-11-20")].amount.sum())
    assert a["p10"] >= a["closed_won"]
    od = a["open_deals"]
    assert a["open_expected"] == pytest.approx((od["p_win"] * od["amount_used"]).sum())
    assert ((od["p_win"] >= 0) & (od["p_win"] <= 1)).all()
    assert a["target"] > 0
    # later stages win more often than earlier ones
    by_stage = od.groupby("stage_key")["p_win"].mean()
    assert by_stage["negotiationreview"] > by_stage["prospecting"]


def test_landing_uses_only_data_as_of(demo_tables):
    deals, snaps, hist, _ = demo_tables
    t = "2025-08-15"
    base = L.landing(deals, None, "2025Q3", t, stage_history=hist, n_samples=500, calibrate_interval=False)
    changed = deals.copy()
    late = changed["close_date"] > pd.Timestamp(t)
    changed.loc[late & (changed.status == "won"), "status"] = "lost"   # flip every later outcome
    future = changed.iloc[:5].copy()
    future["opportunity_id"] = [f"NEW{i}" for i in range(5)]
    future["created_date"] = pd.Timestamp("2025-09-01")
    changed = pd.concat([changed, future])
    other = L.landing(changed, None, "2025Q3", t, stage_history=hist, n_samples=500, calibrate_interval=False)
    for key in ("closed_won", "open_expected", "new_expected", "p10", "p50", "p90", "open_count"):
        assert other[key] == pytest.approx(base[key]), key


@pytest.mark.slow
def test_landing_zone_is_calibrated_over_past_quarters(demo_tables):
    deals, snaps, hist, _ = demo_tables
    rows = []
    for offset in (0, 45):
        bt = L.landing_backtest(deals, snaps, stage_history=hist, periods=6, offset_days=offset, n_samples=800)
        rows.append(bt)
    bt = pd.concat(rows)
    assert len(bt) == 12
    coverage = bt["inside"].mean()
    assert 0.6 <= coverage <= 1.0, bt
    # and the range is informative, not a blanket: P90/P10 well under 2x on average
    assert (bt["p90"] / bt["p10"]).mean() < 2.0


def test_cli_landing_json(demo_db, capsys):
    assert main(["--db", str(demo_db), "landing", "--period", "2026Q4", "--as-of", "2026-11-20", "--json", "--samples", "500"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("period", "as_of", "closed_won", "open_expected", "new_expected", "p10", "p50", "p90", "target"):
        assert key in doc
    assert doc["period"] == "2026Q4" and doc["as_of"] == "2026-11-20"
    assert doc["p10"] <= doc["p50"] <= doc["p90"]


def test_cli_landing_rejects_a_finished_period(demo_db, capsys):
    assert main(["--db", str(demo_db), "landing", "--period", "2025Q1", "--as-of", "2026-11-20"]) == 2
    assert "ended before" in capsys.readouterr().err
