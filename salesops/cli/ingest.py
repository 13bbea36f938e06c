"""CLI commands of the import area (issue #3): import, imports, undo-import, roster, accounts,
targets. JSON shapes follow DESIGN.md section 6."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import store
from ..errors import InputError, Problem
from . import Result, db_path, to_jsonable


def _read_file(path: str) -> tuple[bytearray, str]:
    """The file's bytes, as a bytearray the import may empty once it has read them."""
    p = Path(path)
    name = p.name or str(path)
    from ..ingest.reader import check_size

    try:
        if p.is_dir():
            raise InputError(f"{name}: is a folder, not a file", [])
        size = p.stat().st_size
        check_size(size, name)
        buf = bytearray(size)
        with open(p, "rb") as fh:
            got = fh.readinto(buf)
        del buf[got:]
        return buf, name
    except FileNotFoundError:
        raise InputError(f"{name}: no such file", []) from None
    except PermissionError:
        raise InputError(f"{name}: permission denied; the file cannot be read", []) from None
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc})", []) from None


def register(sub, parent, report) -> None:
    """Add this area's sub-commands to the parser."""
    p = sub.add_parser("import", parents=[parent], help="import a CRM export (CSV, TSV, XLSX)",
                       description="Import a CRM export as it comes: the vendor is detected from the headers, values "
                                   "are normalised and validated, and the import is all or nothing.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--as-of", dest="as_of", metavar="DATE",
                   help="the date the export shows (default: from the file name or report footer, else today)")
    p.add_argument("--vendor", metavar="NAME",
                   help="skip detection: salesforce_report, salesforce_api, salesforce_history, hubspot, pipedrive, "
                        "zoho, dynamics, close, canonical or generic")
    p.add_argument("--map", dest="map", action="append", metavar="SRC=FIELD",
                   help="map a source column to a field (repeatable), e.g. --map engage_date=created_date; "
                        "FIELD 'extra' keeps the column only in extra")
    p.add_argument("--sheet", metavar="NAME", help="the XLSX sheet to read (default: the one that looks like deals)")
    p.add_argument("--skip-invalid", dest="skip_invalid", action="store_true",
                   help="import the valid rows and keep the rejected ones in the import record")
    p.add_argument("--dry-run", dest="dry_run", action="store_true", help="check and report; write nothing")
    p.set_defaults(func=run_import)

    p = sub.add_parser("imports", parents=[parent], help="list imports")
    p.set_defaults(func=run_imports)

    p = sub.add_parser("undo-import", parents=[parent], help="remove one import and restore the prior state exactly")
    p.add_argument("import_id", metavar="ID", type=int)
    p.set_defaults(func=run_undo)

    for name, what in (("roster", "the rep roster (name, manager, team/region, hire date)"),
                       ("accounts", "accounts (name, industry, employees, revenue, region)"),
                       ("targets", "targets (owner or team, period like 2017Q2 or start/end, amount)")):
        p = sub.add_parser(name, parents=[parent], help=f"import {what}")
        p.add_argument("file", metavar="FILE")
        p.add_argument("--sheet", metavar="NAME", help="the XLSX sheet to read")
        p.add_argument("--skip-invalid", dest="skip_invalid", action="store_true",
                       help="import the valid rows and keep the rejected ones in the import record")
        p.add_argument("--dry-run", dest="dry_run", action="store_true", help="check and report; write nothing")
        p.set_defaults(func=run_reference, kind=name)


