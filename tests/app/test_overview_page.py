import json

import pandas as pd

from salesops import formats, outlook, store
from salesops import schema as S
from salesops.cli import main

from .conftest import no_exceptions


def demo_tables(db):
    with store.connect(db) as conn:
        return store.load_deals(conn), store.load_targets(conn), store.load_reps(conn)


def test_overview_on_demo_shows_the_quarter_against_the_company_target(app_at, demo_db):
    at = app_at("views/overview.py", demo_db)
    no_exceptions(at)
    assert at.title[0].value == "Overview · 2026Q4"
    tiles = {m.label: m.value for m in at.metric}
    deals, targets, _ = demo_tables(demo_db)
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between("2026-10-01", "2026-11-20")][S.AMOUNT].sum()
    q4 = targets[targets[S.PERIOD_START] == "2026-10-01"]
    company = q4.loc[q4[S.SCOPE] == "all", S.AMOUNT].sum()
    assert tiles["Bookings"] == formats.money(won)
    # the demo sets a company target beside the reps' (over-assigned) targets: the tile uses it and names it
    assert tiles["Target"] == formats.money(company)
    target_tile = next(m for m in at.metric if m.label == "Target")
    assert target_tile.delta == "company target"
    assert company < q4.loc[q4[S.SCOPE] == "owner", S.AMOUNT].sum()
    for label in ("Win rate", "Average deal size", "Sales cycle", "Open pipeline", "Weighted pipeline", "Pipeline coverage",
                  "Needed per day to hit target", "Against an even pace to target", "Pipeline created", "Sales velocity",
                  "Likely landing"):
        assert label in tiles and tiles[label] != "–", label
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    titles = sorted(c["title"]["text"] for c in charts)
    assert titles == ["Bookings by quarter vs target", "Pace inside 2026Q4"]
    for spec in charts:
        layers = spec.get("layer", [spec])
        y_titles = [layer["encoding"]["y"].get("axis", {}).get("title") for layer in layers if "axis" in layer["encoding"].get("y", {})]
        assert any(t and "(USD)" in t for t in y_titles), spec["title"]
        assert "NaN" not in json.dumps(spec)


def test_overview_region_filter_and_a_past_period(app_at, demo_db):
    at = app_at("views/overview.py", demo_db)
    at.sidebar.multiselect(key="region").set_value(["EMEA"]).run()
    no_exceptions(at)
    deals, targets, reps = demo_tables(demo_db)
    region_q4 = targets[(targets[S.PERIOD_START] == "2026-10-01") & (targets[S.SCOPE] == "region") & (targets[S.SCOPE_NAME] == "EMEA")]
    assert {m.label: m.value for m in at.metric}["Target"] == formats.money(region_q4[S.AMOUNT].sum())
    at.sidebar.selectbox(key="period").set_value("2026Q2").run()
    no_exceptions(at)
    tiles = {m.label: m.value for m in at.metric}
    # a deal is in EMEA by its own region, or, with none, by its rep's
    rep_region = deals[S.OWNER].map(reps.set_index(S.NAME)[S.REGION])
    region = deals[S.REGION].where(deals[S.REGION].notna() & (deals[S.REGION] != ""), rep_region)
    q = deals[(region == "EMEA") & deals[S.CLOSE_DATE].between("2026-04-01", "2026-06-30")]
    won = q[q[S.STATUS] == S.WON]
    assert tiles["Bookings"] == formats.money(won[S.AMOUNT].sum())
    assert tiles["Deals won"] == formats.number(len(won))
    closed = q[q[S.STATUS] != S.OPEN]
    assert tiles["Win rate"] == formats.pct(len(won) / len(closed))


def test_a_future_quarter_is_not_started_and_shows_its_target_and_pipeline(app_at, demo_db):
    at = app_at("views/overview.py", demo_db)
    at.sidebar.selectbox(key="period").set_value("2027Q1").run()
    no_exceptions(at)
    assert any("has not started" in i.value for i in at.info)
    deals, targets, _ = demo_tables(demo_db)
    q1 = targets[(targets[S.PERIOD_START] == "2027-01-01") & (targets[S.SCOPE] == "all")][S.AMOUNT].sum()
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Target"] == formats.money(q1)
    open_q1 = deals[(deals[S.STATUS] == S.OPEN) & deals[S.CLOSE_DATE].between("2027-01-01", "2027-03-31")]
    assert tiles["Open pipeline"] == formats.money(open_q1[S.AMOUNT].sum())
    assert "Bookings" not in tiles


def test_filters_that_exclude_each_other_say_so(app_at, demo_db):
    at = app_at("views/overview.py", demo_db)
    at.sidebar.multiselect(key="region").set_value(["APAC"]).run()
    # with APAC chosen, the rep list only offers APAC reps and reps with APAC deals
    _, _, reps = demo_tables(demo_db)
    offered = set(at.sidebar.multiselect(key="rep").options)
    assert set(reps.loc[reps[S.REGION] == "APAC", S.NAME]) <= offered
    assert not offered >= set(reps[S.NAME])
    no_exceptions(at)


def test_overview_on_an_empty_database_offers_the_demo(app_at, empty_db):
    at = app_at("views/overview.py", empty_db)
    no_exceptions(at)
    assert any("no deals" in i.value for i in at.info)
    at.button(key="load_demo_the overview").click().run()
    no_exceptions(at)
    assert {m.label for m in at.metric} >= {"Bookings", "Win rate"}


def test_no_nan_none_or_column_names_on_the_overview(app_at, demo_db):
    at = app_at("views/overview.py", demo_db)
    texts = [m.value for m in at.metric] + [str(m.delta) for m in at.metric if m.delta] + [c.value for c in at.caption]
    for t in texts:
        assert "nan" not in t.lower().split() and "None" not in t and "opportunity_id" not in t, t
    table = at.dataframe[0].value
    assert list(table.columns) == ["Deal", "Account", "Rep", "Stage", "Amount", "Probability", "Close date"]
    assert not pd.isna(table["Deal"]).any()


def test_a_big_workspace_estimates_the_landing_zone_on_request_in_its_place(app_at, demo_db, monkeypatch, capsys):
    """Above outlook.AUTO_MAX_DEALS the Overview asks before estimating the landing zone. The
    estimate is drawn last but in its place (under its heading: after the bookings tiles,
    before "How we win") and is the CLI's `landing` for the same quarter."""
    monkeypatch.setattr(outlook, "AUTO_MAX_DEALS", 100)  # the demo's 10,500 deals count as big
    at = app_at("views/overview.py", demo_db)
    no_exceptions(at)
    assert "Likely landing" not in [m.label for m in at.metric]
    assert any("deals: the landing zone reads every deal" in c.value for c in at.caption)
    at.button(key="ov_landing").click().run()
    no_exceptions(at)
    labels = [m.label for m in at.metric]
    assert labels.index("Against an even pace to target") < labels.index("Likely landing") < labels.index("Win rate")
    assert main(["--db", str(demo_db), "landing", "--period", "2026Q4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    likely = next(m for m in at.metric if m.label == "Likely landing")
    assert likely.value == formats.money(doc["p50"])
    assert likely.delta == f"80% range {formats.money(doc['p10'])} – {formats.money(doc['p90'])}"
