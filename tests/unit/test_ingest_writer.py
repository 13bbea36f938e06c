"""The write: all or nothing, snapshots per as-of date, idempotent by content hash, exact undo."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from salesops import store
from salesops import schema as S
from salesops.errors import InputError
from salesops.ingest import ImportRefused, analyse, list_imports, run_import, run_reference_import, samples, undo_import

TABLES = ["opportunities", "snapshots", "stage_history", "reps", "accounts", "targets"]


def dump(db) -> dict:
    """Every data table's rows, sorted: what "the same state" means."""
    conn = sqlite3.connect(str(db))
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}
    finally:
        conn.close()


def canonical_csv(deals: pd.DataFrame) -> bytes:
    return samples.canonical(deals)[0]


@pytest.fixture
def deals():
    return samples.canonical_deals(20, seed=3)


def test_snapshots_record_each_deal_as_of(deals, empty_db):
    r = run_import(empty_db, canonical_csv(deals), "deals.csv", as_of="2024-01-31")
    with store.connect(empty_db) as conn:
        snaps = store.load_snapshots(conn)
    assert len(snaps) == 20 and (snaps[S.AS_OF] == pd.Timestamp("2024-01-31")).all()
    assert (snaps[S.IMPORT_ID] == r.import_id).all()


def test_second_export_counts_new_changed_unchanged_and_snapshots_both(deals, empty_db):
    run_import(empty_db, canonical_csv(deals), "deals.csv", as_of="2024-01-31")
    later = deals.copy()
    later.loc[0, S.AMOUNT] += 1000
    later.loc[2, S.STATUS] = S.WON  # was open
    extra = samples.canonical_deals(22, seed=3).iloc[20:].copy()
    extra[S.NAME] = extra[S.NAME] + " (new)"
    later = pd.concat([later, extra], ignore_index=True)
    r = run_import(empty_db, canonical_csv(later), "deals.csv", as_of="2024-02-29")
    assert (r.rows_new, r.rows_changed, r.rows_unchanged, r.rows_imported) == (2, 2, 18, 22)
    with store.connect(empty_db) as conn:
        assert store.snapshot_dates(conn) == ["2024-01-31", "2024-02-29"]
        deals_now = store.load_deals(conn).set_index(S.OPPORTUNITY_ID)
    assert deals_now.loc[later.loc[0, S.OPPORTUNITY_ID], S.AMOUNT] == pytest.approx(later.loc[0, S.AMOUNT])


def test_same_file_twice_changes_nothing(deals, empty_db):
    data = canonical_csv(deals)
    first = run_import(empty_db, data, "deals.csv", as_of="2024-01-31")
    before = dump(empty_db)
    version = store.data_version(empty_db)
    again = run_import(empty_db, data, "renamed.csv", as_of="2024-03-01")
    assert again.already_imported and again.import_id == first.import_id
    assert again.rows_new == again.rows_changed == 0 and again.rows_unchanged == 20
    assert dump(empty_db) == before and store.data_version(empty_db) == version
    assert len(list_imports(empty_db)) == 1


def test_undo_restores_prior_state_exactly(deals, empty_db):
    run_import(empty_db, canonical_csv(deals), "a.csv", as_of="2024-01-31")
    state = dump(empty_db)
    changed = deals.copy()
    changed[S.AMOUNT] = changed[S.AMOUNT] * 2
    changed.loc[0, S.OWNER] = "Someone Else"
    r2 = run_import(empty_db, canonical_csv(changed), "b.csv", as_of="2024-01-31")  # same as-of: replaces snapshots
    assert dump(empty_db) != state
    undo_import(empty_db, r2.import_id)
    assert dump(empty_db) == state
    imports = list_imports(empty_db)
    assert imports.set_index("id").loc[r2.import_id, "status"] == "undone"
    # the undone file can be imported again (its hash no longer counts)
    r3 = run_import(empty_db, canonical_csv(changed), "b.csv", as_of="2024-01-31")
    assert not r3.already_imported and r3.rows_changed == 20


def test_undo_order_and_errors(deals, empty_db):
    r1 = run_import(empty_db, canonical_csv(deals), "a.csv", as_of="2024-01-31")
    d2 = deals.copy()
    d2[S.AMOUNT] += 1
    run_import(empty_db, canonical_csv(d2), "b.csv", as_of="2024-02-29")
    with pytest.raises(InputError, match="later"):
        undo_import(empty_db, r1.import_id)
    with pytest.raises(InputError, match="no import 99"):
        undo_import(empty_db, 99)


def test_undo_first_import_leaves_empty_tables(deals, empty_db):
    empty = dump(empty_db)
    r = run_import(empty_db, canonical_csv(deals), "a.csv")
    undo_import(empty_db, r.import_id)
    assert dump(empty_db) == empty
    with pytest.raises(InputError, match="already undone"):
        undo_import(empty_db, r.import_id)


def test_invalid_rows_refuse_the_file_unless_skip_invalid(deals, empty_db):
    text = canonical_csv(deals).decode()
    lines = text.split("\n")
    parts = lines[3].split(",")
    parts[6] = "lots"  # amount of the deal on spreadsheet row 4
    lines[3] = ",".join(parts)
    data = "\n".join(lines).encode()
    before = dump(empty_db)
    with pytest.raises(ImportRefused) as e:
        run_import(empty_db, data, "bad.csv")
    assert e.value.report[0].row == 4 and e.value.report[0].column == "amount" and e.value.report[0].value == "lots"
    assert dump(empty_db) == before and len(list_imports(empty_db)) == 0
    r = run_import(empty_db, data, "bad.csv", skip_invalid=True)
    assert (r.rows_read, r.rows_imported, r.rows_rejected) == (20, 19, 1)
    with store.connect(empty_db) as conn:
        rec = conn.execute("SELECT rejected_rows FROM imports WHERE id = ?", (r.import_id,)).fetchone()[0]
    assert '"row": 4' in rec and '"lots"' in rec


