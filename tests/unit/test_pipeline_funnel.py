"""The stage funnel, time in stage, leaks and time-to-close curves.

A small hand-built history with every number worked out in comments, then the real Salesforce
Opportunity History file checked against an independent plain-Python computation."""
from __future__ import annotations

import csv
import statistics
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesops import pipeline as P
from salesops import schema as S

RULES = S.DEFAULT_STAGE_RULES


def hist(rows) -> pd.DataFrame:
    return pd.DataFrame([{S.OPPORTUNITY_ID: o, S.STAGE: s, S.ENTERED_AT: pd.Timestamp(d)} for o, s, d in rows])


HAND = hist([
    ("d1", "Prospecting", "2024-01-01"), ("d1", "Qualification", "2024-01-11"),
    ("d1", "Needs Analysis", "2024-01-21"), ("d1", "Closed Won", "2024-02-10"),
    ("d2", "Prospecting", "2024-01-01"), ("d2", "Qualification", "2024-01-05"), ("d2", "Closed Lost", "2024-01-20"),
    # a repeated row of the same stage (Salesforce logs amount/date edits too) is one spell
    ("d3", "Prospecting", "2024-01-01"), ("d3", "Prospecting", "2024-01-03"), ("d3", "Closed Lost", "2024-01-31"),
    ("d4", "Prospecting", "2024-01-01"), ("d4", "Qualification", "2024-01-21"),
    ("d5", "Closed Won", "2024-02-01"),
    # entered late in the funnel, went back, then won; rows deliberately out of date order
    ("d6", "Qualification", "2024-01-20"), ("d6", "Needs Analysis", "2024-01-01"),
    ("d6", "Prospecting", "2024-01-10"), ("d6", "Closed Won", "2024-02-01"),
])


def test_hand_built_funnel_conversion_and_days():
    f = P.funnel(HAND, RULES, as_of="2024-03-01").set_index("stage")
    assert list(f.index) == ["Prospecting", "Qualification", "Needs Analysis", "Won"]
    # levels: d1 won, d2 Qualification (lost), d3 Prospecting (lost), d4 Qualification (open),
    # d5 won (every stage passed), d6 won
    assert f.loc["Prospecting", ["reached", "advanced", "lost", "open"]].tolist() == [6, 5, 1, 0]
    assert f.loc["Qualification", ["reached", "advanced", "lost", "open"]].tolist() == [5, 3, 1, 1]
    assert f.loc["Needs Analysis", ["reached", "advanced", "lost", "open"]].tolist() == [3, 3, 0, 0]
    assert f.loc["Won", "reached"] == 3
    assert f.loc["Prospecting", "conversion"] == pytest.approx(5 / 6)
    assert f.loc["Qualification", "conversion"] == pytest.approx(3 / 4)  # open d4 not yet decided
    assert f.loc["Needs Analysis", "conversion"] == pytest.approx(1.0)
    assert f.loc["Qualification", "reached_share"] == pytest.approx(5 / 6)
    # finished spells: Prospecting d1 10, d2 4, d3 30 (one spell), d4 20, d6 10 -> median 10
    assert f.loc["Prospecting", "median_days"] == 10 and f.loc["Prospecting", "spells"] == 5
    assert f.loc["Prospecting", "mean_days"] == pytest.approx(74 / 5)
    # Qualification d1 10, d2 15, d6 12 (d4 still there) -> median 12; Needs Analysis d1 20, d6 9 -> 14.5
    assert f.loc["Qualification", "median_days"] == 12 and f.loc["Qualification", "in_stage_now"] == 1
    assert f.loc["Needs Analysis", "median_days"] == 14.5
    lk = P.team_leak(f.reset_index())
    assert lk["stage"] == "Qualification" and lk["drop_rate"] == pytest.approx(0.25)


def test_stages_the_map_does_not_know_are_ordered_by_where_they_occur():
    h = hist([
        ("a", "Intro Call", "2024-01-01"), ("a", "Tech Review", "2024-01-05"), ("a", "Trial Running", "2024-01-09"),
        ("a", "Closed Won", "2024-01-20"),
        ("b", "Intro Call", "2024-01-01"), ("b", "Tech Review", "2024-01-03"), ("b", "Closed Lost", "2024-01-10"),
        ("c", "Intro Call", "2024-01-02"), ("c", "Closed Lost", "2024-01-04"),
    ])
    f = P.funnel(h, RULES).set_index("stage")
    assert list(f.index) == ["Intro Call", "Tech Review", "Trial Running", "Won"]
    assert f["reached"].tolist() == [3, 2, 1, 1]
    assert f.loc["Intro Call", "conversion"] == pytest.approx(2 / 3)
    assert f.loc["Tech Review", "conversion"] == pytest.approx(1 / 2)
    assert f.loc["Tech Review", "median_days"] == 5.5  # a: 4 days, b: 7 days


