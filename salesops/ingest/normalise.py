"""Text cells -> typed values, one column at a time, never silently.

Every parser works on the column's distinct values (exports repeat dates, stages and owners
a lot) and returns the values plus a mask of cells it could not read; the caller turns the
mask into problems naming row, column and value.

Numbers: ``1,234.56``, ``1.234,56``, ``$1,234``, ``USD 1,234.00``, ``€1.200``, ``(500)``,
``12%``, ``1'234.50``; the decimal separator is decided per column from values that can only
be read one way, else from the file's locale hint.
Dates: ISO (with or without time, ``T``/``Z``), ``M/D/YYYY``, ``D/M/YYYY``, ``DD.MM.YYYY``,
two-digit years, ``14-Mar-2022``, Excel serial numbers; day/month order is decided from the
whole column (then the whole file) and reported when it cannot be decided.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import schema as S

#: Cell texts that mean "no value".
NA_TOKENS = frozenset({"", "na", "n/a", "#n/a", "-", "--", "—", "null", "none", "nil", "(blank)", "(leer)",
                       "#null!", "n.a.", "k.a.", "(none)"})
#: Texts that are numbers but not finite (errors, not blanks).
NONFINITE = frozenset({"nan", "inf", "-inf", "+inf", "infinity", "-infinity", "#num!", "#div/0!", "#value!"})
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_CURRENCY_RE = re.compile(r"([A-Z]{3})|([$€£¥₹₩₽]|CHF|Fr\.|kr)")
_SYM = r"[A-Z]{3}|[$€£¥₹₩₽]|CHF|Fr\.|kr"
#: A number in its dress: sign / parenthesis / currency before, digits with separators, then
#: %, a currency or a trailing minus; anything else is not a number.
_STRICT_NUMBER = (rf"^(?P<pre>\(?\s*[-+]?\s*(?P<code1>{_SYM})?\s*[-+]?)\s*"
                  r"(?P<num>\d+(?:\.\d+)?[eE][-+]?\d+|[\d.,]*\d(?:[\d.,'’\s\u00a0\u202f]*[\d.,])?|[.,]\d+)"
                  rf"\s*(?P<post>%|-|(?P<code2>{_SYM}))?\s*(?P<close>\))?$")
_SYMBOL_CODES = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB", "CHF": "CHF",
                 "Fr.": "CHF"}
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
#: Dates outside these years are read but flagged (placeholders such as 1900-01-01 or 2100-12-31).
PLAUSIBLE_YEARS = (1970, 2080)


def factorize(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct values as a Series); codes are -1 for missing."""
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes), pd.Series(np.asarray(uniq, dtype=object), dtype=object)


def expand(codes: np.ndarray, uniq_values: np.ndarray, fill) -> np.ndarray:
    """Map distinct-value results back to the rows (code -1 -> ``fill``)."""
    out = np.asarray(uniq_values)
    if len(out) == 0:
        return np.full(len(codes), fill, dtype=object if not isinstance(fill, float) else float)
    res = out.take(np.where(codes < 0, 0, codes))
    if (codes < 0).any():
        res = res.astype(object) if res.dtype.kind not in "fM" else res
        res[codes < 0] = fill
    return res


# --- text --------------------------------------------------------------------------------------
@dataclass
class TextResult:
    values: pd.Series  # object: str or None
    cleaned: np.ndarray  # bool mask: control characters or invisible marks were removed


#: Columns longer than this are normalised with pyarrow compute (C++) instead of per value.
ARROW_MIN_ROWS = 50_000
_CONTROL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{200b}-\x{200f}\x{202a}-\x{202e}\x{2066}-\x{2069}\x{feff}]"
_NA_LIST = sorted(NA_TOKENS)


def to_arrow(values: pd.Series):
    """The column as a pyarrow string ChunkedArray (zero-copy for pyarrow-backed columns)."""
    import pyarrow as pa

    if isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_string(values.dtype.pyarrow_dtype):
        return values.array._pa_array  # noqa: SLF001 - the documented way to reach the ChunkedArray
    arr = values.to_numpy(dtype=object)
    return pa.chunked_array([pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v) for v in arr]
                                      if arr.dtype == object and len(arr) < 1000 else arr, type=pa.string(),
                                      from_pandas=True)])