def _summary(result, kind_label: str) -> str:
    if result.already_imported:
        head = f"{result.file_name}: already imported as import {result.import_id}; nothing changed"
    elif result.dry_run:
        head = f"{result.file_name}: dry run, nothing written"
    else:
        head = f"{result.file_name}: import {result.import_id}"
    lines = [head,
             f"  {kind_label}: {result.vendor}" + (f", as of {result.as_of} ({result.as_of_source})" if result.as_of else ""),
             f"  rows read {result.rows_read}, imported {result.rows_imported} (new {result.rows_new}, changed "
             f"{result.rows_changed}, unchanged {result.rows_unchanged}), rejected {result.rows_rejected}"]
    if result.mapping:
        lines.append("  mapping: " + ", ".join(f"{k} -> {v}" for k, v in result.mapping.items()))
    if result.unknown_stages:
        lines.append("  unknown stages (counted as open unless a status column says otherwise): "
                     + ", ".join(result.unknown_stages))
    warnings = [p for p in result.problems if p.severity != "error"]
    errors = [p for p in result.problems if p.severity == "error"]
    for p in errors[:20]:
        lines.append(f"  rejected: {p.describe()}")
    for p in warnings[:20]:
        lines.append(f"  warning: {p.describe()}")
    if len(warnings) > 20:
        lines.append(f"  ... and {len(warnings) - 20} more warnings (see --json)")
    lines.extend(f"  {n}" for n in result.notes)
    return "\n".join(lines)


def refusal_doc(exc: InputError, file_name: str) -> dict:
    """The problems document of a refused import (``--json``): the import's usual keys where
    the file could be read (import_id null, nothing imported), plus ``refused`` and ``error``."""
    result = getattr(exc, "result", None)
    report = getattr(exc, "report", None) or exc.problems
    if result is not None:
        doc = result.as_doc()
        doc["rows_imported"] = 0
    else:
        doc = {"import_id": None, "file": file_name, "rows_imported": 0,
               "problems": [p.as_dict() for p in report] or [{"row": None, "column": None, "value": None,
                                                              "problem": str(exc), "severity": "error"}]}
    doc.update(refused=True, error=str(exc))
    return doc


def _say_waiting(_fraction: float, label: str) -> None:
    """The import's progress on the command line: only the line that says it is queued."""
    if label == store.WAITING:
        sys.stderr.write(f"note: {label} (queued)\n")
        sys.stderr.flush()


def run_import(args) -> Result:
    from ..ingest import run_import as do_import
    from ..ingest.mapping import parse_map_args

    data, name = _read_file(args.file)
    try:
        overrides = parse_map_args(args.map)
        result = do_import(db_path(args), data, name, as_of=args.as_of, vendor=args.vendor, overrides=overrides,
                           skip_invalid=args.skip_invalid, dry_run=args.dry_run, sheet=args.sheet,
                           progress=_say_waiting)
    except InputError as exc:
        if getattr(args, "json", False):  # the problems document on stdout, the error lines on stderr (exit 2)
            sys.stdout.write(json.dumps(to_jsonable(refusal_doc(exc, name)), ensure_ascii=False) + "\n")
        raise
    return Result(doc=result.as_doc(), text=_summary(result, "vendor"))


def run_reference(args) -> Result:
    from ..ingest import run_reference_import

    data, name = _read_file(args.file)
    result = run_reference_import(db_path(args), data, name, args.kind, skip_invalid=args.skip_invalid,
                                  dry_run=args.dry_run, sheet=args.sheet)
    doc = result.as_doc()
    for key in ("as_of", "unknown_stages", "as_of_source"):
        doc.pop(key, None)
    return Result(doc=doc, text=_summary(result, "file"))


def run_imports(args) -> Result:
    from ..ingest import list_imports

    frame = list_imports(db_path(args))
    rows = frame.to_dict(orient="records")
    if not rows:
        return Result(doc={"imports": []}, text="no imports yet")
    lines = [f"{r['id']:>4}  {r['status']:<8} {r['kind']:<14} {str(r['file_name'])[:40]:<40} as of {r['as_of'] or '-':<10} "
             f"read {r['rows_read']}, imported {r['rows_imported']}, rejected {r['rows_rejected']}  {r['created_at']}"
             for r in rows]
    return Result(doc={"imports": rows}, text="\n".join(lines))


def run_undo(args) -> Result:
    from ..ingest import undo_import

    if args.import_id <= 0:
        raise InputError(f"undo-import: {args.import_id} is not an import id", [Problem("not an id", column="ID")])
    done = undo_import(db_path(args), args.import_id)
    return Result(doc=done, text=f"import {done['import_id']} ({done['file']}) undone; the prior state is restored")
