"""Planning commands (issue #7): ``goals`` (quotas and how realistic they are) and ``comp``
(commission payouts of a plan file for a period)."""
from __future__ import annotations

import math
from datetime import date

from .. import compensation as C
from .. import formats, goals, metrics, store
from ..errors import InputError
from ..periods import FiscalCalendar
from . import Result, db_path


def data_as_of(conn) -> str | None:
    return store.data_as_of(conn)


def register(sub, parent, report) -> None:
    """Add ``goals`` and ``comp`` to the parser."""
    p = sub.add_parser("goals", parents=[parent], help="per-rep quotas for a team target, with each rep's probability of attainment")
    p.add_argument("--period", required=True, help="2017 (fiscal year), 2017Q2, 2017-05 or 2017-04-01..2017-06-30")
    p.add_argument("--target", help="the team target in currency units (e.g. 2500000)")
    p.add_argument("--growth", help="instead of --target: growth over the same period last year, e.g. 0.15 or 15%%")
    p.add_argument("--method", default="capacity", choices=goals.METHODS,
                   help="how to split the target: equal, history (share of past bookings), capacity (ramp), territory (account revenue)")
    p.add_argument("--over-assign", default="0", help="over-assignment: rep quotas sum to target x (1 + this); 0.1 or 10%% (default 0)")
    p.add_argument("--sims", type=int, default=2000, help="Monte Carlo simulations (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulation (default 0)")
    p.add_argument("--publish", action="store_true", help="write the quotas as the period's rep targets (replacing them)")
    p.add_argument("--save", metavar="NAME", help="save the result as a goal scenario under this name (a new version)")
    p.set_defaults(func=run_goals)

    p = sub.add_parser("comp", parents=[parent], help="commission payouts of a plan file for a period, from actual bookings")
    p.add_argument("--plan", required=True, help="the plan JSON file (see docs/planning.md and data/plans/)")
    p.add_argument("--period", required=True, help="2017 (fiscal year), 2017Q2, 2017-05 or 2017-04-01..2017-06-30")
    p.add_argument("--save", action="store_true", help="also save the plan (a new version) in the database")
    p.set_defaults(func=run_comp)


def _share(text: str, option: str) -> float:
    t = str(text).strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a number (use 0.1 or 10%)") from None
    if not math.isfinite(v):
        raise InputError(f"{option} {text!r} is not a finite number")
    return v


def _amount(text: str, option: str) -> float:
    try:
        v = float(str(text).replace(",", "").replace("_", ""))
    except ValueError:
        raise InputError(f"{option} {text!r} is not an amount (use a plain number such as 2500000)") from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{option} {text!r}: the target must be a positive amount")
    return v


