"""Ramp: how a new rep's productivity grows with tenure, and what the team can carry.

:func:`ramp_factors` gives each active rep the expected share (0..1) of a tenured rep's
productivity at their tenure, learned from the workspace's own cohort curves when there is
enough history (:func:`ramp_curve`), otherwise a straight line from 0 at hire to 1 after
``ramp_months`` (default :data:`DEFAULT_RAMP_MONTHS`). Used by the Reps page (new-hire ramp)
and by goal setting (capacity). Every function takes plain DataFrames (deals as
store.load_deals gives them, reps as store.load_reps) and returns plain DataFrames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema as S

#: Average month length in days; tenure is measured in these months.
MONTH_DAYS = 30.4375
#: The linear ramp's length when nothing is learned and no length is given.
DEFAULT_RAMP_MONTHS = 6
#: Tenure (months) after which a rep counts as tenured: the learned curve spans 0..this.
RAMP_HORIZON_MONTHS = 12
#: Fewest reps a cohort point (or the tenured baseline) needs before it is trusted.
MIN_COHORT_REPS = 3
#: Fewest leading tenure months the cohort must cover for a learned curve.
MIN_LEARNED_MONTHS = 3
#: A rep is "ramped" once a trailing-3-month average of bookings reaches this share of the
#: tenured reps' average month.
RAMPED_SHARE = 0.75
#: Without a roster, an owner counts as active when they created or closed a deal within
#: this many days before ``as_of``.
ACTIVE_WINDOW_DAYS = 365


def _ts(d) -> pd.Timestamp:
    return pd.Timestamp(d).normalize()


def _months_between(start, end) -> np.ndarray | float:
    """Months (of :data:`MONTH_DAYS`) from ``start`` to ``end``: floats, NaN where unknown."""
    delta = pd.to_datetime(end) - pd.to_datetime(start)
    if isinstance(delta, pd.Timedelta) or delta is pd.NaT:
        return np.nan if pd.isna(delta) else delta.days / MONTH_DAYS
    return (pd.Series(delta).dt.days / MONTH_DAYS).to_numpy(dtype=float)


def _has_roster(reps: pd.DataFrame | None) -> bool:
    return reps is not None and not reps.empty and S.NAME in reps.columns


def _data_start(deals: pd.DataFrame) -> pd.Timestamp | None:
    """The earliest date any deal shows (created or closed): history before it is unseen."""
    if deals is None or deals.empty:
        return None
    first = pd.concat([deals[S.CREATED_DATE], deals[S.CLOSE_DATE]]).min()
    return None if pd.isna(first) else _ts(first)


def roster_spans(deals: pd.DataFrame, reps: pd.DataFrame | None) -> pd.DataFrame:
    """When each rep was on the team: columns ``owner, hire_date, end_date, known_hire,
    on_roster``.

    With a roster: its hire and end dates; a rep marked inactive with no end date is taken to
    have left after their last deal activity. Without a roster: one row per deal owner, the
    hire date proxied by their first deal's created date (``known_hire`` False), and the end
    date by their last activity when that is more than :data:`ACTIVE_WINDOW_DAYS` old
    relative to the newest deal date (so they are active only near their own activity)."""
    last_activity = pd.Series(dtype="datetime64[ns]")
    first_activity = pd.Series(dtype="datetime64[ns]")
    if deals is not None and not deals.empty:
        act = pd.concat([
            deals[[S.OWNER, S.CREATED_DATE]].rename(columns={S.CREATED_DATE: "d"}),
            deals[[S.OWNER, S.CLOSE_DATE]].rename(columns={S.CLOSE_DATE: "d"}),
        ]).dropna()
        grouped = act.groupby(S.OWNER)["d"]
        last_activity, first_activity = grouped.max(), grouped.min()
    if _has_roster(reps):
        r = reps.drop_duplicates(S.NAME)
        hire = pd.to_datetime(r[S.HIRE_DATE]) if S.HIRE_DATE in r.columns else pd.Series(pd.NaT, index=r.index)
        end = pd.to_datetime(r[S.END_DATE]) if S.END_DATE in r.columns else pd.Series(pd.NaT, index=r.index)
        active = r[S.ACTIVE].fillna(True).astype(bool) if S.ACTIVE in r.columns else pd.Series(True, index=r.index)
        inferred_end = r[S.NAME].map(last_activity)
        # inactive and no end date: gone after their last activity (or already, if none)
        end = end.where(end.notna() | active, inferred_end.fillna(pd.Timestamp.min))
        return pd.DataFrame({S.OWNER: r[S.NAME].to_numpy(), S.HIRE_DATE: hire.to_numpy(),
                             S.END_DATE: end.to_numpy(), "known_hire": hire.notna().to_numpy(),
                             "on_roster": True})
    if first_activity.empty:
        return pd.DataFrame({S.OWNER: pd.Series(dtype=object), S.HIRE_DATE: pd.Series(dtype="datetime64[ns]"),
                             S.END_DATE: pd.Series(dtype="datetime64[ns]"), "known_hire": pd.Series(dtype=bool),
                             "on_roster": pd.Series(dtype=bool)})
    newest = last_activity.max()
    gone = last_activity < newest - pd.Timedelta(days=ACTIVE_WINDOW_DAYS)
    return pd.DataFrame({S.OWNER: first_activity.index.to_numpy(), S.HIRE_DATE: first_activity.to_numpy(),
                         S.END_DATE: last_activity.where(gone).to_numpy(), "known_hire": False,
                         "on_roster": False})


def _active_at(spans: pd.DataFrame, when, deals: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows of :func:`roster_spans` on the team at ``when`` (hired on or before it, not
    yet gone). Without a roster an owner must also have been active in the trailing
    :data:`ACTIVE_WINDOW_DAYS`."""
    t = _ts(when)
    hired = spans[S.HIRE_DATE].isna() | (spans[S.HIRE_DATE] <= t)
    staying = spans[S.END_DATE].isna() | (spans[S.END_DATE] > t)
    out = spans[hired & staying]
    if not out.empty and not out["on_roster"].any() and deals is not None and not deals.empty:
        lo = t - pd.Timedelta(days=ACTIVE_WINDOW_DAYS)
        recent = deals[(deals[S.CREATED_DATE].between(lo, t)) | (deals[S.CLOSE_DATE].between(lo, t))][S.OWNER].unique()
        out = out[out[S.OWNER].isin(recent)]
    return out


