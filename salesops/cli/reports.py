"""Reporting commands: ``report`` (the quarterly review as a deck), ``export`` (a table as
CSV/XLSX) and ``digest`` (a manager's weekly digest as HTML, optionally sent over SMTP). All
take the sidebar's options (--as-of, --region, --team, --rep, --segment)."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from . import Result, workspace_and_filters
from .core import KPI_BY_FIELDS, _with_deal_field

PERIOD_HELP = "2017 (fiscal year), 2017Q2, 2017-05 or 2017-04-01..2017-06-30 (default: the current quarter of the data)"


def register(sub, parent, report) -> None:
    p = sub.add_parser("report", parents=[report], help="the quarterly business review as a deck (.pptx, .pdf or .html)")
    p.add_argument("--period", help=PERIOD_HELP)
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.pptx, FILE.pdf or FILE.html")
    p.set_defaults(func=run_report)

    from ..reports import EXPORTS

    p = sub.add_parser("export", parents=[report], help="a table as the pages show it, as CSV or XLSX (formula cells neutralised)")
    p.add_argument("--what", required=True, choices=EXPORTS, help="which table")
    p.add_argument("--period", help=PERIOD_HELP)
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.csv or FILE.xlsx")
    p.add_argument("--by", help=f"for --what kpis: group by one of {', '.join(KPI_BY_FIELDS)}")
    p.add_argument("--plan", metavar="FILE", help="for --what payouts: a comp plan JSON (default: the newest saved plan)")
    p.set_defaults(func=run_export)

    p = sub.add_parser("digest", parents=[report], help="a manager's weekly digest as e-mail-ready HTML; --send delivers it over SMTP")
    p.add_argument("--period", help=PERIOD_HELP)
    p.add_argument("--manager", required=True, metavar="NAME", help="the manager whose team the digest is about")
    p.add_argument("--out", metavar="FILE", help="write the HTML here (FILE.html)")
    p.add_argument("--send", action="store_true", help="send it over SMTP (.streamlit/secrets.toml [smtp] or SALESOPS_SMTP_*)")
    p.add_argument("--to", action="append", metavar="ADDRESS", help="recipient (repeat; default: [smtp] to)")
    p.set_defaults(func=run_digest)


def run_report(args) -> Result:
    from .. import reports, review

    kind = Path(args.out).suffix.lower().lstrip(".")
    if kind not in reports.DECK_FORMATS:
        raise InputError(f"--out {args.out!r}: the deck must end in .pptx, .pdf or .html")
    ws, f = workspace_and_filters(args)
    rv = review.build(ws, f)
    path = reports.write_deck(rv, args.out)
    doc = {"out": str(path), "format": kind, "period": f.period.label, "as_of": f.as_of.isoformat(), "filters": f.as_dict(),
           "slides": [{"key": s.key, "title": s.title, "sentence": s.sentence} for s in rv.slides],
           "sources": rv.sources, "definitions_version": rv.definitions_version}
    return Result(doc=doc, text=f"Wrote {path}: {len(rv.slides)} slides for {f.period.label} as of {f.as_of}, {f.describe()}.")


def run_export(args) -> Result:
    from .. import reports

    kind = Path(args.out).suffix.lower().lstrip(".")
    if kind not in reports.EXPORT_FORMATS:
        raise InputError(f"--out {args.out!r}: the file must end in .csv or .xlsx")
    if args.by and (args.what != "kpis" or args.by not in KPI_BY_FIELDS):
        raise InputError(f"--by {args.by!r} works with --what kpis and one of {', '.join(KPI_BY_FIELDS)}")
    ws, f = workspace_and_filters(args)
    plan = reports.saved_plan(ws, args.plan) if args.what == "payouts" else None
    frame = reports.export_table(_with_deal_field(ws, args.by) if args.by else ws, f, args.what, by=args.by, plan=plan)
    path = reports.write_table(frame, args.out, sheet_name=f"{args.what} {f.period.label}")
    return Result(doc={"out": str(path), "what": args.what, "period": f.period.label, "as_of": f.as_of.isoformat(),
                       "rows": len(frame), "columns": list(frame.columns)},
                  text=f"Wrote {path}: {len(frame):,} rows of {args.what} for {f.period.label}, {f.describe()}.")


def run_digest(args) -> Result:
    from .. import digest

    if not args.out and not args.send:
        raise InputError("say where the digest goes: --out FILE.html, --send, or both")
    if args.out and Path(args.out).suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--out {args.out!r}: the digest is HTML; use a name ending in .html")
    config = digest.smtp_config() if args.send else None  # refuse before any work when SMTP is not set up
    ws, f = workspace_and_filters(args)
    d = digest.build(ws, f, args.manager)
    doc = {"manager": args.manager, "period": f.period.label, "as_of": f.as_of.isoformat(), "figures": d.figures,
           "at_risk": len(d.at_risk), "fixes": len(d.fixes), "team": d.team[["group", "won_amount", "target", "attainment"]]}
    lines = [d.headline]
    if args.out:
        from ..reports import _write

        _write(Path(args.out), digest.to_html(d).encode("utf-8"))
        doc["out"] = args.out
        lines.append(f"Wrote {args.out}.")
    if args.send:
        rcpt = digest.send(d, config, args.to)
        doc["sent_to"] = rcpt
        lines.append(f"Sent to {', '.join(rcpt)} through {config.host}:{config.port}.")
    return Result(doc=doc, text="\n".join(lines))


__all__ = ["register", "run_report", "run_export", "run_digest"]
