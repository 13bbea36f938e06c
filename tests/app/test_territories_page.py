"""The Territories page: renders clean on the demo (its active plan), on Maven (a plan from
today's books) and on an empty database; its tiles and rep table equal `territories --json`;
a what-if move shows before/after; saving makes a new active version, which becomes the
territory filter."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from salesops import ingest, workspace
from salesops import territories as T
from salesops.cli import main

from .conftest import APP, no_exceptions
from .test_every_page import BAD, texts

PAGE = "views/territories.py"


def run(db, monkeypatch):
    monkeypatch.setenv("SALESOPS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page(PAGE).run()
    no_exceptions(at)
    return at


def clean(at, where):
    bad = [t for t in texts(at) if BAD.search(t)]
    assert not bad, (where, bad[:5])


def frame(at, *columns):
    """The first table whose columns start with ``columns``."""
    return next(d.value for d in at.dataframe if list(d.value.columns)[:len(columns)] == list(columns))


def click(at, label):
    next(b for b in at.button if b.label == label).click().run()
    no_exceptions(at)


@pytest.fixture
def maven_db(tmp_path, datasets_dir):
    db = tmp_path / "maven.db"
    folder = datasets_dir / "maven_crm"
    ingest.run_import(db, (folder / "sales_pipeline.csv").read_bytes(), "sales_pipeline.csv")
    ingest.run_reference_import(db, (folder / "sales_teams.csv").read_bytes(), "sales_teams.csv", "roster")
    ingest.run_reference_import(db, (folder / "accounts.csv").read_bytes(), "accounts.csv", "accounts")
    return db


def test_the_demo_plan_equals_the_cli_and_a_move_is_saved(demo_db, monkeypatch, capsys):
    at = run(demo_db, monkeypatch)
    clean(at, "demo")
    assert at.selectbox(key="terr_choice").value.endswith("(active)")
    assert main(["--db", str(demo_db), "territories", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Accounts"] == f"{len(doc['assignment']):,}"
    assert tiles["Conflicts"] == f"{len(doc['conflicts']):,}" and tiles["Unassigned"] == f"{len(doc['unassigned']):,}"
    assert tiles["Gini of books"] == f"{doc['balance']['potential']['gini']:.2f}"
    assert tiles["Spread of books"] == f"{doc['balance']['potential']['cv'] * 100:.0f}%"
    reps = frame(at, "Rep", "Territories").set_index("Rep")
    for r in doc["reps"]:
        assert reps.loc[r["rep"], "Potential per year"] == pytest.approx(r["potential"])
        assert reps.loc[r["rep"], "Open pipeline"] == pytest.approx(r["open_pipeline"])
    # what if Acme Group went to Ben Hansen
    at.multiselect[[m.label for m in at.multiselect].index("Move accounts")].set_value(["Acme Group"])
    at.selectbox[[s.label for s in at.selectbox].index("to rep")].set_value("Ben Hansen")
    click(at, "Add the move")
    clean(at, "what-if")
    moved = frame(at, "Account", "From", "To")
    assert list(moved["Account"]) == ["Acme Group"] and list(moved["To"]) == ["Ben Hansen"]
    assert main(["--db", str(demo_db), "territories", "--move", "Acme Group=Ben Hansen", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert moved["Open pipeline"].iloc[0] == pytest.approx(cli["moved"][0]["open_pipeline"])
    before = len(T.saved_plans(workspace.load(demo_db)))
    click(at, "Save as a new version with the moves")
    ws = workspace.load(demo_db)
    saved = T.saved_plans(ws)
    assert len(saved) == before + 1 and saved[saved["active"]]["version"].iloc[0] == saved["version"].max()
    assert "Acme Group" in saved[saved["active"]]["changes"].iloc[0]
    terr = dict(zip(ws.account_universe()["name"], ws.account_universe()["territory"]))
    assert terr["Acme Group"] == "North America Enterprise 1"


def test_an_edit_of_the_plan_is_applied(demo_db, monkeypatch):
    """AppTest cannot type into a data editor: the plan name stands for the form's edits
    (plan_from_tables, which reads the editors, is tested in tests/unit/test_territories.py)."""
    at = run(demo_db, monkeypatch)
    box = next(t for t in at.text_input if t.label == "Plan name")
    box.input("Renamed plan")
    click(at, "Apply the changes")
    assert at.session_state["terr_plan_json"] and json.loads(at.session_state["terr_plan_json"])["name"] == "Renamed plan"


def test_maven_starts_from_todays_books(maven_db, empty_db, monkeypatch):
    at = run(maven_db, monkeypatch)
    clean(at, "maven")
    assert at.selectbox(key="terr_choice").value == "A new plan from today's books"
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Accounts"] == "85" and tiles["Conflicts"] == "0"
    at = run(empty_db, monkeypatch)
    clean(at, "empty")
    assert any("no deals" in i.value for i in at.info)