@dataclass(frozen=True)
class RampCurve:
    """Expected share of tenured productivity by month of tenure (index 0 = first month).

    ``factors`` has :data:`RAMP_HORIZON_MONTHS` entries (or ``ramp_months`` for the linear
    ramp); past its end the factor is 1. ``method`` is "learned" or "linear"; ``reason`` says
    in words why a linear ramp was used."""

    factors: np.ndarray
    method: str
    reason: str = ""
    tenured_monthly: float = float("nan")
    cohort_reps: int = 0

    def at(self, tenure_months) -> np.ndarray:
        """Factor for each tenure in months (float); NaN tenure (unknown hire) -> 1."""
        t = np.asarray(tenure_months, dtype=float)
        out = np.ones_like(t)
        known = ~np.isnan(t)
        k = np.floor(np.where(known, t, 0)).astype(int)
        inside = known & (k < len(self.factors))
        out[inside] = self.factors[np.clip(k[inside], 0, len(self.factors) - 1)]
        out[known & (t < 0)] = 0.0
        return out


def linear_ramp(ramp_months: int = DEFAULT_RAMP_MONTHS, reason: str = "") -> RampCurve:
    """The documented fallback: during tenure month k (0-based) a rep delivers
    (k + 0.5) / ramp_months of a tenured rep (the month's mid-point on a straight line from 0
    at hire to 1 at ``ramp_months``), and 1 from month ``ramp_months`` on."""
    n = max(int(ramp_months), 1)
    return RampCurve(np.clip((np.arange(n) + 0.5) / n, 0, 1), "linear", reason)


