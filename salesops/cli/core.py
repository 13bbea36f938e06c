"""Core commands: ``demo`` (fill the database with the demo workspace) and ``kpis``."""
from __future__ import annotations

from ..errors import InputError
from .. import demo, formats, metrics, store
from .. import schema as S
from ..periods import FiscalCalendar
from . import Result, db_path

KPI_BY_FIELDS = (S.OWNER, S.MANAGER, S.TEAM, S.REGION, S.SEGMENT, S.PRODUCT, S.TYPE, S.LEAD_SOURCE, S.INDUSTRY, S.PIPELINE, S.ACCOUNT)


def register(sub, parent) -> None:
    p = sub.add_parser("demo", parents=[parent], help="fill the database with the deterministic demo workspace (replaces its contents)")
    p.set_defaults(func=run_demo)

    p = sub.add_parser("kpis", parents=[parent], help="KPIs for a period, for the team or by a field")
    p.add_argument("--period", help="2017 (fiscal year), 2017Q2, 2017-05 or 2017-04-01..2017-06-30 (default: the current quarter of the data)")
    p.add_argument("--by", help=f"group by one of: {', '.join(KPI_BY_FIELDS)}")
    p.set_defaults(func=run_kpis)


def run_demo(args) -> Result:
    path = db_path(args)
    counts = demo.load_demo(path)
    text = (f"Demo workspace written to {path}: {counts['opportunities']:,} deals, {counts['reps']} reps, "
            f"{counts['snapshots']:,} snapshot rows, {counts['targets']} targets.")
    return Result(doc={"db": str(path), "as_of": demo.DEMO_AS_OF.isoformat(), **counts}, text=text)


def data_as_of(conn) -> str | None:
    """The as-of date of the data (:func:`salesops.store.data_as_of`)."""
    return store.data_as_of(conn)


def run_kpis(args) -> Result:
    path = db_path(args)
    if args.by and args.by not in KPI_BY_FIELDS:
        raise InputError(f"--by {args.by!r} is not a field to group by; use one of {', '.join(KPI_BY_FIELDS)}")
    with store.connect(path) as conn:
        settings = store.get_settings(conn)
        deals = store.load_deals(conn)
        reps = store.load_reps(conn)
        targets = store.load_targets(conn)
        as_of = data_as_of(conn)
    cal = FiscalCalendar(int(settings["fiscal_year_start_month"]))
    if args.period:
        period = cal.parse(args.period)
    else:
        from datetime import date

        period = cal.quarter_of(date.fromisoformat(as_of) if as_of else date.today())
    deals = metrics.attach_roster(deals, reps)
    rows = metrics.period_kpis(deals, period.start, period.end, by=args.by, targets=targets, reps=reps)
    doc = {"period": period.label, "start": period.start.isoformat(), "end": period.end.isoformat(),
           "rows": rows[metrics.CONTRACT_COLUMNS].to_dict(orient="records")}
    cur = settings["currency"]
    lines = [f"KPIs for {period.label} ({period.start} .. {period.end})" + (f" by {args.by}" if args.by else "")]
    header = f"{'group':<28}{'won':>10}{'#won':>6}{'#lost':>6}{'win rate':>9}{'avg deal':>10}{'cycle':>9}{'open pipe':>11}{'target':>10}{'attain':>8}"
    lines.append(header)
    for r in rows.itertuples():
        lines.append(f"{str(r.group)[:27]:<28}{formats.money(r.won_amount, cur):>10}{r.won_count:>6}{r.lost_count:>6}"
                     f"{formats.pct(r.win_rate):>9}{formats.money(r.avg_deal_size, cur):>10}{formats.days(r.avg_cycle_days):>9}"
                     f"{formats.money(r.open_pipeline, cur):>11}{formats.money(r.target, cur):>10}{formats.pct(r.attainment):>8}")
    if rows.empty:
        lines.append("(no deals in this period)")
    return Result(doc=doc, text="\n".join(lines))