def test_stage_visits_ages_running_spells():
    v = P.stage_visits(HAND, RULES, as_of="2024-03-01")
    d4 = v[v[S.OPPORTUNITY_ID] == "d4"].set_index(S.STAGE)
    assert not d4.loc["Qualification", "finished"]
    assert d4.loc["Qualification", "age_days"] == 40  # 2024-01-21 -> 2024-03-01
    assert len(v[v[S.OPPORTUNITY_ID] == "d3"]) == 2  # Prospecting once, then Closed Lost


def test_leaks_by_group_against_team_conversion():
    deals = pd.DataFrame({S.OPPORTUNITY_ID: ["d1", "d2", "d3", "d4", "d5", "d6"],
                          S.OWNER: ["Ann", "Ann", "Ann", "Bob", "Bob", "Bob"]})
    lk = P.leaks(HAND, RULES, deals, S.OWNER, min_decided=1).set_index("group")
    # Ann: Prospecting 2/3 (team 5/6), Qualification 1/2 (team 3/4), Needs Analysis 1/1 (team 1)
    assert lk.loc["Ann", "stage"] == "Qualification"
    assert lk.loc["Ann", "conversion"] == pytest.approx(0.5)
    assert lk.loc["Ann", "gap"] == pytest.approx(0.25)
    assert lk.index[0] == "Ann"  # worst first
    # with a higher bar no Ann stage has enough decided deals
    strict = P.leaks(HAND, RULES, deals, S.OWNER, min_decided=5).set_index("group")
    assert strict.loc["Ann", "stage"] is None


def test_history_from_snapshots_dates_stage_changes():
    snaps = pd.DataFrame({
        S.AS_OF: pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31", "2024-02-29", "2024-03-31"]),
        S.OPPORTUNITY_ID: ["a", "a", "a", "b", "b"],
        S.STAGE: ["Prospecting", "Prospecting", "Closed Won", "Qualification", "Closed Lost"],
        S.CREATED_DATE: pd.to_datetime(["2024-01-10"] * 3 + ["2024-02-15"] * 2),
    })
    h = P.history_from_snapshots(snaps)
    assert h.values.tolist() == [
        ["a", "Prospecting", pd.Timestamp("2024-01-10")], ["a", "Closed Won", pd.Timestamp("2024-03-31")],
        ["b", "Qualification", pd.Timestamp("2024-02-15")], ["b", "Closed Lost", pd.Timestamp("2024-03-31")]]
    src = P.funnel_source(pd.DataFrame(columns=[S.OPPORTUNITY_ID, S.STAGE, S.ENTERED_AT]), snaps.assign(**{S.STATUS: "open"}))
    assert src.kind == "snapshots" and "approximate" in src.note
    none = P.funnel_source(None, snaps[snaps[S.AS_OF] == pd.Timestamp("2024-03-31")])
    assert none.kind == "none" and "cannot be measured" in none.note


def test_funnel_from_current_stages():
    deals = pd.DataFrame({S.OPPORTUNITY_ID: list("abcde"),
                          S.STAGE: ["Qualification", "Prospecting", "Closed Won", "Closed Lost", "Prospecting"],
                          S.STATUS: ["open", "open", "won", "lost", "open"], S.AMOUNT: [1.0, 2, 3, 4, 5]})
    f = P.funnel_from_current(deals, RULES)
    assert f["stage"].tolist() == ["Prospecting", "Qualification", "Closed Won", "Closed Lost"]
    assert f["deals"].tolist() == [2, 1, 1, 1] and f["amount"].tolist() == [7, 1, 3, 4]


def test_empty_inputs_give_empty_frames():
    empty = pd.DataFrame(columns=[S.OPPORTUNITY_ID, S.STAGE, S.ENTERED_AT])
    assert P.funnel(empty, RULES).empty
    assert P.leaks(empty, RULES, pd.DataFrame({S.OPPORTUNITY_ID: [], S.OWNER: []}), S.OWNER).empty
    assert P.team_leak(P.funnel(empty, RULES)) is None


def test_time_to_close_kaplan_meier():
    deals = pd.DataFrame({
        S.OPPORTUNITY_ID: list("abcde"), S.SEGMENT: ["SMB"] * 4 + ["Enterprise"],
        S.STATUS: ["won", "lost", "open", "won", "open"],
        S.CREATED_DATE: pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01", "2024-01-01", "2024-01-01"]),
        S.CLOSE_DATE: pd.to_datetime(["2024-01-11", "2024-01-21", "2024-03-01", "2024-01-31", "2024-06-01"]),
    })
    # SMB: closes on day 10, 20, 30; the open deal is censored at 14 days (2024-02-01 -> 02-15)
    # day 10: 4 at risk, 1 closes -> 0.75; day 20: 2 at risk (14-day deal left) -> 0.375; day 30 -> 0
    c = P.time_to_close(deals, "2024-02-15", by=S.SEGMENT)
    smb = c[c["group"] == "SMB"].set_index("days")["share_open"]
    assert smb.to_dict() == pytest.approx({0: 1.0, 10: 0.75, 20: 0.375, 30: 0.0})
    assert c[c["group"] == "Enterprise"]["share_open"].tolist() == [1.0]
    after = P.share_open_after(c, 15)
    assert after["SMB"] == pytest.approx(0.75) and after["Enterprise"] == 1.0


