"""The Pipeline page under AppTest: demo workspace, a workspace without snapshots or history,
and an empty database."""
from __future__ import annotations

import pandas as pd

from salesops import formats, hygiene, pipeline, store
from salesops import schema as S

from .conftest import no_exceptions

PAGE = "views/pipeline.py"


def tiles(at) -> dict:
    return {m.label: m.value for m in at.metric}


def test_movement_on_demo_matches_the_snapshots(app_at, demo_db):
    at = app_at(PAGE, demo_db)
    no_exceptions(at)
    assert at.title[0].value == "Pipeline · 2026Q4"
    # default pair for 2026Q4: the last snapshot on or before 1 Oct (30 Sep) and the newest (20 Nov)
    assert at.selectbox(key="pl_from_2026Q4").value == "2026-09-30"
    assert at.selectbox(key="pl_to_2026Q4").value == "2026-11-20"
    with store.connect(demo_db) as conn:
        s1, s2 = store.load_snapshots(conn, "2026-09-30"), store.load_snapshots(conn, "2026-11-20")
    q0, q1 = pd.Timestamp("2026-10-01"), pd.Timestamp("2026-12-31")
    start = s1[(s1[S.STATUS] == S.OPEN) & s1[S.CLOSE_DATE].between(q0, q1)][S.AMOUNT].fillna(0).sum()
    end = s2[(s2[S.STATUS] == S.OPEN) & s2[S.CLOSE_DATE].between(q0, q1)][S.AMOUNT].fillna(0).sum()
    t = tiles(at)
    assert t["Start of period"] == formats.money(start)
    assert t["End"] == formats.money(end)
    assert len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart")) >= 1
    # the deals behind the "Won" bar
    m = pipeline.movement(s1, s2, q0, q1)
    won = m.waterfall.set_index("step").loc["won"]
    at.selectbox(key="pl_step").set_value("Won").run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert len(table) == won["count"] > 0
    assert table["amount_to"].sum() == won["amount"]


def test_other_views_on_demo(app_at, demo_db):
    at = app_at(PAGE, demo_db)
    at.segmented_control(key="pl_view").set_value("Funnel and bottlenecks").run()
    no_exceptions(at)
    assert any("Biggest drop" in i.value for i in at.info)
    assert len(at.dataframe) >= 2  # funnel table and leaks table

    at.segmented_control(key="pl_view").set_value("Deals at risk").run()
    no_exceptions(at)
    assert int(tiles(at)["Deals at risk"].replace(",", "")) > 0

    at.segmented_control(key="pl_view").set_value("CRM hygiene").run()
    no_exceptions(at)
    with store.connect(demo_db) as conn:
        deals, snaps = store.load_deals(conn), store.load_snapshots(conn)
        hist, rules = store.load_stage_history(conn), store.stage_rules(conn)
    sc = hygiene.scorecard(hygiene.deal_issues(deals, rules, "2026-11-20", snapshots=snaps, history=hist))
    t = tiles(at)
    assert t["Hygiene score"] == formats.pct(sc["score"])
    assert t["In dirty deals"] == formats.money(sc["dirty_pipeline"])
    at.selectbox(key="pl_fix_rep").set_value(at.selectbox(key="pl_fix_rep").options[1]).run()
    no_exceptions(at)
    assert at.dataframe[-1].value["owner"].nunique() == 1
    at.selectbox(key="pl_trend_rep").set_value("Dev Lopez").run()
    no_exceptions(at)


def test_without_snapshots_or_history_the_page_says_what_is_missing(app_at, demo_db):
    with store.connect(demo_db, write=True) as conn:
        store.replace_snapshots(conn, None)  # no snapshots (stored as versions since issue #11)
        conn.execute("DELETE FROM stage_history")
    at = app_at(PAGE, demo_db)
    no_exceptions(at)
    assert any("compares two snapshots" in i.value for i in at.info)
    at.segmented_control(key="pl_view").set_value("Funnel and bottlenecks").run()
    no_exceptions(at)
    assert any("cannot be measured" in i.value for i in at.info)
    with store.connect(demo_db) as conn:
        deals = store.load_deals(conn)
    won, lost = int((deals[S.STATUS] == S.WON).sum()), int((deals[S.STATUS] == S.LOST).sum())
    assert any(f"{won:,} won and {lost:,} lost" in c.value and formats.pct(won / (won + lost)) in c.value
               for c in at.caption)
    at.segmented_control(key="pl_view").set_value("CRM hygiene").run()
    no_exceptions(at)
    assert any("Staleness is not measured" in c.value for c in at.caption)


def test_empty_database_shows_the_empty_state(app_at, empty_db):
    at = app_at(PAGE, empty_db)
    no_exceptions(at)
    assert at.title[0].value.startswith("Pipeline")
    assert any("no deals" in i.value for i in at.info)
