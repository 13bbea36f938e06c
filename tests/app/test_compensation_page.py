"""The Compensation page under AppTest: its numbers equal `comp --json` for the same inputs
(closed and running quarters, a fiscal year, region and rep filters, a fiscal year from April),
its attainment is the Reps page's (`kpis --by owner`), plans are saved in versions across a
restart, a zero quota is refused, the simulation equals `comp --simulate` and moves with the
levers, and the page renders cleanly on the demo, an empty database, Maven and a future quarter."""
from __future__ import annotations

import json
import shutil

import pytest

from salesops import compensation as C
from salesops import formats, store
from salesops.cli import main
from salesops.ui import context
from tests import fixtures as acme
from tests.app.conftest import no_exceptions
from tests.app.planning_checks import assert_clean, open_page, plain, table, tiles

PAGE = "views/compensation.py"
STANDARD = str(C.PLANS_DIR / "standard.json")


@pytest.fixture(scope="module")
def shared_demo(_demo_template, tmp_path_factory):
    """A demo database the read-only tests of this module share (and so the page's caches)."""
    path = tmp_path_factory.mktemp("comp") / "demo.db"
    shutil.copyfile(_demo_template, path)
    return path


@pytest.fixture(scope="module")
def acme_db(tmp_path_factory):
    return acme.write_acme(tmp_path_factory.mktemp("comp_acme") / "acme.db")


