"""Where the period will land: the one landing zone that the Overview, the Forecast page, the
Goals page and ``landing`` in the CLI all show for a slice.

It is salesops.forecasting's landing zone (booked to date + the open pipeline at learned win
odds + new business still to come, blended with the time series and calibrated on earlier
periods), run on the deals, snapshots and stage history inside the slice, as known on the
filters' as-of date, against the slice's target by the one target rule."""
from __future__ import annotations

import copy

import numpy as np

from .errors import InputError
from .filters import Filters
from .memo import Kept

#: Above this many deals the Overview asks before estimating the landing zone (it reads a few
#: columns of every deal row, its snapshots and its stage history; the KPI tiles do not).
AUTO_MAX_DEALS = 300_000


def landing_zone(ws, f: Filters, n_samples: int = 4000, seed: int = 0) -> dict:
    """The landing zone of the filters' period as known on their as-of date.

    Returns forecasting.landing's result (p10, p50, p90, closed_won, open_expected,
    new_expected, samples, ...) with ``target`` (and ``target_view``) from the target rule.
    Raises InputError when the period ended before the as-of date or there are no deals."""
    from .forecasting import landing

    if ws.empty:
        raise InputError("there are no deals in this workspace; import an export or load the demo first")
    if f.period.end < f.as_of:
        raise InputError(f"{f.period.label} ended before the as-of date {f.as_of:%d %b %Y}: its bookings are known, "
                         "there is nothing left to forecast")

    def make() -> dict:
        snapshots, history = f.restrict(ws, ws.snapshots()), f.restrict(ws, ws.stage_history())
        # the few columns of each deal's row that the landing zone reads, not every full row
        return landing(f.deal_columns(ws), snapshots, f.period, f.as_of, calendar=ws.settings.calendar,
                       n_samples=n_samples, seed=seed, stage_history=history)

    # the landing zone reads the deal facts only (not the targets): kept by the facts token, it
    # survives a saved target, plan or forecast, and the CLI and the page in one process share it
    key = ws.facts_key(f, n_samples, seed)
    kept = _LANDINGS.get(key, make)
    res = {**kept, "notes": list(kept["notes"]), "samples": np.array(kept["samples"], dtype=float),
           "open_deals": kept["open_deals"].copy()}
    view = f.target(ws)
    res["target"] = view.amount
    res["target_view"] = view.as_dict()
    return res


def _weight(res: dict) -> int:
    """A kept landing zone's size in bytes: its draws and its open deals (about 330 bytes a deal)."""
    return int(res["samples"].nbytes + res["open_deals"].memory_usage(deep=True).sum())


#: Landing zones kept in the process by (facts token, scope, filters, draws, seed): up to 128
#: slices (a session's filters, periods and as-of dates, the matrix of a test run) or 256 MB,
#: whichever comes first (a result holds the slice's open deals: on the demo 0.3 MB, with
#: 100,000 open deals about 33 MB).
_LANDINGS = Kept(128, max_bytes=256 * 2**20, weigh=_weight)


def summary(res: dict) -> dict:
    """The numbers a tile shows of a landing zone (no samples, no deal frames)."""
    keys = ("period", "as_of", "closed_won", "open_expected", "new_expected", "p10", "p50", "p90", "target")
    return {k: res.get(k) for k in keys}


def forecast(ws, f: Filters, *, freq: str = "M", horizon: int = 6, measure: str = "won_amount", by: str | None = None,
             train_until=None, model: str = "auto", params_json: str | None = None, include_prophet: bool = True,
             n_cutoffs: int = 5, level: float | None = None, n_jobs: int | None = None):
    """The time-series forecast of the slice's bookings, as the Forecast page and ``forecast``
    show it: trained on the deals inside the slice closed up to the filters' as-of date (when
    that is before the data's own, and no earlier ``train_until`` is given), and the period
    that holds the as-of date reported as booked to date + the forecast of its rest."""
    import json

    from .forecasting import ProphetParams, run_forecast

    def make():
        params = ProphetParams.from_dict(json.loads(params_json)) if params_json else None
        until = f.as_of if train_until is None and f.as_of < ws.as_of else train_until
        return run_forecast(f.deals(ws), freq=freq, horizon=int(horizon), measure=measure, by=by, train_until=until,
                            model=model, params=params, calendar=ws.settings.calendar, n_cutoffs=n_cutoffs,
                            level=level if level is not None else (params.interval_width if params else 0.8),
                            include_prophet=include_prophet, n_jobs=n_jobs, as_of=min(f.as_of, ws.as_of))

    # like the landing zone, it reads the deal facts and the settings only: kept by the facts
    # token (a saved target or forecast leaves it), and handed out as a copy of its own
    key = ws.facts_key(f, freq, int(horizon), measure, by, train_until, model, params_json, include_prophet, n_cutoffs,
                       level)
    return copy.deepcopy(_FORECASTS.get(key, make))


#: Time-series forecasts kept in the process by (facts token, scope, filters, arguments): a
#: session's views and the CLI in one process fit a slice once (a result is a few hundred KB).
_FORECASTS = Kept(32)


def forecast_history(ws, f: Filters):
    """(saved forecasts against their actuals per run and model, per model, saved landing zones
    against their actuals), from the workspace's saved forecast runs."""
    from . import store
    from .forecasting import accuracy_by_model, accuracy_history, landing_accuracy, load_runs

    with store.connect(ws.path) as conn:
        runs = load_runs(conn)
        landings = load_runs(conn, kind="landing")
    hist = accuracy_history(runs, ws.deals, ws.settings.calendar)
    return hist, accuracy_by_model(hist), landing_accuracy(landings, ws.deals)
