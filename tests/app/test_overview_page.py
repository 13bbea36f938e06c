import json

from salesops import formats, store
from salesops import schema as S

from .conftest import no_exceptions


def test_overview_on_demo_shows_the_quarter_against_target(app_at, demo_db):
    at = app_at("views/overview.py", demo_db)
    no_exceptions(at)
    assert at.title[0].value == "Overview · 2026Q4"
    tiles = {m.label: m.value for m in at.metric}
    with store.connect(demo_db) as conn:
        deals, targets = store.load_deals(conn), store.load_targets(conn)
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between("2026-10-01", "2026-11-20")][S.AMOUNT].sum()
    target = targets[(targets[S.PERIOD_START] == "2026-10-01") & (targets[S.SCOPE] == "owner")][S.AMOUNT].sum()
    assert tiles["Bookings"] == formats.money(won)
    assert tiles["Target"] == formats.money(target)
    for label in ("Win rate", "Average deal size", "Sales cycle", "Open pipeline", "Weighted pipeline", "Coverage",
                  "Needed per day to hit target", "Pipeline created", "Velocity"):
        assert label in tiles and tiles[label] != "–", label
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    titles = sorted(c["title"]["text"] for c in charts)
    assert titles == ["Bookings by quarter vs target", "Pace inside 2026Q4"]
    for spec in charts:
        layers = spec.get("layer", [spec])
        y_titles = [layer["encoding"]["y"].get("axis", {}).get("title") for layer in layers if "axis" in layer["encoding"].get("y", {})]
        assert any(t and "(USD)" in t for t in y_titles), spec["title"]


def test_overview_filter_and_past_period(app_at, demo_db):
    at = app_at("views/overview.py", demo_db)
    at.sidebar.multiselect(key="sb_f_region").set_value(["EMEA"]).run()
    no_exceptions(at)
    with store.connect(demo_db) as conn:
        reps, targets = store.load_reps(conn), store.load_targets(conn)
    emea = set(reps.loc[reps["region"] == "EMEA", "name"])
    q4 = targets[(targets[S.PERIOD_START] == "2026-10-01") & targets[S.SCOPE_NAME].isin(emea)][S.AMOUNT].sum()
    assert {m.label: m.value for m in at.metric}["Target"] == formats.money(q4)
    at.sidebar.selectbox(key="sb_period").set_value("2026Q2").run()
    no_exceptions(at)
    tiles = {m.label: m.value for m in at.metric}
    with store.connect(demo_db) as conn:
        deals = store.load_deals(conn)
    q = deals[(deals[S.REGION] == "EMEA") & deals[S.CLOSE_DATE].between("2026-04-01", "2026-06-30")]
    won = q[q[S.STATUS] == S.WON]
    assert tiles["Bookings"] == formats.money(won[S.AMOUNT].sum())
    assert tiles["Deals won"] == formats.number(len(won))
    closed = q[q[S.STATUS] != S.OPEN]
    assert tiles["Win rate"] == formats.pct(len(won) / len(closed))


def test_overview_on_an_empty_database_offers_the_demo(app_at, empty_db):
    at = app_at("views/overview.py", empty_db)
    no_exceptions(at)
    assert any("no deals" in i.value for i in at.info)
    at.button(key="load_demo_the overview").click().run()
    no_exceptions(at)
    assert {m.label for m in at.metric} >= {"Bookings", "Win rate"}
