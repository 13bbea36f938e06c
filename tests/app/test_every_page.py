"""Every page renders without an exception and without "NaN", "None", a database column name
or a CLI flag in any element, on: the demo, an empty database, the Maven data (no targets, no
roster teams), a future quarter, and a fiscal year starting in April (Acme)."""
import re

import pytest
from streamlit.testing.v1 import AppTest

from salesops import ingest
from tests import fixtures as acme

from .conftest import APP

PAGES = ["views/overview.py", "views/team.py", "views/reps.py", "views/pipeline.py", "views/forecast.py",
         "views/goals.py", "views/compensation.py", "views/segments.py", "views/territories.py", "views/import.py",
         "views/settings.py", "views/users.py", "views/audit.py"]
#: Words that must never reach a user: missing values, column names, CLI flags.
BAD = re.compile(r"\bNaN\b|\bnan\b|\bNone\b|\bNaT\b|opportunity_id|won_amount|close_date|created_date|"
                 r"scope_name|--[a-z]+(-[a-z]+)*\b")


def texts(at: AppTest) -> list[str]:
    """Every text a user reads: titles, markdown, captions, tiles, alerts, labels, table headers."""
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error", "success"):
        out += [str(e.value) for e in at.get(kind)]
    for m in at.metric:
        out += [m.label, str(m.value), str(m.delta or "")]
    for kind in ("selectbox", "multiselect", "radio", "checkbox", "button", "toggle", "number_input", "text_input",
                 "date_input", "slider", "select_slider", "segmented_control"):
        out += [str(getattr(e, "label", "")) for e in at.get(kind)]
    for df in at.get("arrow_data_frame"):
        frame = df.value
        out += [str(c) for c in frame.columns]
        out += [str(v) for v in frame.astype(str).head(50).to_numpy().ravel() if str(v) in ("None", "nan", "NaN", "NaT")]
    return out


def check_page(at: AppTest, page: str, where: str) -> None:
    at.switch_page(page).run()
    assert not at.exception, (where, page, [e.value for e in at.exception])
    bad = [t for t in texts(at) if BAD.search(t)]
    assert not bad, (where, page, bad[:5])


@pytest.fixture
def acme_db(tmp_path):
    return acme.write_acme(tmp_path / "acme.db")


@pytest.fixture
def maven_db(tmp_path, datasets_dir):
    db = tmp_path / "maven.db"
    folder = datasets_dir / "maven_crm"
    ingest.run_import(db, (folder / "sales_pipeline.csv").read_bytes(), "sales_pipeline.csv")
    ingest.run_reference_import(db, (folder / "sales_teams.csv").read_bytes(), "sales_teams.csv", "roster")
    return db


def run_app(db, monkeypatch) -> AppTest:
    monkeypatch.setenv("SALESOPS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    return at


@pytest.mark.parametrize("where", ["demo", "empty", "acme", "maven"])
def test_every_page_renders_clean(where, demo_db, empty_db, request, monkeypatch):
    db = {"demo": lambda: demo_db, "empty": lambda: empty_db, "acme": lambda: request.getfixturevalue("acme_db"),
          "maven": lambda: request.getfixturevalue("maven_db")}[where]()
    at = run_app(db, monkeypatch)
    for page in PAGES:
        check_page(at, page, where)


def test_every_page_on_a_future_quarter(demo_db, monkeypatch):
    at = run_app(demo_db, monkeypatch)
    at.sidebar.selectbox(key="period").set_value("2027Q1").run()
    for page in PAGES:
        check_page(at, page, "future quarter")
