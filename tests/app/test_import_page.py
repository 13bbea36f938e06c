"""The Import page end to end under AppTest: pick an export, see the detected format, mapping,
preview, problems and counts, import with progress, see the history, undo."""
from __future__ import annotations

import sqlite3

from salesops import store
from salesops.ingest import samples

from .conftest import no_exceptions

PAGE = "views/import.py"


def _count(db, table="opportunities") -> int:
    conn = sqlite3.connect(str(db))
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def test_empty_page_shows_the_upload(app_at, empty_db):
    at = app_at(PAGE, empty_db)
    no_exceptions(at)
    assert at.title[0].value == "Import"
    assert any("Upload the export you already have" in i.value for i in at.info)


def test_import_sample_end_to_end_then_undo(app_at, empty_db):
    at = app_at(PAGE, empty_db)
    at.selectbox(key="imp_sample").set_value("Pipedrive deals").run()
    no_exceptions(at)
    assert any("Pipedrive deals" in m.value for m in at.markdown)
    # the mapping editor proposes Pipedrive's meaning of each column
    assert at.session_state["imp_analysis"][1].mapping.columns["Deal - Won time"] == "won_date"
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Rows read"] == "60" and tiles["Valid"] == "60" and tiles["New deals"] == "60"
    at.button(key="imp_go").click().run()
    no_exceptions(at)
    assert _count(empty_db) == 60 and _count(empty_db, "snapshots") == 60
    assert any("import #1 wrote 60 rows" in s.value for s in at.success)
    # the confirmed mapping is remembered for the vendor
    with store.connect(empty_db) as conn:
        assert store.get_settings(conn)["mapping.pipedrive"]["Deal - Status"] == "status"
    # same file again: nothing to do
    assert any("already imported" in i.value for i in at.info)
    # undo from the history
    at.checkbox(key="imp_undo_confirm").check().run()
    at.button(key="imp_undo").click().run()
    no_exceptions(at)
    assert _count(empty_db) == 0 and _count(empty_db, "snapshots") == 0
    assert any("was undone" in s.value for s in at.success)


def test_mapping_edit_changes_the_import(app_at, empty_db):
    at = app_at(PAGE, empty_db)
    at.selectbox(key="imp_sample").set_value("HubSpot deals").run()
    no_exceptions(at)
    analysis = at.session_state["imp_analysis"][1]
    assert analysis.mapping.vendor == "hubspot"
    assert analysis.mapping.columns["Pipeline"] == "pipeline"
    # the user says "Pipeline" is the region instead
    import hashlib
    sha = hashlib.sha256(samples.SAMPLE_EXPORTS["HubSpot deals"]()[0]).hexdigest()
    at.session_state[f"imp_overrides_{sha[:12]}"] = {"Pipeline": "region"}
    at.run()
    no_exceptions(at)
    assert at.session_state["imp_analysis"][1].mapping.columns["Pipeline"] == "region"
    at.button(key="imp_go").click().run()
    with store.connect(empty_db) as conn:
        assert set(store.load_deals(conn)["region"]) == {"Sales Pipeline"}


def test_invalid_rows_need_skip_and_unknown_stages_can_be_mapped(app_at, empty_db, monkeypatch):
    deals = samples.canonical_deals(20, seed=4)
    data, _ = samples.canonical(deals)
    text = data.decode().replace("Prospecting", "Handshake")
    lines = text.split("\n")
    lines[2] = lines[2].replace(lines[2].split(",")[6], "lots", 1)
    bad = "\n".join(lines).encode()
    monkeypatch.setitem(samples.SAMPLE_EXPORTS, "Broken", lambda: (bad, "broken.csv"))
    at = app_at(PAGE, empty_db)
    at.selectbox(key="imp_sample").set_value("Broken").run()
    no_exceptions(at)
    assert at.button(key="imp_go").disabled  # refused as a whole...
    assert at.warning and "rows have errors" in at.warning[0].value
    at.checkbox(key="imp_skip").check().run()  # ...unless only the valid rows go in
    assert not at.button(key="imp_go").disabled
    assert at.session_state["imp_analysis"][1].prepared.unknown_stages == ["Handshake"]
    at.button(key="imp_save_stages").click().run()
    no_exceptions(at)
    with store.connect(empty_db) as conn:
        assert "handshake" in store.stage_rules(conn)
    assert not at.session_state["imp_analysis"][1].prepared.unknown_stages
    at.button(key="imp_go").click().run()
    no_exceptions(at)
    assert _count(empty_db) == 19


def test_roster_import(app_at, demo_db):
    at = app_at(PAGE, demo_db)
    at.segmented_control(key="imp_kind").set_value("Rep roster").run()
    no_exceptions(at)
    assert at.selectbox(key="imp_sample").disabled


def test_workbook_sheet_choice(app_at, empty_db, monkeypatch):
    deals = samples.canonical_deals(10, seed=2)
    data, name = samples.salesforce_report_xlsx(deals)
    monkeypatch.setitem(samples.SAMPLE_EXPORTS, "Workbook", lambda: (data, name))
    at = app_at(PAGE, empty_db)
    at.selectbox(key="imp_sample").set_value("Workbook").run()
    no_exceptions(at)
    assert at.session_state["imp_analysis"][1].table.sheet == "Pipeline"
    import hashlib
    key = f"imp_sheet_{hashlib.sha256(data).hexdigest()[:12]}"
    at.selectbox(key=key).set_value("Report info").run()
    no_exceptions(at)  # the one-cell info sheet holds no deals: refused with a message, no traceback
    assert at.error and "header but no data rows" in at.error[0].value
    at.button(key="imp_sheet_reset").click().run()
    no_exceptions(at)
    assert not at.error and at.session_state["imp_analysis"][1].table.sheet == "Pipeline"