def _may_hold_controls(arr) -> bool:
    """False when no string of ``arr`` can hold a control character or an invisible mark: none of
    their UTF-8 bytes (below 0x20, 0x7f, or the lead bytes 0xe2 / 0xef of the marks) occurs in
    the data buffers (a byte scan, much cheaper than the regex over every string)."""
    for chunk in arr.chunks:
        bufs = chunk.buffers()
        data = bufs[2] if len(bufs) > 2 else None
        if data is None:
            continue
        b = np.frombuffer(data, dtype=np.uint8)
        if ((b < 0x20) | (b == 0x7F) | (b == 0xE2) | (b == 0xEF)).any():
            return True
    return False


def _clean_arrow(values: pd.Series) -> TextResult:
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = to_arrow(values)
    if _may_hold_controls(arr):
        has_ctrl = pc.fill_null(pc.match_substring_regex(arr, _CONTROL_RE2), False)
    else:
        has_ctrl = pa.chunked_array([pa.array(np.zeros(len(arr), dtype=bool))])
    if pc.any(has_ctrl).as_py():
        arr = pc.replace_substring_regex(arr, _CONTROL_RE2, "")
    trimmed = pc.utf8_trim_whitespace(arr)
    blank = pc.fill_null(pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(_NA_LIST)), True)
    out = pc.if_else(blank, pa.scalar(None, pa.string()), trimmed)
    return TextResult(pd.Series(out.to_numpy(zero_copy_only=False), index=values.index, dtype=object),
                      np.asarray(has_ctrl.to_numpy(zero_copy_only=False), dtype=bool))


def clean_text(values: pd.Series) -> TextResult:
    """Strip spaces; NA tokens -> None; remove control characters and bidi marks (flagged).

    Big columns with few distinct values (owners, stages) are cleaned once per distinct value
    and share the resulting strings; big columns of mostly distinct values go through pyarrow."""
    if len(values) >= max(ARROW_MIN_ROWS, 1):
        import pyarrow.compute as pc

        arr = to_arrow(values)
        # mostly distinct (ids, names): straight to pyarrow (a dictionary of a million strings costs more)
        if pc.count_distinct(arr.slice(0, 20_000)).as_py() > 10_000:
            return _clean_arrow(values)
        enc = pc.dictionary_encode(arr).combine_chunks()
        if len(enc.dictionary) > len(values) // 4:
            return _clean_arrow(values)
        codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False))
        codes = np.where(np.isnan(codes), -1, codes).astype(np.int64) if codes.dtype.kind == "f" else codes.astype(np.int64)
        small = clean_text(pd.Series(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object))
        vals = expand(codes, small.values.to_numpy(dtype=object), None)
        cleaned = expand(codes, small.cleaned, False).astype(bool)
        return TextResult(pd.Series(vals, index=values.index, dtype=object), cleaned)
    codes, uniq = factorize(values)
    s = uniq.astype(str)
    has_ctrl = s.str.contains(_CONTROL_RE, regex=True)
    if has_ctrl.any():
        s = s.where(~has_ctrl, s.str.replace(_CONTROL_RE, "", regex=True))
    s = s.str.strip()
    blank = s.str.casefold().isin(NA_TOKENS)
    out = s.where(~blank, None)
    vals = expand(codes, out.to_numpy(dtype=object), None)
    cleaned = expand(codes, has_ctrl.to_numpy(), False).astype(bool)
    return TextResult(pd.Series(vals, index=values.index, dtype=object), cleaned)


def is_blank(values: pd.Series) -> np.ndarray:
    codes, uniq = factorize(values)
    b = uniq.astype(str).str.strip().str.casefold().isin(NA_TOKENS).to_numpy()
    return expand(codes, b, True).astype(bool)


# --- numbers -----------------------------------------------------------------------------------
@dataclass
class NumberResult:
    values: np.ndarray  # float, NaN for blank or bad
    bad: np.ndarray  # bool: not a number, or not finite
    blank: np.ndarray  # bool
    percent: bool = False  # some values carried '%'
    decimal: str = "."
    currencies: pd.Series | None = None  # per-row currency code found in the cell, or None
    ambiguous: bool = False  # the separator could not be decided from the values
    bad_reason: dict = field(default_factory=dict)  # row position -> reason


_COMMA_DECIMAL = re.compile(r"^-?\d{1,3}(\.\d{3})+,\d+$|^-?\d+,(\d{1,2}|\d{4,})$")
_DOT_DECIMAL = re.compile(r"^-?\d{1,3}(,\d{3})+\.\d+$|^-?\d+\.(\d{1,2}|\d{4,})$")
_COMMA_THOUSANDS_ONLY = re.compile(r"^-?\d{1,3}(,\d{3})+$")
_DOT_THOUSANDS_ONLY = re.compile(r"^-?\d{1,3}(\.\d{3})+$")


