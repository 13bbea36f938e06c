"""The landing zone's past rebuilt from a table without snapshots, on small fixed frames (no
model fits): what a deal was worth on a past date, and which history the rates and the amount
of an unknown deal are read from."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesops.forecasting import landing_zone as L


def deal(i, created, close, status, amount=100.0):
    return {"opportunity_id": f"D{i}", "owner": "Ann", "status": status, "amount": amount,
            "created_date": pd.Timestamp(created), "close_date": pd.Timestamp(close) if close else pd.NaT,
            "stage": {"won": "Closed Won", "lost": "Closed Lost", "open": "Proposal"}[status], "probability": None}


def test_a_deal_lost_later_with_no_amount_was_of_unknown_amount_then():
    """A lost deal's 0 (Maven's lost deals all carry 0) is what it closed at, not what it was
    worth while open: on a date before it was lost it counts as a deal of unknown amount, like
    an open deal without one; a positive amount, a won deal's amount and a deal lost by then
    are read as they are."""
    deals = pd.DataFrame([
        deal(1, "2024-01-01", "2024-04-10", "lost", 0.0),     # lost after t at 0: unknown at t
        deal(2, "2024-01-01", "2024-04-10", "lost", np.nan),  # lost after t, blank: unknown at t
        deal(3, "2024-01-01", "2024-04-10", "lost", 80.0),    # lost after t with an amount: 80
        deal(4, "2024-01-01", "2024-04-20", "won", 300.0),    # won after t: 300
        deal(5, "2024-01-01", None, "open", np.nan),          # still open, no amount: unknown
        deal(6, "2024-01-01", "2024-02-01", "lost", 0.0),     # lost before t: not open at t
    ])
    book = L.Book.build(deals)
    frame, _ = book.open_at("2024-03-01")
    got = frame.set_index("id")["amount"]
    assert sorted(got.index) == ["D1", "D2", "D3", "D4", "D5"]
    assert np.isnan(got["D1"]) and np.isnan(got["D2"]) and np.isnan(got["D5"])
    assert got["D3"] == 80.0 and got["D4"] == 300.0
    # on a day after the loss the 0 is what the deal closed at
    rows = np.array([book.index_of["D1"], book.index_of["D6"]])
    assert book.amount_at(rows, L._day("2024-04-30")).tolist() == [0.0, 0.0]
    # the observations of a reference date read the amounts as known on that date
    # (one row per deal open then, in the table's order: D1 to D5)
    obs = book.observations([(pd.Timestamp("2024-03-01"), 0, 60)], 0, 0)
    np.testing.assert_array_equal(obs["amount"].to_numpy(), [np.nan, np.nan, 80.0, 300.0, np.nan])
    assert obs["y"].tolist() == [False, False, False, True, False]


def test_an_unknown_amount_counts_at_the_median_won_deal_of_the_rates_history():
    """The fill is the median of the deals won after ``since`` (where the win rates are learned)
    and by the as-of date: not a deal won before that history, nor one won after the as-of date;
    all deals won by then when none closed in it."""
    deals = pd.DataFrame([
        deal(1, "2023-01-01", "2023-03-01", "won", 10_000.0),   # before the history: not read
        deal(2, "2024-01-01", "2024-02-01", "won", 100.0),
        deal(3, "2024-01-01", "2024-02-05", "won", 300.0),
        deal(4, "2024-01-01", "2024-02-10", "won", 200.0),
        deal(5, "2024-01-01", "2024-02-12", "lost", 5.0),       # lost: not a won deal's amount
        deal(6, "2024-01-01", "2024-02-15", "won", np.nan),     # no amount: not read
        deal(7, "2024-01-01", "2024-04-01", "won", 9_000.0),    # after the as-of date: not read
    ])
    book = L.Book.build(deals)
    t = pd.Timestamp("2024-03-01")
    assert L.fill_amount(book, t, pd.Timestamp("2023-06-01")) == 200.0
    assert L.fill_amount(book, t, pd.Timestamp("2022-01-01")) == 250.0          # the 10,000 inside it
    assert L.fill_amount(book, pd.Timestamp("2023-12-31"), pd.Timestamp("2023-06-01")) == 10_000.0  # none in it
    assert L.fill_amount(book, pd.Timestamp("2023-01-31"), pd.Timestamp("2022-06-01")) == 0.0      # none won yet


def test_reference_dates_before_the_first_close_are_read_only_when_nothing_later_is():
    """Before the data's first close the table holds no deal that closed then: the pipeline
    rebuilt at such a date is missing every deal that closed between it and the first close,
    and none of its open deals had been cleared out (Maven). Its observations are used only
    while no reference date on or after the first close has a window that is over."""
    deals = pd.DataFrame([deal(1, "2024-01-01", "2024-03-10", "won"), deal(2, "2024-01-01", "2024-05-10", "won"),
                          deal(3, "2024-01-01", "2024-06-01", "lost")])
    book = L.Book.build(deals)
    assert book.first_close == L._day("2024-03-10")
    feb, mar, apr = pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-10"), pd.Timestamp("2024-04-01")
    obs = pd.DataFrame({"ref": [feb, feb, mar, apr, apr], "end": [pd.Timestamp("2024-03-31")] * 3 + [pd.Timestamp("2024-04-30")] * 2,
                        "stage_key": None, "band": 0, "y": [True, True, True, True, False], "amount": 100.0})
    since = pd.Timestamp("2023-01-01")
    # every window over: the dates from the first close on (10 March, 1 April): 2 of 3 won
    assert L.history_rates(book, obs, pd.Timestamp("2024-06-01"), 30, since, 100.0)["all"] == pytest.approx(2 / 3)
    assert L.learned_rates(obs, pd.Timestamp("2024-06-01"), 30, since=since, fill=100.0)["all"] == pytest.approx(4 / 5)
    # on 5 April only the March windows are over, the one from 10 March among them
    assert L.history_rates(book, obs, pd.Timestamp("2024-04-05"), 30, since, 100.0)["all"] == pytest.approx(1.0)
    assert L.history_rates(book, obs, pd.Timestamp("2024-04-05"), 30, since, 100.0)["n"] == 1
    # without the 10 March date nothing on or after the first close is over by then: all of them
    early = obs[obs["ref"] != mar]
    got = L.history_rates(book, early, pd.Timestamp("2024-04-05"), 30, since, 100.0)
    assert got["n"] == 2 and got["all"] == pytest.approx(1.0)
