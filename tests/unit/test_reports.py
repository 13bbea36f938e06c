import io

import openpyxl
import pandas as pd

from salesops import formats, reports


def test_formula_cells_are_neutralised_in_csv_and_xlsx():
    frame = pd.DataFrame({"name": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain", "a=b"],
                          "amount": [1, 2, 3, 4, 5, 6, 7, 8]})
    csv = reports.to_csv_bytes(frame).decode("utf-8-sig")
    assert "'=HYPERLINK" in csv and "\n'+1," in csv and "\n'-2," in csv and "'@SUM" in csv and "\nplain," in csv and "\na=b," in csv
    wb = openpyxl.load_workbook(io.BytesIO(reports.to_xlsx_bytes(frame)))
    cells = [c.value for c in wb.active["A"]][1:]
    assert cells[:4] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)"]
    assert all(c.data_type != "f" for c in wb.active["A"])
    assert [c.value for c in wb.active["B"]][1:] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_money_formats():
    assert formats.money(1_234_567) == "$1.2M"
    assert formats.money(350_000) == "$350K"
    assert formats.money(999) == "$999"
    assert formats.money(-2_500, "EUR") == "-€2.5K"
    assert formats.money(1_234_567, compact=False) == "$1,234,567"
    assert formats.money(None) == "–" and formats.money(float("nan")) == "–"
    assert formats.money(150_000_000) == "$150M"
    assert formats.pct(0.314) == "31%" and formats.pct(None) == "–"
    assert formats.ratio(2.44) == "2.4x"
