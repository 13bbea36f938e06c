"""Customer and territory commands (issue #15): ``segments`` (the KPIs of each segment, with
small samples shrunk and marked) and ``territories`` (a plan's assignment, balance and
conflicts; what-if moves; saving and activating plan versions)."""
from __future__ import annotations

from pathlib import Path

from .. import formats, segments
from .. import territories as T
from ..errors import InputError
from . import Result, db_path, workspace_and_filters


def register(sub, parent, report) -> None:
    p = sub.add_parser("segments", parents=[report],
                       help="KPIs per customer segment (industry, company size, region, product, lead source, ...)")
    p.add_argument("--by", required=True, metavar="FIELD[,FIELD]",
                   help="one or two fields: industry, size_band, account_region, territory, region, segment, product, "
                        "lead_source, type, owner, team, manager, or a column kept from the import (extra.NAME)")
    p.add_argument("--period", help="2017 (fiscal year), 2017Q2, 2017-05 or 2017-04-01..2017-06-30 (default: the current quarter of the data)")
    p.set_defaults(func=run_segments)

    p = sub.add_parser("territories", parents=[report],
                       help="a territory plan: every account's territory, the balance of the books, conflicts; what-if moves")
    p.add_argument("--plan", metavar="FILE", help="the plan JSON file (default: the active plan of the workspace)")
    p.add_argument("--move", action="append", metavar="ACCOUNT=REP", help="what if this account went to this rep (repeatable)")
    p.add_argument("--period", help="the period whose rep targets quotas by potential would split (default: the current quarter)")
    p.add_argument("--save", action="store_true", help="save the plan (with the moves) as its next version")
    p.add_argument("--activate", action="store_true", help="with --save: mark the saved version active (the territory filter)")
    p.set_defaults(func=run_territories)


def run_segments(args) -> Result:
    ws, f = workspace_and_filters(args)
    doc = segments.segments_doc(ws, f, args.by)
    cur = ws.settings.currency
    by = doc["by"]
    lines = [f"Segments by {', '.join(segments.label(b) for b in by)} for {f.period.label} ({f.period.start} .. {f.period.end}) "
             f"as of {f.as_of}, {f.describe()}"]
    width = 34
    lines.append(f"{'segment':<{width}}{'bookings':>11}{'won':>6}{'lost':>6}{'win rate':>10}{'avg deal':>10}{'cycle':>10}{'per day':>10}")
    for r in doc["rows"]:
        name = " · ".join("(blank)" if r[b] is None else str(r[b]) for b in by)[: width - 1]
        mark = " *" if r["small_sample"] else ""
        lines.append(f"{name:<{width}}{formats.money(r['won_amount'], cur):>11}{r['won_count']:>6}{r['lost_count']:>6}"
                     f"{formats.pct(r['win_rate']):>10}{formats.money(r['avg_deal_size'], cur):>10}"
                     f"{formats.days(r['avg_cycle_days']):>10}{formats.money(r['expected_value_per_day'], cur):>10}{mark}")
    if not doc["rows"]:
        lines.append("(no deals in this period)")
    lines.append(f"* fewer than {doc['min_deals']} closed deals: a small sample (see win_rate_shrunk in --json)")
    return Result(doc=doc, text="\n".join(lines))


def _read_plan(path: str) -> T.Plan:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{p.name or path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p.name or path}: cannot be read ({exc})") from None
    return T.parse_plan(text, p.name)


def run_territories(args) -> Result:
    ws, f = workspace_and_filters(args)
    if args.plan:
        plan = _read_plan(args.plan)
    else:
        plan = T.active_plan(ws)
        if plan is None:
            raise InputError("this workspace has no active territory plan; give one with --plan FILE")
    book = T.account_book(ws, f)
    before = T.balance(plan, book)
    doc = T.balance_doc(before)
    doc["as_of"] = f.as_of.isoformat()
    doc["period"] = f.period.label
    final = plan
    if args.move:
        moves = T.parse_moves(args.move)
        known = set(book["name"].astype(str))
        missing = [a for a in moves if a not in known]
        if missing:
            raise InputError(f"--move: {missing[0]!r} is not an account of this workspace")
        reps = set(T.known_reps(ws))
        unknown = [r for r in moves.values() if r not in reps]
        if unknown:
            raise InputError(f"--move: {unknown[0]!r} is not a rep of this workspace")
        final = T.move_accounts(plan, moves)
        after = T.balance(final, book)
        w = T.compare(before, after, T.quota_total(ws, f, sorted(set(before.reps["rep"]) | set(after.reps["rep"]))))
        doc["after"] = T.balance_doc(after)
        doc["moved"] = w.moved.to_dict(orient="records")
        doc["rep_changes"] = w.reps.to_dict(orient="records")
        doc["quota_total"] = w.quota_total
    if args.save:
        doc["saved_version"] = T.save_plan(db_path(args), final, activate=args.activate)
    elif args.activate:
        raise InputError("--activate needs --save (a plan is activated as a saved version)")
    return Result(doc=doc, text=_text(doc, ws.settings.currency))


def _text(doc: dict, cur: str) -> str:
    lines = [f"Territory plan {doc['plan']!r} as of {doc['as_of']}: {len(doc['assignment'])} accounts in "
             f"{len(doc['territories'])} territories"]
    bal = doc["balance"]
    for m, label in T.BALANCE_METRICS.items():
        b = bal[m]
        money = m in ("potential", "open_pipeline", "bookings_12m")
        fmt = (lambda x: formats.money(x, cur)) if money else (lambda x: f"{x:,.1f}")  # noqa: E731
        lines.append(f"  {label:<26} spread: CV {formats.ratio(b['cv']).rstrip('x')}, Gini {b['gini']:.2f}; most "
                     f"{b['most_loaded']} {fmt(b['most'])}, least {b['least_loaded']} {fmt(b['least'])}"
                     if b["most_loaded"] is not None else f"  {label:<26} no rep owns a territory")
    lines.append(f"{'rep':<28}{'accounts':>9}{'potential':>12}{'open pipe':>12}{'booked 12m':>12}{'open deals':>11}")
    for r in doc["reps"]:
        lines.append(f"{str(r['rep'])[:27]:<28}{r['accounts']:>9.1f}{formats.money(r['potential'], cur):>12}"
                     f"{formats.money(r['open_pipeline'], cur):>12}{formats.money(r['bookings_12m'], cur):>12}{r['open_deals']:>11.1f}")
    for c in doc["conflicts"][:20]:
        lines.append(f"conflict: {c['account']} matches rules {', '.join(map(str, c['rules']))} of equal rank "
                     f"({', '.join(c['territories'])}); {c['territory']} wins (listed first)")
    if doc["unassigned"]:
        lines.append(f"unassigned: {len(doc['unassigned'])} accounts match no rule: " + ", ".join(doc["unassigned"][:10])
                     + (" ..." if len(doc["unassigned"]) > 10 else ""))
    if "moved" in doc:
        lines.append(f"what if: {len(doc['moved'])} account(s) change hands")
        for m in doc["moved"]:
            lines.append(f"  {m['name']}: {m['from_reps']} -> {m['to_reps']} (booked 12m {formats.money(m['bookings_12m'], cur)}, "
                         f"open {formats.money(m['open_pipeline'], cur)}, potential {formats.money(m['potential'], cur)})")
    if doc.get("saved_version"):
        lines.append(f"saved as version {doc['saved_version']}")
    return "\n".join(lines)