def run_goals(args) -> Result:
    path = db_path(args)
    if args.sims < 1:
        raise InputError(f"--sims {args.sims}: use at least 1 simulation")
    if args.target is None and args.growth is None:
        raise InputError("give --target AMOUNT or --growth RATE")
    over = _share(args.over_assign, "--over-assign")
    with store.connect(path) as conn:
        settings = store.get_settings(conn)
        deals = store.load_deals(conn)
        reps = store.load_reps(conn)
        accounts = store.load_accounts(conn)
        snaps = store.load_snapshots(conn)
        targets = store.load_targets(conn)
        history = store.load_stage_history(conn)
        as_of = data_as_of(conn)
    cal = FiscalCalendar(int(settings["fiscal_year_start_month"]))
    period = cal.parse(args.period)
    deals = metrics.attach_roster(deals, reps)
    if args.target is not None:
        top = goals.top_down_target(deals, period, cal, amount=_amount(args.target, "--target"))
    else:
        top = goals.top_down_target(deals, period, cal, growth=_share(args.growth, "--growth"))
    target = top["target"]
    landing = goals.landing_zone(deals, period, as_of=date.fromisoformat(str(as_of)[:10]) if as_of else None, snapshots=snaps, targets=targets, calendar=cal,
                                 stage_history=history)
    table, team, _ = goals.plan_goals(deals, reps, period, target, method=args.method, over_assignment=over,
                                      accounts=accounts, n_sims=args.sims, seed=args.seed,
                                      team_samples=landing.get("samples") if landing else None)
    doc = {"period": period.label, "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
           "target": target, "basis": top["basis"], "method": args.method, "over_assignment": over,
           "quota_total": team["quota_total"], "p_team": team["p_team"], "team_source": team["source"],
           "expected_share_hitting": team["expected_share_hitting"], "reps_flagged": team["reps_flagged"],
           "n_sims": args.sims, "seed": args.seed,
           "reps": table[["rep", "quota", "p_attain", "expected", "p10", "p50", "p90", "flag", "weight"]].to_dict(orient="records")}
    if args.publish or args.save:
        quotas = table.set_index("rep")["quota"]
        with store.connect(path, write=True) as conn:
            if args.publish:
                doc["published"] = goals.publish_targets(conn, period, quotas)
            if args.save:
                payload = goals.scenario_payload(period, target, args.method, over, table, team, basis=top["basis"])
                _, version = store.save_document(conn, "scenarios", args.save, payload, kind="goals")
                doc["saved"] = {"name": args.save, "version": version}
    cur = settings["currency"]
    lines = [f"Goals for {period.label}: target {formats.money(target, cur, compact=False)} ({top['basis']}), "
             f"split by {goals.METHOD_LABELS[args.method].lower()}"
             + (f", over-assigned {over:.0%}" if over else ""),
             f"Team: P(reach target) {formats.pct(team['p_team'])} (from the {team['source']}); expected share of reps "
             f"at quota {formats.pct(team['expected_share_hitting'])} (usual: 50-70%)",
             f"{'rep':<26}{'quota':>14}{'P(attain)':>11}{'expected':>12}  flag"]
    for r in table.itertuples():
        lines.append(f"{str(r.rep)[:25]:<26}{formats.money(r.quota, cur, compact=False):>14}{formats.pct(r.p_attain):>11}"
                     f"{formats.money(r.expected, cur):>12}  {r.flag}")
    if doc.get("published") is not None:
        lines.append(f"Published {doc['published']} rep targets for {period.label}.")
    if doc.get("saved"):
        lines.append(f"Saved scenario {args.save!r} version {doc['saved']['version']}.")
    return Result(doc=doc, text="\n".join(lines))


def run_comp(args) -> Result:
    path = db_path(args)
    plan = C.load_plan_file(args.plan)
    with store.connect(path) as conn:
        settings = store.get_settings(conn)
        deals = store.load_deals(conn)
        reps = store.load_reps(conn)
        snaps = store.load_snapshots(conn)
    cal = FiscalCalendar(int(settings["fiscal_year_start_month"]))
    period = cal.parse(args.period)
    deals = metrics.attach_roster(deals, reps)
    result = C.compute_payouts(plan, deals, period, reps=reps, snapshots=snaps)
    doc = result.to_json()
    if args.save:
        with store.connect(path, write=True) as conn:
            _, version = store.save_document(conn, "comp_plans", plan.name, plan.to_json())
        doc["saved"] = {"name": plan.name, "version": version}
    cur = settings["currency"]
    lines = [f"{plan.name}: payouts for {period.label}" + (f" (plan amounts x{result.quota_scale:g})" if result.quota_scale != 1 else ""),
             f"{'rep':<26}{'quota':>12}{'achieved':>12}{'attain':>8}{'commission':>12}{'spif':>9}{'total':>12}"]
    for r in result.payouts.itertuples():
        lines.append(f"{str(r.rep)[:25]:<26}{formats.money(r.quota, cur):>12}{formats.money(r.achieved, cur) if plan.measure == 'won_amount' else f'{r.achieved:g}':>12}"
                     f"{formats.pct(r.attainment):>8}{formats.money(r.commission, cur):>12}{formats.money(r.spif, cur):>9}"
                     f"{formats.money(r.total, cur):>12}")
    lines.append(f"Total cost {formats.money(result.total_cost, cur, compact=False)} on bookings "
                 f"{formats.money(result.bookings, cur, compact=False)}: cost of sales {formats.pct(result.cost_of_sales, 1)}"
                 + (f" (with base salaries {formats.pct(result.full_cost_of_sales, 1)})" if result.full_cost_of_sales is not None else ""))
    if len(result.reversals):
        lines.append(f"{len(result.reversals)} won deal(s) later shown lost or reopened (data reversals, not paid): "
                     + ", ".join(map(str, result.reversals["opportunity_id"].head(10))))
    if doc.get("saved"):
        lines.append(f"Saved plan {plan.name!r} version {doc['saved']['version']}.")
    return Result(doc=doc, text="\n".join(lines))
