"""Checks every page test of Team and Reps applies: what is on screen (no NaN, None, raw column
names or CLI flags), the charts (titled, business axes, money in the currency, every rep named,
a caption under each, valid JSON for the browser) and readers of tiles and tables."""
from __future__ import annotations

import json
import re
import sqlite3
from contextlib import contextmanager

import pyarrow as pa

from salesops.cli import to_jsonable
from salesops.cli.core import kpis_doc
from salesops.filters import Filters

#: Words that must never reach a user.
FORBIDDEN = re.compile(r"\b(NaN|nan|None|NaT|inf|Infinity|opportunity_id|won_amount|win_rate|scope_name)\b|--[a-z]")
RAW_FIELDS = {"value", "amount", "won_amount", "period", "owner", "group", "win_rate", "avg_deal_size", "month", "k",
              "mean_won_amount", "ramp_factor", "name", "step", "deals", "date", "day", "x", "y", "attainment", "bar"}
CHART_TYPES = ("vega_lite_chart", "arrow_vega_lite_chart")
#: Widgets whose value is the program's choice, not text on screen (their labels and options are).
WIDGETS = ("selectbox", "multiselect", "radio", "button_group", "date_input", "checkbox", "toggle", "text_input",
           "number_input", "slider", "select_slider", "segmented_control", "pills", "button", "download_button")


@contextmanager
def held_open(db):
    """Keep one reader connection on ``db`` while a test runs. Works around a race in
    store.load_deal_facts (two read-only ADBC connections opening a WAL database whose index
    is not open yet sometimes get "database is locked"; reported to the lead)."""
    conn = sqlite3.connect(db)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    try:
        yield db
    finally:
        conn.close()


def truth(ws, period, as_of=None, fields=None, by=None):
    """The `kpis --json` document (cli.core.kpis_doc, what the command prints) for these
    options on a workspace loaded once, as JSON carries it (NaN -> null)."""
    f = Filters.make(ws, period=period, as_of=as_of, **(fields or {}))
    f.check(ws)
    return json.loads(json.dumps(to_jsonable(kpis_doc(ws, f, by))))


def _children(block):
    kids = getattr(block, "children", None)
    if isinstance(kids, dict):
        return [kids[k] for k in sorted(kids)]
    return []


def walk(block):
    for node in _children(block):
        yield node
        yield from walk(node)


def _strict(text: str, what: str) -> None:
    def bad(token):
        raise AssertionError(f"{what} holds {token}, which is not valid JSON for the browser")
    json.loads(text, parse_constant=bad)


def _arrow_metadata(data: bytes, what: str) -> None:
    if not data:
        return
    table = pa.ipc.open_stream(data).read_all()
    meta = (table.schema.metadata or {}).get(b"pandas")
    if meta:
        _strict(meta.decode(), f"{what} (Arrow pandas metadata)")


def texts(at):
    """Every user-facing string in the main area: (element type, text)."""
    out = []
    for node in walk(at.main):
        kind = getattr(node, "type", "")
        if kind in CHART_TYPES or kind == "arrow_data_frame" or kind == "dataframe":
            continue
        attrs = ("label", "help", "placeholder") if kind in WIDGETS else ("value", "label", "body", "delta", "help")
        for attr in attrs:
            try:
                v = getattr(node, attr, None)
            except Exception:  # noqa: BLE001 - some elements raise for attributes they do not have
                continue
            if isinstance(v, str):
                out.append((kind, v))
        for attr in ("options",):
            v = getattr(node, attr, None)
            if isinstance(v, (list, tuple)):
                out += [(kind, str(o)) for o in v]
    return out


def check_clean(at) -> None:
    """No exception; no NaN/None/raw names/CLI flags in any text; tables show missing values
    as a placeholder (never "None"), hold no raw text like "nan", and carry valid JSON."""
    assert not at.exception, [e.value for e in at.exception]
    for kind, text in texts(at):
        m = FORBIDDEN.search(text.replace("\\", ""))
        assert m is None, f"{kind}: {m.group(0)!r} in {text!r}"
    for df in at.dataframe:
        frame = df.value
        for col in frame.columns:
            assert FORBIDDEN.search(str(col)) is None, col
            if frame[col].dtype == object:
                bad = [v for v in frame[col] if isinstance(v, str) and FORBIDDEN.search(v)]
                assert not bad, (col, bad[:3])
        if frame.isna().to_numpy().any():
            assert df.proto.placeholder not in ("", "None", "NaN", "nan"), "missing values would show as 'None'"
        _arrow_metadata(df.proto.arrow_data.data, "a table")
    for spec, _ in chart_specs_with_next(at):
        pass  # parsed strictly inside chart_specs_with_next


def chart_specs_with_next(at):
    """(spec, the element right after the chart in its container) for every chart on the page;
    each spec and each dataset must be valid JSON (no NaN) for the browser."""
    out = []

    def visit(block):
        kids = _children(block)
        for i, node in enumerate(kids):
            if getattr(node, "type", "") in CHART_TYPES:
                _strict(node.proto.spec, "a chart spec")
                for ds in node.proto.datasets:
                    _arrow_metadata(ds.data.data, "a chart's data")
                _arrow_metadata(node.proto.data.data, "a chart's data")
                out.append((json.loads(node.proto.spec), kids[i + 1] if i + 1 < len(kids) else None))
            visit(node)

    visit(at.main)
    return out


def _encodings(spec):
    encs = []
    if "encoding" in spec:
        encs.append(spec["encoding"])
    for layer in spec.get("layer", []):
        encs.extend(_encodings(layer))
    return encs


def check_charts(at, currency_symbol="$", min_charts=1):
    """Every chart: a title, axis titles in words (not raw field names), money axes in the
    currency, a caption right under it; a chart listing reps, teams or managers grows with
    them (a height per row) and never cuts their names."""
    charts = chart_specs_with_next(at)
    assert len(charts) >= min_charts, len(charts)
    for spec, nxt in charts:
        title = spec.get("title")
        text = title.get("text") if isinstance(title, dict) else title
        assert text and len(text) > 5, spec.get("title")
        assert nxt is not None and getattr(nxt, "type", "") == "caption", f"no caption under {text!r}"
        assert nxt.value.strip() and "\n" not in nxt.value.strip(), text
        titled_axes = 0
        for enc in _encodings(spec):
            for ch in ("x", "y"):
                e = enc.get(ch)
                if not e or "field" not in e:
                    continue
                axis = e.get("axis") or {}
                if ch == "y" and e.get("type") == "nominal" and e["field"] in ("owner", "name"):
                    assert axis.get("labelLimit", 0) >= 300, (text, "rep names would be cut")
                    height = spec.get("height")
                    assert isinstance(height, dict) and "step" in height, (text, "height must grow with the rows")
                t = e.get("title") or axis.get("title")
                if t is None:
                    continue  # a secondary layer sharing the first layer's axis
                titled_axes += 1
                assert t not in RAW_FIELDS and t.strip(), (text, ch, t)
                if "labelExpr" in axis:  # a money axis
                    assert currency_symbol in axis["labelExpr"], text
                    assert "(" in t, (text, t)  # e.g. "Bookings (USD)"
        assert titled_axes >= 2, f"{text!r}: both axes need a title"


def tiles(at) -> dict:
    """{label: (value, delta)} of every tile on the page."""
    return {m.label: (m.value, m.delta or None) for m in at.metric}


def unescape(text: str) -> str:
    """A caption as the user reads it (Markdown escapes removed)."""
    return re.sub(r"\\(.)", r"\1", text)


def captions(at) -> list[str]:
    return [unescape(c.value) for c in at.caption]