def _cohort_grid(deals: pd.DataFrame, spans: pd.DataFrame, as_of, horizon: int) -> pd.DataFrame:
    """Won amount per (owner, tenure month k) for every fully observed month k < horizon of
    reps whose hire date lies inside the data: columns ``owner, k, won_amount``."""
    start = _data_start(deals)
    t = _ts(as_of)
    if start is None:
        return pd.DataFrame(columns=[S.OWNER, "k", "won_amount"])
    hires = spans[spans["known_hire"] & spans[S.HIRE_DATE].notna() & (spans[S.HIRE_DATE] >= start)
                  & (spans[S.HIRE_DATE] <= t)]
    if hires.empty:
        return pd.DataFrame(columns=[S.OWNER, "k", "won_amount"])
    stop = hires[S.END_DATE].where(hires[S.END_DATE].notna() & (hires[S.END_DATE] < t), t)
    n_obs = np.floor(_months_between(hires[S.HIRE_DATE], stop)).astype(int).clip(0, horizon)
    owners = np.repeat(hires[S.OWNER].to_numpy(), n_obs)
    ks = np.concatenate([np.arange(n) for n in n_obs]) if len(n_obs) else np.array([], dtype=int)
    grid = pd.DataFrame({S.OWNER: owners, "k": ks.astype(int)})
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.OWNER].isin(hires[S.OWNER]) & (deals[S.CLOSE_DATE] <= t)]
    hire_of = hires.set_index(S.OWNER)[S.HIRE_DATE]
    k = np.floor(_months_between(won[S.OWNER].map(hire_of), won[S.CLOSE_DATE]))
    booked = (pd.DataFrame({S.OWNER: won[S.OWNER].to_numpy(), "k": k, "won_amount": won[S.AMOUNT].fillna(0.0).to_numpy()})
              .dropna(subset=["k"]).astype({"k": int}).groupby([S.OWNER, "k"], as_index=False)["won_amount"].sum())
    grid = grid.merge(booked, on=[S.OWNER, "k"], how="left")
    grid["won_amount"] = grid["won_amount"].fillna(0.0)
    return grid


def tenured_monthly_bookings(deals: pd.DataFrame, reps: pd.DataFrame | None, as_of,
                             horizon: int = RAMP_HORIZON_MONTHS, lookback_months: int = 12) -> pd.Series:
    """Average monthly won amount of each tenured rep (tenure >= ``horizon`` months, or hire
    date unknown) over the months of the trailing ``lookback_months`` before ``as_of`` in
    which they were tenured and on the team. Reps with fewer than 3 such months are left out.
    Index: owner."""
    if deals is None or deals.empty:
        return pd.Series(dtype=float)
    spans = roster_spans(deals, reps)
    spans = spans[spans["known_hire"]] if spans["known_hire"].any() else spans.assign(**{S.HIRE_DATE: pd.NaT})
    t = _ts(as_of)
    start = max(_data_start(deals), t - pd.DateOffset(months=lookback_months))
    tenured_from = (spans[S.HIRE_DATE] + pd.to_timedelta(horizon * MONTH_DAYS, unit="D")).fillna(start)
    lo = tenured_from.where(tenured_from > start, start)
    hi = spans[S.END_DATE].where(spans[S.END_DATE].notna() & (spans[S.END_DATE] < t), t)
    months = pd.Series(_months_between(lo, hi), index=spans[S.OWNER].to_numpy())
    lo_of = pd.Series(lo.to_numpy(), index=spans[S.OWNER].to_numpy())
    hi_of = pd.Series(hi.to_numpy(), index=spans[S.OWNER].to_numpy())
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.OWNER].isin(spans[S.OWNER])]
    inside = (won[S.CLOSE_DATE] > won[S.OWNER].map(lo_of)) & (won[S.CLOSE_DATE] <= won[S.OWNER].map(hi_of))
    total = won[inside].groupby(S.OWNER)[S.AMOUNT].sum().reindex(months.index, fill_value=0.0)
    ok = months >= 3
    return (total[ok] / months[ok]).rename("monthly_won_amount")


