"""CLI commands of issue #5: ``forecast`` (models, backtests, forecast rows) and ``landing``
(where a period will land, from the data as of a date). See docs/forecasting.md."""
from __future__ import annotations

import json

import pandas as pd

from .. import audit, formats, outlook, store
from ..errors import InputError
from ..forecasting import (MODEL_LABELS, MODELS, ProphetParams, calibration_words, landing_doc, recommended_params,
                           save_landing, save_run)
from . import Result, option_date, workspace_and_filters

BY_FIELDS = ("owner", "manager", "team", "region", "segment", "product", "type", "lead_source", "industry", "pipeline")


def register(sub, parent, report) -> None:
    """Add ``forecast`` and ``landing`` to the parser."""
    p = sub.add_parser("forecast", parents=[report], help="forecast bookings with Prophet and baselines, backtested")
    p.add_argument("--freq", default="M", help="W, M or Q (default M)")
    p.add_argument("--horizon", type=int, default=6, help="periods to forecast (default 6)")
    p.add_argument("--train-until", dest="train_until", help="use only deals closed up to this date (YYYY-MM-DD)")
    p.add_argument("--model", default="auto", help=f"auto (the ensemble unless a model is clearly better in backtest) "
                                                  f"or one of {', '.join(MODELS)}")
    p.add_argument("--by", help=f"one series per value of: {', '.join(BY_FIELDS)}")
    p.add_argument("--measure", default="won_amount", help="won_amount (default) or won_count")
    p.add_argument("--cutoffs", type=int, default=5, help="backtest cut-offs (default 5)")
    p.add_argument("--level", type=float, default=0.8, help="interval coverage for every model (default 0.8)")
    p.add_argument("--prophet-params", dest="prophet_params", metavar="JSON",
                   help='Prophet settings as JSON, e.g. \'{"yearly_order": 5, "holidays_country": "US"}\' '
                        "(keys of ProphetParams; the rest stay at the recommended values for --freq)")
    p.add_argument("--no-prophet", dest="no_prophet", action="store_true", help="baselines only (fast)")
    p.add_argument("--jobs", type=int, default=None, help="workers for fitting many series (default: CPUs, at most 4)")
    p.add_argument("--save", metavar="NAME", help="also save the run under NAME (forecast_runs) for accuracy tracking")
    p.set_defaults(func=run_forecast_cmd)

    p = sub.add_parser("landing", parents=[report], help="where a period will land: closed + pipeline + new, P10/P50/P90")
    p.add_argument("--period", help="2017Q2, 2017-05, 2017 or a range (default: the quarter of the as-of date)")
    p.add_argument("--samples", type=int, default=4000, help="Monte Carlo draws (default 4000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--save", metavar="NAME", help="also save the landing zone under NAME to compare with the actual later")
    p.set_defaults(func=run_landing_cmd)



