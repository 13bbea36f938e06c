import pandas as pd
import pytest

from salesops import store, workspace
from salesops.errors import InputError


def test_roster_validation_names_row_and_column(tmp_path):
    frame = pd.DataFrame({"name": ["Ann", "", "Ann"], "manager": ["M", "M", "M"], "team": None, "region": None,
                          "hire_date": ["2020-01-01", "not a date", None], "end_date": [None, None, "2019-01-01"],
                          "ote": [100.0, -5.0, None], "base_salary": None, "active": [True, True, True]})
    with pytest.raises(InputError) as err:
        workspace.save_roster(tmp_path / "a.db", frame)
    text = [p.describe() for p in err.value.problems]
    assert "row 2, column 'name': a rep needs a name" in text
    assert any("column 'name', value 'Ann'" in t for t in text)
    assert any("row 2, column 'hire_date', value 'not a date'" in t for t in text)
    assert any("row 2, column 'ote'" in t for t in text)
    with store.connect(tmp_path / "a.db") as conn:
        assert store.load_reps(conn).empty


def test_roster_save_marks_leavers_inactive(tmp_path):
    frame = pd.DataFrame({"name": ["Ann", "Bob"], "manager": ["M", "M"], "team": ["T", "T"], "region": ["EMEA", "EMEA"],
                          "hire_date": ["2020-01-01", "2021-01-01"], "end_date": [None, "2024-01-31"],
                          "ote": [100.0, 120.0], "base_salary": [50.0, 60.0], "active": [True, True]})
    assert workspace.save_roster(tmp_path / "a.db", frame) == 2
    with store.connect(tmp_path / "a.db") as conn:
        reps = store.load_reps(conn).set_index("name")
    assert bool(reps.loc["Ann", "active"]) and not bool(reps.loc["Bob", "active"])


def test_unknown_currency_refused(tmp_path):
    with pytest.raises(InputError):
        workspace.save_settings(tmp_path / "a.db", currency="XYZ")


def test_clearing_and_loading_the_demo_leave_no_import_undo_rows(tmp_path):
    from salesops import demo
    from salesops.cli import main

    path = tmp_path / "a.db"
    demo.load_demo(path)
    csv = tmp_path / "deals.csv"
    csv.write_text("opportunity_id,name,owner,stage,amount,close_date\n006D0000001,X,Ann,Closed Won,100,2026-01-05\n")
    assert main(["--db", str(path), "import", str(csv), "--as-of", "2026-11-21"]) == 0
    with store.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM import_prior_opportunities").fetchone()[0] == 1
    demo.load_demo(path)
    with store.connect(path) as conn:
        for table in store.WORKSPACE_DATA_TABLES:
            if table.startswith("import"):
                assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
    workspace.clear_workspace(path)
    with store.connect(path) as conn:
        assert all(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] == 0 for t in store.WORKSPACE_DATA_TABLES)