def cohort_curve(deals: pd.DataFrame, reps: pd.DataFrame | None, as_of,
                 horizon: int = RAMP_HORIZON_MONTHS) -> pd.DataFrame:
    """Bookings by month since hire for reps hired inside the data, against the tenured reps.

    Columns: ``k`` (tenure month, 0 = first), ``reps`` (how many reps were observed for that
    whole month), ``mean_won_amount``, ``median_won_amount``, ``tenured_mean`` and
    ``tenured_median`` (of tenured reps' average month), ``share_of_tenured``
    (mean_won_amount / tenured_mean)."""
    cols = ["k", "reps", "mean_won_amount", "median_won_amount", "tenured_mean", "tenured_median", "share_of_tenured"]
    if deals is None or deals.empty:
        return pd.DataFrame(columns=cols)
    spans = roster_spans(deals, reps)
    grid = _cohort_grid(deals, spans, as_of, horizon)
    tenured = tenured_monthly_bookings(deals, reps, as_of, horizon)
    if grid.empty:
        return pd.DataFrame(columns=cols)
    out = grid.groupby("k")["won_amount"].agg(reps="size", mean_won_amount="mean", median_won_amount="median").reset_index()
    out["tenured_mean"] = tenured.mean() if len(tenured) else np.nan
    out["tenured_median"] = tenured.median() if len(tenured) else np.nan
    out["share_of_tenured"] = (out["mean_won_amount"] / out["tenured_mean"]).where(out["tenured_mean"] > 0)
    return out[cols]


def ramp_curve(deals: pd.DataFrame, reps: pd.DataFrame | None, as_of,
               ramp_months: int | None = None) -> RampCurve:
    """The workspace's ramp: learned from cohort curves when there is enough history,
    otherwise :func:`linear_ramp` over ``ramp_months`` (default 6).

    Learned: for tenure months k = 0..11, the mean monthly won amount of reps hired inside the
    data (at least :data:`MIN_COHORT_REPS` observed for the whole month) divided by the mean
    of tenured reps' average month (at least 3 tenured reps); made non-decreasing by a
    weighted isotonic fit, clipped to 0..1, and carried on a straight line to 1 at month 12
    past the last well-observed month. Passing ``ramp_months`` forces the linear ramp."""
    if ramp_months is not None:
        return linear_ramp(ramp_months, "ramp length set explicitly")
    if deals is None or deals.empty:
        return linear_ramp(DEFAULT_RAMP_MONTHS, "no deals yet")
    if not _has_roster(reps) or S.HIRE_DATE not in reps.columns or reps[S.HIRE_DATE].isna().all():
        return linear_ramp(DEFAULT_RAMP_MONTHS, "the roster has no hire dates")
    curve = cohort_curve(deals, reps, as_of)
    tenured = tenured_monthly_bookings(deals, reps, as_of)
    if len(tenured) < MIN_COHORT_REPS or not tenured.mean() > 0:
        return linear_ramp(DEFAULT_RAMP_MONTHS, f"fewer than {MIN_COHORT_REPS} tenured reps with a year of history")
    trusted = curve[curve["reps"] >= MIN_COHORT_REPS].sort_values("k")
    # the leading run of well-observed months 0, 1, 2, ...
    lead = trusted[trusted["k"].to_numpy() == np.arange(len(trusted))]
    if len(lead) < MIN_LEARNED_MONTHS:
        return linear_ramp(DEFAULT_RAMP_MONTHS, f"fewer than {MIN_COHORT_REPS} reps hired inside the data "
                                                f"with {MIN_LEARNED_MONTHS}+ months of history")
    share = (lead["mean_won_amount"] / tenured.mean()).to_numpy(dtype=float)
    from scipy.optimize import isotonic_regression  # here: scipy.optimize is 0.6 s of every CLI start

    fitted = isotonic_regression(share, weights=lead["reps"].to_numpy(dtype=float), increasing=True).x
    fitted = np.clip(fitted, 0.0, 1.0)
    factors = np.ones(RAMP_HORIZON_MONTHS)
    n = min(len(fitted), RAMP_HORIZON_MONTHS)
    factors[:n] = fitted[:n]
    if n < RAMP_HORIZON_MONTHS:  # straight line from the last learned month to 1 at the horizon
        steps = np.arange(1, RAMP_HORIZON_MONTHS - n + 1)
        factors[n:] = fitted[n - 1] + (1 - fitted[n - 1]) * steps / (RAMP_HORIZON_MONTHS - n + 1)
    factors = np.maximum.accumulate(np.clip(factors, 0, 1))
    return RampCurve(factors, "learned", "", float(tenured.mean()), int(lead["reps"].max()))


