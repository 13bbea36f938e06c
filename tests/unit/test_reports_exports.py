"""Exports: formula cells neutralised in CSV and XLSX, numbers kept numbers, business column
names; `export` writes the pages' numbers."""
import io
import json

import openpyxl
import pandas as pd
import pytest

from salesops import metrics, reports, workspace
from salesops.cli import main
from salesops.filters import Filters

HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", "a=b"]


def frame():
    return pd.DataFrame({"Deal": HOSTILE, "Rep": pd.Categorical(["=cmd|' /C calc'!A0"] * 4 + ["Ann"] * 4),
                         "Amount": [1.5, -2.0, 3, 4, 5, 6, 7, 8], "Close date": pd.to_datetime(["2026-07-01"] * 8),
                         "=formula header": ["x"] * 8})


def test_csv_neutralises_every_formula_start_and_keeps_the_text_and_numbers():
    out = pd.read_csv(io.BytesIO(reports.to_csv_bytes(frame())), encoding="utf-8-sig", keep_default_na=False)
    assert list(out.columns) == ["Deal", "Rep", "Amount", "Close date", "'=formula header"]
    expected = ["'" + v if v[0] in "=+-@\t\r" else v for v in HOSTILE]
    assert out["Deal"].tolist()[:4] == expected[:4] and out["Deal"].tolist()[6:] == ["plain", "a=b"]
    assert out["Deal"].iloc[4] == "'\tx"  # the tab is kept after the quote
    assert out["Rep"].iloc[0] == "'=cmd|' /C calc'!A0"  # a categorical column too
    assert out["Amount"].tolist() == [1.5, -2.0, 3, 4, 5, 6, 7, 8]  # a negative number is a number, untouched


def test_xlsx_has_no_formula_cell_and_keeps_numbers_and_dates():
    wb = openpyxl.load_workbook(io.BytesIO(reports.to_xlsx_bytes(frame(), sheet_name="deals: 2026/Q3")))
    ws = wb.active
    assert ws.title == "deals 2026Q3"  # characters Excel refuses in a sheet name are dropped
    cells = [c for row in ws.iter_rows() for c in row]
    assert [c for c in cells if c.data_type == "f"] == []
    col = {c.value: i for i, c in enumerate(ws[1])}
    deals = [r[col["Deal"]].value for r in ws.iter_rows(min_row=2)]
    assert deals[:4] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1+1", "'-2+3", "'@SUM(A1)"]
    assert deals[4] == "'\tx" and deals[5] == "'\rx" and deals[6:] == ["plain", "a=b"]
    assert [r[col["Rep"]].value for r in ws.iter_rows(min_row=2)][0] == "'=cmd|' /C calc'!A0"
    amounts = [r[col["Amount"]].value for r in ws.iter_rows(min_row=2)]
    assert amounts == [1.5, -2, 3, 4, 5, 6, 7, 8] and all(isinstance(a, (int, float)) for a in amounts)
    assert ws.cell(row=2, column=col["Close date"] + 1).is_date
    assert "'=formula header" in col


def test_export_command_writes_the_pages_numbers_under_business_names(demo_db, tmp_path, capsys):
    out = tmp_path / "reps.xlsx"
    assert main(["--db", str(demo_db), "export", "--what", "reps", "--period", "2026Q3", "--region", "EMEA",
                 "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    got = pd.read_excel(out)
    assert list(got.columns[:3]) == ["Rep", "Bookings", "Deals won"] and "owner" not in got.columns
    ws = workspace.load(demo_db)
    truth = metrics.kpis(ws, Filters.make(ws, "2026Q3", region=["EMEA"]), "owner")
    assert doc["rows"] == len(truth) == len(got)
    assert got.set_index("Rep")["Bookings"].to_dict() == pytest.approx(truth.set_index("group")["won_amount"].to_dict())
    # independently: pandas over the deal rows (won, closed in the quarter, region EMEA)
    d = ws.deals
    won = d[(d["status"] == "won") & d["close_date"].between("2026-07-01", "2026-09-30") & (d["region"] == "EMEA")]
    assert got["Bookings"].sum() == pytest.approx(won["amount"].sum())


def test_export_deals_and_bad_output_names(demo_db, tmp_path, capsys):
    out = tmp_path / "deals.csv"
    assert main(["--db", str(demo_db), "export", "--what", "deals", "--period", "2026Q3", "--out", str(out)]) == 0
    got = pd.read_csv(out, encoding="utf-8-sig")
    assert {"Deal id", "Rep", "Amount", "Close date", "Status on the as-of date"} <= set(got.columns)
    ws = workspace.load(demo_db)
    d = ws.deals
    assert len(got) == int(d["close_date"].between("2026-07-01", "2026-09-30").sum())
    capsys.readouterr()
    assert main(["--db", str(demo_db), "export", "--what", "kpis", "--out", str(tmp_path / "x.txt")]) == 2
    assert "must end in .csv or .xlsx" in capsys.readouterr().err
    assert not (tmp_path / "x.txt").exists()
    assert main(["--db", str(demo_db), "export", "--what", "payouts", "--out", str(tmp_path / "p.csv")]) == 2
    assert "comp plan" in capsys.readouterr().err
