"""Planning commands: ``goals`` (quotas for a team target and how realistic they are) and
``comp`` (the payouts of a comp plan, once per plan period, and optionally what it may cost).

Both take the options of every reporting command (--as-of, --region/--team/--rep/--segment)
and --period, and print the same numbers as the Goals and Compensation pages: they call
the same functions (salesops.goals.goal_plan, salesops.compensation.payouts / simulate).
"""
from __future__ import annotations

import math

from .. import compensation as C
from .. import formats, goals, outlook
from ..errors import InputError, SalesopsError
from . import Result, workspace_and_filters

PERIOD_HELP = "2017 (fiscal year), 2017Q2, 2017-05 or 2017-04-01..2017-06-30 (default: the current quarter of the data)"


def register(sub, parent, report) -> None:
    """Add ``goals`` and ``comp`` to the parser."""
    p = sub.add_parser("goals", parents=[report], help="per-rep quotas for a team target, with each rep's probability of attainment")
    p.add_argument("--period", help=PERIOD_HELP)
    basis = p.add_mutually_exclusive_group()
    basis.add_argument("--target", help="the team target in currency units (default: the published target of the period)")
    basis.add_argument("--growth", help="instead: growth over the same period last year, e.g. 0.15 or 15%%")
    basis.add_argument("--capacity", action="store_true", help="instead: the bottom-up capacity target")
    p.add_argument("--method", default="capacity", choices=goals.METHODS,
                   help="how to split the target: equal, history (share of past bookings), capacity (ramp), territory (account revenue)")
    p.add_argument("--over-assign", default="0", help="over-assignment: rep quotas sum to target x (1 + this); 0.1 or 10%% (default 0)")
    p.add_argument("--sims", type=int, default=2000, help="Monte Carlo simulations (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulation (default 0)")
    p.add_argument("--publish", action="store_true", help="write the quotas as the period's rep targets (replacing them)")
    p.add_argument("--save", metavar="NAME", help="save the result as a goal scenario under this name (a new version)")
    p.set_defaults(func=run_goals)

    p = sub.add_parser("comp", parents=[report], help="commission payouts of a plan file, once per plan period, from actual bookings")
    p.add_argument("--plan", required=True, help="the plan JSON file (see docs/planning.md and data/plans/)")
    p.add_argument("--period", help=PERIOD_HELP)
    p.add_argument("--quotas", default="targets", choices=list(C.QUOTA_SOURCES),
                   help="targets (default): each rep's published target of each plan period, the plan's quota where a rep "
                        "has none; plan: the plan's own quota for everyone")
    p.add_argument("--simulate", type=int, metavar="SIMS", help="also simulate the plan's cost with this many simulations")
    p.add_argument("--win-rate", default="0", help="what-if for --simulate: change in won deals, e.g. 10%% (default 0)")
    p.add_argument("--deal-size", default="0", help="what-if for --simulate: change in deal size, e.g. -5%% (default 0)")
    p.add_argument("--headcount", type=int, default=0, help="what-if for --simulate: reps added (or removed, negative)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the simulation (default 0)")
    p.add_argument("--save", action="store_true", help="also save the plan (a new version) in the database")
    p.set_defaults(func=run_comp)


def share(text: str, option: str) -> float:
    """A share typed as 0.1 or 10%."""
    t = str(text).strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a number (use 0.1 or 10%)") from None
    if not math.isfinite(v):
        raise InputError(f"{option} {text!r} is not a finite number")
    return v


def amount(text: str, option: str) -> float:
    try:
        v = float(str(text).replace(",", "").replace("_", ""))
    except ValueError:
        raise InputError(f"{option} {text!r} is not an amount (use a plain number such as 2500000)") from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{option} {text!r}: the target must be a positive amount")
    return v


def landing_samples(ws, f):
    """The landing zone of the slice (salesops.outlook, as Overview and Forecast show it), or
    None when the period has nothing left to forecast."""
    try:
        return outlook.landing_zone(ws, f)
    except SalesopsError:
        return None


def goals_doc(ws, f, target: float, basis: str, options: dict, landing: dict | None, *, method: str,
              over_assignment: float, overrides: tuple = (), n_sims: int = 2000, seed: int = 0) -> tuple[dict, goals.GoalPlan]:
    """The ``goals --json`` document (and the plan behind it)."""
    plan = goals.goal_plan(ws, f, target, method, over_assignment, overrides, n_sims, seed,
                           team_samples=landing["samples"] if landing else None)
    doc = {"period": f.period.label, "period_start": f.period.start.isoformat(), "period_end": f.period.end.isoformat(),
           "as_of": f.as_of.isoformat(), "filters": f.as_dict(), "basis": basis,
           "published_target": options["published"], "last_year": options["last_year"],
           "last_year_period": options["last_year_label"],
           "bottom_up": {k: v for k, v in options["bottom_up"].items() if k != "history"},
           "landing": None if landing is None else outlook.summary(landing),
           "n_sims": n_sims, "seed": seed, **plan.to_json()}
    return doc, plan