def test_dry_run_writes_nothing(deals, empty_db):
    before = dump(empty_db)
    version = store.data_version(empty_db)
    r = run_import(empty_db, canonical_csv(deals), "a.csv", dry_run=True)
    assert r.dry_run and r.rows_new == 20 and r.import_id is None
    assert dump(empty_db) == before and store.data_version(empty_db) == version


def test_missing_ids_derive_stable_ids_with_warning(empty_db):
    text = "Name,Account,Owner,Stage,Amount,Created\nA,X,Al,Won,5,2024-01-01\nA,X,Al,Won,5,2024-01-01\nB,Y,Bo,Lost,6,2024-01-02\n"
    a1 = analyse(text.encode(), "x.csv")
    ids = a1.prepared.deals[S.OPPORTUNITY_ID].tolist()
    assert len(set(ids)) == 3 and all(i.startswith("h-") for i in ids)
    assert any("ids were derived" in p.problem for p in a1.problems)
    a2 = analyse((text + "C,Z,Cy,Won,1,2024-01-03\n").encode(), "y.csv")
    assert a2.prepared.deals[S.OPPORTUNITY_ID].tolist()[:3] == ids  # stable across exports


def test_closed_deal_without_close_date_is_an_error():
    text = "Id,Owner,Stage,Amount,Close Date\n1,Al,Closed Won,5,\n2,Bo,Prospecting,6,\n"
    a = analyse(text.encode(), "x.csv")
    errs = a.prepared.errors
    assert [(p.row, p.problem) for p in errs] == [(2, "a closed (won or lost) deal needs a close date")]


def test_unknown_stages_reported_and_open(empty_db):
    text = "Id,Owner,Stage,Amount,Close Date\n1,Al,Hand-shake,5,2024-01-01\n2,Bo,Closed Won,6,2024-01-02\n"
    r = run_import(empty_db, text.encode(), "x.csv")
    assert r.unknown_stages == ["Hand-shake"]
    with store.connect(empty_db) as conn:
        assert store.load_deals(conn).set_index(S.OPPORTUNITY_ID).loc["1", S.STATUS] == S.OPEN


def test_user_stage_map_wins(empty_db):
    with store.connect(empty_db, write=True) as conn:
        store.save_stage_map(conn, pd.DataFrame([{"stage": "Hand-shake", "status": "won", "probability": 1.0,
                                                  "sort_order": 9}]))
    text = "Id,Owner,Stage,Amount,Close Date\n1,Al,Hand-shake,5,2024-01-01\n"
    r = run_import(empty_db, text.encode(), "x.csv")
    assert r.unknown_stages == []
    with store.connect(empty_db) as conn:
        assert store.load_deals(conn)[S.STATUS].tolist() == [S.WON]


def test_roster_accounts_targets_and_their_undo(empty_db):
    before = dump(empty_db)
    roster = b"Sales Rep,Manager,Region,Hire Date\nAl,Mia,West,2021-03-01\nBo,Mia,East,2022-07-15\n"
    r = run_reference_import(empty_db, roster, "team.csv", "roster")
    assert r.rows_imported == 2
    with store.connect(empty_db) as conn:
        reps = store.load_reps(conn)
    assert reps[S.TEAM].tolist() == ["Mia", "Mia"] and reps[S.REGION].tolist() == ["West", "East"]
    targets = b"Owner,Period,Target\nAl,2024Q1,100000\nBo,2024Q1,\"90,000\"\n,2024,500000\n"
    run_reference_import(empty_db, targets, "targets.csv", "targets")
    with store.connect(empty_db) as conn:
        t = store.load_targets(conn).sort_values(S.AMOUNT)
    assert t[S.SCOPE].tolist() == ["owner", "owner", "all"]
    assert t[S.PERIOD_START].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-01", "2024-01-01"]
    assert t[S.PERIOD_END].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-31", "2024-03-31", "2024-12-31"]
    accounts = b"Account,Industry,Employees\nAcme,Tech,100\n"
    run_reference_import(empty_db, accounts, "accounts.csv", "accounts")
    roster2 = b"Sales Rep,Manager,Region\nAl,Zed,North\n"
    r4 = run_reference_import(empty_db, roster2, "team2.csv", "roster")
    assert (r4.rows_new, r4.rows_changed) == (0, 1)
    state = dump(empty_db)
    ids = list_imports(empty_db)
    for iid, kind in zip(ids["id"], ids["kind"]):  # newest first
        undo_import(empty_db, int(iid))
        if iid == r4.import_id:
            with store.connect(empty_db) as conn:
                assert store.load_reps(conn).set_index(S.NAME).loc["Al", S.REGION] == "West"
    assert dump(empty_db) == before and state != before


def test_targets_bad_period_is_refused(empty_db):
    with pytest.raises(ImportRefused) as e:
        run_reference_import(empty_db, b"Owner,Period,Target\nAl,2024Q5,100\n", "t.csv", "targets")
    assert e.value.report[0].row == 2 and "2024Q5" in str(e.value)
