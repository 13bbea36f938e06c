"""Every bad input of RELIABILITY.md through the CLI: exit 2, one clear `error: <file>: ...`
message naming row, column and value where there is one, no traceback, and the database
unchanged table for table. Good-but-awkward inputs import with the right values."""
from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from salesops import store
from salesops.cli import main
from salesops.ingest import reader, samples

PROJECT = Path(__file__).resolve().parents[2]
GOOD = "Id,Owner,Stage,Amount,Close Date,Created Date\n" \
       "001,Al,Closed Won,1000,2024-03-01,2024-01-05\n002,Bo,Closed Lost,2000,2024-03-02,2024-01-06\n" \
       "003,Cy,Prospecting,3000,2024-06-30,2024-02-01\n"


def dump(db: Path) -> dict:
    conn = sqlite3.connect(str(db))
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}
    finally:
        conn.close()


@pytest.fixture
def db(empty_db):
    """A database that already holds one import, so "unchanged" means something."""
    f = empty_db.parent / "seed.csv"
    f.write_text(GOOD)
    assert main(["--db", str(empty_db), "import", str(f), "--as-of", "2024-01-31"]) == 0
    return empty_db


def run(capsys, db, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["--db", str(db), *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def refused(capsys, db, path, *extra, expect: list[str], prefix: str | None = None) -> str:
    before = dump(db)
    rc, out, err = run(capsys, db, "import", path, *extra)
    assert rc == 2, (out, err)
    assert err.startswith(f"error: {Path(path).name if prefix is None else prefix}"), err
    assert "Traceback" not in err and out == ""
    for piece in expect:
        assert piece in err, (piece, err)
    assert dump(db) == before
    return err


def write(tmp_path, name, data) -> Path:
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


# --- files ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,data,expect", [
    ("empty.csv", b"", ["the file is empty"]),
    ("header.csv", b"Id,Owner,Stage,Amount\n", ["header but no data rows"]),
    ("renamed.csv", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, ["PNG image"]),
    ("legacy.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, ["legacy Excel", "encrypted"]),
    ("binary.csv", b"Id,Owner\n1,\x00\x01\x02\x00\x00\n", ["binary data"]),
    ("quotes.csv", b'Id,Owner,Stage,Amount\n1,Al,Won,5\n2,"Bo,Won,5\n3,Cy,Won,5\n', ["quote"]),
])
def test_unusable_files(capsys, db, tmp_path, name, data, expect):
    err = refused(capsys, db, write(tmp_path, name, data), expect=expect)
    assert len(err.strip().splitlines()) == 1


def test_missing_file(capsys, db, tmp_path):
    refused(capsys, db, tmp_path / "nope.csv", expect=["no such file"])


def test_size_cap(capsys, db, tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_UPLOAD_BYTES", 50)
    refused(capsys, db, write(tmp_path, "big.csv", GOOD), expect=["upload limit"])


def _xlsx_bytes(rows) -> bytes:
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rezip(data, change) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            z.writestr(info.filename, change(info.filename, src.read(info.filename)))
    return out.getvalue()


def test_xlsx_bombs_truncation_macros(capsys, db, tmp_path):
    good = _xlsx_bytes([GOOD.splitlines()[0].split(",")] + [r.split(",") for r in GOOD.splitlines()[1:]])
    bomb = _rezip(good, lambda n, c: c + b" " * 30_000_000 if n.endswith("sheet1.xml") else c)
    refused(capsys, db, write(tmp_path, "bomb.xlsx", bomb), expect=["zip bomb"])
    ent = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><workbook>&b;</workbook>')
    refused(capsys, db, write(tmp_path, "xxe.xlsx", _rezip(good, lambda n, c: ent if n == "xl/workbook.xml" else c)),
            expect=["DTD or XML entities"])
    refused(capsys, db, write(tmp_path, "cut.xlsx", good[: len(good) // 2]), expect=["truncated"])
    out = io.BytesIO(good)
    with zipfile.ZipFile(out, "a") as z:
        z.writestr("xl/vbaProject.bin", b"x")
    refused(capsys, db, write(tmp_path, "macro.xlsm", out.getvalue()), expect=["macros"])
    # and the good workbook imports
    rc, _, err = run(capsys, db, "import", write(tmp_path, "good.xlsx", good))
    assert rc == 0, err


# --- headers -----------------------------------------------------------------------------------------------
def test_duplicate_headers(capsys, db, tmp_path):
    text = "Id,Owner,Stage,Amount,amount\n1,Al,Won,5,6\n"
    refused(capsys, db, write(tmp_path, "dup.csv", text), expect=["'amount' appears twice", "columns D and E"])


def test_missing_required_columns(capsys, db, tmp_path):
    err = refused(capsys, db, write(tmp_path, "cols.csv", "Id,Stage,Amount\n1,Won,5\n"),
                  expect=["no column for owner", "--map COLUMN=owner"])
    assert "Id, Stage, Amount" in err


def test_blank_sql_keyword_long_and_case_variant_headers_import(capsys, db, tmp_path):
    long = "x" * 300
    text = f" id ,OWNER,stage,AMOUNT,close date,,select,{long}\n9,Al,Closed Won,5,2024-01-01,b,c,d\n"
    rc, out, err = run(capsys, db, "import", write(tmp_path, "odd.csv", text), "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["mapping"] == {"id": "opportunity_id", "OWNER": "owner", "stage": "stage", "AMOUNT": "amount",
                              "close date": "close_date"}
    assert doc["vendor"] == "generic"  # too few names for a known format: the fuzzy mapper mapped it
    with store.connect(db) as conn:
        extra = json.loads(conn.execute("SELECT extra FROM opportunities WHERE opportunity_id = '9'").fetchone()[0])
    assert extra == {"(column F)": "b", "select": "c", long: "d"}
    assert any("no header" in p["problem"] for p in doc["problems"])


# --- values ------------------------------------------------------------------------------------------------
def test_bad_values_are_refused_with_row_column_value(capsys, db, tmp_path):
    text = ("Id,Owner,Stage,Amount,Close Date\n1,Al,Closed Won,lots,2024-01-01\n2,Bo,Closed Won,inf,2024-01-02\n"
            "3,Cy,Closed Won,5,31/31/2024\n4,Di,Closed Won,5,2024-01-01\n4,Ed,Closed Lost,5,2024-01-01\n")
    err = refused(capsys, db, write(tmp_path, "vals.csv", text), expect=[
        "row 2, column 'Amount', value 'lots': not a number",
        "row 3, column 'Amount', value 'inf': not a number (or not finite)",
        "row 4, column 'Close Date', value '31/31/2024': not a date",
        "row 6, column 'Id', value '4': the id appears more than once in the file (first on row 5)",
        "--skip-invalid"])
    assert err.splitlines()[0].startswith("error: vals.csv: ")


def test_single_bad_value_is_one_line(capsys, db, tmp_path):
    text = GOOD.replace("2000", "12abc")
    err = refused(capsys, db, write(tmp_path, "one.csv", text), expect=[])
    assert err.strip() == "error: one.csv, row 3, column 'Amount', value '12abc': not a number (or not finite)"


def test_ragged_row_refused(capsys, db, tmp_path):
    text = GOOD + "004,Di,Closed Won\n"
    refused(capsys, db, write(tmp_path, "ragged.csv", text), expect=["row 5", "3 fields but the header has 6"])


def test_skip_invalid_imports_valid_rows(capsys, db, tmp_path):
    text = GOOD.replace("002", "004").replace("2000", "x") + "005,Ed,Closed Won,7,2024-03-03,2024-01-01\n"
    rc, out, err = run(capsys, db, "import", write(tmp_path, "skip.csv", text), "--skip-invalid", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert (doc["rows_read"], doc["rows_imported"], doc["rows_rejected"]) == (4, 3, 1)
    assert doc["problems"][0]["row"] == 3


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_encodings_import(capsys, db, tmp_path, encoding):
    text = GOOD.replace("Al", "Zoë Ñúñez")
    rc, _, err = run(capsys, db, "import", write(tmp_path, "enc.csv", text.encode(encoding)))
    assert rc == 0, err
    with store.connect(db) as conn:
        assert "Zoë Ñúñez" in set(store.load_deals(conn)["owner"])


def test_awkward_values_import_correctly(capsys, db, tmp_path):
    text = ("Id;Owner;Stage;Amount;Close Date;Created Date;Probability;Note\n"
            "0042;Al;Closed Won;1.234,56;03.04.2024;01.02.24;12%;=HYPERLINK(\"x\")\n"
            "0043;Bo;Closed Lost;€1.200;04.04.2024;NA;N/A;<b>bold</b> \u200fmark\n"
            "0044;Cy;Negotiation/Review;(500);45500;-;50;null\n"
            "0045;Di;Closed Won;USD 10.000,00;01.01.1900;01.01.2024;;\n")
    rc, out, err = run(capsys, db, "import", write(tmp_path, "de.csv", text), "--json")
    assert rc == 0, err
    doc = json.loads(out)
    with store.connect(db) as conn:
        d = store.load_deals(conn, with_extra=True).set_index("opportunity_id")
    assert d.loc["0042", "amount"] == pytest.approx(1234.56) and d.loc["0043", "amount"] == pytest.approx(1200)
    assert d.loc["0044", "amount"] == -500 and d.loc["0045", "amount"] == 10000
    assert d.loc["0042", "close_date"].strftime("%Y-%m-%d") == "2024-04-03"
    assert d.loc["0042", "created_date"].strftime("%Y-%m-%d") == "2024-02-01"
    assert d.loc["0044", "close_date"].strftime("%Y-%m-%d") == "2024-07-27"  # Excel serial 45500 (45000 is 2023-03-15)
    assert d.loc["0042", "probability"] == pytest.approx(0.12) and d.loc["0044", "probability"] == 0.5
    assert json.loads(d.loc["0042", "extra"])["Note"] == '=HYPERLINK("x")'  # stored as text, neutralised on export
    problems = " | ".join(p["problem"] for p in doc["problems"])
    assert "negative amount" in problems and "unlikely date" in problems and "two-digit years" in problems


def test_ambiguous_dates_are_reported(capsys, db, tmp_path):
    text = "Id,Owner,Stage,Amount,Close Date\n1,Al,Closed Won,5,03/04/2024\n2,Bo,Closed Won,5,01/02/2024\n"
    rc, out, err = run(capsys, db, "import", write(tmp_path, "amb.csv", text), "--json")
    assert rc == 0
    assert any("cannot be decided" in p["problem"] for p in json.loads(out)["problems"])


def test_same_file_twice_is_idempotent(capsys, db, tmp_path):
    p = write(tmp_path, "again.csv", GOOD.replace("Al", "Alma"))
    assert run(capsys, db, "import", p)[0] == 0
    before = dump(db)
    rc, out, _ = run(capsys, db, "import", p, "--json")
    assert rc == 0 and json.loads(out)["already_imported"] is True
    assert dump(db) == before


# --- options -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,expect,prefix", [
    (["--as-of", "yesterday"], "--as-of 'yesterday' is not a date", "--as-of"),
    (["--vendor", "oracle"], "unknown vendor 'oracle'", "--vendor"),
    (["--map", "nope=owner"], "the file has no column 'nope'", "ok.csv: --map"),
    (["--map", "Owner=boss"], "'boss' is not a field", "ok.csv: --map"),
    (["--map", "Owner"], "write SOURCE=FIELD", "--map 'Owner'"),
])
def test_bad_options(capsys, db, tmp_path, args, expect, prefix):
    err = refused(capsys, db, write(tmp_path, "ok.csv", GOOD), *args, expect=[expect], prefix=prefix)
    assert len(err.strip().splitlines()) == 1


def test_json_contract(capsys, empty_db, tmp_path):
    rc, out, _ = run(capsys, empty_db, "import", write(tmp_path, "deals-2024-05-31.csv", GOOD), "--json")
    doc = json.loads(out)
    assert rc == 0
    for key in ("import_id", "vendor", "as_of", "rows_read", "rows_imported", "rows_rejected", "mapping",
                "unknown_stages", "problems"):
        assert key in doc
    assert doc["as_of"] == "2024-05-31" and doc["rows_imported"] == 3 and doc["rows_read"] == 3
    assert doc["vendor"] == "canonical" and doc["rows_rejected"] == 0 and doc["unknown_stages"] == []
    assert doc["mapping"]["Owner"] == "owner" and isinstance(doc["import_id"], int)
    rc, out, _ = run(capsys, empty_db, "imports", "--json")
    assert json.loads(out)["imports"][0]["file_name"] == "deals-2024-05-31.csv"
    rc, out, _ = run(capsys, empty_db, "undo-import", doc["import_id"], "--json")
    assert rc == 0 and json.loads(out)["status"] == "undone"
    with store.connect(empty_db) as conn:
        assert store.is_empty(conn)


def test_undo_unknown_import(capsys, db):
    before = dump(db)
    rc, _, err = run(capsys, db, "undo-import", 42)
    assert rc == 2 and "no import 42" in err and dump(db) == before


def test_reference_commands(capsys, empty_db, tmp_path):
    rc, out, err = run(capsys, empty_db, "roster", write(tmp_path, "r.csv", "sales_agent,manager,regional_office\nAl,Mo,West\n"),
                       "--json")
    assert rc == 0, err
    assert json.loads(out)["rows_imported"] == 1
    rc, _, err = run(capsys, empty_db, "targets", write(tmp_path, "t.csv", "owner,period,amount\nAl,2017Q5,5\n"))
    assert rc == 2 and "t.csv, row 2, column 'period', value '2017Q5'" in err


# --- faults --------------------------------------------------------------------------------------------------
def test_disk_full_rolls_back(capsys, db, tmp_path, monkeypatch):
    data, _ = samples.canonical(samples.canonical_deals(3000, seed=1))
    before = dump(db)
    real_open = store._open

    def small_open(path):
        conn = real_open(path)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 5}")
        return conn

    monkeypatch.setattr(store, "_open", small_open)
    rc, _, err = run(capsys, db, "import", write(tmp_path, "big.csv", data))
    monkeypatch.undo()
    assert rc == 2 and "full" in err and "Traceback" not in err
    assert dump(db) == before


def _cli(db, *args, **kw):
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.Popen([sys.executable, "-m", "salesops", "--db", str(db), *map(str, args)], cwd=PROJECT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


@pytest.mark.slow
def test_kill_9_mid_import_leaves_old_or_new_state(db, tmp_path):
    import random
    import signal
    import time

    deals = samples.canonical_deals(120_000, seed=5)  # above writer.BULK_ROWS: the index drop/rebuild path
    path = write(tmp_path, "big.csv", samples.canonical(deals)[0])
    old = dump(db)
    rng = random.Random(1)
    for attempt in range(3):
        proc = _cli(db, "import", path, "--as-of", f"2024-0{attempt + 2}-01")
        time.sleep(rng.uniform(1.5, 6.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert store.integrity_problems(db) == []
        conn = sqlite3.connect(str(db))
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        conn.close()
        assert {"idx_snapshot_slots_as_of", "idx_import_prior_opportunities", "idx_stage_history_opp"} <= indexes
        now = dump(db)
        if now == old:
            continue
        # the new state: every deal and its snapshot version are there
        assert len(now["opportunities"]) == len(old["opportunities"]) + 120_000
        assert len(now["snapshot_versions"]) == len(old["snapshot_versions"]) + 120_000
        break


def test_two_imports_at_once(db, tmp_path):
    a = write(tmp_path, "a.csv", samples.canonical(samples.canonical_deals(2000, seed=1))[0])
    d2 = samples.canonical_deals(2000, seed=2)
    d2["opportunity_id"] = "B" + d2["opportunity_id"]
    b = write(tmp_path, "b.csv", samples.canonical(d2)[0])
    procs = [_cli(db, "import", a, "--as-of", "2024-02-01"), _cli(db, "import", b, "--as-of", "2024-02-01")]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with store.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM opportunities").fetchone()[0] == 3 + 2000 + 2000


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder(capsys, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "x.db"
    with store.connect(db):
        pass
    before = dump(db)
    folder.chmod(0o555)
    db.chmod(0o444)
    try:
        rc, _, err = run(capsys, db, "import", write(tmp_path, "ok.csv", GOOD))
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    assert rc == 2 and ("read-only" in err or "cannot" in err)
    assert dump(db) == before


def test_corrupt_database_is_reported(capsys, tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    rc, _, err = run(capsys, bad, "import", write(tmp_path, "ok.csv", GOOD))
    assert rc == 2 and "not a readable salesops database" in err


@pytest.mark.filterwarnings("ignore:pandas only supports SQLAlchemy")
def test_nth_write_fails_leaves_database_unchanged(capsys, db, tmp_path, monkeypatch):
    """I/O error injection: the Nth statement of the import's transaction fails, for every N."""
    path = write(tmp_path, "inject.csv", GOOD.replace("Al", "Alice") + "004,Di,Closed Won,9,2024-03-09,2024-01-09\n")
    before = dump(db)
    real_open = store._open

    class Failing:
        def __init__(self, conn, n):
            self._c, self._n, self._seen, self._armed = conn, n, 0, False

        def __getattr__(self, name):
            return getattr(self._c, name)

        def _tick(self, sql):
            if sql.startswith("BEGIN IMMEDIATE"):
                self._armed = True
            elif self._armed and not sql.startswith(("ROLLBACK", "PRAGMA")):
                self._seen += 1
                if self._seen == self._n:
                    raise sqlite3.OperationalError("disk I/O error")

        def execute(self, sql, *a):
            self._tick(sql)
            return self._c.execute(sql, *a)

        def executemany(self, sql, *a):
            self._tick(sql)
            return self._c.executemany(sql, *a)

    failed_at = []
    for n in range(1, 80):
        monkeypatch.setattr(store, "_open", lambda p, n=n: Failing(real_open(p), n))
        rc, _, err = run(capsys, db, "import", path)
        monkeypatch.setattr(store, "_open", real_open)
        if rc == 0:
            break  # n is past the last statement: the import went through
        failed_at.append(n)
        assert rc == 2 and "disk I/O error" in err and "Traceback" not in err, err
        assert dump(db) == before, n
    assert len(failed_at) >= 5  # the import really has that many statements to break
    assert dump(db) != before
