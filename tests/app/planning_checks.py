"""What the Goals and Compensation page tests read off an AppTest: every visible text, the
tables, the charts; and the checks that nothing unfinished shows (NaN, None, a column name)."""
from __future__ import annotations

import json
import re

import pandas as pd
from streamlit.testing.v1 import AppTest

from salesops.ui import context
from tests.app.conftest import APP, no_exceptions

#: Streamlit element types whose ``value`` (or ``label``) is text a user reads.
TEXT_ELEMENTS = ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error", "success")
SNAKE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")


def open_page(page: str, db, monkeypatch, *, period: str | None = None, fiscal_start: int = 1,
              filters: dict | None = None, timeout: float = 180) -> AppTest:
    """A run AppTest of app.py on ``db`` that starts on ``page`` (no Overview run first), with
    the sidebar's period label (of the Quarter kind by default) and filters already chosen."""
    monkeypatch.setenv("SALESOPS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.switch_page(page)
    if period is not None:
        at.session_state[context.K_PERIOD] = period
        at.session_state[context.K_FISCAL] = fiscal_start
    for name, values in (filters or {}).items():
        at.session_state[context.K_FILTERS[name]] = list(values)
    at.run()
    return at


def plain(text: str) -> str:
    """Markdown-escaped text (widgets.plain) as the user reads it."""
    return re.sub(r"\\(.)", r"\1", str(text))


def texts(at) -> list[str]:
    out = []
    for kind in TEXT_ELEMENTS:
        out += [plain(e.value) for e in at.get(kind)]
    for m in at.metric:
        out += [m.label, m.value] + ([str(m.delta)] if m.delta else [])
    for kind in ("radio", "selectbox", "select_slider", "number_input", "text_input", "checkbox", "button", "multiselect"):
        out += [str(w.label) for w in at.get(kind)]
    return out


def tiles(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table(at, first_column: str, containing: str | None = None) -> pd.DataFrame:
    """The first shown table whose first column is ``first_column`` (and that has ``containing``)."""
    for d in at.dataframe:
        v = d.value
        if len(v.columns) and v.columns[0] == first_column and (containing is None or containing in v.columns):
            return v
    raise AssertionError(f"no table starting with {first_column!r} among {[list(d.value.columns) for d in at.dataframe]}")


def assert_clean(at, editors: tuple = ("rep", "manual", "from_pct", "to_pct", "rate", "name", "field", "value", "amount")) -> None:
    """No exception, no "NaN"/"None"/"nan", no snake_case column name, no empty number cell,
    no NaN in a chart."""
    no_exceptions(at)
    for t in texts(at):
        assert "NaN" not in t and "None" not in t and "nan" not in t.lower().split(), t
    for d in at.dataframe:
        v = d.value
        if set(v.columns) <= set(editors):      # the designer's editors: their own column names are set in column_config
            continue
        for c in v.columns:
            assert not SNAKE.match(str(c)), f"column name {c!r} on screen"
            assert not v[c].isna().any(), f"an empty cell ('None' on screen) in {c!r}: {v[c].tolist()}"
            assert not v[c].astype(str).isin(["None", "nan", "NaN"]).any(), c
    for chart in at.get("vega_lite_chart"):
        spec = chart.proto.spec
        assert "NaN" not in spec, spec[:300]
        assert json.loads(spec).get("title"), "a chart without a title"