def run_goals(args) -> Result:
    if args.sims < 1:
        raise InputError(f"--sims {args.sims}: use at least 1 simulation")
    over = share(args.over_assign, "--over-assign")
    target = amount(args.target, "--target") if args.target is not None else None
    growth = share(args.growth, "--growth") if args.growth is not None else None
    ws, f = workspace_and_filters(args)
    if ws.empty:
        raise InputError("there are no deals in this workspace; import an export or load the demo first")
    options = goals.target_options(ws, f)
    if target is not None:
        chosen = goals.choose_target(options, "amount", amount=target)
    elif growth is not None:
        chosen = goals.choose_target(options, "growth", growth=growth)
    elif args.capacity:
        chosen = goals.choose_target(options, "capacity")
    else:
        chosen = goals.choose_target(options, "published")
        if chosen["problem"]:
            raise InputError(f"{f.period.label} has no published target ({f.describe()}): give --target AMOUNT, "
                             "--growth RATE or --capacity")
    if chosen["problem"]:
        raise InputError(chosen["problem"])
    landing = landing_samples(ws, f)
    doc, plan = goals_doc(ws, f, chosen["target"], chosen["basis"], options, landing, method=args.method,
                          over_assignment=over, n_sims=args.sims, seed=args.seed)
    if args.publish:
        doc["published"] = goals.publish(ws, f.period, plan.quotas.to_dict())
    if args.save:
        payload = goals.scenario_payload(f.period, plan.target, args.method, over, plan.table, plan.team,
                                         basis=chosen["basis"], name=args.save, filters=f.describe())
        doc["saved"] = {"name": args.save, "version": ws.save("scenarios", args.save, payload, kind="goals")}
    cur = ws.settings.currency
    team = plan.team
    lines = [f"Goals for {f.period.label} ({f.describe()}): target {formats.money(plan.target, cur, compact=False)} "
             f"({chosen['basis']}), split by {goals.METHOD_LABELS[args.method].lower()}"
             + (f", over-assigned {over:.0%}" if over else ""),
             f"Team: P(reach target) {formats.pct(team['p_team'])} (from the {team['source']}); expected share of reps "
             f"at quota {formats.pct(team['expected_share_hitting'])} (usual: 50-70%)",
             f"{'rep':<26}{'quota':>14}{'P(attain)':>11}{'expected':>12}  flag"]
    for r in plan.table.itertuples():
        lines.append(f"{str(r.rep)[:25]:<26}{formats.money(r.quota, cur, compact=False):>14}{formats.pct(r.p_attain):>11}"
                     f"{formats.money(r.expected, cur):>12}  {r.flag}")
    if doc.get("published") is not None:
        lines.append(f"Published {doc['published']} rep targets for {f.period.label}.")
    if doc.get("saved"):
        lines.append(f"Saved scenario {args.save!r} version {doc['saved']['version']}.")
    return Result(doc=doc, text="\n".join(lines))


def comp_doc(ws, f, plan, quota_source: str = "targets", simulate: dict | None = None) -> dict:
    """The ``comp --json`` document: payouts (and, given ``simulate`` {n_sims, seed,
    win_rate_uplift, deal_size_change, extra_hires}, the simulation's summary and rep table)."""
    result = C.payouts(ws, f, C.plan_json(plan), quota_source)
    doc = {**result.to_json(), "filters": f.as_dict(), "evaluated_as": result.evaluated_as(),
           "effectiveness": C.effectiveness(result)}
    if simulate:
        doc["simulation"] = C.simulate(ws, f, C.plan_json(plan), quota_source, **simulate).to_json()
    return doc


def run_comp(args) -> Result:
    plan = C.load_plan_file(args.plan)
    ws, f = workspace_and_filters(args)
    sim = None
    if args.simulate is not None:
        if args.simulate < 1:
            raise InputError(f"--simulate {args.simulate}: use at least 1 simulation")
        sim = {"n_sims": args.simulate, "seed": args.seed, "win_rate_uplift": share(args.win_rate, "--win-rate"),
               "deal_size_change": share(args.deal_size, "--deal-size"), "extra_hires": args.headcount}
    doc = comp_doc(ws, f, plan, args.quotas, sim)
    if args.save:
        doc["saved"] = {"name": plan.name, "version": ws.save("comp_plans", plan.name, plan.to_json())}
    cur = ws.settings.currency
    lines = [f"{plan.name}: payouts for {f.period.label} ({f.describe()}), evaluated as {doc['evaluated_as']}; "
             f"quotas: {C.QUOTA_SOURCES[doc['quota_source']]}",
             f"{'rep':<26}{'quota':>12}{'achieved':>12}{'attain':>8}{'commission':>12}{'spif':>9}{'total':>12}  quota from"]
    for r in doc["payouts"]:
        achieved = formats.money(r["achieved"], cur) if plan.measure == "won_amount" else f"{r['achieved']:g}"
        lines.append(f"{str(r['rep'])[:25]:<26}{formats.money(r['quota'], cur):>12}{achieved:>12}"
                     f"{formats.pct(r['attainment']):>8}{formats.money(r['commission'], cur):>12}{formats.money(r['spif'], cur):>9}"
                     f"{formats.money(r['total'], cur):>12}  {r['quota_from']}")
    lines.append(f"Total cost {formats.money(doc['total_cost'], cur, compact=False)} on bookings "
                 f"{formats.money(doc['bookings'], cur, compact=False)}: cost of sales {formats.pct(doc['cost_of_sales'], 1)}"
                 + (f" (with base salaries {formats.pct(doc['full_cost_of_sales'], 1)})" if doc["full_cost_of_sales"] is not None else ""))
    lines += doc["notes"]
    if doc["reversals"]:
        lines.append(f"{len(doc['reversals'])} won deal(s) later shown lost or reopened (data reversals, not paid): "
                     + ", ".join(str(r["opportunity_id"]) for r in doc["reversals"][:10]))
    if sim:
        s = doc["simulation"]
        lines.append(f"Simulated cost over {', '.join(s['periods'])} ({s['n_sims']:,} simulations): expected "
                     f"{formats.money(s['mean_cost'], cur)}, P90 {formats.money(s['p90_cost'], cur)}; expected share of "
                     f"reps at quota {formats.pct(s['share_reps_at_quota'])}")
    if doc.get("saved"):
        lines.append(f"Saved plan {plan.name!r} version {doc['saved']['version']}.")
    return Result(doc=doc, text="\n".join(lines))
