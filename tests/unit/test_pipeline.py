"""Pipeline movement between two snapshots (the waterfall), push counts and deals at risk.

Every expected number below is worked out by hand in the comments."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesops import pipeline as P
from salesops import schema as S
from salesops.errors import InputError

P_START, P_END = "2024-04-01", "2024-06-30"


def snap(as_of: str, rows: list[tuple]) -> pd.DataFrame:
    """rows: (id, status, close_date or None, amount or None[, stage, owner])."""
    out = []
    for r in rows:
        oid, status, close, amount = r[:4]
        stage = r[4] if len(r) > 4 else {"open": "Prospecting", "won": "Closed Won", "lost": "Closed Lost"}[status]
        owner = r[5] if len(r) > 5 else "Ann"
        out.append({S.AS_OF: pd.Timestamp(as_of), S.OPPORTUNITY_ID: oid, S.OWNER: owner, S.STAGE: stage,
                    S.STATUS: status, S.AMOUNT: np.nan if amount is None else float(amount),
                    S.CREATED_DATE: pd.Timestamp("2024-01-01"),
                    S.CLOSE_DATE: pd.NaT if close is None else pd.Timestamp(close),
                    S.PROBABILITY: 0.1, S.FORECAST_CATEGORY: "pipeline", S.IMPORT_ID: 1})
    cols = list(S.SNAPSHOT_COLUMNS)
    return pd.DataFrame(out, columns=cols)


# the scenario: period 2024Q2, S1 on 2024-04-01, S2 on 2024-07-01
S1_ROWS = [
    ("A", "open", "2024-05-15", 100),   # start -> end, close date moves inside P
    ("B", "open", "2024-05-01", 200),   # start -> won at 250 (+50)
    ("C", "open", "2024-06-01", 300),   # start -> lost at 280 (-20)
    ("D", "open", "2024-06-15", 400),   # start -> pushed out (amount raised to 500: not counted)
    ("E", "open", "2024-04-20", 50),    # start -> removed
    ("I", "open", "2024-09-01", 80),    # pulled in -> end at 90 (+10)
    ("J", "open", "2024-03-15", 30),    # pulled in (close date was in the past) -> lost
    ("K", "lost", "2024-03-01", 40),    # reopened into P: pulled in -> end
    ("L", "won", "2024-04-15", 500),    # won before S1: not part of the movement
    ("M", "open", "2024-09-01", 70),    # outside P at both: not part of the movement
    ("N", "open", "2024-05-05", None),  # start with no amount (0) -> end at 20 (+20)
    ("O", "open", "2024-05-20", 10),    # start -> pushed out to a blank close date
    ("Q", "open", "2024-06-28", 15),    # start -> won with a close date after P (still "won")
]
S2_ROWS = [
    ("A", "open", "2024-06-20", 100),
    ("B", "won", "2024-05-10", 250),
    ("C", "lost", "2024-06-02", 280),
    ("D", "open", "2024-08-15", 500),
    ("F", "open", "2024-06-10", 60),    # created -> end
    ("G", "won", "2024-05-05", 70),     # created -> won
    ("H", "won", "2024-07-05", 99),     # created but won after P: not part of the movement
    ("I", "open", "2024-06-25", 90),
    ("J", "lost", "2024-04-10", 30),
    ("K", "open", "2024-06-05", 40),
    ("L", "won", "2024-04-15", 500),
    ("M", "open", "2024-10-01", 70),
    ("N", "open", "2024-05-05", 20),
    ("O", "open", None, 10),
    ("Q", "won", "2024-07-02", 15),
]
EXPECTED_DEALS = {
    "A": ("start", "end"), "B": ("start", "won"), "C": ("start", "lost"), "D": ("start", "pushed_out"),
    "E": ("start", "removed"), "F": ("created", "end"), "G": ("created", "won"), "I": ("pulled_in", "end"),
    "J": ("pulled_in", "lost"), "K": ("pulled_in", "end"), "N": ("start", "end"), "O": ("start", "pushed_out"),
    "Q": ("start", "won"),
}
# start 100+200+300+400+50+0+10+15 = 1075 (8); created 60+70 = 130 (2); pulled_in 80+30+40 = 150 (3);
# pushed_out 400+10 = 410 (2); amount_changed +50-20+10+20 = 60 (4 deals); won 250+70+15 = 335 (3);
# lost 280+30 = 310 (2); removed 50 (1); end 100+60+90+40+20 = 310 (5).
EXPECTED_WATERFALL = {
    "start": (1075, 8), "created": (130, 2), "pulled_in": (150, 3), "pushed_out": (410, 2),
    "amount_changed": (60, 4), "won": (335, 3), "lost": (310, 2), "removed": (50, 1), "end": (310, 5),
}


@pytest.fixture
def scenario() -> P.Movement:
    return P.movement(snap("2024-04-01", S1_ROWS), snap("2024-07-01", S2_ROWS), P_START, P_END)


def test_every_deal_gets_the_hand_worked_entry_and_exit(scenario):
    got = {r.opportunity_id: (r.entry, r.exit) for r in scenario.deals.itertuples()}
    assert got == EXPECTED_DEALS


def test_waterfall_amounts_and_counts_match_hand_computation(scenario):
    wf = scenario.waterfall.set_index("step")
    assert list(scenario.waterfall["step"]) == P.STEPS
    for step, (amount, count) in EXPECTED_WATERFALL.items():
        assert wf.loc[step, "amount"] == pytest.approx(amount), step
        assert wf.loc[step, "count"] == count, step
    assert scenario.identity_gap() == pytest.approx(0)
    assert wf.loc["start", "label"] == "Start of period" and wf.loc["pushed_out", "label"] == "Pushed out"


def test_deals_behind_each_bar(scenario):
    assert set(scenario.deals_for("pushed_out")[S.OPPORTUNITY_ID]) == {"D", "O"}
    assert set(scenario.deals_for("Amount changed")[S.OPPORTUNITY_ID]) == {"B", "C", "I", "N"}
    assert set(scenario.deals_for("created")[S.OPPORTUNITY_ID]) == {"F", "G"}
    k = scenario.deals.set_index(S.OPPORTUNITY_ID).loc["K"]
    assert bool(k["reopened"]) and k["status_from"] == "lost"
    with pytest.raises(InputError):
        scenario.deals_for("nonsense")


@pytest.mark.parametrize("s1_rows, s2_rows, step, amount", [
    ([("x", "open", "2024-05-01", 10)], [("x", "open", "2024-05-01", 10)], "start", 10),
    ([("x", "open", "2024-05-01", 10)], [("x", "open", "2024-05-01", 10)], "end", 10),
    ([], [("x", "open", "2024-05-01", 12)], "created", 12),
    ([], [("x", "lost", "2024-05-01", 12)], "created", 12),
    ([("x", "open", "2025-01-01", 7)], [("x", "open", "2024-05-01", 9)], "pulled_in", 7),
    ([("x", "open", "2024-05-01", 7)], [("x", "open", "2024-07-01", 9)], "pushed_out", 7),
    ([("x", "open", "2024-05-01", 7)], [("x", "open", "2024-03-31", 9)], "pushed_out", 7),  # moved before P: outside P
    ([("x", "open", "2024-05-01", 7)], [("x", "open", "2024-05-01", 9)], "amount_changed", 2),
    ([("x", "open", "2024-05-01", 7)], [("x", "open", "2024-05-01", 4)], "amount_changed", -3),
    ([("x", "open", "2024-05-01", 7)], [("x", "won", "2024-05-01", 8)], "won", 8),
    ([("x", "open", "2024-05-01", 7)], [("x", "lost", "2024-05-01", 8)], "lost", 8),
    ([("x", "open", "2024-05-01", 7)], [], "removed", 7),
])
def test_each_step_on_a_minimal_pair(s1_rows, s2_rows, step, amount):
    m = P.movement(snap("2024-04-01", s1_rows), snap("2024-07-01", s2_rows), P_START, P_END)
    wf = m.waterfall.set_index("step")
    assert wf.loc[step, "amount"] == pytest.approx(amount)
    assert wf.loc[step, "count"] == 1
    assert m.identity_gap() == pytest.approx(0)


def test_deals_outside_the_period_do_not_move_anything():
    m = P.movement(snap("2024-04-01", [("x", "open", "2024-09-01", 5), ("y", "won", "2024-05-01", 5)]),
                   snap("2024-07-01", [("x", "open", "2024-10-01", 5), ("y", "won", "2024-05-01", 5),
                                       ("z", "open", "2024-12-01", 5)]), P_START, P_END)
    assert m.deals.empty
    assert (m.waterfall["amount"] == 0).all() and (m.waterfall["count"] == 0).all()


def test_a_row_without_status_counts_as_open_not_removed():
    s2 = snap("2024-07-01", [("x", "open", "2024-05-01", 10)])
    s2[S.STATUS] = None
    m = P.movement(snap("2024-04-01", [("x", "open", "2024-05-01", 10)]), s2, P_START, P_END)
    assert m.deals[["entry", "exit"]].values.tolist() == [["start", "end"]]
    assert m.identity_gap() == 0


def test_empty_snapshots_and_bad_period():
    m = P.movement(snap("2024-04-01", []), snap("2024-07-01", []), P_START, P_END)
    assert m.waterfall["amount"].sum() == 0
    with pytest.raises(InputError):
        P.movement(snap("2024-04-01", []), snap("2024-07-01", []), P_END, P_START)


def test_pick_snapshot_exact_before_and_none():
    dates = ["2024-01-31", "2024-02-29", "2024-03-31"]
    assert P.pick_snapshot(dates, "2024-02-29") == ("2024-02-29", True)
    assert P.pick_snapshot(dates, "2024-03-15") == ("2024-02-29", False)
    with pytest.raises(InputError, match="2024-01-31, 2024-02-29, 2024-03-31"):
        P.pick_snapshot(dates, "2023-12-31")
    with pytest.raises(InputError):
        P.pick_snapshot([], "2024-01-01")


def test_period_snapshots_default_pair():
    dates = ["2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30", "2024-07-31"]
    assert P.period_snapshots(dates, "2024-04-01", "2024-06-30") == ("2024-03-31", "2024-06-30")
    # a period before every snapshot: the widest view
    assert P.period_snapshots(dates, "2023-01-01", "2023-03-31") == ("2024-03-31", "2024-07-31")
    # inside one month: the snapshot before and the next one
    assert P.period_snapshots(dates, "2024-05-05", "2024-05-20") == ("2024-04-30", "2024-05-31")
    # after the last snapshot: the last step between snapshots
    assert P.period_snapshots(dates, "2024-10-01", "2024-12-31") == ("2024-06-30", "2024-07-31")
    assert P.period_snapshots(["2024-03-31"], "2024-04-01", "2024-06-30") is None


# --- push counts and deals at risk ------------------------------------------------------------
def history_snaps() -> pd.DataFrame:
    return pd.concat([
        snap("2024-01-31", [("X", "open", "2024-01-15", 10), ("Y", "open", "2024-01-15", 10),
                            ("Z", "open", "2024-03-01", 10), ("W", "open", "2024-02-01", 10)]),
        snap("2024-02-29", [("X", "open", "2024-02-10", 10),   # push 1 (Jan -> Feb)
                            ("Y", "open", "2024-03-01", 10),   # push 1 (Jan -> Mar)
                            ("Z", "open", "2024-02-01", 10),   # pulled earlier: no push
                            ("W", "won", "2024-02-01", 10)]),
        snap("2024-03-31", [("X", "open", "2024-02-20", 10),   # later day, same month: no push
                            ("Y", "open", "2024-04-01", 10),   # push 2
                            ("Z", "open", "2024-02-01", 10),
                            ("W", "won", "2024-05-01", 10)]),  # won deal's date edited: no push
    ], ignore_index=True)


def test_push_counts_count_moves_into_a_later_month_while_open():
    pc = P.push_counts(history_snaps()).set_index(S.OPPORTUNITY_ID)
    assert pc["push_count"].to_dict() == {"W": 0, "X": 1, "Y": 2, "Z": 0}
    # X: 26 + 10 days later; Y: 46 + 31 days later
    assert pc.loc["X", "days_pushed"] == 36 and pc.loc["Y", "days_pushed"] == 77
    assert pc.loc["Y", "first_close"] == pd.Timestamp("2024-01-15") and pc.loc["Y", "last_close"] == pd.Timestamp("2024-04-01")


def test_last_changes_is_the_first_snapshot_of_the_current_state():
    lc = P.last_changes(history_snaps())
    assert lc["Z"] == pd.Timestamp("2024-02-29")   # unchanged since the second snapshot
    assert lc["Y"] == pd.Timestamp("2024-03-31")
    assert lc["W"] == pd.Timestamp("2024-03-31")   # close date edited in the last one


def test_at_risk_flags_each_reason():
    as_of = "2024-06-30"
    deals = pd.DataFrame({
        S.OPPORTUNITY_ID: ["w1", "w2", "w3", "old", "past", "Y", "Z", "fine"],
        S.NAME: ["w1", "w2", "w3", "Old deal", "Past deal", "Pushed deal", "Stale deal", "Fine deal"],
        S.OWNER: "Ann", S.STAGE: "Prospecting",
        S.STATUS: ["won", "won", "won", "open", "open", "open", "open", "open"],
        S.AMOUNT: [1.0, 1, 1, 100, 200, 300, 400, 500],
        # won cycles 10, 20, 30 days: median 20, so "too old" = open more than 40 days
        S.CREATED_DATE: pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01", "2024-05-01", "2024-06-01",
                                        "2024-06-01", "2024-06-01", "2024-06-01"]),
        S.CLOSE_DATE: pd.to_datetime(["2024-01-11", "2024-01-21", "2024-01-31", "2024-08-01", "2024-06-15",
                                      "2024-08-01", "2024-08-01", "2024-08-01"]),
    })
    snaps = history_snaps()
    snaps = snaps[snaps[S.OPPORTUNITY_ID].isin(["Y", "Z"])]
    # snapshots after 2024-03-31 keep Y and Z unchanged: Z unchanged since 2024-02-29 (122 days)
    risk = P.at_risk(deals, snaps, as_of, stale_days=30).set_index(S.OPPORTUNITY_ID)
    assert "fine" not in risk.index and "w1" not in risk.index
    assert bool(risk.loc["old", "too_old"]) and risk.loc["old", "age_days"] == 60
    assert bool(risk.loc["past", "past_close"]) and not risk.loc["past", "too_old"]
    assert bool(risk.loc["Y", "pushed_twice"]) and risk.loc["Y", "push_count"] == 2
    assert bool(risk.loc["Z", "stale"]) and risk.loc["Z", "days_unchanged"] == 122
    assert "pushed 2 times" in risk.loc["Y", "reasons"]
    assert "no change for 122 days" in risk.loc["Z", "reasons"]
    assert P.median_cycle_days(deals) == 20
    # without snapshots nothing is known about pushes or staleness
    bare = P.at_risk(deals, None, as_of).set_index(S.OPPORTUNITY_ID)
    assert set(bare.index) == {"old", "past"}


# --- the demo workspace: the identity holds for every quarter ---------------------------------------
@pytest.fixture
def demo_frames(demo_db):
    from salesops import store

    with store.connect(demo_db) as conn:
        return store.load_snapshots(conn), store.snapshot_dates(conn), store.get_settings(conn)


def test_identity_holds_for_every_quarter_of_the_demo_workspace(demo_frames):
    from salesops.periods import FiscalCalendar

    snaps, dates, settings = demo_frames
    assert len(dates) >= 2
    cal = FiscalCalendar(settings["fiscal_year_start_month"])
    lo, hi = snaps[S.CLOSE_DATE].min().date(), snaps[S.CLOSE_DATE].max().date()
    quarters = cal.periods_between(lo, hi, "Q")
    assert len(quarters) >= 8
    by_date = {d: snaps[snaps[S.AS_OF] == pd.Timestamp(d)] for d in dates}
    checked = 0
    for q in quarters:
        pairs = {P.period_snapshots(dates, q.start, q.end), (dates[0], dates[-1])}
        for f, t in pairs:
            s1, s2 = by_date[f], by_date[t]
            m = P.movement(s1, s2, q.start, q.end)
            wf = m.waterfall.set_index("step")["amount"]
            # start and end computed independently of the movement code
            p0, p1 = pd.Timestamp(q.start), pd.Timestamp(q.end)
            in1 = s1[(s1[S.STATUS] == "open") & s1[S.CLOSE_DATE].between(p0, p1)]
            in2 = s2[(s2[S.STATUS] == "open") & s2[S.CLOSE_DATE].between(p0, p1)]
            assert wf["start"] == pytest.approx(in1[S.AMOUNT].fillna(0).sum()), (q.label, f, t)
            assert wf["end"] == pytest.approx(in2[S.AMOUNT].fillna(0).sum()), (q.label, f, t)
            rhs = (wf["start"] + wf["created"] + wf["pulled_in"] - wf["pushed_out"] + wf["amount_changed"]
                   - wf["won"] - wf["lost"] - wf["removed"])
            assert math.isclose(wf["end"], rhs, rel_tol=1e-9, abs_tol=1e-6), (q.label, f, t)
            for step in ("start", "created", "pulled_in", "pushed_out", "won", "lost", "removed", "end"):
                assert wf[step] >= 0, (q.label, step)
            checked += 1
    assert checked >= len(quarters)


# --- property: any pair of snapshots, any period ------------------------------------------------------
_row = st.tuples(st.sampled_from(["open", "open", "won", "lost"]),
                 st.one_of(st.none(), st.integers(0, 365)),        # close date: day of 2024, or blank
                 st.one_of(st.none(), st.integers(0, 1000)))       # amount, or blank


def _frame(as_of, rows: dict) -> pd.DataFrame:
    return snap(as_of, [(oid, status, None if day is None else pd.Timestamp("2024-01-01") + pd.Timedelta(days=day), amount)
                        for oid, (status, day, amount) in rows.items()])


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(list("abcdefghijkl")), _row, max_size=12),
       st.dictionaries(st.sampled_from(list("abcdefghijkl")), _row, max_size=12),
       st.integers(0, 300), st.integers(0, 120))
def test_identity_and_one_exit_for_any_snapshot_pair(rows1, rows2, start_day, length):
    s1, s2 = _frame("2024-01-01", rows1), _frame("2024-02-01", rows2)
    p0 = pd.Timestamp("2024-01-01") + pd.Timedelta(days=start_day)
    p1 = p0 + pd.Timedelta(days=length)
    m = P.movement(s1, s2, p0, p1)
    assert abs(m.identity_gap()) < 1e-6
    assert m.deals["exit"].notna().all() and m.deals["entry"].notna().all()
    wf = m.waterfall.set_index("step")["amount"]
    in1 = s1[(s1[S.STATUS] == "open") & s1[S.CLOSE_DATE].between(p0, p1)]
    in2 = s2[(s2[S.STATUS] == "open") & s2[S.CLOSE_DATE].between(p0, p1)]
    assert wf["start"] == pytest.approx(in1[S.AMOUNT].fillna(0).sum())
    assert wf["end"] == pytest.approx(in2[S.AMOUNT].fillna(0).sum())
    assert set(m.deals.loc[m.deals["exit"] == "end", S.OPPORTUNITY_ID]) == set(in2[S.OPPORTUNITY_ID])
