"""Pipeline commands (issue #6): ``pipeline`` (movement between two snapshots) and ``hygiene``.

``pipeline --period P --from DATE --to DATE``: each date picks the snapshot dated exactly, or
else the latest snapshot before it (the JSON's ``from``/``to`` are the snapshot dates used;
``from_requested``/``to_requested`` what was asked; the text says which was used). Without
``--from``/``--to`` the snapshots around the period are used. No snapshot on or before a
date, or both dates on the same snapshot, is an error (exit 2) listing the snapshot dates.
"""
from __future__ import annotations

from .. import formats, hygiene, pipeline
from .. import schema as S
from ..errors import InputError
from .. import workspace
from . import Result, db_path, option_date, workspace_and_filters

DEAL_FIELDS = [S.OPPORTUNITY_ID, S.NAME, S.OWNER, "entry", "exit", "stage_from", "stage_to", "close_from", "close_to",
               "entering_amount", "amount_to", "amount_change"]


def register(sub, parent, report) -> None:
    p = sub.add_parser("pipeline", parents=[report],
                       help="pipeline movement of a period between two snapshots (waterfall)")
    p.add_argument("--period", help="2017 (fiscal year), 2017Q2, 2017-05 or 2017-04-01..2017-06-30 "
                                    "(default: the current quarter of the data)")
    p.add_argument("--from", dest="from_date", metavar="DATE",
                   help="earlier snapshot (YYYY-MM-DD; the latest snapshot on or before it is used)")
    p.add_argument("--to", dest="to_date", metavar="DATE",
                   help="later snapshot (YYYY-MM-DD; the latest snapshot on or before it is used)")
    p.add_argument("--step", help=f"also list the deals behind one step: {', '.join(pipeline.STEPS)}")
    p.set_defaults(func=run_pipeline)

    p = sub.add_parser("hygiene", parents=[report], help="CRM hygiene scorecard of the open deals, per rep and per import")
    p.add_argument("--stale-days", type=int, default=30, help="days without any change that make a deal stale (default 30)")
    p.add_argument("--owner", help="only this rep's deals (the same as --rep)")
    p.add_argument("--fix-list", action="store_true", help="include the fix list (one row per deal and problem)")
    p.set_defaults(func=run_hygiene)



def run_pipeline(args) -> Result:
    from_req, to_req = option_date(args.from_date, "--from"), option_date(args.to_date, "--to")
    if from_req and to_req and to_req <= from_req:
        raise InputError(f"--to {to_req} must be after --from {from_req}")
    ws, f = workspace_and_filters(args)
    period = f.period
    pick = pipeline.resolve_snapshots(ws.snapshot_dates, period.start, period.end, from_req, to_req)
    m = pipeline.movement_for(ws, f, pick["from"], pick["to"])
    deals = m.deals
    settings = ws.settings
    doc = {
        "period": period.label, "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
        "from": pick["from"], "to": pick["to"],
        "from_requested": pick["from_requested"], "to_requested": pick["to_requested"],
        "waterfall": m.waterfall[["step", "label", "amount", "count"]].to_dict(orient="records"),
        "notes": pick["notes"],
    }
    cur = settings["currency"]
    lines = [f"Pipeline movement for {period.label} ({period.start} .. {period.end}), "
             f"snapshots {pick['from']} -> {pick['to']}"]
    lines += [f"note: {n}" for n in pick["notes"]]
    for r in m.waterfall.itertuples():
        sign = {"start": " ", "end": " ", "amount_changed": "±"}.get(r.step, "+" if pipeline.STEP_SIGN[r.step] > 0 else "-")
        lines.append(f"  {sign} {r.label:<18}{formats.money(r.amount, cur, compact=False):>16}{r.count:>7} deals")
    if args.step:
        behind = pipeline.deals_behind(deals, args.step)
        doc["step"] = args.step
        doc["deals"] = behind[[c for c in DEAL_FIELDS if c in behind.columns]].to_dict(orient="records")
        lines.append(f"\nDeals behind '{args.step}' ({len(behind)}):")
        for r in behind.itertuples():
            amount = r.amount_change if args.step in ("amount_changed", "Amount changed") else (
                r.entering_amount if r.exit in ("pushed_out", "removed") or args.step in pipeline.ENTRY_STEPS else r.amount_to)
            lines.append(f"  {r.opportunity_id}  {str(getattr(r, 'name', '') or '')[:40]:<42}{str(r.owner or '')[:20]:<22}"
                         f"{formats.money(amount, cur, compact=False):>14}")
    return Result(doc=doc, text="\n".join(lines))


def run_hygiene(args) -> Result:
    if args.stale_days is not None and args.stale_days < 1:
        raise InputError(f"--stale-days must be 1 or more, not {args.stale_days}")
    if args.owner is not None:
        owners = workspace.load_current(db_path(args)).values(S.OWNER)
        if args.owner not in owners:
            raise InputError(f"--owner {args.owner!r} owns no deals; owners are: {', '.join(owners[:30])}"
                             + (" ..." if len(owners) > 30 else ""))
        args.rep = [*(args.rep or []), args.owner]
    ws, f = workspace_and_filters(args)
    as_of = f.as_of
    hv = hygiene.view_for(ws, f, args.stale_days)
    issues, sc, reps, imports, measured = hv.issues, hv.score, hv.by_rep, hv.by_import, hv.stale_measured
    settings = ws.settings
    doc = {"as_of": as_of.isoformat(), "owner": args.owner, "stale_days": args.stale_days, "stale_measured": measured,
           **{k: v for k, v in sc.items() if k != "checks"},
           "checks": sc["checks"].to_dict(orient="records"),
           "by_rep": reps.to_dict(orient="records"),
           "by_import": imports.to_dict(orient="records")}
    fixes = hygiene.fix_list(issues, args.owner) if (args.fix_list or args.owner) else None
    if fixes is not None:
        doc["fix_list"] = fixes.to_dict(orient="records")
    cur = settings["currency"]
    who = f" for {args.owner}" if args.owner else ""
    lines = [f"CRM hygiene{who} as of {as_of}: {sc['clean_count']:,} of {sc['open_count']:,} open deals clean "
             f"(score {formats.pct(sc['score'])})",
             f"  pipeline {formats.money(sc['raw_pipeline'], cur)} raw, {formats.money(sc['clean_pipeline'], cur)} clean, "
             f"{formats.money(sc['dirty_pipeline'], cur)} ({formats.pct(sc['dirty_share'])}) in dirty deals"]
    for r in sc["checks"].itertuples():
        lines.append(f"  {r.label:<38}{r.count:>6} deals{formats.money(r.amount, cur):>12}")
    if not measured:
        lines.append("  (staleness not measured: it needs two snapshots or a stage history)")
    if len(reps) and not args.owner:
        lines.append("\nWorst scores by rep:")
        for r in reps.head(10).itertuples():
            lines.append(f"  {str(r.owner)[:26]:<28}{formats.pct(r.score):>6}  {r.open_count - r.clean_count:>4} of "
                         f"{r.open_count:<4} deals dirty, {formats.money(r.dirty_pipeline, cur)}")
    if fixes is not None:
        lines.append(f"\nFix list ({len(fixes)} items):")
        for r in fixes.itertuples():
            lines.append(f"  {str(r.owner)[:20]:<22}{r.opportunity_id}  {r.issue:<38}{r.fix}")
    return Result(doc=doc, text="\n".join(lines))