def decide_decimal(cores: pd.Series, hint: str | None = None) -> tuple[str, bool]:
    """The decimal separator of a column of number texts (digits, ',', '.' only), and whether
    it was a guess. Values that can only be read one way decide; else the hint; else '.'."""
    if cores.empty:
        return hint or ".", False
    comma = int(cores.str.match(_COMMA_DECIMAL).sum())
    dot = int(cores.str.match(_DOT_DECIMAL).sum())
    if comma > dot:
        return ",", False
    if dot > comma:
        return ".", False
    has_comma_thousands = bool(cores.str.match(_COMMA_THOUSANDS_ONLY).any())
    has_dot_thousands = bool(cores.str.match(_DOT_THOUSANDS_ONLY).any())
    if has_dot_thousands and not has_comma_thousands:
        return (",", False) if hint == "," else (".", True)
    if has_comma_thousands and not has_dot_thousands:
        return (".", False) if hint != "," else (",", True)
    return hint or ".", False


def _numbers_arrow(values: pd.Series, decimal_hint: str | None) -> NumberResult | None:
    """Plain numbers ("1234.5", blanks, NA tokens) in C++; None when the column needs the full
    parser (separators, symbols, bad values)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pc.utf8_trim_whitespace(to_arrow(values))
    if pc.any(pc.fill_null(pc.match_substring(arr, ","), False)).as_py():
        return None
    if decimal_hint == "," and pc.any(pc.fill_null(pc.match_substring_regex(arr, r"^-?\d{1,3}(\.\d{3})+$"), False)).as_py():
        return None
    lower = pc.utf8_lower(arr)
    blank = pc.fill_null(pc.is_in(lower, value_set=pa.array(_NA_LIST)), True)
    if pc.any(pc.is_in(lower, value_set=pa.array(sorted(NONFINITE)))).as_py():
        return None
    try:
        nums = pc.cast(pc.if_else(blank, pa.scalar(None, pa.string()), arr), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    out = nums.to_numpy(zero_copy_only=False).astype(float)
    if not np.isfinite(out[~np.isnan(out)]).all():
        return None
    b = np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)
    return NumberResult(out, np.zeros(len(out), dtype=bool), b)


def parse_numbers(values: pd.Series, decimal_hint: str | None = None) -> NumberResult:
    """Parse a column of number texts (see the module docstring). Percent signs are noted, not
    applied (the caller knows whether the column is a probability)."""
    if len(values) >= ARROW_MIN_ROWS:
        fast = _numbers_arrow(values, decimal_hint)
        if fast is not None:
            return fast
    codes, uniq = factorize(values)
    s = uniq.astype(str).str.strip()
    folded = s.str.casefold()
    blank = folded.isin(NA_TOKENS).to_numpy()
    nonfinite = folded.isin(NONFINITE).to_numpy()
    n = len(s)
    out = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    currency = np.full(n, None, dtype=object)
    percent = np.zeros(n, dtype=bool)
    todo = ~blank & ~nonfinite
    # fast path: plain numbers, when the column has no comma and no dot-thousands question
    plain = pd.to_numeric(s.where(todo, ""), errors="coerce").to_numpy(dtype=float)
    has_comma = bool(s[todo].str.contains(",", regex=False).any()) if todo.any() else False
    dotted = s[todo & ~np.isnan(plain)]
    dot_thousands_risk = decimal_hint == "," and bool(dotted.str.match(_DOT_THOUSANDS_ONLY).any()) if len(dotted) else False
    if not has_comma and not dot_thousands_risk:
        ok = todo & ~np.isnan(plain)
        out[ok] = plain[ok]
        todo = todo & ~ok
    decimal, ambiguous = ".", False
    if todo.any():
        sub = s[todo]
        m = sub.str.extract(_STRICT_NUMBER)
        matched = m["num"].notna()
        pre, post = m["pre"].fillna(""), m["post"].fillna("")
        neg = (pre.str.contains("(", regex=False) & m["close"].notna()) | pre.str.contains("-", regex=False) | (post == "-")
        matched &= ~(pre.str.contains("(", regex=False) ^ m["close"].notna())  # "(5" or "5)" are not numbers
        pct = post == "%"
        code_txt = m["code1"].where(m["code1"].notna(), m["code2"])
        code = code_txt.map(lambda c: _SYMBOL_CODES.get(c, c) if isinstance(c, str) else None)
        core = m["num"].fillna("").str.replace(r"[\s\u00a0\u202f'’]", "", regex=True)
        sci = core.str.fullmatch(r"\d+(\.\d+)?[eE][-+]?\d+")
        grouped = core.where(~sci, "")
        decimal, ambiguous = decide_decimal(grouped[grouped.str.contains(r"[.,]")], decimal_hint)
        if decimal == ",":
            valid = grouped.str.fullmatch(r"(\d{1,3}(\.\d{3})+|\d+)(,\d+)?") | grouped.str.fullmatch(r",\d+")
            num = grouped.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        else:
            valid = grouped.str.fullmatch(r"(\d{1,3}(,\d{3})+|\d+)(\.\d+)?") | grouped.str.fullmatch(r"\.\d+")
            num = grouped.str.replace(",", "", regex=False)
        num = num.where(~sci, core)
        valid = (valid | sci) & matched
        parsed = pd.to_numeric(num.where(valid, ""), errors="coerce").to_numpy(dtype=float)
        parsed = np.where(neg.to_numpy(), -parsed, parsed)
        idx = np.flatnonzero(todo)
        good = valid.to_numpy() & ~np.isnan(parsed)
        out[idx[good]] = parsed[good]
        bad[idx[~good]] = True
        currency[idx] = code.to_numpy(dtype=object)
        percent[idx] = pct.to_numpy()
    bad |= nonfinite
    inf = np.isinf(out)
    bad |= inf
    out[inf] = np.nan
    rows_vals = expand(codes, out, np.nan).astype(float)
    rows_bad = expand(codes, bad, False).astype(bool)
    rows_blank = expand(codes, blank, True).astype(bool)
    cur_rows = None
    if any(c is not None for c in currency):
        cur_rows = pd.Series(expand(codes, currency, None), index=values.index, dtype=object)
    return NumberResult(rows_vals, rows_bad, rows_blank, bool(percent.any()), decimal, cur_rows, ambiguous)


# --- dates -------------------------------------------------------------------------------------
_ISO_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[T ]\S*|\s.*)")
_NUMERIC_DATE_RE = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})(?:$|[T ,]\s*.*)")
_SERIAL_RE = re.compile(r"^\d{5}(\.\d+)?$")


@dataclass
class DateResult:
    values: pd.Series  # datetime64[ns], NaT for blank or bad
    bad: np.ndarray
    blank: np.ndarray
    order: str | None = None  # "DMY" | "MDY" | None (no slashed dates)
    order_decided: bool = True  # False: every value fits both orders
    two_digit_years: bool = False
    serials: bool = False
    implausible: np.ndarray | None = None  # bool: outside PLAUSIBLE_YEARS


def date_order_evidence(values: pd.Series) -> tuple[int, int]:
    """(day-first evidence, month-first evidence): counts of slashed/dotted dates whose first
    or second part is above 12. Dotted dates (DD.MM.YYYY) count as day-first."""
    _, uniq = factorize(values)
    uniq = uniq.dropna().astype(str).str.strip()
    m = uniq.str.extract(_NUMERIC_DATE_RE)
    m = m.dropna(subset=[0])
    if m.empty:
        return 0, 0
    a, b = m[0].astype(int), m[2].astype(int)
    dotted = (m[1] == ".").sum()
    return int((a > 12).sum() + dotted), int((b > 12).sum())


def parse_dates(values: pd.Series, order_hint: str | None = None) -> DateResult:
    """Parse a column of date texts. ``order_hint`` ("DMY"/"MDY") decides day/month order when
    the column itself cannot (every day <= 12)."""
    codes, uniq = factorize(values)
    s = uniq.astype(str).str.strip()
    n = len(s)
    blank = s.str.casefold().isin(NA_TOKENS).to_numpy()
    year = np.full(n, -1, dtype=np.int64)
    month = np.full(n, -1, dtype=np.int64)
    day = np.full(n, -1, dtype=np.int64)
    done = blank.copy()
    # ISO / year-first
    iso = s.str.extract(_ISO_RE)
    ok = iso[0].notna().to_numpy() & ~done
    if ok.any():
        year[ok] = iso[0][ok].astype(int)
        month[ok] = iso[1][ok].astype(int)
        day[ok] = iso[2][ok].astype(int)
        done |= ok
    # slashed / dotted / dashed numeric dates
    num = s.str.extract(_NUMERIC_DATE_RE)
    okn = num[0].notna().to_numpy() & ~done
    order, decided, two_digit = None, True, False
    if okn.any():
        a = num[0][okn].astype(int).to_numpy()
        b = num[2][okn].astype(int).to_numpy()
        y = num[3][okn].astype(int).to_numpy()
        ylen = num[3][okn].str.len().to_numpy()
        dotted = (num[1][okn] == ".").to_numpy()
        if (ylen == 2).any():
            two_digit = True
            y = np.where(ylen == 2, np.where(y < 70, 2000 + y, 1900 + y), y)
        dmy_ev = int((a > 12).sum() + dotted.sum())
        mdy_ev = int((b > 12).sum())
        if dmy_ev and not mdy_ev:
            order = "DMY"
        elif mdy_ev and not dmy_ev:
            order = "MDY"
        elif dmy_ev and mdy_ev:
            order = "DMY" if dmy_ev >= mdy_ev else "MDY"  # the minority become errors below
        else:
            order = order_hint or "MDY"
            decided = order_hint is not None
        if order == "DMY":
            d_, m_ = a, b
        else:
            m_, d_ = a, b
        year[okn], month[okn], day[okn] = y, m_, d_
        done |= okn
    # Excel serial numbers (only when the rest of the column is not text dates)
    serial = s.str.fullmatch(_SERIAL_RE).to_numpy() & ~done
    used_serials = False
    if serial.any():
        v = s[serial].astype(float).to_numpy()
        okv = (v >= 10000) & (v <= 80000)
        ts = EXCEL_EPOCH + pd.to_timedelta(np.floor(v[okv]), unit="D")
        idx = np.flatnonzero(serial)[okv]
        year[idx], month[idx], day[idx] = ts.year, ts.month, ts.day
        done[idx] = True
        used_serials = bool(okv.any())
    # anything else with letters: "14-Mar-2022", "March 14, 2022", "14. März 2022"
    rest = ~done
    if rest.any():
        for i in np.flatnonzero(rest):
            text = s.iat[i]
            if not re.search(r"[A-Za-zäöüÄÖÜ]{3,}", text):
                continue
            try:
                ts = pd.to_datetime(_german_months(text), dayfirst=(order_hint == "DMY"))
            except (ValueError, OverflowError, TypeError):
                continue
            if ts is pd.NaT:
                continue
            year[i], month[i], day[i] = ts.year, ts.month, ts.day
            done[i] = True
    parsed = pd.to_datetime(pd.DataFrame({"year": np.where(done & ~blank, year, 2000),
                                          "month": np.where(done & ~blank, month, 1),
                                          "day": np.where(done & ~blank, day, 1)}), errors="coerce")
    valid = done & ~blank & parsed.notna().to_numpy()
    parsed = parsed.where(valid)
    bad = ~blank & ~valid
    yrs = parsed.dt.year
    implausible = (valid & ((yrs < PLAUSIBLE_YEARS[0]) | (yrs > PLAUSIBLE_YEARS[1])).to_numpy())
    rows = expand(codes, parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))
    return DateResult(
        values=pd.Series(pd.to_datetime(rows), index=values.index),
        bad=expand(codes, bad, False).astype(bool),
        blank=expand(codes, blank, True).astype(bool),
        order=order, order_decided=decided, two_digit_years=two_digit, serials=used_serials,
        implausible=expand(codes, implausible, False).astype(bool),
    )


_DE_MONTHS = {"januar": "January", "jänner": "January", "februar": "February", "märz": "March", "maerz": "March",
              "mai": "May", "juni": "June", "juli": "July", "oktober": "October", "dezember": "December",
              "okt": "Oct", "dez": "Dec", "mär": "Mar"}


def _german_months(text: str) -> str:
    out = text
    for de, en in _DE_MONTHS.items():
        out = re.sub(rf"\b{de}\b", en, out, flags=re.I)
    return out.replace(". ", " ")


# --- currencies ---------------------------------------------------------------------------------
#: Currency names as CRMs write them in a currency column (Dynamics: "US Dollar", "Euro").
CURRENCY_NAMES = {
    "us dollar": "USD", "u.s. dollar": "USD", "dollar": "USD", "united states dollar": "USD", "euro": "EUR",
    "pound sterling": "GBP", "british pound": "GBP", "pound": "GBP", "swiss franc": "CHF", "schweizer franken": "CHF",
    "canadian dollar": "CAD", "australian dollar": "AUD", "new zealand dollar": "NZD", "japanese yen": "JPY",
    "yen": "JPY", "chinese yuan": "CNY", "yuan renminbi": "CNY", "renminbi": "CNY", "indian rupee": "INR",
    "danish krone": "DKK", "swedish krona": "SEK", "norwegian krone": "NOK", "polish zloty": "PLN",
    "czech koruna": "CZK", "hungarian forint": "HUF", "mexican peso": "MXN", "brazilian real": "BRL",
    "singapore dollar": "SGD", "hong kong dollar": "HKD", "south african rand": "ZAR", "korean won": "KRW",
    "south korean won": "KRW", "turkish lira": "TRY", "israeli new shekel": "ILS", "uae dirham": "AED",
    "saudi riyal": "SAR", "russian ruble": "RUB", "argentine peso": "ARS", "chilean peso": "CLP",
    "colombian peso": "COP", "philippine peso": "PHP", "thai baht": "THB", "malaysian ringgit": "MYR",
    "indonesian rupiah": "IDR", "us-dollar": "USD",
}


def currency_code(text) -> str | None:
    """An ISO 4217 code from a currency cell: a code (any case), a name, or a symbol."""
    if text is None or (isinstance(text, float) and text != text):
        return None
    t = str(text).strip()
    if not t:
        return None
    key = re.sub(r"\s+", " ", t.casefold())
    if key in CURRENCY_NAMES:
        return CURRENCY_NAMES[key]
    if t in _SYMBOL_CODES:
        return _SYMBOL_CODES[t]
    return t.upper()


# --- booleans, statuses, categories --------------------------------------------------------------
TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1", "x", "ja", "j", "wahr", "won", "closed", "-1"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0", "nein", "falsch", "open"})


def parse_bools(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(value as float 1/0/NaN, bad mask)."""
    codes, uniq = factorize(values)
    s = uniq.astype(str).str.strip().str.casefold()
    out = np.where(s.isin(TRUE_TOKENS), 1.0, np.where(s.isin(FALSE_TOKENS), 0.0, np.nan))
    blank = s.isin(NA_TOKENS).to_numpy()
    bad = np.isnan(out) & ~blank
    return expand(codes, out, np.nan).astype(float), expand(codes, bad, False).astype(bool)


