"""How fast a big workbook is read, and how fast a workbook bomb is refused.

    python bench/xlsx.py                   # 1,000,000 rows x 15 columns
    python bench/xlsx.py --rows 200000
    python bench/xlsx.py --repeat 3

Generates (once, under bench/out/) an XLSX of ``rows`` x 15 columns written as Excel writes it
(shared strings, dates as styled serial numbers, about 8x compression), then prints, in the
same run:

* the read rate of salesops' reader (safety checks + python-calamine, streamed into pyarrow
  columns) in cells per second, and the whole analysis (read, detect, map, validate);
* the baseline: openpyxl (read-only, values only, the reader before issue #11) on the first
  50,000 rows of the same sheet, in cells per second, and the ratio;
* the time and peak memory (Python allocations) to refuse the three workbook bombs of
  issue #11 (220 MB behind a 1.1 MB zip, 30 small sheets, 300 small sheets).

Never passes or fails on time.
"""
from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

from salesops.ingest.validate import column_letter  # noqa: E402

HEADER = ["Opportunity ID", "Opportunity Name", "Account Name", "Opportunity Owner", "Stage", "Amount",
          "Probability (%)", "Close Date", "Created Date", "Lead Source", "Type", "Region", "Product",
          "Forecast Category", "Fiscal Period"]
OWNERS = [f"{n} {i:03d}" for i, n in enumerate(["Müller", "Okafor", "Dubois", "Patel", "O'Neil"] * 40)]
STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review",
          "Closed Won", "Closed Lost"]
SOURCES = ["Web", "Partner", "Phone Inquiry", "Trade Show", "Employee Referral"]
TYPES = ["New Business", "Existing Business", "Renewal"]
REGIONS = ["EMEA", "AMER", "APAC"]
PRODUCTS = ["Core", "Analytics", "Platform", "Support"]
CATEGORIES = ["Pipeline", "Best Case", "Commit", "Closed", "Omitted"]

_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
       'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
       'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
       'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override '
       'PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
       'sharedStrings+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument'
       '.spreadsheetml.styles+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/'
         'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
         'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/'
       'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
       '<sheet name="Opportunities" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.'
            'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
            'Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>')
_STYLES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="http://schemas.openxmlformats.org/'
           'spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts><fills '
           'count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders>'
           '<cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="2"><xf/><xf numFmtId="14" applyNumberFormat="1"/>'
           '</cellXfs></styleSheet>')


def generate(path: Path, rows: int, seed: int = 3) -> None:
    """Write the workbook's XML directly (openpyxl would take minutes for 15M cells)."""
    rng = np.random.default_rng(seed)
    strings: dict[str, int] = {}

    def sst(values) -> np.ndarray:
        out = np.empty(len(values), dtype=np.int64)
        for k, v in enumerate(values):
            out[k] = strings.setdefault(v, len(strings))
        return out

    letters = [column_letter(i) for i in range(len(HEADER))]
    head_idx = sst(HEADER)
    pools = {3: OWNERS, 4: STAGES, 9: SOURCES, 10: TYPES, 11: REGIONS, 12: PRODUCTS, 13: CATEGORIES}
    pool_idx = {j: sst(v) for j, v in pools.items()}
    fiscal = [f"Q{q}-{y}" for y in range(2020, 2026) for q in range(1, 5)]
    fiscal_idx = sst(fiscal)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, text in (("[Content_Types].xml", _CT), ("_rels/.rels", _RELS), ("xl/workbook.xml", _WB),
                           ("xl/_rels/workbook.xml.rels", _WB_RELS), ("xl/styles.xml", _STYLES)):
            z.writestr(name, text)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.'
                     b'openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:' +
                     f"{letters[-1]}{rows + 1}".encode() + b'"/><sheetData>')
            cells = "".join(f'<c r="{letters[j]}1" t="s"><v>{head_idx[j]}</v></c>' for j in range(len(HEADER)))
            fh.write(f'<row r="1">{cells}</row>'.encode())
            chunk = 50_000
            for lo in range(0, rows, chunk):
                n = min(chunk, rows - lo)
                r = np.arange(lo, lo + n) + 2
                ids = sst([f"0066g{k:010d}" for k in range(lo, lo + n)])
                names = sst([f"Deal {k}" for k in range(lo, lo + n)])
                accts = sst([f"Acct {k}" for k in rng.integers(0, 40_000, n)])
                amount = np.round(rng.uniform(100, 500_000, n), 2)
                prob = rng.choice([10, 20, 50, 75, 90, 100, 0], n)
                created = 43831 + rng.integers(0, 1800, n)  # Excel serials from 2020-01-01
                close = created + rng.integers(5, 300, n)
                picks = {j: pool_idx[j][rng.integers(0, len(pools[j]), n)] for j in pools}
                fis = fiscal_idx[rng.integers(0, len(fiscal), n)]
                lines = []
                for k in range(n):
                    rk = r[k]
                    lines.append(
                        f'<row r="{rk}"><c r="A{rk}" t="s"><v>{ids[k]}</v></c><c r="B{rk}" t="s"><v>{names[k]}</v></c>'
                        f'<c r="C{rk}" t="s"><v>{accts[k]}</v></c><c r="D{rk}" t="s"><v>{picks[3][k]}</v></c>'
                        f'<c r="E{rk}" t="s"><v>{picks[4][k]}</v></c><c r="F{rk}"><v>{amount[k]}</v></c>'
                        f'<c r="G{rk}"><v>{prob[k]}</v></c><c r="H{rk}" s="1"><v>{close[k]}</v></c>'
                        f'<c r="I{rk}" s="1"><v>{created[k]}</v></c><c r="J{rk}" t="s"><v>{picks[9][k]}</v></c>'
                        f'<c r="K{rk}" t="s"><v>{picks[10][k]}</v></c><c r="L{rk}" t="s"><v>{picks[11][k]}</v></c>'
                        f'<c r="M{rk}" t="s"><v>{picks[12][k]}</v></c><c r="N{rk}" t="s"><v>{picks[13][k]}</v></c>'
                        f'<c r="O{rk}" t="s"><v>{fis[k]}</v></c></row>')
                fh.write("".join(lines).encode())
            fh.write(b"</sheetData></worksheet>")
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.'
                     f'openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" uniqueCount="{len(strings)}">'
                     .encode())
            from xml.sax.saxutils import escape

            buf = []
            for s in strings:
                buf.append(f"<si><t>{escape(s)}</t></si>")
                if len(buf) >= 100_000:
                    fh.write("".join(buf).encode())
                    buf = []
            fh.write(("".join(buf) + "</sst>").encode())