def comp_json(capsys, db, *args) -> dict:
    code = main(["--db", str(db), "comp", "--plan", STANDARD, *args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _key(at, prefix):
    """The full key of a designer widget (keys carry a suffix naming the starting plan)."""
    keys = [w.key for w in at.number_input] + [w.key for w in at.text_input]
    return next(k for k in keys if k and k.startswith(prefix))


def same_pct(cell, fraction) -> bool:
    """A percentage cell as the page shows it (a number of percent, or text with one decimal
    and "–" for none when the column has an empty cell) against a fraction from the CLI."""
    if fraction is None:
        return cell == "–"
    if isinstance(cell, str):
        return cell == f"{fraction * 100:.1f}%"
    return abs(float(cell) - fraction * 100) < 1e-6


CASES = {
    # name: (database, sidebar period or None for the default, sidebar filters, CLI arguments)
    "closed quarter": ("demo", "2026Q3", {}, ["--period", "2026Q3"]),
    "fiscal year: four quarters summed": ("demo", "2026", {}, ["--period", "2026"]),
    "April fiscal year, quarter running on the as-of date": ("acme", None, {}, ["--period", "2027Q3"]),
    "region": ("acme", None, {"region": ["West"]}, ["--period", "2027Q3", "--region", "West"]),
    "rep": ("acme", None, {"rep": ["Ann Lee"]}, ["--period", "2027Q3", "--rep", "Ann Lee"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_page_equals_comp_json(monkeypatch, shared_demo, acme_db, capsys, case):
    which, period, fields, args = CASES[case]
    db = shared_demo if which == "demo" else acme_db
    at = open_page(PAGE, db, monkeypatch, period=period if period and len(period) > 4 else None, filters=fields)
    if period and len(period) == 4:
        at.sidebar.segmented_control(key=context.K_PERIOD_KIND).set_value("Year").run()
        at.sidebar.selectbox(key=context.K_PERIOD).set_value(period).run()
    assert_clean(at)
    assert at.title[0].value == f"Compensation · {args[1]}"
    assert at.selectbox(key="comp_source").value == "Sample: Standard AE plan"
    doc = comp_json(capsys, db, *args)
    t = tiles(at)
    assert t["Total payout"] == formats.money(doc["total_cost"])
    assert t["Cost of sales"] == formats.pct(doc["cost_of_sales"], 1)
    assert t["With base salaries"] == formats.pct(doc["full_cost_of_sales"], 1)
    assert t["Reps at quota"] == f"{doc['reps_at_quota']} of {doc['reps_with_quota']}"
    assert f"Evaluated as {doc['evaluated_as']}:" in " ".join(plain(c.value) for c in at.caption)
    shown = table(at, "Rep", "Quota from").set_index("Rep")
    assert list(shown.index) == [p["rep"] for p in doc["payouts"]]
    for p in doc["payouts"]:
        row = shown.loc[p["rep"]]
        assert row["Quota from"] == p["quota_from"]
        assert row["Quota"] == pytest.approx(p["quota"]) and row["Total"] == pytest.approx(p["total"])
        assert row["Commission"] == pytest.approx(p["commission"])
        assert same_pct(row["Attainment"], p["attainment"]), (p["rep"], row["Attainment"], p["attainment"])
    if case == "fiscal year: four quarters summed":
        assert [pp["label"] for pp in doc["plan_periods"]] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
        by_period = table(at, "Rep", "Plan period")
        assert set(by_period["Plan period"]) == {"2026Q1", "2026Q2", "2026Q3", "2026Q4"}


def test_the_attainment_is_the_reps_pages(monkeypatch, shared_demo, capsys):
    """The Reps page shows kpis --by owner: for the same quarter, a rep on a published target has the same attainment."""
    at = open_page(PAGE, shared_demo, monkeypatch, period="2026Q3")
    assert main(["--db", str(shared_demo), "kpis", "--period", "2026Q3", "--by", "owner", "--json"]) == 0
    kpis = {r["group"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    shown = table(at, "Rep", "Quota from").set_index("Rep")
    on_target = shown[shown["Quota from"] == C.FROM_TARGET]
    assert len(on_target) >= 25
    for rep, row in on_target.iterrows():
        assert same_pct(row["Attainment"], kpis[rep]["attainment"]), rep
        assert row["Quota"] == pytest.approx(kpis[rep]["target"])
    # the new hire on a zero quota: listed, no attainment, no commission
    assert shown.loc["Rafael Xu", "Quota from"] == C.FROM_ZERO and shown.loc["Rafael Xu", "Attainment"] == "–"
    assert shown.loc["Rafael Xu", "Commission"] == 0


def test_simulation_equals_the_cli_and_moves_with_the_levers(monkeypatch, shared_demo, capsys):
    from salesops import workspace
    from salesops.cli.planning import comp_doc
    from salesops.filters import Filters

    at = open_page(PAGE, shared_demo, monkeypatch)
    at.select_slider(key="comp_sims").set_value(1000).run()
    at.button(key="comp_simulate").click().run()
    no_exceptions(at)
    sim = comp_json(capsys, shared_demo, "--period", "2026Q4", "--simulate", "1000")["simulation"]
    ws = workspace.load(shared_demo)
    what_if = lambda **kw: comp_doc(ws, Filters.make(ws), C.load_plan_file(STANDARD),  # noqa: E731  (what the CLI prints)
                                    simulate={"n_sims": 1000, "seed": 0, **kw})["simulation"]
    t = tiles(at)
    assert t["Expected cost"] == formats.money(sim["mean_cost"]) and t["P90 cost"] == formats.money(sim["p90_cost"])
    assert t["Expected share of reps at quota"] == formats.pct(sim["share_reps_at_quota"])
    reps = table(at, "Rep", "Mean payout").set_index("Rep")
    assert reps.loc["Rafael Xu", "Chance of reaching quota"] == "–"        # zero quota: not a sure hit
    base = sim["mean_cost"]
    at.select_slider(key="comp_uplift").set_value(0.01).run()
    assert any("run the simulation again" in c.value for c in at.caption)
    at.button(key="comp_simulate").click().run()
    wins = what_if(win_rate_uplift=0.01)
    assert tiles(at)["Expected cost"] == formats.money(wins["mean_cost"]) and wins["mean_cost"] >= base
    assert what_if(deal_size_change=0.2)["mean_cost"] > base


def test_comparison_shows_who_gains_and_who_loses(monkeypatch, shared_demo):
    at = open_page(PAGE, shared_demo, monkeypatch)
    others = at.multiselect(key="comp_compare").options
    at.multiselect(key="comp_compare").set_value(others[:2]).run()
    assert_clean(at)
    gains = table(at, "Rep", "Attainment (this plan)")
    assert len([c for c in gains.columns if str(c).startswith("Change under ")]) == 2
    assert len(table(at, "Plan", "Total cost")) == 3


def test_saved_plan_survives_a_restart_with_its_versions(tmp_path, monkeypatch):
    demo_db = acme.write_acme(tmp_path / "acme.db")
    at = open_page(PAGE, demo_db, monkeypatch)
    at.text_input(key=_key(at, "comp_name_")).set_value("Restart test plan").run()
    at.button(key="comp_save").click().run()
    at.number_input(key=_key(at, "comp_quota_")).set_value(300_000.0).run()
    at.button(key="comp_save").click().run()
    no_exceptions(at)
    assert any("version 2" in s.value for s in at.success)

    # a new session of the app on the same database file
    again = open_page(PAGE, demo_db, monkeypatch)
    no_exceptions(again)
    listed = table(again, "Plan", "Version")
    assert sorted(listed.loc[listed["Plan"] == "Restart test plan", "Version"]) == [1, 2]
    assert "Saved: Restart test plan" in again.selectbox(key="comp_source").options
    # the saved version 1 loads with its own quota
    again.selectbox(key="comp_source").set_value("Saved: Restart test plan").run()
    again.selectbox(key="comp_version_Restart test plan").set_value(1).run()
    no_exceptions(again)
    assert again.number_input(key=_key(again, "comp_quota_")).value == 400_000.0
    with store.connect(demo_db) as conn:
        assert store.load_document(conn, "comp_plans", "Restart test plan", 2)["quota"]["default"] == 300_000.0


def test_zero_quota_shows_a_clear_error(monkeypatch, acme_db):
    at = open_page(PAGE, acme_db, monkeypatch)
    at.number_input(key=_key(at, "comp_quota_")).set_value(0.0).run()
    no_exceptions(at)
    assert any("quota.default = 0" in e.value for e in at.error)


def test_compensation_page_on_an_empty_database(monkeypatch, empty_db):
    at = open_page(PAGE, empty_db, monkeypatch)
    assert_clean(at)
    assert any("no deals" in i.value for i in at.info)


def test_compensation_page_on_a_future_quarter(monkeypatch, acme_db):
    at = open_page(PAGE, acme_db, monkeypatch, period="2027Q4", fiscal_start=4)     # Jan-Mar 2027, not started
    assert_clean(at)
    assert tiles(at)["Total payout"] == formats.money(0)
    assert any("has not started" in c.value for c in at.caption)
    at.select_slider(key="comp_sims").set_value(1000).run()
    at.button(key="comp_simulate").click().run()
    assert_clean(at)
    assert tiles(at)["Expected cost"].startswith("$")


def test_compensation_page_on_maven(monkeypatch, datasets_dir, tmp_path):
    from salesops.ingest import importer

    db = tmp_path / "maven.db"
    maven = datasets_dir / "maven_crm"
    importer.run_import(db, (maven / "sales_pipeline.csv").read_bytes(), "sales_pipeline.csv")
    assert main(["--db", str(db), "roster", str(maven / "sales_teams.csv")]) == 0
    at = open_page(PAGE, db, monkeypatch)
    assert_clean(at)
    shown = table(at, "Rep", "Quota from")
    assert len(shown) == 35 and set(shown["Quota from"]) == {C.FROM_PLAN}     # no targets: the plan's quota
    assert any("no published targets" in c.value for c in at.caption)