def ramp_factors(deals: pd.DataFrame, reps: pd.DataFrame | None, as_of,
                 ramp_months: int | None = None) -> pd.DataFrame:
    """Each active rep's expected share of a tenured rep's productivity at ``as_of``.

    One row per rep on the team at ``as_of`` (roster: hired on or before it, not ended,
    marked active or ended later; without a roster: every deal owner with activity in the
    year before ``as_of``, the hire date proxied by their first deal).

    Columns:
      ``owner`` rep name; ``hire_date`` (datetime64, NaT when unknown);
      ``tenure_months`` float months (of 30.44 days) since hire, NaN when unknown;
      ``ramp_factor`` 0..1 from :func:`ramp_curve` (unknown hire date -> 1, i.e. tenured);
      ``ramp_method`` "learned" or "linear" (see :func:`ramp_curve`).
    ``ramp_months`` forces a linear ramp of that many months; None learns when possible and
    otherwise uses a 6-month linear ramp."""
    cols = [S.OWNER, S.HIRE_DATE, "tenure_months", "ramp_factor", "ramp_method"]
    spans = roster_spans(deals, reps)
    active = _active_at(spans, as_of, deals)
    if active.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(cols, (object, "datetime64[ns]", float, float, object))})
    curve = ramp_curve(deals, reps, as_of, ramp_months)
    hire = active[S.HIRE_DATE]
    tenure = _months_between(hire, pd.Series(_ts(as_of), index=active.index))
    if not _has_roster(reps):
        # proxy hire dates at the very start of the data say nothing: treat those as tenured
        start = _data_start(deals)
        at_start = (hire - start).dt.days < 90 if start is not None else pd.Series(True, index=hire.index)
        tenure = np.where(at_start.to_numpy(), np.nan, tenure)
        hire = hire.where(~at_start)
    out = pd.DataFrame({S.OWNER: active[S.OWNER].to_numpy(), S.HIRE_DATE: pd.to_datetime(hire).to_numpy(),
                        "tenure_months": np.asarray(tenure, dtype=float)})
    out["ramp_factor"] = curve.at(out["tenure_months"].to_numpy())
    out["ramp_method"] = curve.method
    out.attrs["ramp_reason"] = curve.reason
    return out.sort_values(S.OWNER, ignore_index=True)[cols]


def ramped_rep_equivalents(deals: pd.DataFrame, reps: pd.DataFrame | None, as_of,
                           ramp_months: int | None = None) -> float:
    """Sum of :func:`ramp_factors`' ``ramp_factor`` over the reps active at ``as_of``: a team
    of 4 tenured reps and one in their first month counts as about 4.1."""
    return float(ramp_factors(deals, reps, as_of, ramp_months)["ramp_factor"].sum())


