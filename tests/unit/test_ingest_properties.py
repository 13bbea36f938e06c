"""Property-based checks: any bytes give a result or the package's own error, never anything
else; generated deal tables survive CSV/XLSX in varied encodings, delimiters and locales."""
from __future__ import annotations

import csv
import io

import numpy as np
import openpyxl
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesops.errors import SalesopsError
from salesops.ingest import analyse


@given(st.binary(max_size=3000))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_bytes_only_own_errors(data):
    try:
        analyse(data, "fuzz.csv")
    except SalesopsError:
        pass


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), min_size=1, max_size=30))
@settings(max_examples=80, deadline=None)
def test_fuzz_text_cells_only_own_errors(cells):
    text = "Id,Owner,Stage,Amount,Close Date\n" + "\n".join(",".join(cells[i:i + 5]) for i in range(0, len(cells), 5))
    try:
        analyse(text.encode("utf-8"), "fuzz.csv")
    except SalesopsError:
        pass


owners = st.sampled_from(["Ana Müller", "Zoë O'Brien", "José Núñez", "Ben", "Chloé, Jr."])
stages = st.sampled_from(["Closed Won", "Closed Lost", "Prospecting", "Negotiation/Review"])
rows = st.lists(st.tuples(owners, stages, st.decimals(min_value=0, max_value=10_000_000, places=2),
                          st.dates(min_value=pd.Timestamp("2015-01-01").date(), max_value=pd.Timestamp("2030-12-31").date())),
                min_size=2, max_size=25)


@given(rows, st.sampled_from(["en", "de"]), st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "xlsx"]))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip(rows_, locale, encoding):
    # one row with a day above 12 so the day/month order is decided (undecidable files are reported instead)
    rows_ = list(rows_) + [("Ben", "Closed Won", 1, pd.Timestamp("2020-01-25").date())]
    header = ["Opportunity ID", "Opportunity Owner", "Stage", "Amount", "Close Date"]
    table = []
    for i, (o, s, a, d) in enumerate(rows_):
        if locale == "de":
            amount = f"{a:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
            day = d.strftime("%d.%m.%Y")
        else:
            amount, day = f"{a:,.2f}", f"{d.month}/{d.day}/{d.year}"
        table.append([f"{i:05d}", o, s, amount, day])
    if encoding == "xlsx":
        wb = openpyxl.Workbook()
        wb.active.append(header)
        for r in table:
            wb.active.append(r)
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    else:
        buf = io.StringIO()
        csv.writer(buf, delimiter=";" if locale == "de" else ",").writerows([header, *table])
        data = buf.getvalue().encode(encoding)
    a = analyse(data, "deals.xlsx" if encoding == "xlsx" else "deals.csv")
    assert not a.prepared.errors, [p.describe() for p in a.prepared.errors]
    d = a.prepared.deals
    assert d["opportunity_id"].tolist() == [f"{i:05d}" for i in range(len(rows_))]
    assert d["owner"].tolist() == [r[0] for r in rows_]
    assert np.allclose(d["amount"].to_numpy(float), [float(r[2]) for r in rows_])
    assert d["close_date"].tolist() == [r[3].isoformat() for r in rows_]

