"""`report` writes the quarterly review as a deck: PowerPoint (pictures, native tables, notes,
the quarter's bookings as `kpis` gives them), a PDF of the same slides (each page rendered by
pdftoppm has content) and an offline HTML file (nothing to fetch from any host)."""
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from salesops import metrics, reports, review, workspace
from salesops.cli import main
from salesops.filters import Filters

K = metrics.KPIS
PERIOD = "2026Q3"
pytestmark = pytest.mark.slow  # builds the whole review (two landing zones) and draws every chart


@pytest.fixture(scope="module")
def deck(_demo_template, tmp_path_factory):
    """One `report` run for a demo quarter, and the same review built in process."""
    out = tmp_path_factory.mktemp("deck") / "review.pptx"
    assert main(["--db", str(_demo_template), "report", "--period", PERIOD, "--out", str(out)]) == 0
    ws = workspace.load(_demo_template)
    rv = review.build(ws, Filters.make(ws, PERIOD))
    return out, rv


@pytest.fixture(scope="module")
def kpis_row(_demo_template):
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["--db", str(_demo_template), "kpis", "--period", PERIOD, "--json"]) == 0
    return json.loads(buf.getvalue())["rows"][0]


def test_pptx_has_the_slides_pictures_tables_notes_and_the_bookings_of_kpis(deck, kpis_row):
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    prs = Presentation(str(deck[0]))
    slides = list(prs.slides)
    assert len(slides) >= 8
    pictures = [sh for sl in slides for sh in sl.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert len(pictures) >= 6
    assert all(p.image.content_type == "image/png" and len(p.image.blob) > 5000 for p in pictures)
    tables = [sh for sl in slides for sh in sl.shapes if sh.has_table]
    assert len(tables) >= 6
    text = "\n".join(sh.text_frame.text for sl in slides for sh in sl.shapes if sh.has_text_frame)
    cells = "\n".join(c.text for t in tables for row in t.table.rows for c in row.cells)
    won = kpis_row["won_amount"]
    assert K["won_amount"].format(won) in text                       # "$9.2M" in the sentence and tiles
    assert K["won_amount"].format(won, compact=False) in text + cells  # "$9,204,100" to the dollar
    assert K["attainment"].format(kpis_row["attainment"]) in text
    footer = f"As of 20 Nov 2026 · whole company · built from"
    assert all(any(footer in sh.text_frame.text and metrics.definitions_version() in sh.text_frame.text
                   for sh in sl.shapes if sh.has_text_frame) for sl in slides)
    notes = [sl.notes_slide.notes_text_frame.text for sl in slides]
    assert all(K["won_amount"].definition in n or "Definitions version" in n for n in notes)
    assert K["won_amount"].definition in notes[1]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm is not installed (apt-get install poppler-utils)")
def test_pdf_has_the_same_slides_and_every_page_has_content(deck, tmp_path):
    rv = deck[1]
    pdf = tmp_path / "review.pdf"
    reports.write_deck(rv, pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(rv.slides) >= 8
    for p in pages:
        px = np.asarray(Image.open(p).convert("L"))
        assert px.shape[1] > px.shape[0]  # landscape
        inked = (px < 200).mean()
        assert inked > 0.01, f"{p.name} is almost blank"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout \
        if shutil.which("pdftotext") else ""
    if text:
        assert rv.slides[0].title in text and K["won_amount"].format(rv.slides[1].figures["won_amount"]) in text


def test_html_is_offline_escaped_and_holds_every_slide(deck, tmp_path):
    rv = deck[1]
    rv.slides[0].sentence = "<img src=x onerror=alert(1)> and ![x](http://127.0.0.1:9/x.png)"  # as a name would arrive
    page = reports.to_html_bytes(rv).decode()
    assert page.count('<section class="slide"') == len(rv.slides)
    assert "<script" not in page.lower() and "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page) + re.findall(r"url\(([^)]*)\)", page)
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs), [r[:40] for r in refs if not r.startswith("data:")]
    assert "default-src 'none'" in page  # and the browser is told to fetch nothing else
    assert K["won_amount"].format(rv.slides[1].figures["won_amount"], compact=False) in page


def test_report_refuses_an_unknown_format_and_writes_nothing(demo_db, tmp_path, capsys):
    out = tmp_path / "deck.docx"
    assert main(["--db", str(demo_db), "report", "--period", PERIOD, "--out", str(out)]) == 2
    assert "must end in .pptx, .pdf or .html" in capsys.readouterr().err and not out.exists()
    assert main(["--db", str(demo_db), "report", "--period", "2026Q9", "--out", str(tmp_path / "d.pptx")]) == 2
    assert not (tmp_path / "d.pptx").exists()
