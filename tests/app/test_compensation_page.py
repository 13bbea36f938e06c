"""The Compensation page under AppTest: the demo workspace, an empty database, saving plans
across a restart, validation errors, simulation and comparison."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from salesops import store
from tests.app.conftest import APP, no_exceptions

PAGE = "views/compensation.py"


def _metric(at, label):
    return next(m for m in at.metric if m.label == label)


def _key(at, prefix):
    """The full key of a designer widget (keys carry a suffix naming the starting plan)."""
    keys = [w.key for w in at.number_input] + [w.key for w in at.text_input]
    return next(k for k in keys if k and k.startswith(prefix))


def test_compensation_page_on_the_demo_workspace(app_at, demo_db):
    at = app_at(PAGE, demo_db)
    no_exceptions(at)
    assert at.title[0].value.startswith("Compensation")
    assert not at.error
    total = _metric(at, "Total payout").value
    assert total.startswith("$") and total != "$0"
    assert _metric(at, "Cost of sales").value.endswith("%")


def test_saved_plan_survives_a_restart_with_its_versions(app_at, demo_db, monkeypatch):
    at = app_at(PAGE, demo_db)
    at.text_input(key=_key(at, "comp_name_")).set_value("Restart test plan").run()
    at.button(key="comp_save").click().run()
    at.number_input(key=_key(at, "comp_quota_")).set_value(300_000.0).run()
    at.button(key="comp_save").click().run()
    no_exceptions(at)
    assert any("version 2" in s.value for s in at.success)

    # a new session of the app on the same database file
    monkeypatch.setenv("SALESOPS_DB", str(demo_db))
    again = AppTest.from_file(APP, default_timeout=120)
    again.run()
    again.switch_page(PAGE)
    again.run()
    no_exceptions(again)
    listed = next(d.value for d in again.dataframe if "version" in d.value.columns and "created_by" in d.value.columns)
    mine = listed[listed["name"] == "Restart test plan"]
    assert sorted(mine["version"]) == [1, 2]
    assert "Saved: Restart test plan" in again.selectbox(key="comp_source").options
    # the saved version 1 loads with its own quota
    again.selectbox(key="comp_source").set_value("Saved: Restart test plan").run()
    again.selectbox(key="comp_version_Restart test plan").set_value(1).run()
    no_exceptions(again)
    assert again.number_input(key=_key(again, "comp_quota_")).value == 400_000.0
    with store.connect(demo_db) as conn:
        assert store.load_document(conn, "comp_plans", "Restart test plan", 2)["quota"]["default"] == 300_000.0


def test_zero_quota_shows_a_clear_error(app_at, demo_db):
    at = app_at(PAGE, demo_db)
    at.number_input(key=_key(at, "comp_quota_")).set_value(0.0).run()
    no_exceptions(at)
    assert any("quota.default = 0" in e.value for e in at.error)


def test_simulation_and_comparison(app_at, demo_db):
    at = app_at(PAGE, demo_db)
    at.select_slider(key="comp_sims").set_value(1000).run()
    at.button(key="comp_simulate").click().run()
    no_exceptions(at)
    p90 = _metric(at, "P90 cost").value
    assert p90.startswith("$")
    others = at.multiselect(key="comp_compare").options
    at.multiselect(key="comp_compare").set_value(others[:2]).run()
    no_exceptions(at)
    gains = [d.value for d in at.dataframe if any(str(c).startswith("change_") for c in d.value.columns)]
    assert gains and len([c for c in gains[0].columns if str(c).startswith("change_")]) == 2


def test_compensation_page_on_an_empty_database(app_at, empty_db):
    at = app_at(PAGE, empty_db)
    no_exceptions(at)
    assert any("no deals" in i.value for i in at.info)
