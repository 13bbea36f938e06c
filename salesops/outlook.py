"""Where the period will land: the one landing zone that the Overview, the Forecast page, the
Goals page and ``landing`` in the CLI all show for a slice.

It is salesops.forecasting's landing zone (booked to date + the open pipeline at learned win
odds + new business still to come, blended with the time series and calibrated on earlier
periods), run on the deals, snapshots and stage history inside the slice, as known on the
filters' as-of date, against the slice's target by the one target rule."""
from __future__ import annotations

import numpy as np

from .errors import InputError
from .filters import Filters

#: Above this many deals the Overview asks before estimating the landing zone (it reads every
#: deal row, its snapshots and its stage history; the KPI tiles do not).
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
    deals = f.deals(ws)
    snapshots, history = f.restrict(ws, ws.snapshots()), f.restrict(ws, ws.stage_history())
    res = landing(deals, snapshots, f.period, f.as_of, targets=ws.targets, calendar=ws.settings.calendar,
                  n_samples=n_samples, seed=seed, stage_history=history)
    view = f.target(ws)
    res["target"] = view.amount
    res["target_view"] = view.as_dict()
    res["samples"] = np.asarray(res["samples"], dtype=float)
    return res


def summary(res: dict) -> dict:
    """The numbers a tile shows of a landing zone (no samples, no deal frames)."""
    keys = ("period", "as_of", "closed_won", "open_expected", "new_expected", "p10", "p50", "p90", "target")
    return {k: res.get(k) for k in keys}
