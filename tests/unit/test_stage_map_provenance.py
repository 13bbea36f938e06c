"""Issue 14: a deal keeps where its status came from; a stage-map save re-derives only the
statuses that came from the map (the Pipedrive sample's explicit statuses survive)."""
import sqlite3

import pandas as pd
import pytest

from salesops import backup, ingest, store, workspace
from salesops.ingest import samples


def _statuses(db) -> dict:
    with store.connect(db) as conn:
        return dict(conn.execute("SELECT status, COUNT(*) FROM opportunities GROUP BY status").fetchall())


@pytest.fixture
def pipedrive_db(empty_db):
    data, name = samples.SAMPLE_EXPORTS["Pipedrive deals"]()
    ingest.run_import(empty_db, data, name)
    return empty_db


def _expected_from_file():
    """The sample's own Status column, counted independently of the importer."""
    import csv
    import io

    data, _ = samples.SAMPLE_EXPORTS["Pipedrive deals"]()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    out = {}
    for r in rows:
        out[r["Deal - Status"]] = out.get(r["Deal - Status"], 0) + 1
    return out


def test_pipedrive_import_records_file_statuses(pipedrive_db):
    expected = _expected_from_file()
    assert expected == {"won": 15, "lost": 20, "open": 25}
    assert _statuses(pipedrive_db) == expected
    with store.connect(pipedrive_db) as conn:
        assert conn.execute("SELECT DISTINCT status_source FROM opportunities").fetchall() == [("file",)]


def test_saving_the_stage_map_without_an_edit_changes_nothing(pipedrive_db):
    before = _statuses(pipedrive_db)
    unedited = workspace.stage_map(pipedrive_db)
    preview = workspace.stage_map_preview(pipedrive_db, unedited)
    assert not preview.map_changed and preview.deals_changed == 0
    workspace.save_stage_map(pipedrive_db, unedited)
    assert _statuses(pipedrive_db) == before == {"won": 15, "lost": 20, "open": 25}


def test_saving_an_edited_stage_map_keeps_explicit_statuses(pipedrive_db):
    before = _statuses(pipedrive_db)
    edited = workspace.stage_map(pipedrive_db)
    edited.loc[0, "status"] = "won"  # the first stage now means won, and probabilities move
    edited["probability"] = 0.5
    preview = workspace.stage_map_preview(pipedrive_db, edited)
    assert preview.map_changed and preview.deals_changed == 0 and preview.kept_from_file == 60
    assert workspace.save_stage_map(pipedrive_db, edited) == 0
    assert _statuses(pipedrive_db) == before


def test_stage_map_change_rederives_only_map_statuses(pipedrive_db, tmp_path):
    """A second import without a status column (Salesforce-like, the stage decides) next to the
    Pipedrive deals: editing the map moves only the map-derived ones, as the preview said."""
    canon = pd.DataFrame({"Opportunity ID": ["SF-1", "SF-2", "SF-3"], "Opportunity Owner": ["Ann", "Ann", "Bo"],
                          "Stage": ["Qualify", "Qualify", "Closed Won"], "Amount": [100, 200, 300],
                          "Close Date": ["2024-05-01", "2024-05-02", "2024-05-03"],
                          "Created Date": ["2024-01-01"] * 3})
    ingest.run_import(pipedrive_db, canon.to_csv(index=False).encode(), "sf.csv")
    with store.connect(pipedrive_db) as conn:
        src = dict(conn.execute("SELECT opportunity_id, status_source FROM opportunities WHERE opportunity_id LIKE 'SF-%'"))
    assert src == {"SF-1": "stage_map", "SF-2": "stage_map", "SF-3": "stage_map"}
    edited = workspace.stage_map(pipedrive_db)
    edited.loc[edited["stage"] == "Qualify", "status"] = "lost"
    preview = workspace.stage_map_preview(pipedrive_db, edited)
    assert preview.changes.to_dict("records") == [{"stage": "Qualify", "status": "open", "new_status": "lost",
                                                   "deals": 2}]
    assert "2 deals" in preview.describe() and "60 deals keep" in preview.describe()
    before = backup.list_backups(pipedrive_db)
    assert workspace.save_stage_map(pipedrive_db, edited) == 2
    assert _statuses(pipedrive_db) == {"won": 16, "lost": 22, "open": 25}
    after = backup.list_backups(pipedrive_db)
    assert len(after) == len(before) + 1 and after[0].reason == "stage-map"
    with store.connect(after[0].path) as conn:  # the backup holds the state before the save
        assert conn.execute("SELECT status FROM opportunities WHERE opportunity_id = 'SF-1'").fetchone() == ("open",)


def test_demo_stage_map_save_without_edit_changes_nothing(demo_db):
    unedited = workspace.stage_map(demo_db)
    assert workspace.stage_map_preview(demo_db, unedited).deals_changed == 0


def test_migration_4_infers_status_source_from_the_import_mapping(tmp_path):
    """A schema-3 database: rows of an import whose mapping had a status column become 'file',
    the others (and the demo's rows without import) 'stage_map'; undo data too."""
    db = tmp_path / "v3.db"
    conn = sqlite3.connect(db, isolation_level=None)
    for i, step in enumerate(store.MIGRATIONS[:3]):
        step(conn)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO imports (id, kind, mapping, created_at) VALUES (1, 'opportunities', ?, 'x')",
                 ('{"Deal - Status": "status", "Deal - Stage": "stage"}',))
    conn.execute("INSERT INTO imports (id, kind, mapping, created_at) VALUES (2, 'opportunities', ?, 'x')",
                 ('{"Stage": "stage"}',))
    for oid, iid in (("a", 1), ("b", 2), ("c", None)):
        conn.execute("INSERT INTO opportunities (opportunity_id, status, import_id) VALUES (?, 'won', ?)", (oid, iid))
    conn.execute("INSERT INTO import_prior_opportunities (undo_import_id, opportunity_id, status, import_id) "
                 "VALUES (2, 'a', 'lost', 1)")
    conn.close()
    with store.connect(db) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        got = dict(c.execute("SELECT opportunity_id, status_source FROM opportunities"))
        prior = c.execute("SELECT status_source FROM import_prior_opportunities").fetchall()
    assert got == {"a": "file", "b": "stage_map", "c": "stage_map"}
    assert prior == [("file",)]
