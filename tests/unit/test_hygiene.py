"""CRM hygiene: checks per deal, scorecard, per rep, per import and the fix list (hand-worked)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesops import hygiene as H
from salesops import reports
from salesops import schema as S

RULES = S.DEFAULT_STAGE_RULES
AS_OF = "2024-06-30"


def deal(oid, amount, *, owner="Ann", close="2024-07-15", prob=0.1, status="open", name=None, account=None,
         stage="Prospecting"):
    return {S.OPPORTUNITY_ID: oid, S.NAME: name or f"Deal {oid}", S.ACCOUNT: account or f"Account {oid}",
            S.OWNER: owner, S.STAGE: stage, S.STATUS: status, S.AMOUNT: amount,
            S.CREATED_DATE: pd.Timestamp("2024-01-01"), S.CLOSE_DATE: pd.Timestamp(close) if close else pd.NaT,
            S.PROBABILITY: prob}


DEALS = pd.DataFrame([
    deal("c1", 100.0),                              # clean
    deal("p1", 200.0, close="2024-06-01"),          # past close date
    deal("m1", np.nan),                             # no amount
    deal("m2", 0.0),                                # zero amount counts as missing
    deal("o1", 10.0, owner=""),                     # no owner
    deal("o2", 20.0, owner=None),                   # no owner
    deal("s1", 30.0, prob=0.9),                     # Prospecting defaults to 10%: 80 points off
    deal("s2", 40.0, prob=0.3),                     # exactly 20 points off: within tolerance
    deal("d1", 500.0, owner="Bob", name="ACME Corp - Core!", account="Acme Corp"),
    deal("d2", 500.0, owner="Bob", name="acme corp core", account="acme  corp"),   # keyed in twice
    deal("d3", 600.0, owner="Bob", name="Acme Corp - Core", account="Acme Corp"),  # other amount: not a dup
    deal("nc", 50.0, close=None),                   # no close date
    deal("st1", 70.0),                              # stale (see SNAPS)
    deal("w1", 999.0, status="won", stage="Closed Won", prob=1.0, close="2024-01-01"),  # not open: ignored
])


def snaps() -> pd.DataFrame:
    rows = []
    for as_of, c1_amount in (("2024-05-01", 90.0), ("2024-06-01", 100.0)):
        for oid, amount in (("c1", c1_amount), ("st1", 70.0)):
            r = DEALS.set_index(S.OPPORTUNITY_ID).loc[oid]
            rows.append({S.AS_OF: pd.Timestamp(as_of), S.OPPORTUNITY_ID: oid, S.OWNER: r[S.OWNER], S.STAGE: r[S.STAGE],
                         S.STATUS: r[S.STATUS], S.AMOUNT: amount, S.CREATED_DATE: r[S.CREATED_DATE],
                         S.CLOSE_DATE: r[S.CLOSE_DATE], S.PROBABILITY: r[S.PROBABILITY],
                         S.FORECAST_CATEGORY: "pipeline", S.IMPORT_ID: 1 if as_of == "2024-05-01" else 2})
    return pd.DataFrame(rows)


@pytest.fixture
def issues() -> pd.DataFrame:
    return H.deal_issues(DEALS, RULES, AS_OF, snapshots=snaps(), stale_days=30)


def test_each_check_flags_exactly_the_planted_deals(issues):
    flagged = {c: sorted(issues.loc[issues[c], S.OPPORTUNITY_ID]) for c in H.CHECKS}
    assert flagged == {
        "past_close": ["p1"], "missing_close": ["nc"], "missing_amount": ["m1", "m2"],
        "missing_owner": ["o1", "o2"], "stage_probability": ["s1"], "duplicate": ["d1", "d2"],
        "stale": ["st1"],
    }
    assert sorted(issues.loc[issues["clean"], S.OPPORTUNITY_ID]) == ["c1", "d3", "s2"]
    assert "w1" not in set(issues[S.OPPORTUNITY_ID])
    by_id = issues.set_index(S.OPPORTUNITY_ID)
    assert by_id.loc["d1", "duplicate_of"] == "d2"
    # st1 unchanged since its first snapshot (2024-05-01): 60 days; c1 changed on 2024-06-01: 29 days
    assert by_id.loc["st1", "days_unchanged"] == 60 and by_id.loc["c1", "days_unchanged"] == 29


def test_scorecard_clean_vs_raw_pipeline(issues):
    sc = H.scorecard(issues)
    assert sc["open_count"] == 13 and sc["clean_count"] == 3 and sc["dirty_count"] == 10
    assert sc["score"] == pytest.approx(3 / 13)
    # raw 100+200+0+0+10+20+30+40+500+500+600+50+70 = 2120; clean c1+s2+d3 = 740
    assert sc["raw_pipeline"] == 2120 and sc["clean_pipeline"] == 740 and sc["dirty_pipeline"] == 1380
    assert sc["dirty_share"] == pytest.approx(1380 / 2120)
    checks = sc["checks"].set_index("check")
    assert checks.loc["duplicate", "count"] == 2 and checks.loc["duplicate", "amount"] == 1000
    assert checks.loc["missing_amount", "amount"] == 0


def test_by_rep_scores_worst_first(issues):
    r = H.by_rep(issues).set_index(S.OWNER)
    assert list(r.index) == ["(no owner)", "Ann", "Bob"]
    assert r.loc["Ann", ["open_count", "clean_count"]].tolist() == [8, 2]
    assert r.loc["Ann", "score"] == pytest.approx(0.25)
    assert r.loc["Bob", "score"] == pytest.approx(1 / 3) and r.loc["Bob", "dirty_pipeline"] == 1000
    assert r.loc["(no owner)", "score"] == 0 and r.loc["(no owner)", "missing_owner"] == 2


def test_fix_list_per_rep(issues):
    bob = H.fix_list(issues, "Bob")
    assert bob[S.OPPORTUNITY_ID].tolist() == ["d1", "d2"]
    assert set(bob["issue"]) == {"Likely duplicate"}
    assert bob["fix"].iloc[0] == "Merge with d2 or close the duplicate"
    everyone = H.fix_list(issues)
    assert len(everyone) == 10  # one row per (deal, problem); each dirty deal has one problem here
    s1 = everyone[everyone[S.OPPORTUNITY_ID] == "s1"]["fix"].iloc[0]
    assert "10%" in s1
    assert set(H.fix_list(issues, "(no owner)")[S.OPPORTUNITY_ID]) == {"o1", "o2"}


def test_fix_list_download_neutralises_formulas():
    bad = pd.DataFrame([deal("x1", 5.0, close="2024-01-01", name="=HYPERLINK(\"http://evil\")")])
    fl = H.fix_list(H.deal_issues(bad, RULES, AS_OF), "Ann")
    text = reports.to_csv_bytes(fl).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_stale_is_not_measured_without_change_tracking():
    one = snaps()[lambda f: f[S.AS_OF] == pd.Timestamp("2024-05-01")]
    assert not H.stale_measurable(one, None)
    iss = H.deal_issues(DEALS, RULES, AS_OF, snapshots=one)
    assert not iss["stale"].any() and iss["days_unchanged"].isna().all()


def test_by_import_scores_each_snapshot_as_of_its_date():
    s = snaps()
    extra = s[s[S.OPPORTUNITY_ID] == "c1"].iloc[[1]].copy()
    extra[S.OPPORTUNITY_ID] = "x"
    extra[S.CLOSE_DATE] = pd.Timestamp("2024-05-15")  # past by 2024-06-01
    s = pd.concat([s, extra], ignore_index=True)
    bi = H.by_import(s, RULES, deals=DEALS, stale_days=30)
    assert bi[S.AS_OF].tolist() == [pd.Timestamp("2024-05-01"), pd.Timestamp("2024-06-01")]
    assert bi[S.IMPORT_ID].tolist() == [1, 2]
    # 2024-05-01: c1 and st1, both clean. 2024-06-01: c1 clean, st1 unchanged 31 days, x past close
    assert bi["score"].tolist() == pytest.approx([1.0, 1 / 3])
    assert bi["stale"].tolist() == [0, 1] and bi["past_close"].tolist() == [0, 1]
    per_rep = H.by_import(s, RULES, deals=DEALS, by=S.OWNER)
    assert set(per_rep[S.OWNER]) == {"Ann"} and len(per_rep) == 2


def test_empty_inputs():
    empty = DEALS.iloc[0:0]
    iss = H.deal_issues(empty, RULES, AS_OF)
    assert iss.empty
    sc = H.scorecard(iss)
    assert sc["open_count"] == 0 and sc["score"] is None and sc["raw_pipeline"] == 0
    assert H.by_rep(iss).empty and H.fix_list(iss).empty
    assert H.by_import(None, RULES).empty


def test_the_view_is_kept_by_the_facts_and_each_caller_gets_its_own_copy(demo_db, monkeypatch):
    """``view_for`` is kept by the facts token (like the landing zone): the same slice asked
    again is not judged again and gets the same scorecard, a caller that changes its copy
    changes nobody else's, and a new stage map (a change to the facts) is judged afresh."""
    from salesops import workspace
    from salesops.filters import Filters
    from salesops.memo import Kept

    monkeypatch.setattr(H, "_VIEWS", Kept(32))  # this test's own: other tests of the worker judged the demo too
    judged = []
    real = H.deal_issues
    monkeypatch.setattr(H, "deal_issues", lambda *a, **k: judged.append(1) or real(*a, **k))
    ws = workspace.load(demo_db)
    f = Filters.make(ws)
    first = H.view_for(ws, f, 30)
    calls = len(judged)
    first.issues.loc[:, S.AMOUNT] = -1.0
    first.score["open_count"] = -1
    again = H.view_for(ws, f, 30)
    assert len(judged) == calls > 1  # the open deals, then each import: none of it again
    assert again.score["open_count"] == len(again.issues) > 0 and (again.issues[S.AMOUNT] != -1.0).all()
    H.view_for(ws, f, 45)
    assert len(judged) == 2 * calls  # another stale-days setting is another view

    stage = str(again.issues[S.STAGE].value_counts().index[0])  # the commonest open stage
    rules = workspace.stage_map(demo_db)
    old = float(rules.loc[rules["stage"] == stage, "probability"].iloc[0])
    flagged = int(again.issues["stage_probability"].sum())
    rules.loc[rules["stage"] == stage, "probability"] = 1.0 if old < 0.5 else 0.0
    workspace.save_stage_map(demo_db, rules)
    moved = H.view_for(workspace.load(demo_db), f, 30)
    assert len(judged) == 3 * calls and int(moved.issues["stage_probability"].sum()) > flagged