STATUS_WORDS: dict[str, str] = {
    "open": S.OPEN, "offen": S.OPEN, "active": S.OPEN, "aktiv": S.OPEN, "in progress": S.OPEN, "inprogress": S.OPEN,
    "on hold": S.OPEN, "pending": S.OPEN, "0": S.OPEN,
    "won": S.WON, "closed won": S.WON, "closedwon": S.WON, "gewonnen": S.WON, "win": S.WON, "1": S.WON,
    "lost": S.LOST, "closed lost": S.LOST, "closedlost": S.LOST, "verloren": S.LOST, "canceled": S.LOST,
    "cancelled": S.LOST, "out-sold": S.LOST, "outsold": S.LOST, "2": S.LOST,
}


def parse_statuses(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(status or None, blank mask, bad mask) for an explicit status column."""
    codes, uniq = factorize(values)
    s = uniq.astype(str).str.strip().str.casefold()
    out = s.map(STATUS_WORDS)
    blank = s.isin(NA_TOKENS).to_numpy()
    bad = out.isna().to_numpy() & ~blank
    out = out.where(out.notna(), None)
    return (expand(codes, out.to_numpy(dtype=object), None), expand(codes, blank, True).astype(bool),
            expand(codes, bad, False).astype(bool))


FORECAST_WORDS = {
    "pipeline": "pipeline", "bestcase": "best_case", "best case": "best_case", "best_case": "best_case",
    "upside": "best_case", "commit": "commit", "committed": "commit", "mostlikely": "commit", "most likely": "commit",
    "forecast": "commit", "closed": "closed", "won": "closed", "omitted": "omitted", "lost": "omitted",
    "omit": "omitted", "ausgelassen": "omitted", "abgeschlossen": "closed", "zusage": "commit",
}


def parse_forecast_categories(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(category or None, unknown mask) — unknown texts are kept lower-cased and flagged."""
    codes, uniq = factorize(values)
    s = uniq.astype(str).str.strip()
    key = s.str.casefold()
    out = key.map(FORECAST_WORDS)
    blank = key.isin(NA_TOKENS)
    unknown = out.isna() & ~blank
    out = out.where(~unknown, key)
    out = out.where(~blank, None)
    return expand(codes, out.to_numpy(dtype=object), None), expand(codes, unknown.to_numpy(), False).astype(bool)
