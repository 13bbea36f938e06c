"""The Goals page under AppTest: it opens on the published target, keeps a typed target across
basis switches, names a saved scenario after what is on screen, shows the landing zone of
salesops.outlook, equals `goals --json` for the same inputs, publishes, and renders cleanly on
the demo, an empty database, Maven, a future quarter and a fiscal year from April."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from salesops import formats, store
from salesops import schema as S
from salesops.cli import main
from salesops.ui import context
from tests import fixtures as acme
from tests.app.conftest import no_exceptions
from tests.app.planning_checks import assert_clean, open_page, plain, table, tiles

PAGE = "views/goals.py"


@pytest.fixture(scope="module")
def acme_db(tmp_path_factory):
    return acme.write_acme(tmp_path_factory.mktemp("goals_acme") / "acme.db")


def captions(at) -> str:
    return " ".join(plain(c.value) for c in at.caption)


def goals_json(capsys, db, *args) -> dict:
    code = main(["--db", str(db), "goals", *args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def fresh_acme(tmp_path) -> str:
    return acme.write_acme(tmp_path / "acme.db")


def test_a_typed_target_survives_switching_the_basis(monkeypatch, acme_db):
    at = open_page(PAGE, acme_db, monkeypatch)
    assert at.radio(key="goals_basis").value == "published"
    at.radio(key="goals_basis").set_value("amount").run()
    amount_key = next(w.key for w in at.number_input if w.key and w.key.startswith("goals_amount_"))
    at.number_input(key=amount_key).set_value(250_000.0).run()
    at.radio(key="goals_basis").set_value("capacity").run()
    assert "(bottom-up capacity)." in captions(at)
    at.radio(key="goals_basis").set_value("published").run()
    at.radio(key="goals_basis").set_value("amount").run()
    no_exceptions(at)
    assert at.number_input(key=amount_key).value == 250_000.0
    assert "Team target: $250,000 (amount)." in captions(at)


def test_a_saved_scenario_takes_the_name_of_what_is_on_screen(monkeypatch, tmp_path):
    db = fresh_acme(tmp_path)
    at = open_page(PAGE, db, monkeypatch)
    at.selectbox(key="goals_method").set_value("equal").run()
    assert at.text_input(key="goals_scenario_name").placeholder == "2027Q3 · published company target · Equal split"
    at.button(key="goals_save").click().run()
    at.sidebar.multiselect(key=context.K_FILTERS["region"]).set_value(["East"]).run()
    at.button(key="goals_save").click().run()
    at.text_input(key="goals_scenario_name").set_value("Board version").run()
    at.button(key="goals_save").click().run()
    at.button(key="goals_save").click().run()
    no_exceptions(at)
    with store.connect(db) as conn:
        saved = store.list_documents(conn, "scenarios", kind="goals")
        doc = store.load_document(conn, "scenarios", "Board version", 2)
    assert sorted(saved["name"].unique()) == sorted(["2027Q3 · published company target · Equal split",
                                                     "2027Q3 · published region target of East · Equal split · Region: East",
                                                     "Board version"])
    assert doc["method"] == "equal" and doc["filters"] == "Region: East" and doc["target"] == 200_000
    assert sum(doc["quotas"].values()) == pytest.approx(200_000)
    compare = table(at, "Rep", "Quota change")
    assert len(compare) >= 3 and not compare.isna().any().any()


def test_goals_page_publishes_quotas_that_reconcile(monkeypatch, tmp_path):
    db = fresh_acme(tmp_path)
    at = open_page(PAGE, db, monkeypatch)
    at.radio(key="goals_basis").set_value("amount").run()
    amount_key = next(w.key for w in at.number_input if w.key and w.key.startswith("goals_amount_"))
    at.number_input(key=amount_key).set_value(300_000.01).run()
    at.select_slider(key="goals_over").set_value(0.1).run()
    at.selectbox(key="goals_method").set_value("equal").run()
    assert "Quotas add up to $330,000 = target $300,000 x 1.10 over-assignment." in captions(at)
    at.checkbox(key="goals_publish_confirm").check().run()
    at.button(key="goals_publish").click().run()
    no_exceptions(at)
    assert any("Published 6 rep targets" in s.value for s in at.success)
    with store.connect(db) as conn:
        t = store.load_targets(conn)
    mine = t[(t[S.SCOPE] == "owner") & (t[S.PERIOD_START] == pd.Timestamp("2026-10-01"))]
    assert len(mine) == 6 and mine[S.AMOUNT].sum() == pytest.approx(330_000.01, abs=0.005)
    assert mine[S.AMOUNT].max() - mine[S.AMOUNT].min() <= 0.011   # equal split, to the cent
    assert len(t[t[S.SCOPE] != "owner"]) == 4                     # team, region and company targets untouched


# --- the page says what `goals --json` says ------------------------------------------------------------------
CASES = {
    # name: (database, sidebar period, sidebar filters, CLI arguments)
    "demo, quarter running on the as-of date": ("demo", None, {}, ["--period", "2026Q4"]),
    "April fiscal year, running quarter": ("acme", None, {}, ["--period", "2027Q3"]),
    "April fiscal year, region": ("acme", None, {"region": ["East"]}, ["--period", "2027Q3", "--region", "East"]),
    "April fiscal year, rep": ("acme", None, {"rep": ["Ann Lee"]}, ["--period", "2027Q3", "--rep", "Ann Lee"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_page_equals_goals_json(monkeypatch, _demo_template, acme_db, tmp_path, capsys, case):
    which, period, fields, args = CASES[case]
    db = acme_db
    if which == "demo":
        db = tmp_path / "demo.db"
        shutil.copyfile(_demo_template, db)
    at = open_page(PAGE, db, monkeypatch, filters=fields)
    at.select_slider(key="goals_sims").set_value(500).run()
    assert_clean(at)
    if which == "demo":
        assert at.title[0].value == "Goals · 2026Q4"
        assert "reps' own targets add up to" in captions(at)          # both targets named, never mixed
    doc = goals_json(capsys, db, *args, "--sims", "500", "--seed", "0")
    t = tiles(at)
    pub = next(m for m in at.metric if m.label == "Published target")
    assert pub.value == formats.money(doc["published_target"]["amount"]) and pub.delta == doc["published_target"]["label"]
    assert at.radio(key="goals_basis").value == "published" and doc["basis"] == f"published {pub.delta}"
    assert f"Team target: {formats.money(doc['target'], compact=False)} ({doc['basis']})." in captions(at)
    assert t["Team reaches the target"] == formats.pct(doc["p_team"])
    assert t["Expected share of reps at quota"] == formats.pct(doc["expected_share_hitting"])
    assert t["Quotas above plausible"] == str(doc["reps_flagged"])
    assert t["Team P10 – P90"] == f"{formats.money(doc['team_p10'])} – {formats.money(doc['team_p90'])}"
    assert t["Landing zone (P50)"] == formats.money(doc["landing"]["p50"])     # salesops.outlook's, as on Overview
    assert t[f"Last year ({doc['last_year_period']})"] == formats.money(doc["last_year"])
    shown = table(at, "Rep", "Quota").set_index("Rep")
    assert list(shown.index) == [r["rep"] for r in doc["reps"]]
    for r in doc["reps"]:
        assert shown.loc[r["rep"], "Quota"] == pytest.approx(r["quota"])
        cell = shown.loc[r["rep"], "Chance of reaching quota"]
        if r["p_attain"] is None:
            assert cell == "–"
        elif isinstance(cell, str):            # a column with a "–" is shown as text, one decimal
            assert cell == f"{r['p_attain'] * 100:.1f}%"
        else:
            assert cell == pytest.approx(r["p_attain"] * 100)


def test_goals_show_the_landing_zone_of_the_overview(monkeypatch, acme_db):
    """One landing zone: the Overview's "Likely landing" is the Goals page's landing zone (salesops.outlook)."""
    overview = open_page("views/overview.py", acme_db, monkeypatch)
    goals = open_page(PAGE, acme_db, monkeypatch)
    likely = next(m for m in overview.metric if m.label == "Likely landing")
    zone = next(m for m in goals.metric if m.label == "Landing zone (P50)")
    assert zone.value == likely.value and likely.value != formats.MISSING
    assert likely.delta == f"80% range {zone.delta}"


# --- renders cleanly everywhere -------------------------------------------------------------------------------
def test_goals_page_on_an_empty_database(monkeypatch, empty_db):
    at = open_page(PAGE, empty_db, monkeypatch)
    assert_clean(at)
    assert any("no deals" in i.value for i in at.info)


def test_goals_page_on_a_future_quarter(monkeypatch, acme_db):
    at = open_page(PAGE, acme_db, monkeypatch, period="2027Q4", fiscal_start=4)      # Jan-Mar 2027, after the as-of date
    assert_clean(at)
    assert at.title[0].value == "Goals · 2027Q4"
    assert tiles(at)["Published target"] == formats.money(320_000)
    assert tiles(at)["Landing zone (P50)"] != formats.MISSING


def test_goals_page_on_maven(monkeypatch, datasets_dir, tmp_path):
    from salesops.ingest import importer

    db = tmp_path / "maven.db"
    maven = datasets_dir / "maven_crm"
    importer.run_import(db, (maven / "sales_pipeline.csv").read_bytes(), "sales_pipeline.csv")
    assert main(["--db", str(db), "roster", str(maven / "sales_teams.csv")]) == 0
    at = open_page(PAGE, db, monkeypatch)
    assert_clean(at)
    # no targets in Maven: the page opens on an amount
    assert tiles(at)["Published target"] == formats.MISSING
    assert "(amount)." in captions(at)
    assert len(table(at, "Rep", "Quota")) == 35