# --- the real Salesforce Opportunity History (preppin) ---------------------------------------------
@pytest.fixture
def preppin_history_file(request) -> Path:
    try:
        base = request.getfixturevalue("datasets_dir")
    except pytest.FixtureLookupError:
        base = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
        if not base.is_dir():
            pytest.skip(f"datasets folder {base} is absent")
    path = Path(base) / "salesforce_preppin" / "Opportunity History.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


def _independent_funnel(path: Path) -> dict:
    """Plain-Python computation of the same definitions, ordering by the file's own SortOrder."""
    won_order, open_max = 10_000, 8
    rows = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            rows.setdefault(r["OppID"], []).append(
                (datetime.strptime(r["CreatedDate"], "%d/%m/%Y"), int(r["SortOrder"]), r["StageName"]))
    closed = {"Closed Won": "won", "Closed Lost": "lost"}
    level, final, spells = {}, {}, {}
    for oid, items in rows.items():
        items.sort(key=lambda t: (t[0], t[1]))
        merged = []
        for when, order, stage in items:
            if not merged or merged[-1][2] != stage:
                merged.append((when, order, stage))
        for i, (when, order, stage) in enumerate(merged):
            if stage not in closed and i + 1 < len(merged):
                spells.setdefault(stage, []).append((merged[i + 1][0] - when).days)
        final[oid] = closed.get(merged[-1][2], "open")
        opens = [o for _, o, s in merged if s not in closed and o <= open_max]
        level[oid] = won_order if final[oid] == "won" else max(opens, default=1)
    stage_orders = sorted({(o, s) for items in rows.values() for _, o, s in items if s not in closed})
    out = {}
    for i, (order, stage) in enumerate(stage_orders):
        nxt = stage_orders[i + 1][0] if i + 1 < len(stage_orders) else won_order
        reached = sum(1 for v in level.values() if v >= order)
        advanced = sum(1 for v in level.values() if v >= nxt)
        lost = sum(1 for k, v in level.items() if order <= v < nxt and final[k] == "lost")
        out[stage] = {"reached": reached, "conversion": advanced / (advanced + lost),
                      "median_days": statistics.median(spells[stage])}
    out["Won"] = {"reached": sum(1 for v in final.values() if v == "won")}
    return out


def test_preppin_history_funnel_matches_independent_computation(preppin_history_file):
    raw = pd.read_csv(preppin_history_file, encoding="utf-8-sig", dtype=str)
    assert list(raw.columns) == ["OppID", "CreatedDate", "StageName", "SortOrder"]
    history = pd.DataFrame({S.OPPORTUNITY_ID: raw["OppID"], S.STAGE: raw["StageName"],
                            S.ENTERED_AT: pd.to_datetime(raw["CreatedDate"], format="%d/%m/%Y")})
    assert len(history) == 584 and history[S.OPPORTUNITY_ID].nunique() == 219
    f = P.funnel(history, RULES).set_index("stage")
    expected = _independent_funnel(preppin_history_file)
    assert list(f.index) == ["Prospecting", "Qualification", "Value Proposition", "Negotiation/Review", "Won"]
    assert f.loc["Prospecting", "reached"] == 219  # every deal enters at the top
    for stage, exp in expected.items():
        assert f.loc[stage, "reached"] == exp["reached"], stage
        if stage != "Won":
            assert f.loc[stage, "conversion"] == pytest.approx(exp["conversion"]), stage
            assert f.loc[stage, "median_days"] == pytest.approx(exp["median_days"]), stage
    # won deals in the file: those whose last row (by date) is Closed Won
    assert f.loc["Won", "reached"] == expected["Won"]["reached"]
    assert 0 < f.loc["Won", "reached"] < 219
    assert np.isfinite(f.loc["Negotiation/Review", "median_days"])


def test_preppin_history_through_the_importer_gives_the_same_funnel(preppin_history_file, empty_db, capsys):
    """End to end: `import` the history file (the Salesforce OpportunityHistory importer), then the
    funnel from the stage_history table equals the funnel from the CSV read directly."""
    from salesops import store
    from salesops.cli import main

    code = main(["--db", str(empty_db), "import", str(preppin_history_file), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    with store.connect(empty_db) as conn:
        history = store.load_stage_history(conn)
        rules = store.stage_rules(conn)
    assert len(history) == 584
    raw = pd.read_csv(preppin_history_file, encoding="utf-8-sig", dtype=str)
    direct = pd.DataFrame({S.OPPORTUNITY_ID: raw["OppID"], S.STAGE: raw["StageName"],
                           S.ENTERED_AT: pd.to_datetime(raw["CreatedDate"], format="%d/%m/%Y")})
    via_import = P.funnel(history, rules)
    expected = P.funnel(direct, RULES)
    pd.testing.assert_frame_equal(via_import.reset_index(drop=True), expected.reset_index(drop=True))