def run_forecast_cmd(args) -> Result:
    if args.by and args.by not in BY_FIELDS:
        raise InputError(f"--by {args.by!r} is not a field to group by; use one of {', '.join(BY_FIELDS)}")
    if args.no_prophet and args.model == "prophet":
        raise InputError("--model prophet cannot be combined with --no-prophet")
    if not 0 <= args.cutoffs <= 24:
        raise InputError(f"--cutoffs must be between 0 and 24, not {args.cutoffs}")
    train_until = option_date(args.train_until, "--train-until")
    if not 0.5 <= args.level < 1:
        raise InputError(f"--level must be between 0.5 and 0.99, not {args.level}")
    params = None
    if args.prophet_params:
        try:
            given = json.loads(args.prophet_params)
        except json.JSONDecodeError as exc:
            raise InputError(f"--prophet-params is not valid JSON ({exc.msg})") from None
        if not isinstance(given, dict):
            raise InputError("--prophet-params must be a JSON object")
        known = set(ProphetParams.__dataclass_fields__)
        unknown = sorted(set(given) - known)
        if unknown:
            raise InputError(f"--prophet-params: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        base = recommended_params(str(args.freq).upper() if str(args.freq).upper() in ("W", "M", "Q") else "M").to_dict()
        base.update(given, interval_width=args.level)
        try:
            params = ProphetParams.from_dict(base)
        except (TypeError, ValueError) as exc:
            raise InputError(f"--prophet-params: {exc}") from None
    elif args.level != 0.8:
        params = ProphetParams.from_dict({**recommended_params(str(args.freq).upper() if str(args.freq).upper() in ("W", "M", "Q") else "M").to_dict(),
                                          "interval_width": args.level})
    # --train-until alone: the forecast is made as of the training date
    ws, f = workspace_and_filters(args, as_of=train_until if args.as_of is None else None)
    settings = ws.settings
    path = ws.path
    res = outlook.forecast(ws, f, freq=args.freq, horizon=args.horizon, measure=args.measure, by=args.by,
                           train_until=train_until, model=args.model, n_cutoffs=args.cutoffs,
                           include_prophet=not args.no_prophet, n_jobs=args.jobs,
                           params_json=json.dumps(params.to_dict(), sort_keys=True) if params else None, level=args.level)
    doc = res.to_doc()
    if args.save:
        with audit.action("forecast", f"saved forecast {args.save!r}"), store.connect(path, write=True) as conn:
            run_id, version = save_run(conn, args.save, res)
        doc["saved"] = {"name": args.save, "id": run_id, "version": version}
    return Result(doc=doc, text=_forecast_text(res, settings, doc.get("saved")))


def _forecast_text(res, settings, saved) -> str:
    cur = settings.get("currency", "USD")
    money = res.measure == "won_amount"
    fmt = (lambda x: formats.money(x, cur)) if money else (lambda x: f"{x:,.1f}")
    lines = [res.summary(), ""]
    lines.append(f"{'model':<16}{'MASE':>8}{'MAPE':>8}{'bias':>8}{'coverage':>10}")
    for r in res.backtest.itertuples(index=False):
        mark = " *" if r.model == res.recommended else ""
        mase = f"{r.mase:.2f}" if pd.notna(r.mase) else "–"
        lines.append(f"{MODEL_LABELS[r.model]:<16}{mase:>8}{formats.pct(r.mape):>8}{formats.pct(r.bias):>8}"
                     f"{formats.pct(r.coverage):>10}{mark}")
    if res.recommended:
        lines.append("* recommended (the ensemble unless a single model's backtest MASE is clearly lower); coverage: how "
                     "often each backtest's range, built from the other backtests' errors, held the actual")
    lines.append("")
    lines.append(f"Forecast ({MODEL_LABELS.get(res.model, res.model)}, {res.level:.0%} range):")
    for r in res.forecast.itertuples(index=False):
        grp = "" if r.group == "all" else f"{str(r.group)[:24]:<26}"
        split = (f"  = {fmt(r.booked_to_date)} booked to {pd.Timestamp(res.as_of).date()} + {fmt(r.forecast_rest)} to come"
                 if res.running is not None and pd.Timestamp(r.period_start) == res.running["period_start"] else "")
        lines.append(f"{grp}{pd.Timestamp(r.period_start).date()}  {fmt(r.yhat):>10}  ({fmt(r.yhat_lower)} – {fmt(r.yhat_upper)}){split}")
    for fb in res.fallbacks:
        lines.append(f"note: {fb['group']}: {fb['model']} not used ({fb['reason']})"
                     + (f"; used {fb['used']}" if fb.get("used") else ""))
    for n in res.notes:
        lines.append(f"note: {n}")
    if saved:
        lines.append(f"Saved as {saved['name']!r} version {saved['version']}.")
    return "\n".join(lines)


def run_landing_cmd(args) -> Result:
    if not 100 <= args.samples <= 100_000:
        raise InputError(f"--samples must be between 100 and 100000, not {args.samples}")
    ws, f = workspace_and_filters(args)
    settings, path, period, as_of = ws.settings, ws.path, f.period, f.as_of
    if ws.empty:
        raise InputError("there are no deals in this database; import an export or run `demo` first")
    if period.end < as_of:
        raise InputError(f"--period {period.label} ended before --as-of {as_of}; choose a period that is still open then")
    res = outlook.landing_zone(ws, f, n_samples=args.samples, seed=args.seed)  # what the pages show
    doc = landing_doc(res)
    if args.save:
        with audit.action("forecast", f"saved landing zone {args.save!r}"), store.connect(path, write=True) as conn:
            run_id, version = save_landing(conn, args.save, res)
        doc["saved"] = {"name": args.save, "id": run_id, "version": version}
    cur = settings.get("currency", "USD")
    m = lambda x: formats.money(x, cur)  # noqa: E731
    lines = [f"{period.label} as of {as_of}: likely {m(res['p50'])} (80% range {m(res['p10'])} – {m(res['p90'])})"
             + (f" against a target of {m(res['target'])}" if res["target"] else ""),
             f"  closed won so far     {m(res['closed_won']):>10}",
             f"  open pipeline, learned win odds {m(res['open_expected']):>10}  ({res['open_count']} open deals)",
             f"  new business to come  {m(res['new_expected']):>10}",
             f"  pipeline view {m(res['pipeline_view'])}; time-series view {m(res['time_series_view'])}; "
             f"pipeline weight {res['pipeline_weight']:.0%}",
             f"  {res['rule']}"]
    lines.append(f"  {calibration_words(res['calibration'], period.kind)}")
    lines += [f"note: {n}" for n in res["notes"]]
    if args.save:
        lines.append(f"Saved as {args.save!r} version {doc['saved']['version']}.")
    return Result(doc=doc, text="\n".join(lines))
