"""The Goals page under AppTest: the demo workspace and an empty database."""
from __future__ import annotations

import pandas as pd
import pytest

from salesops import store
from salesops import schema as S
from tests.app.conftest import no_exceptions

PAGE = "views/goals.py"


def _metric(at, label):
    return next(m for m in at.metric if m.label == label)


def test_goals_page_on_the_demo_workspace_reconciles_and_publishes(app_at, demo_db):
    at = app_at(PAGE, demo_db)
    no_exceptions(at)
    assert at.title[0].value.startswith("Goals")
    assert not at.error
    # the realism tiles are there and hold percentages
    assert _metric(at, "Team reaches the target").value.endswith("%")
    assert _metric(at, "Expected reps at quota").value.endswith("%")
    at.radio(key="goals_basis").set_value("Amount").run()
    amount_key = next(w.key for w in at.number_input if w.key and w.key.startswith("goals_amount_"))
    at.number_input(key=amount_key).set_value(9_000_000.0).run()
    at.slider(key="goals_over").set_value(10).run()
    at.selectbox(key="goals_method").set_value("equal").run()
    no_exceptions(at)
    caption = " ".join(c.value for c in at.caption)
    assert "$9,900,000" in caption
    at.checkbox(key="goals_publish_confirm").check().run()
    at.button(key="goals_publish").click().run()
    no_exceptions(at)
    assert any("Published" in s.value for s in at.success)
    period = at.title[0].value.split("·")[1].strip()
    with store.connect(demo_db) as conn:
        t = store.load_targets(conn)
        settings = store.get_settings(conn)
    from salesops.periods import FiscalCalendar

    p = FiscalCalendar(settings["fiscal_year_start_month"]).parse(period)
    mine = t[(t[S.SCOPE] == "owner") & (t[S.PERIOD_START] == pd.Timestamp(p.start)) & (t[S.PERIOD_END] == pd.Timestamp(p.end))]
    assert mine[S.AMOUNT].sum() == pytest.approx(9_900_000, abs=0.01)
    assert mine[S.AMOUNT].max() - mine[S.AMOUNT].min() <= 0.011   # equal split, to the cent


def test_goals_scenarios_saved_and_listed(app_at, demo_db):
    at = app_at(PAGE, demo_db)
    at.text_input(key="goals_scenario_name").set_value("Plan A").run()
    at.button(key="goals_save").click().run()
    at.button(key="goals_save").click().run()
    no_exceptions(at)
    with store.connect(demo_db) as conn:
        saved = store.list_documents(conn, "scenarios", kind="goals")
    assert list(saved["version"]) == [2, 1] and set(saved["name"]) == {"Plan A"}
    assert any(d.value.shape[0] >= 2 for d in at.dataframe if "quota change" in d.value.columns)


def test_goals_page_on_an_empty_database(app_at, empty_db):
    at = app_at(PAGE, empty_db)
    no_exceptions(at)
    assert any("no deals" in i.value for i in at.info)
