"""Value parsing: numbers in every locale and dress, dates in every order, never silently."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesops.ingest import normalise as N


@pytest.mark.parametrize("text,value", [
    ("1,234.56", 1234.56), ("$1,234", 1234.0), ("USD 1,234.00", 1234.0), ("(500)", -500.0), ("12%", 12.0),
    ("-3", -3.0), ("1e3", 1000.0), ("€1,200", 1200.0), ("1'234.50", 1234.5), ("10 000", 10000.0),
    ("1234.5 EUR", 1234.5), ("-1,000.25", -1000.25), ("+7", 7.0),
])
def test_numbers_dot_decimal(text, value):
    r = N.parse_numbers(pd.Series([text, "1,000.50"]))
    assert r.values[0] == pytest.approx(value) and not r.bad[0]


@pytest.mark.parametrize("text,value", [("1.234,56", 1234.56), ("12,5", 12.5), ("€1.200,00", 1200.0), ("3", 3.0)])
def test_numbers_comma_decimal_detected_per_column(text, value):
    r = N.parse_numbers(pd.Series([text, "1.000,50"]))
    assert r.decimal == "," and r.values[0] == pytest.approx(value)


def test_comma_decimal_in_comma_file_column():
    # a column of "2,024,994"-like values is thousands; "2,5" values are decimals
    assert N.parse_numbers(pd.Series(["2,5", "10,25"])).values.tolist() == [2.5, 10.25]
    assert N.parse_numbers(pd.Series(["2,024,994", "1,000"])).values.tolist() == [2024994.0, 1000.0]


def test_dot_thousands_need_the_locale_hint():
    s = pd.Series(["1.000", "25.000"])
    assert N.parse_numbers(s, ",").values.tolist() == [1000.0, 25000.0]
    r = N.parse_numbers(s)
    assert r.values.tolist() == [1.0, 25.0]


@pytest.mark.parametrize("text", ["abc", "inf", "-inf", "NaN", "1,2,3.4.5", "#DIV/0!", "12abc34", "12abc", "5)", "(5"])
def test_unparseable_and_nonfinite_are_bad(text):
    r = N.parse_numbers(pd.Series([text, "5"]))
    assert r.bad[0] and np.isnan(r.values[0]) and not r.bad[1]


@pytest.mark.parametrize("text", ["", "NA", "N/A", "-", "null", "None", " "])
def test_na_tokens_are_blank_not_bad(text):
    r = N.parse_numbers(pd.Series([text, "5"]))
    assert r.blank[0] and not r.bad[0]


def test_currency_codes_found():
    r = N.parse_numbers(pd.Series(["USD 10,000.00", "€5", "7"]))
    assert r.currencies.tolist() == ["USD", "EUR", None]


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).map(lambda x: round(x, 2)))
@settings(max_examples=60, deadline=None)
def test_number_round_trip_en_and_de(x):
    en = f"{x:,.2f}"
    de = en.replace(",", "X").replace(".", ",").replace("X", ".")
    assert N.parse_numbers(pd.Series([en]), None).values[0] == pytest.approx(x)
    assert N.parse_numbers(pd.Series([de]), ",").values[0] == pytest.approx(x)


def test_dates_iso_with_times_and_z():
    r = N.parse_dates(pd.Series(["2024-03-04", "2024-03-05T16:11:00.000Z", "2024-03-06 09:00:00", ""]))
    assert r.values.dt.strftime("%Y-%m-%d").tolist()[:3] == ["2024-03-04", "2024-03-05", "2024-03-06"]
    assert r.blank[3] and not r.bad.any()


def test_day_month_order_decided_from_the_whole_column():
    r = N.parse_dates(pd.Series(["03/04/2024", "25/04/2024"]))
    assert r.order == "DMY" and r.order_decided and r.values[0] == pd.Timestamp("2024-04-03")
    r = N.parse_dates(pd.Series(["03/04/2024", "04/25/2024"]))
    assert r.order == "MDY" and r.values[0] == pd.Timestamp("2024-03-04")


def test_undecidable_order_is_reported_and_hint_used():
    r = N.parse_dates(pd.Series(["03/04/2024", "01/02/2024"]))
    assert not r.order_decided and r.order == "MDY"
    r = N.parse_dates(pd.Series(["03/04/2024"]), order_hint="DMY")
    assert r.values[0] == pd.Timestamp("2024-04-03")


def test_dotted_dates_are_day_first_and_two_digit_years():
    r = N.parse_dates(pd.Series(["01.02.2024", "05.06.23 14:00"]))
    assert r.values.tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2023-06-05")]
    assert r.two_digit_years


def test_excel_serials_and_text_months_and_implausible():
    r = N.parse_dates(pd.Series(["45000", "14-Mar-2022", "1900-01-01", "31/31/2020"]))
    assert r.values[0] == pd.Timestamp("2023-03-15") and r.serials
    assert r.values[1] == pd.Timestamp("2022-03-14")
    assert r.implausible[2] and not r.bad[2]
    assert r.bad[3]


def test_bools_statuses_forecast():
    v, bad = N.parse_bools(pd.Series(["TRUE", "false", "ja", "maybe", ""]))
    assert v[:3].tolist() == [1.0, 0.0, 1.0] and bad.tolist() == [False, False, False, True, False]
    st_, blank, bad = N.parse_statuses(pd.Series(["Won", "open", "Verloren", "deleted", ""]))
    assert list(st_[:3]) == ["won", "open", "lost"] and bad[3] and blank[4]
    fc, unknown = N.parse_forecast_categories(pd.Series(["Best Case", "MostLikely", "weird"]))
    assert list(fc) == ["best_case", "commit", "weird"] and unknown.tolist() == [False, False, True]


def test_clean_text_removes_controls_and_bidi_marks():
    r = N.clean_text(pd.Series(["  Al ", "B\u202eob", "x\x07y", "NA", "<b>Bold</b>"]))
    assert r.values.tolist() == ["Al", "Bob", "xy", None, "<b>Bold</b>"]
    assert r.cleaned.tolist() == [False, True, True, False, False]


def test_big_columns_are_cleaned_like_small_ones():
    """Above ARROW_MIN_ROWS the pyarrow path (with its byte pre-scan) finds the same marks."""
    import pandas as pd

    from salesops.ingest import normalise as N

    n = N.ARROW_MIN_ROWS + 10
    values = [f"Deal {i}" for i in range(n)]
    values[7] = "Acme\u200b renewal"
    values[9] = "Bell\x07 deal "
    values[11] = "N/A"
    res = N.clean_text(pd.Series(values, dtype=object))
    assert res.values[7] == "Acme renewal" and res.values[9] == "Bell deal" and res.values[11] is None
    assert res.cleaned.sum() == 2 and res.cleaned[7] and res.cleaned[9]
    plain = N.clean_text(pd.Series([f"Deal {i}" for i in range(n)], dtype=object))
    assert not plain.cleaned.any() and plain.values[5] == "Deal 5"
