"""Exports and decks.

* **Safe CSV and XLSX**: every text cell a spreadsheet would run as a formula (beginning with
  = + - @ tab or CR) gets a leading apostrophe (RELIABILITY.md promise 5); numbers stay numbers,
  dates stay dates, column names are business names (:func:`export_table`).
* **Decks** of a :class:`salesops.review.Review`: PowerPoint (python-pptx: charts as PNG pictures
  rendered from the same Altair specs with vl-convert, native tables, presenter notes), a PDF of
  the same slides (fpdf2: a pure-Python PDF writer, no office suite needed) and one offline HTML
  file (inline CSS, charts as embedded PNG, every text escaped: nothing is fetched when it opens).
  Each slide's footer states the as-of date, the slice, the imports and the definitions version.
"""
from __future__ import annotations

import base64
import html
import io
import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from . import formats
from . import schema as S
from .errors import InputError

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DECK_FORMATS = ("pptx", "pdf", "html")
EXPORT_FORMATS = ("csv", "xlsx")
#: Table rows a slide shows (the page shows them all, with downloads).
SLIDE_TABLE_ROWS = 10


# =============================================================================================
# Safe cells
# =============================================================================================
def neutralise(value):
    """One cell: text that starts like a formula gets a leading ``'``; other values pass."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) neutralised. Text columns
    (object, string or categorical) are checked cell by cell; numbers, dates and booleans are
    left as they are (a negative number is a number, not a formula)."""
    out = frame.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for i, col in enumerate(out.columns):
        series = out.iloc[:, i]
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            out.isetitem(i, series.map(neutralise).astype(object))
        elif isinstance(series.dtype, pd.DatetimeTZDtype):  # Excel has no time zones
            out.isetitem(i, series.dt.tz_localize(None))
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with BOM so Excel reads it as UTF-8), cells neutralised, CRLF line ends (so
    that a cell holding a carriage return is quoted and stays one cell)."""
    return neutralise_cells(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def to_xlsx_bytes(frame: pd.DataFrame, sheet_name: str = "data") -> bytes:
    """An XLSX workbook with one sheet, cells neutralised, numbers as numbers, dates as dates."""
    buf = io.BytesIO()
    safe = neutralise_cells(frame)
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        safe.to_excel(writer, index=False, sheet_name=_sheet(sheet_name))
    return buf.getvalue()


def _sheet(name: str) -> str:
    bad = set('[]:*?/\\')
    return "".join(c for c in str(name) if c not in bad)[:31] or "data"


def write_table(frame: pd.DataFrame, out: str | Path, sheet_name: str = "data") -> Path:
    """Write ``frame`` to ``out`` as CSV or XLSX (by its suffix), cells neutralised."""
    path = Path(out)
    kind = path.suffix.lower().lstrip(".")
    if kind not in EXPORT_FORMATS:
        raise InputError(f"--out {str(out)!r}: the file must end in .csv or .xlsx")
    data = to_csv_bytes(frame) if kind == "csv" else to_xlsx_bytes(frame, sheet_name)
    _write(path, data)
    return path


def _write(path: Path, data: bytes) -> None:
    if path.parent and not path.parent.exists():
        raise InputError(f"--out {str(path)!r}: the folder {str(path.parent)!r} does not exist")
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)  # a reader never sees half a file


# =============================================================================================
# Business tables for exports (export --what ...)
# =============================================================================================
#: Business names of deal columns in exports (the tables' names on the pages).
DEAL_LABELS = {"opportunity_id": "Deal id", "name": "Deal", "account": "Account", "owner": "Rep", "stage": "Stage",
               "status": "Status", "status_as_of": "Status on the as-of date", "amount": "Amount",
               "probability": "Probability", "created_date": "Created", "close_date": "Close date", "region": "Region",
               "segment": "Segment", "product": "Product", "type": "Deal type", "lead_source": "Lead source",
               "industry": "Industry", "manager": "Manager", "team": "Team", "forecast_category": "Forecast category",
               "loss_reason": "Loss reason", "pipeline": "Pipeline", "currency": "Currency"}
EXPORTS = ("deals", "kpis", "reps", "pipeline", "forecast", "payouts", "goals")


def business_frame(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """``columns`` ({column: label or (label, kind)}) of ``frame`` in that order under their
    labels; values untouched (fractions stay fractions)."""
    out = {}
    for col, spec in columns.items():
        if col in frame.columns:
            out[spec[0] if isinstance(spec, tuple) else spec] = frame[col].reset_index(drop=True)
    return pd.DataFrame(out)


def _kpi_columns(first: tuple[str, str] | None = None) -> dict:
    from .metrics import KPIS

    cols = {first[0]: first[1]} if first else {}
    cols.update({name: k.label for name, k in KPIS.items()})
    cols.update({"win_rate_low": "Win rate, 80% interval low", "win_rate_high": "Win rate, 80% interval high",
                 "target_label": "Target used"})
    return cols


def export_table(ws, f, what: str, *, by: str | None = None, plan=None) -> pd.DataFrame:
    """The table ``export --what`` writes for the filters' period and slice, with business
    column names, from the same functions as the pages: deals (closing in the period, with
    their status on the as-of date), kpis (metrics.kpis, optionally ``by`` a field), reps
    (metrics.kpis by rep), pipeline (the movement waterfall), forecast (what was called vs
    what landed, and the landing zone now), payouts (a comp ``plan``: compensation.payouts, as the Compensation page),
    goals (each rep's published target of the period with bookings and attainment)."""
    from . import metrics, review

    if what not in EXPORTS:
        raise InputError(f"--what {what!r} is not an export; use one of {', '.join(EXPORTS)}")
    p = f.period
    if what == "deals":
        facts = f.facts(ws)
        states = metrics.deal_states(facts, f.as_of)
        close = facts[S.CLOSE_DATE].to_numpy(dtype="datetime64[ns]")
        inside = (close >= np.datetime64(pd.Timestamp(p.start))) & (close <= np.datetime64(pd.Timestamp(p.end))) & states["created_ok"]
        status = np.where(states["won"], S.WON, np.where(states["lost"], S.LOST, S.OPEN))
        rows = ws.deal_rows(list(facts.index[inside]))
        rows = rows.assign(status_as_of=status[inside])
        return business_frame(rows, DEAL_LABELS)
    if what == "kpis":
        rows = metrics.kpis(ws, f, by)
        return business_frame(rows, _kpi_columns(("group", DEAL_LABELS.get(by, "Group") if by else "Group")))
    if what == "reps":
        return business_frame(metrics.kpis(ws, f, S.OWNER), _kpi_columns(("group", "Rep")))
    if what == "pipeline":
        slide = review.movement(ws, f)
        if slide.table is None:
            raise InputError("pipeline movement needs two snapshots of the CRM export up to the as-of date")
        frame = business_frame(slide.table, {c: spec for c, spec in slide.columns.items()})
        frame.insert(0, "To snapshot", slide.figures["to"])
        frame.insert(0, "From snapshot", slide.figures["from"])
        return frame
    if what == "forecast":
        calls = review.forecast_calls(ws, f)
        if p.end >= f.as_of and f.as_of >= p.start:
            from . import outlook

            lz = outlook.summary(outlook.landing_zone(ws, f))
            calls = pd.concat([calls, pd.DataFrame([{"call": f"Landing zone on {f.as_of:%d %b %Y}", "as_of": f.as_of.isoformat(),
                                                      "p10": lz["p10"], "p50": lz["p50"], "p90": lz["p90"]}])], ignore_index=True)
        return business_frame(calls, {"call": "Call", "as_of": "Called on", "p10": "P10", "p50": "Median call",
                                      "p90": "P90", "actual": "Landed", "error": "Landed vs call", "inside": "Inside the 80% range"})
    if what == "payouts":
        from . import compensation

        if plan is None:
            raise InputError("export --what payouts needs a comp plan: --plan FILE.json, or save one on the Compensation page")
        res = compensation.payouts(ws, f.with_period(p), plan)  # what the Compensation page shows
        return business_frame(res.payouts, {"rep": "Rep", "quota": "Quota", "achieved": "Achieved", "attainment": "Attainment",
                                            "commission": "Commission", "spif": "SPIFs", "clawback": "Clawback",
                                            "draw_top_up": "Draw top-up", "total": "Total payout"})
    # goals
    rows = metrics.kpis(ws, f, S.OWNER)
    rows = rows[rows["target"].notna()]
    return business_frame(rows, {"group": "Rep", "target": "Goal (published target)", "won_amount": "Bookings",
                                 "attainment": "Attainment", "open_pipeline": "Open pipeline", "coverage": "Pipeline coverage"})


def saved_plan(ws, path: str | None = None):
    """The comp plan of ``path`` (a JSON file), or else the newest plan saved on the
    Compensation page; None when there is none."""
    from . import compensation

    if path:
        return compensation.load_plan_file(path)
    saved = ws.saved("comp_plans")
    if saved.empty:
        return None
    newest = saved.sort_values(["created_at", "version"]).iloc[-1]
    doc = ws.load_saved("comp_plans", newest["name"], int(newest["version"]))
    return compensation.parse_plan(doc, source=f"the saved plan {newest['name']!r}") if doc else None


# =============================================================================================
# Cells and charts for decks
# =============================================================================================
def format_cell(value, kind: str, currency: str = "USD") -> str:
    """A table cell as a deck shows it: full money, percentages with one decimal, dates."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return formats.MISSING
    try:
        if pd.isna(value):
            return formats.MISSING
    except (TypeError, ValueError):
        pass
    if kind in ("money", "money_per_day"):
        return formats.money(value, currency, compact=False) + ("/day" if kind == "money_per_day" else "")
    if kind == "pct":
        return formats.pct(value, 1)
    if kind == "count":
        return formats.number(value)
    if kind == "days":
        return formats.days(value)
    if kind == "ratio":
        return formats.ratio(value)
    if kind == "number":
        return formats.number(value, 1)
    if kind == "date":
        try:
            return pd.Timestamp(value).strftime("%d %b %Y")
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return str(value)


def slide_rows(slide, currency: str, limit: int | None = SLIDE_TABLE_ROWS) -> tuple[list[str], list[list[str]]]:
    """(header, rows of text) of a slide's table, at most ``limit`` rows."""
    if slide.table is None or slide.table.empty:
        return [], []
    cols = [c for c in slide.columns if c in slide.table.columns]
    if slide.chart is not None and limit is not None:
        cols = cols[:SLIDE_TABLE_COLUMNS]
    frame = slide.table if limit is None else slide.table.head(limit)
    header = [slide.columns[c][0] for c in cols]
    rows = [[format_cell(v, slide.columns[c][1], currency) for c, v in zip(cols, rec)]
            for rec in frame[cols].itertuples(index=False, name=None)]
    return header, rows


def chart_png(chart, width: int | None = None, height: int | None = None, scale: float = 2.0) -> bytes:
    """A PNG of an Altair chart rendered from its own Vega-Lite spec with vl-convert (offline)."""
    import vl_convert as vlc

    sized = chart
    if width is not None or height is not None:
        props = {k: v for k, v in (("width", width), ("height", height)) if v is not None}
        sized = chart.properties(**props)
    spec = sized.to_json()
    return vlc.vegalite_to_png(spec, scale=scale)


def _png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.size


#: Table columns a slide shows beside a chart (the page and the downloads have them all).
SLIDE_TABLE_COLUMNS = 5


def _slide_png(slide, full: bool) -> bytes | None:
    """The slide's chart as PNG, sized for the deck's box; rendered once per slide and size
    (the PowerPoint, PDF and HTML of one review share it)."""
    if slide.chart is None:
        return None
    size = (1100, 300 if slide.tiles else 420) if full else (600, 290 if slide.tiles else 400)
    cache = slide.__dict__.setdefault("_png", {})
    if size not in cache:
        cache[size] = chart_png(slide.chart, width=size[0], height=size[1])
    return cache[size]


# =============================================================================================
# PowerPoint
# =============================================================================================
def to_pptx_bytes(rv) -> bytes:
    """The review as a 16:9 PowerPoint deck: per slide a title, the sentence, the tiles, the
    chart as a picture, the table as a native table, the footer and presenter notes."""
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.enum.shapes import MSO_SHAPE
    from pptx.util import Emu, Inches, Pt

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    blank = prs.slide_layouts[6]
    grey, dark, accent = RGBColor(0x5F, 0x63, 0x68), RGBColor(0x20, 0x21, 0x24), RGBColor(0x15, 0x65, 0xC0)

    def text(sl, left, top, width, height, value, size, bold=False, color=dark):
        box = sl.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
        tf = box.text_frame
        tf.word_wrap = True
        para = tf.paragraphs[0]
        run = para.add_run()
        run.text = value
        run.font.size, run.font.bold, run.font.color.rgb = Pt(size), bold, color
        return box

    for n, s in enumerate(rv.slides, start=1):
        sl = prs.slides.add_slide(blank)
        text(sl, 0.5, 0.3, 12.3, 0.8, s.title, 30, bold=True, color=accent)
        text(sl, 0.5, 1.05, 12.3, 1.0, s.sentence, 18)
        top = 2.2
        if s.tiles:
            w = 12.3 / len(s.tiles)
            for i, t in enumerate(s.tiles):
                shape = sl.shapes.add_shape(MSO_SHAPE.ROUNDED_RECTANGLE, Inches(0.5 + i * w + 0.05), Inches(top),
                                            Inches(w - 0.1), Inches(1.05))
                shape.fill.solid()
                shape.fill.fore_color.rgb = RGBColor(0xF1, 0xF3, 0xF4)
                shape.line.color.rgb = RGBColor(0xDA, 0xDC, 0xE0)
                tf = shape.text_frame
                tf.word_wrap = True
                for j, (value, size, bold, color) in enumerate(((t.label, 11, False, grey), (t.value, 22, True, dark),
                                                                (t.note or "", 10, False, grey))):
                    para = tf.paragraphs[0] if j == 0 else tf.add_paragraph()
                    run = para.add_run()
                    run.text = value
                    run.font.size, run.font.bold, run.font.color.rgb = Pt(size), bold, color
            top += 1.2
        header, rows = slide_rows(s, rv.currency)
        full = not header
        png = _slide_png(s, full)
        bottom = 6.85
        if png:
            box_w, box_h = (12.3 if full else 7.3), bottom - top
            pw, ph = _png_size(png)
            scale = min(box_w / pw, box_h / ph)
            sl.shapes.add_picture(io.BytesIO(png), Inches(0.5), Inches(top), Emu(int(Inches(pw * scale))),
                                  Emu(int(Inches(ph * scale))))
        if header:
            left = 0.5 if not png else 8.0
            width = 12.3 if not png else 4.8
            height = min(bottom - top, 0.3 * (len(rows) + 1))
            shape = sl.shapes.add_table(len(rows) + 1, len(header), Inches(left), Inches(top), Inches(width), Inches(height))
            table = shape.table
            for j, h in enumerate(header):
                table.cell(0, j).text = h
            for i, r in enumerate(rows, start=1):
                for j, v in enumerate(r):
                    table.cell(i, j).text = v
            for i in range(len(rows) + 1):
                for j in range(len(header)):
                    for para in table.cell(i, j).text_frame.paragraphs:
                        for run in para.runs:
                            run.font.size = Pt(9 if len(header) > 4 else 10)
        text(sl, 0.5, 6.95, 11.6, 0.4, rv.footer, 9, color=grey)
        text(sl, 12.2, 6.95, 0.7, 0.4, f"{n} / {len(rv.slides)}", 9, color=grey)
        sl.notes_slide.notes_text_frame.text = s.notes
    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()


# =============================================================================================
# PDF
# =============================================================================================
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")


def _font_files() -> tuple[Path, Path] | None:
    for d in FONT_DIRS:
        regular, bold = Path(d) / "DejaVuSans.ttf", Path(d) / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            return regular, bold
    return None


def to_pdf_bytes(rv) -> bytes:
    """The same slides as a PDF, one 16:9 landscape page each (fpdf2). Uses DejaVu Sans when
    the system has it (every character of any name); else the PDF core font, with characters
    outside Latin-1 replaced."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", unit="mm", format=(190.5, 338.67))
    pdf.set_auto_page_break(False)
    pdf.set_margins(12, 8, 12)
    fonts = _font_files()
    if fonts:
        pdf.add_font("deck", "", str(fonts[0]))
        pdf.add_font("deck", "B", str(fonts[1]))
        family = "deck"
        clean = lambda t: str(t)  # noqa: E731
    else:
        family = "helvetica"
        clean = lambda t: str(t).replace("–", "-").replace("—", "-").replace("·", "|").replace("−", "-").encode(  # noqa: E731
            "latin-1", "replace").decode("latin-1")
    pdf.set_title(clean(f"{rv.period_label} business review"))
    pdf.set_creator("salesops")
    W = 338.67 - 24
    for n, s in enumerate(rv.slides, start=1):
        pdf.add_page()
        pdf.set_text_color(0x15, 0x65, 0xC0)
        pdf.set_font(family, "B", 24)
        pdf.set_xy(12, 9)
        pdf.multi_cell(W, 11, clean(s.title))
        pdf.set_text_color(0x20, 0x21, 0x24)
        pdf.set_font(family, "", 14)
        pdf.set_xy(12, 24)
        pdf.multi_cell(W, 7, clean(s.sentence))
        top = 50
        if s.tiles:
            w = W / len(s.tiles)
            for i, t in enumerate(s.tiles):
                x = 12 + i * w
                pdf.set_fill_color(0xF1, 0xF3, 0xF4)
                pdf.set_draw_color(0xDA, 0xDC, 0xE0)
                pdf.rect(x + 1, top, w - 2, 26, style="DF", round_corners=True, corner_radius=2)
                pdf.set_xy(x + 3, top + 2)
                pdf.set_font(family, "", 9)
                pdf.set_text_color(0x5F, 0x63, 0x68)
                pdf.cell(w - 6, 5, clean(t.label))
                pdf.set_xy(x + 3, top + 8)
                pdf.set_font(family, "B", 17)
                pdf.set_text_color(0x20, 0x21, 0x24)
                pdf.cell(w - 6, 9, clean(t.value))
                pdf.set_xy(x + 3, top + 18)
                pdf.set_font(family, "", 8)
                pdf.set_text_color(0x5F, 0x63, 0x68)
                pdf.cell(w - 6, 5, clean(t.note or ""))
            top += 30
        header, rows = slide_rows(s, rv.currency)
        png = _slide_png(s, not header)
        bottom = 176
        if png:
            box_w, box_h = (W if not header else 190), bottom - top
            pw, ph = _png_size(png)
            scale = min(box_w / pw, box_h / ph)
            pdf.image(io.BytesIO(png), x=12, y=top, w=pw * scale, h=ph * scale)
        if header:
            left = 12 if not png else 207
            width = W if not png else W - 195
            pdf.set_xy(left, top)
            pdf.set_font(family, "", 7 if len(header) > 4 else 8)
            pdf.set_text_color(0x20, 0x21, 0x24)
            pdf.set_left_margin(left)
            with pdf.table(width=width, line_height=4.2, text_align="LEFT", first_row_as_headings=True,
                           align="LEFT") as table:
                for r in [header, *rows]:
                    row = table.row()
                    for v in r:
                        row.cell(clean(v))
            pdf.set_left_margin(12)
        pdf.set_xy(12, 180)
        pdf.set_font(family, "", 7.5)
        pdf.set_text_color(0x5F, 0x63, 0x68)
        pdf.cell(W - 20, 5, clean(rv.footer))
        pdf.set_xy(12 + W - 20, 180)
        pdf.cell(20, 5, f"{n} / {len(rv.slides)}", align="R")
    return bytes(pdf.output())


# =============================================================================================
# Offline HTML
# =============================================================================================
HTML_CSS = """
body{margin:0;background:#E8EAED;font-family:"Source Sans Pro","Segoe UI",Helvetica,Arial,sans-serif;color:#202124}
.slide{box-sizing:border-box;width:1280px;min-height:720px;margin:24px auto;background:#fff;padding:32px 44px 20px;
  box-shadow:0 1px 4px rgba(0,0,0,.2);display:flex;flex-direction:column;page-break-after:always}
h1{color:#1565C0;font-size:34px;margin:0 0 8px}
.sentence{font-size:22px;line-height:1.35;margin:0 0 16px}
.tiles{display:flex;gap:12px;margin-bottom:16px}
.tile{flex:1;background:#F1F3F4;border:1px solid #DADCE0;border-radius:8px;padding:10px 14px}
.tile .label{font-size:14px;color:#5F6368}.tile .value{font-size:30px;font-weight:700}.tile .note{font-size:13px;color:#5F6368}
.body{display:flex;gap:20px;flex:1;align-items:flex-start}.body img{max-width:100%;height:auto}
.chart{flex:3}.table{flex:2;overflow:auto}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border-bottom:1px solid #E0E0E0;padding:4px 6px;text-align:left}
th{background:#F8F9FA}
details{font-size:13px;color:#5F6368;margin-top:10px;white-space:pre-wrap}
footer{font-size:12px;color:#5F6368;margin-top:auto;padding-top:10px;display:flex;justify-content:space-between}
@media print{body{background:#fff}.slide{margin:0;box-shadow:none}}
"""


def to_html_bytes(rv) -> bytes:
    """The review as one self-contained HTML file: inline CSS, charts as PNG data URIs, every
    text escaped, no script and no address of any network host (nothing loads when opened)."""
    e = lambda t: html.escape(str(t), quote=True)  # noqa: E731
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; style-src \'unsafe-inline\'">',
             f"<title>{e(rv.period_label)} business review</title><style>{HTML_CSS}</style></head><body>"]
    for n, s in enumerate(rv.slides, start=1):
        parts.append(f'<section class="slide" id="slide-{n}"><h1>{e(s.title)}</h1><p class="sentence">{e(s.sentence)}</p>')
        if s.tiles:
            parts.append('<div class="tiles">' + "".join(
                f'<div class="tile"><div class="label">{e(t.label)}</div><div class="value">{e(t.value)}</div>'
                f'<div class="note">{e(t.note or "")}</div></div>' for t in s.tiles) + "</div>")
        header, rows = slide_rows(s, rv.currency)
        png = _slide_png(s, not header)
        parts.append('<div class="body">')
        if png:
            parts.append(f'<div class="chart"><img alt="{e(s.title)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"></div>')
        if header:
            parts.append('<div class="table"><table><thead><tr>' + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>"
                         + "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in r) + "</tr>" for r in rows) + "</tbody></table></div>")
        parts.append("</div>")
        parts.append(f"<details><summary>Presenter notes</summary>{e(s.notes)}</details>")
        parts.append(f"<footer><span>{e(rv.footer)}</span><span>{n} / {len(rv.slides)}</span></footer></section>")
    parts.append("</body></html>")
    return "\n".join(parts).encode("utf-8")


def deck_bytes(rv, kind: str) -> bytes:
    """The review as ``kind`` (pptx, pdf or html)."""
    if kind == "pptx":
        return to_pptx_bytes(rv)
    if kind == "pdf":
        return to_pdf_bytes(rv)
    if kind == "html":
        return to_html_bytes(rv)
    raise InputError(f"a deck is .pptx, .pdf or .html, not .{kind}")


def write_deck(rv, out: str | Path) -> Path:
    """Write the review to ``out``; the format follows the suffix (.pptx, .pdf, .html)."""
    path = Path(out)
    kind = path.suffix.lower().lstrip(".")
    if kind not in DECK_FORMATS:
        raise InputError(f"--out {str(out)!r}: the deck must end in .pptx, .pdf or .html")
    _write(path, deck_bytes(rv, kind))
    return path


def deck_name(rv, kind: str) -> str:
    """A file name for a download: review-2026Q3-2026-11-20.pptx."""
    stamp = rv.as_of.isoformat() if isinstance(rv.as_of, (date, datetime)) else str(rv.as_of)
    return f"review-{rv.period_label}-{stamp}.{kind}".replace("..", "_").replace("/", "-")
