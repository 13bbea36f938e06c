"""Core commands: ``demo`` (fill the database with the demo workspace), ``kpis`` (the KPIs of
a period for a slice, as the Overview, Team and Reps pages show them) and ``definitions``."""
from __future__ import annotations

from .. import demo, formats, leaderboard, metrics, overview, trends
from .. import schema as S
from ..errors import InputError
from . import Result, db_path, workspace_and_filters

KPI_BY_FIELDS = (S.OWNER, S.MANAGER, S.TEAM, S.REGION, S.SEGMENT, S.PRODUCT, S.TYPE, S.LEAD_SOURCE, S.INDUSTRY, S.PIPELINE, S.ACCOUNT,
                 "size_band", "territory")
#: Fields the compact facts hold; grouping by any other reads every deal row.
FACT_FIELDS = (S.OWNER, S.MANAGER, S.TEAM, S.REGION, S.SEGMENT)


def register(sub, parent, report) -> None:
    p = sub.add_parser("demo", parents=[parent], help="fill the database with the deterministic demo workspace (replaces its contents)")
    p.set_defaults(func=run_demo)

    p = sub.add_parser("kpis", parents=[report], help="KPIs for a period, for the team or by a field, as the pages show them")
    p.add_argument("--period", help="2017 (fiscal year), 2017Q2, 2017-05 or 2017-04-01..2017-06-30 (default: the current quarter of the data)")
    p.add_argument("--by", help=f"group by one of: {', '.join(KPI_BY_FIELDS)}")
    p.set_defaults(func=run_kpis)

    p = sub.add_parser("definitions", parents=[parent], help="print every KPI definition and the target rule (Markdown: docs/kpis.md)")
    p.set_defaults(func=run_definitions)


def run_demo(args) -> Result:
    from .. import audit
    from ..backup import backup_now

    path = db_path(args)
    with audit.action("demo"):  # one entry, naming the backup (the change can be undone from the trail)
        saved = backup_now(path, "load-demo") if path.is_file() else None  # what the demo replaces is kept
        counts = demo.load_demo(path)
    text = (f"Demo workspace written to {path}: {counts['opportunities']:,} deals, {counts['reps']} reps, "
            f"{counts['snapshots']:,} snapshot rows, {counts['targets']} targets.")
    if saved is not None:
        text += f"\nThe previous content is in the backup {saved}."
    return Result(doc={"db": str(path), "as_of": demo.DEMO_AS_OF.isoformat(), "backup": str(saved) if saved else None,
                       **counts}, text=text)


def run_definitions(args) -> Result:
    return Result(doc={"version": metrics.definitions_version(),
                       "kpis": [{"name": k.name, "label": k.label, "kind": k.kind, "better": k.better,
                                 "definition": k.definition} for k in metrics.KPIS.values()]},
                  text=metrics.definitions_markdown())


def _with_deal_field(ws, by: str):
    """A workspace view whose facts carry ``by`` (read from the deal rows) for grouping."""
    if by in FACT_FIELDS or by in ws.facts.columns:  # the facts carry it (industry, size band, territory: from the account)
        return ws
    import copy

    view = copy.copy(ws)
    view.facts = ws.facts.assign(**{by: ws.deals[by].reindex(ws.facts.index).astype("category")})
    return view


def kpis_doc(ws, f, by: str | None = None) -> dict:
    """The ``kpis --json`` document: the rows (every KPI), the target and where it comes
    from, and (without --by) the comparison period and the pace, as the Overview shows them."""
    rows = metrics.kpis(_with_deal_field(ws, by) if by else ws, f, by)
    doc = {"period": f.period.label, "start": f.period.start.isoformat(), "end": f.period.end.isoformat(),
           "as_of": f.as_of.isoformat(), "filters": f.as_dict(), "by": by,
           "definitions_version": metrics.definitions_version(),
           "rows": rows.to_dict(orient="records")}
    if by is None:
        s = overview.standing(ws, f)
        doc["state"] = s.state
        doc["target"] = s.target.as_dict()
        doc["compare"] = {"period": s.compare.label, "as_of": s.compare_as_of.isoformat(), "label": s.compare_label,
                          "rows": [s.previous]}
        doc["pace"] = s.pace
        # the Team page's comparison with last year and its pace against last year's shape
        c, pc = trends.compare(ws, f), trends.pacing(ws, f)
        doc["last_year"] = {"period": c.last_year.label, "as_of": c.last_year_as_of.isoformat(), "rows": [c.ly],
                            "same_day": pc.last_year_same_day, "total": pc.last_year_total, "share": pc.last_year_share}
    elif by == S.OWNER:
        # the Reps page's leaderboard: rank, roster fields, shrunk win rate, consistency, flags
        board = leaderboard.leaderboard(ws, f)
        doc["leaderboard"] = board.reps[[S.OWNER, *leaderboard.EXTRA_COLUMNS]].to_dict(orient="records")
        doc["leaderboard_team"] = {"cv_median": board.team["cv_median"], "months": board.months}
    return doc


def run_kpis(args) -> Result:
    if args.by and args.by not in KPI_BY_FIELDS:
        raise InputError(f"--by {args.by!r} is not a field to group by; use one of {', '.join(KPI_BY_FIELDS)}")
    ws, f = workspace_and_filters(args)
    doc = kpis_doc(ws, f, args.by)
    cur = ws.settings.currency
    k = metrics.KPIS
    lines = [f"KPIs for {f.period.label} ({f.period.start} .. {f.period.end}) as of {f.as_of}, {f.describe()}"
             + (f", by {args.by}" if args.by else "")]
    if not args.by:
        t = doc["target"]
        lines.append(f"Target: {formats.money(t['amount'], cur)} ({t['label']})"
                     + (f"; the reps' own targets add up to {formats.money(t['rep_sum'], cur)}" if t["own"] is not None and t["rep_sum"] is not None else ""))
    header = f"{'group':<28}{'won':>10}{'#won':>6}{'#lost':>6}{'win rate':>9}{'avg deal':>10}{'cycle':>9}{'open pipe':>11}{'target':>10}{'attain':>8}"
    lines.append(header)
    for r in doc["rows"]:
        lines.append(f"{str(r['group'])[:27]:<28}{formats.money(r['won_amount'], cur):>10}{r['won_count']:>6}{r['lost_count']:>6}"
                     f"{k['win_rate'].format(r['win_rate']):>9}{formats.money(r['avg_deal_size'], cur):>10}"
                     f"{formats.days(r['avg_cycle_days']):>9}{formats.money(r['open_pipeline'], cur):>11}"
                     f"{formats.money(r['target'], cur):>10}{k['attainment'].format(r['attainment']):>8}")
    if not doc["rows"]:
        lines.append("(no deals in this period)")
    problem = f.problem(ws)
    if problem:
        lines.append(f"note: {problem}")
    return Result(doc=doc, text="\n".join(lines))