def openpyxl_rate(path: Path, rows: int) -> tuple[float, int]:
    """(seconds, cells) for openpyxl read-only, values only, over the first ``rows`` rows."""
    import openpyxl

    t = time.perf_counter()
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    cells = 0
    for k, r in enumerate(wb.worksheets[0].iter_rows(values_only=True)):
        cells += len(r)
        if k >= rows:
            break
    wb.close()
    return time.perf_counter() - t, cells


def bomb_figures() -> list[tuple[str, float, float]]:
    """(bomb, seconds to refuse, peak MB of Python allocations) for the three bombs."""
    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    from test_ingest_hostile import bomb  # the same bombs as the tests

    from salesops.errors import InputError
    from salesops.ingest.reader import read_table

    mb = 1024 * 1024
    out = []
    for name, sizes, sheets in (("220 MB sheet in a ~2 MB zip", {"xl/worksheets/sheet1.xml": 220 * mb}, 1),
                                ("30 sheets of 0.95 MB", {f"xl/worksheets/sheet{i}.xml": 950_000 for i in range(1, 31)}, 30),
                                ("300 sheets of 0.95 MB", {f"xl/worksheets/sheet{i}.xml": 950_000 for i in range(1, 301)},
                                 300)):
        data = bomb(sizes, sheets)
        tracemalloc.start()
        t = time.perf_counter()
        try:
            read_table(data, "bomb.xlsx")
            refused = False
        except InputError:
            refused = True
        dt = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append((f"{name} ({len(data) / 1e6:.2f} MB file){'' if refused else ' NOT REFUSED'}", dt, peak / mb))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"opportunities_{args.rows}x15.xlsx"
    if not path.exists():
        t = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t:.0f} s")
    infos = zipfile.ZipFile(path).infolist()
    declared = sum(i.file_size for i in infos)
    print(f"workbook  {path.stat().st_size / 1e6:.0f} MB, {declared / 1e6:.0f} MB uncompressed "
          f"({declared / path.stat().st_size:.1f}x), {args.rows:,} rows x 15 columns")
    cells = (args.rows + 1) * 15
    from python_calamine import CalamineWorkbook

    from salesops.ingest.reader import read_table

    data = path.read_bytes()
    reads, analyses, peaks, parses = [], [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        wb.get_sheet_by_name("Opportunities")
        parses.append(time.perf_counter() - t)
        wb.close()
        del wb
        t = time.perf_counter()
        table = read_table(data, path.name)
        reads.append(time.perf_counter() - t)
        assert table.rows_read == args.rows, table.rows_read
        del table
        # the whole analysis in a child, for its peak memory
        code = ("import sys, time, resource; sys.path.insert(0, %r); from pathlib import Path; "
                "from salesops.ingest import analyse; d = Path(%r).read_bytes(); t = time.perf_counter(); "
                "a = analyse(d, %r); print(time.perf_counter() - t, a.prepared.rows_valid, "
                "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)") % (str(ROOT), str(path), path.name)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        analyses.append(float(out[0]))
        peaks.append(int(out[2]) / 1024)
        assert int(out[1]) == args.rows
    base_rows = min(50_000, args.rows)
    base_path = OUT / f"opportunities_{base_rows}x15.xlsx"  # its own, smaller shared strings table
    if not base_path.exists():
        generate(base_path, base_rows)
    t_base, base_cells = openpyxl_rate(base_path, base_rows)
    rate, base_rate = cells / min(reads), base_cells / t_base
    print(f"salesops  read (checks + calamine)   {min(reads):6.2f} s   runs {', '.join(f'{x:.2f}' for x in reads)}"
          f"   {rate:,.0f} cells/s")
    print(f"          of which calamine's own parse {min(parses):6.2f} s   runs {', '.join(f'{x:.2f}' for x in parses)}")
    print(f"salesops  analyse (read + validate)  {min(analyses):6.2f} s   runs {', '.join(f'{x:.2f}' for x in analyses)}"
          f"   peak memory {max(peaks):,.0f} MB   (issue: a 1M x 15 workbook in under 30 s)")
    print(f"baseline  openpyxl read-only         {t_base:6.2f} s   a {base_rows:,}-row workbook   {base_rate:,.0f} cells/s")
    print(f"ratio     {rate / base_rate:.1f}x the cells per second of openpyxl")
    for name, dt, mb in bomb_figures():
        print(f"bomb      {name:<45} refused in {dt:5.2f} s, peak {mb:5.1f} MB of Python allocations")


if __name__ == "__main__":
    main()