def productivity_per_ramped_rep(deals: pd.DataFrame, reps: pd.DataFrame | None, start, end,
                                ramp_months: int | None = None) -> float:
    """Won amount per ramped rep per quarter over the history window [start, end].

    = won amount closed in the window / (average ramped-rep equivalents over the window x
    quarters in the window). The average is taken at the middle of each month of the window,
    with the ramp curve learned as of ``end``. NaN when the window has no ramped reps."""
    s, e = _ts(start), _ts(end)
    if deals is None or deals.empty or e < s:
        return float("nan")
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between(s, e)][S.AMOUNT].sum()
    spans = roster_spans(deals, reps)
    curve = ramp_curve(deals, reps, e, ramp_months)
    points = pd.date_range(s, e, freq="MS")
    mids = [p + pd.Timedelta(days=14) for p in points if p + pd.Timedelta(days=14) <= e] or [s + (e - s) / 2]
    equivalents = []
    for when in mids:  # one step per month of the window, not per deal
        active = _active_at(spans, when, deals)
        tenure = _months_between(active[S.HIRE_DATE], pd.Series(when, index=active.index))
        if not _has_roster(reps):
            ds = _data_start(deals)
            tenure = np.where(((active[S.HIRE_DATE] - ds).dt.days < 90).to_numpy(), np.nan, tenure)
        equivalents.append(curve.at(tenure).sum() if len(active) else 0.0)
    mean_rre = float(np.mean(equivalents))
    quarters = ((e - s).days + 1) / (365.25 / 4)
    if mean_rre <= 0 or quarters <= 0:
        return float("nan")
    return float(won / (mean_rre * quarters))


# =============================================================================================


def rep_ramp(deals: pd.DataFrame, reps: pd.DataFrame | None, as_of) -> pd.DataFrame:
    """Per rep with a known hire date: ``owner, hire_date, tenure_months, hired_in_data``
    (hire date on or after the first deal date, so their start is visible),
    ``first_win_date``, ``days_to_first_win`` (NaN when hired before the data or no win
    yet), ``months_to_ramp`` (1-based tenure month in which a trailing 3-month average of
    bookings first reached :data:`RAMPED_SHARE` of the tenured reps' average month; NaN when
    not yet), ``ramp_factor``."""
    cols = [S.OWNER, S.HIRE_DATE, "tenure_months", "hired_in_data", "first_win_date", "days_to_first_win",
            "months_to_ramp", "ramp_factor"]
    if deals is None or deals.empty or not _has_roster(reps) or S.HIRE_DATE not in reps.columns:
        return pd.DataFrame(columns=cols)
    spans = roster_spans(deals, reps)
    known = spans[spans["known_hire"]].copy()
    if known.empty:
        return pd.DataFrame(columns=cols)
    t = _ts(as_of)
    start = _data_start(deals)
    known["tenure_months"] = _months_between(known[S.HIRE_DATE], pd.Series(t, index=known.index))
    known["hired_in_data"] = known[S.HIRE_DATE] >= start
    won = deals[(deals[S.STATUS] == S.WON) & (deals[S.CLOSE_DATE] <= t)]
    first_win = won.groupby(S.OWNER)[S.CLOSE_DATE].min()
    known["first_win_date"] = known[S.OWNER].map(first_win)
    known["days_to_first_win"] = (known["first_win_date"] - known[S.HIRE_DATE]).dt.days.where(known["hired_in_data"])
    grid = _cohort_grid(deals, spans, t, horizon=36)
    tenured = tenured_monthly_bookings(deals, reps, t)
    bar = RAMPED_SHARE * tenured.mean() if len(tenured) else np.nan
    if not grid.empty and np.isfinite(bar) and bar > 0:
        grid = grid.sort_values([S.OWNER, "k"])
        grid["avg3"] = grid.groupby(S.OWNER)["won_amount"].transform(lambda s: s.rolling(3).mean())
        hit = grid[grid["avg3"] >= bar].groupby(S.OWNER)["k"].min() + 1
        known["months_to_ramp"] = known[S.OWNER].map(hit)
    else:
        known["months_to_ramp"] = np.nan
    factors = ramp_factors(deals, reps, t).set_index(S.OWNER)["ramp_factor"]
    known["ramp_factor"] = known[S.OWNER].map(factors)
    return known[cols].sort_values(S.HIRE_DATE, ascending=False, ignore_index=True)
