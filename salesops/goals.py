"""Goal setting: team targets, allocation to reps, and how realistic each quota is.

* Team target: the published target of the period (the one target rule, salesops.targets),
  top-down (a number, or growth over the same period last year) or bottom-up from capacity
  (ramped-rep equivalents x productivity per ramped rep, from :mod:`salesops.ramp`), shown
  beside the landing zone of salesops.outlook (the same one Overview and Forecast show).
* Allocation (:func:`allocate`): equal, by historical share, by capacity with ramp, or by
  territory potential; manual overrides are kept and the rest is spread so the quotas always
  sum to the target x (1 + over-assignment).
* Realism: a Monte Carlo of every rep's bookings (:func:`fit_bookings_model`,
  :func:`simulate_bookings`): won deals per period ~ Poisson with a Gamma-distributed rate
  (the rep's own history shrunk toward the team, scaled by their ramp), deal sizes drawn
  from the rep's own won deals mixed with the team's, a shared team-wide shock. The
  probability of attainment is the share of simulations at or above the quota; the same
  simulations serve every quota (common random numbers), so it falls as the quota rises.
  A rep with a zero quota has no probability of attainment and is never counted at quota.

Simulations are seeded per rep (a stream keyed by the seed and the rep's name), so a what-if
changes only what it touches: a win-rate uplift adds deals on top of the same draws (or thins
them), a deal-size change scales the same deals, a hire adds a rep without moving the others.
Cost and bookings therefore move with every lever, simulation by simulation.

Page and CLI entry points take a workspace and its Filters: :func:`target_options`,
:func:`goal_plan`, :func:`compare_saved`, :func:`publish`.
"""
from __future__ import annotations

import math
import threading
import weakref
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Callable

import numpy as np
import pandas as pd

from . import schema as S
from .errors import InputError
from .periods import FiscalCalendar, Period

METHODS = ("equal", "history", "capacity", "territory")
METHOD_LABELS = {"equal": "Equal split", "history": "Historical share", "capacity": "Capacity with ramp",
                 "territory": "Territory potential"}
#: Prior strength of the team win rate in a rep's rate, in periods of history.
PRIOR_PERIODS = 1.0
#: A rep's own deal sizes get weight n / (n + this) against the team's.
SIZE_PRIOR_DEALS = 5.0
#: Coefficient of variation of the team-wide shock shared by every rep in a simulation.
TEAM_SHOCK_CV = 0.12
#: Default rep-level Gamma shape (CV 0.5) when the history cannot estimate it.
DEFAULT_REP_SHAPE = 4.0
#: Quotas with a probability of attainment below these are flagged.
IMPLAUSIBLE_P = 0.10
STRETCH_P = 0.30
#: Share of reps at or above quota that sales organisations usually see.
INDUSTRY_HIT_RANGE = (0.5, 0.7)
#: Over-assignment choices (0% to 30%).
OVER_ASSIGNMENT_STEPS = tuple(round(i / 100, 2) for i in range(0, 31))
#: Ways to set the team target, by key.
BASES = {"published": "Published target", "amount": "Amount", "growth": "Growth over last year",
         "capacity": "Bottom-up from capacity"}


# --- the bookings model ----------------------------------------------------------------------------
@dataclass
class BookingsModel:
    """What a rep books in one period, learned from history (see module docstring)."""

    period: Period
    reps: list
    rate: np.ndarray            # expected won deals in the period (after ramp and presence)
    full_rate: np.ndarray       # expected won deals per period when fully ramped
    ramp: np.ndarray            # ramp factor x share of the period on the team
    pool_values: np.ndarray     # every rep's own won deal sizes, concatenated
    pool_start: np.ndarray
    pool_len: np.ndarray
    own_weight: np.ndarray      # chance a deal size is drawn from the rep's own pool
    team_pool: np.ndarray
    new_logo_share: np.ndarray
    rep_shape: float
    history: pd.DataFrame       # won deals of the history window (owner, amount, ...)
    window: tuple               # (start, end) of the history window
    hist_bookings: np.ndarray   # won amount per period in the window (observed, per rep)
    new_hire_ramp: float = 0.25
    size_factor: float = 1.0
    notes: list = field(default_factory=list)
    win_uplift: float = 0.0     # what-if: +0.1 = 10% more won deals, drawn on top of the same ones

    @property
    def rep_keys(self) -> np.ndarray:
        """A stable number per rep (from the name): each rep's random stream."""
        return np.array([rep_key(r) for r in self.reps], dtype=np.int64)

    @property
    def expected_bookings(self) -> np.ndarray:
        """Mean bookings per rep for the period (rate x mean deal size of the mixed pool)."""
        team_mean = float(self.team_pool.mean()) if len(self.team_pool) else 0.0
        own = np.array([self.pool_values[s:s + n].mean() if n else team_mean
                        for s, n in zip(self.pool_start, self.pool_len)])
        size = self.own_weight * own + (1 - self.own_weight) * team_mean
        return self.rate * (1 + self.win_uplift) * size * self.size_factor


def rep_key(name: str) -> int:
    """The random-stream number of a rep: the same name gets the same draws in every model."""
    return zlib.crc32(str(name).encode("utf-8"))


def _presence(spans: pd.DataFrame, points: list[pd.Timestamp], curve) -> np.ndarray:
    """reps x points: the ramp factor at each point for reps on the team then, else 0."""
    if spans.empty or not points:
        return np.zeros((len(spans), len(points)))
    t = np.array(points, dtype="datetime64[ns]")
    hire = spans[S.HIRE_DATE].to_numpy(dtype="datetime64[ns]")
    end = spans[S.END_DATE].to_numpy(dtype="datetime64[ns]")
    hired = np.isnat(hire)[:, None] | (hire[:, None] <= t[None, :])
    staying = np.isnat(end)[:, None] | (end[:, None] > t[None, :])
    tenure_days = (t[None, :] - hire[:, None]).astype("timedelta64[D]").astype(float)
    tenure = np.where(np.isnat(hire)[:, None], np.nan, tenure_days / 30.4375)
    factor = curve.at(tenure.ravel()).reshape(tenure.shape)
    return np.where(hired & staying, factor, 0.0)


def _month_points(start: date, end: date) -> list[pd.Timestamp]:
    """The middle of every month overlapping [start, end] that lies inside it (at least one point)."""
    pts = [p + pd.Timedelta(days=14) for p in pd.date_range(pd.Timestamp(start).replace(day=1), end, freq="MS")]
    pts = [p for p in pts if pd.Timestamp(start) <= p <= pd.Timestamp(end)]
    return pts or [pd.Timestamp(start) + (pd.Timestamp(end) - pd.Timestamp(start)) / 2]


def history_window(period: Period, lookback_periods: int = 4, as_of: date | None = None) -> tuple[date, date]:
    """The history the model learns from: ``lookback_periods`` period lengths ending the day
    before the period starts (or on ``as_of`` when that is earlier)."""
    end = period.start - timedelta(days=1)
    if as_of is not None and as_of < end:
        end = as_of
    start = end - timedelta(days=period.days * lookback_periods - 1)
    return start, end


def fit_bookings_model(deals: pd.DataFrame, reps: pd.DataFrame | None, period: Period, *,
                       lookback_periods: int = 4, as_of: date | None = None,
                       rep_names: list[str] | None = None) -> BookingsModel:
    """Learn every rep's bookings distribution for ``period`` from the history window.

    ``deals``: load_deals columns (owner, status, amount, close_date, account, ...).
    ``reps``: the roster (hire/end dates drive presence and ramp) or None.
    ``rep_names``: the reps to model (default: everyone on the team during the period)."""
    if as_of is None and not deals.empty:  # the history cannot run past the newest closed deal
        last = deals.loc[deals[S.STATUS] != S.OPEN, S.CLOSE_DATE].max()
        as_of = last.date() if pd.notna(last) else None
    w_start, w_end = history_window(period, lookback_periods, as_of)
    from .ramp import ramp_curve, roster_spans

    spans, curve = roster_spans(deals, reps), ramp_curve(deals, reps, period.start)
    notes = []
    hist_points = _month_points(w_start, w_end)
    target_points = _month_points(period.start, period.end)
    hist_presence = _presence(spans, hist_points, curve)
    target_presence = _presence(spans, target_points, curve)
    owners = spans[S.OWNER].astype(str).tolist()
    if rep_names is None:
        on_team = target_presence.max(axis=1) > 0 if len(target_points) else np.zeros(len(owners), bool)
        # a rep hired during the period counts (factor 0 in the first month) when any point is past the hire
        hire = spans[S.HIRE_DATE]
        end = spans[S.END_DATE]
        present = ((hire.isna() | (hire <= pd.Timestamp(period.end))) & (end.isna() | (end > pd.Timestamp(period.start)))).to_numpy()
        if not spans.empty and not spans["on_roster"].any() and not deals.empty:
            active = set(deals.loc[deals[S.CLOSE_DATE].between(pd.Timestamp(w_start), pd.Timestamp(w_end))
                                   | deals[S.CREATED_DATE].between(pd.Timestamp(w_start), pd.Timestamp(w_end)), S.OWNER])
            present &= np.array([o in active for o in owners], dtype=bool)
        keep = [i for i in range(len(owners)) if present[i] or on_team[i]]
    else:
        pos = {o: i for i, o in enumerate(owners)}
        keep = [pos[n] for n in rep_names if n in pos]
    names = [owners[i] for i in keep]
    # reps named but unknown to the roster and the deals: modelled as average tenured reps
    missing = [n for n in (rep_names or []) if n not in names]
    # exposure in fully-ramped periods: each month point stands for lookback / points periods
    hist_exposure = (hist_presence[keep].sum(axis=1) * lookback_periods / max(len(hist_points), 1)
                     if keep else np.zeros(0))
    target_ramp = target_presence[keep].mean(axis=1) if keep else np.zeros(0)
    if missing:
        names += missing
        hist_exposure = np.concatenate([hist_exposure, np.zeros(len(missing))])
        target_ramp = np.concatenate([target_ramp, np.ones(len(missing))])

    s, e = pd.Timestamp(w_start), pd.Timestamp(w_end)
    won_all = deals[deals[S.STATUS] == S.WON] if not deals.empty else deals
    hist = won_all[won_all[S.CLOSE_DATE].between(s, e)].copy() if not deals.empty else pd.DataFrame(columns=[S.OWNER, S.AMOUNT])
    if not hist.empty:
        hist[S.AMOUNT] = hist[S.AMOUNT].fillna(0.0)
    wins = hist.groupby(S.OWNER).size().reindex(names, fill_value=0).to_numpy(dtype=float) if not hist.empty else np.zeros(len(names))
    team_rate = wins.sum() / hist_exposure.sum() if hist_exposure.sum() > 0 else 0.0
    full_rate = (wins + PRIOR_PERIODS * team_rate) / (hist_exposure + PRIOR_PERIODS)
    rate = full_rate * target_ramp

    # deal sizes: the rep's own won deals over twice the window, mixed with the team's
    size_from = s - (e - s)
    sizes = won_all[won_all[S.CLOSE_DATE].between(size_from, e)] if not deals.empty else pd.DataFrame(columns=[S.OWNER, S.AMOUNT])
    sizes = sizes[sizes[S.AMOUNT].fillna(0) > 0] if not sizes.empty else sizes
    team_pool = sizes[S.AMOUNT].to_numpy(dtype=float) if not sizes.empty else np.zeros(0)
    pools = [sizes.loc[sizes[S.OWNER] == n, S.AMOUNT].to_numpy(dtype=float) if not sizes.empty else np.zeros(0) for n in names]
    pool_len = np.array([len(p) for p in pools], dtype=np.int64)
    pool_start = np.concatenate([[0], np.cumsum(pool_len)[:-1]]).astype(np.int64) if len(pools) else np.zeros(0, np.int64)
    pool_values = np.concatenate(pools) if pools and pool_len.sum() else np.zeros(0)
    own_weight = pool_len / (pool_len + SIZE_PRIOR_DEALS)

    # new logos: share of the rep's won deals that were an account's first win, shrunk to the team
    from .metrics import first_win_ids
    first = first_win_ids(deals)
    if not hist.empty:
        is_new = hist[S.OPPORTUNITY_ID].isin(first) if S.OPPORTUNITY_ID in hist.columns else pd.Series(False, index=hist.index)
        team_share = float(is_new.mean())
        per = is_new.groupby(hist[S.OWNER]).agg(["sum", "size"]).reindex(names, fill_value=0)
        logo_share = ((per["sum"] + 3 * team_share) / (per["size"] + 3)).to_numpy(dtype=float)
    else:
        logo_share = np.zeros(len(names))

    shape = _rep_shape(hist, names, w_start, period, lookback_periods)
    hist_bookings = (hist.groupby(S.OWNER)[S.AMOUNT].sum().reindex(names, fill_value=0.0).to_numpy(dtype=float) / lookback_periods
                     if not hist.empty else np.zeros(len(names)))
    months = max(1, round(period.days / 30.4375))
    new_hire = float(np.mean(curve.at(np.arange(months) + 0.5)))
    if hist.empty:
        notes.append("no won deals in the history window: every simulated quota is out of reach")
    return BookingsModel(period, names, rate, full_rate, target_ramp, pool_values, pool_start, pool_len, own_weight,
                         team_pool, logo_share, shape, hist, (w_start, w_end), hist_bookings, new_hire, 1.0, notes)


def _rep_shape(hist: pd.DataFrame, names: list, w_start: date, period: Period, k: int) -> float:
    """Gamma shape of the rep-level rate noise, from the over-dispersion of per-period win
    counts (method of moments over reps with wins), clipped to 1..50."""
    if hist.empty or k < 2:
        return DEFAULT_REP_SHAPE
    idx = ((hist[S.CLOSE_DATE] - pd.Timestamp(w_start)).dt.days // period.days).clip(0, k - 1)
    counts = hist.groupby([hist[S.OWNER], idx]).size().unstack(fill_value=0).reindex(columns=range(k), fill_value=0)
    counts = counts[counts.sum(axis=1) >= k]
    if len(counts) < 3:
        return DEFAULT_REP_SHAPE
    mean = counts.mean(axis=1)
    var = counts.var(axis=1, ddof=1)
    phi = float(((var - mean) / mean.pow(2)).clip(lower=0).median())
    return float(np.clip(1.0 / phi, 1.0, 50.0)) if phi > 0 else 50.0


def subset_model(model: BookingsModel, keep: list[int]) -> BookingsModel:
    """The model restricted to the reps at positions ``keep`` (in that order)."""
    idx = np.array(keep, dtype=int)
    return replace(model, reps=[model.reps[i] for i in keep], rate=model.rate[idx], full_rate=model.full_rate[idx],
                   ramp=model.ramp[idx], pool_start=model.pool_start[idx], pool_len=model.pool_len[idx],
                   own_weight=model.own_weight[idx], new_logo_share=model.new_logo_share[idx],
                   hist_bookings=model.hist_bookings[idx])


def with_what_ifs(model: BookingsModel, *, win_rate_uplift: float = 0.0, deal_size_change: float = 0.0,
                  extra_hires: int = 0) -> BookingsModel:
    """A copy of the model under what-ifs: more wins (+10% = 0.1), larger deals, a headcount
    change. ``extra_hires`` > 0 adds new reps (average fully-ramped rate x the ramp of a
    first-period hire, team deal sizes); < 0 removes that many reps, those with the lowest
    expected bookings (attrition usually comes from the bottom of the stack).

    The win-rate uplift is kept apart from the rates (:attr:`BookingsModel.win_uplift`), so
    :func:`simulate_bookings` adds the extra wins to the same draws instead of redrawing."""
    if win_rate_uplift <= -1 or deal_size_change <= -1:
        raise InputError("a what-if change must be above -100%")
    if extra_hires < 0 and -extra_hires >= len(model.reps):
        raise InputError(f"a headcount change of {extra_hires} would leave no reps (the team has {len(model.reps)})")
    m = replace(model, win_uplift=(1 + model.win_uplift) * (1 + win_rate_uplift) - 1,
                size_factor=model.size_factor * (1 + deal_size_change))
    if extra_hires < 0:
        order = np.argsort(-m.expected_bookings, kind="stable")
        keep = sorted(order[:len(m.reps) + int(extra_hires)].tolist())
        return subset_model(m, keep)
    if extra_hires:
        avg_full = float(np.mean(m.full_rate)) if len(m.full_rate) else 0.0
        n = int(extra_hires)
        names = list(m.reps) + [f"New hire {i + 1}" for i in range(n)]
        m = replace(m, reps=names,
                    rate=np.concatenate([m.rate, np.full(n, avg_full * m.new_hire_ramp)]),
                    full_rate=np.concatenate([m.full_rate, np.full(n, avg_full)]),
                    ramp=np.concatenate([m.ramp, np.full(n, m.new_hire_ramp)]),
                    pool_start=np.concatenate([m.pool_start, np.zeros(n, np.int64)]),
                    pool_len=np.concatenate([m.pool_len, np.zeros(n, np.int64)]),
                    own_weight=np.concatenate([m.own_weight, np.zeros(n)]),
                    new_logo_share=np.concatenate([m.new_logo_share, np.full(n, float(np.mean(m.new_logo_share)) if len(m.new_logo_share) else 0.0)]),
                    hist_bookings=np.concatenate([m.hist_bookings, np.zeros(n)]))
    return m


def _stream(seed, *key: int) -> np.random.Generator:
    """A local generator for one part of a simulation: ``seed`` (an int or a tuple of ints) and ``key``."""
    base = [int(x) for x in seed] if isinstance(seed, (tuple, list)) else [int(seed)]
    return np.random.default_rng([*base, *key])


def _draw_deals(rng: np.random.Generator, counts: np.ndarray, model: BookingsModel, r: int, flags: dict):
    """The won deals of rep ``r``: ``counts`` per simulation -> (simulation of each deal, its
    size, is it a new logo, {flag: does it qualify}). Every deal takes the same number of
    draws, whatever the flags, in a fixed order."""
    total = int(counts.sum())
    cell = np.repeat(np.arange(len(counts)), counts)
    u, own_u, logo_u = rng.random(total), rng.random(total), rng.random(total)
    flag_u = {k: rng.random(total) for k in sorted(flags)}
    team_n, n_own = len(model.team_pool), int(model.pool_len[r])
    values = np.zeros(total)
    if team_n:
        values = model.team_pool[np.minimum((u * team_n).astype(np.int64), team_n - 1)]
        if n_own:
            own_vals = model.pool_values[model.pool_start[r] + np.minimum((u * n_own).astype(np.int64), n_own - 1)]
            values = np.where(own_u < model.own_weight[r], own_vals, values)
    logo = logo_u < np.clip(model.new_logo_share[r], 0, 1)
    return cell, values, logo, {k: flag_u[k] < flags[k][r] for k in flag_u}


def simulate_bookings(model: BookingsModel, *, n_sims: int = 2000, seed=0,
                      progress: Callable[[float], None] | None = None,
                      flags: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Monte Carlo of the period: arrays (n_sims x reps) ``won_amount``, ``won_count``,
    ``new_logos`` and, for each of ``flags`` ({name: per-rep share of deals that qualify, e.g.
    for a SPIF}), ``flag:<name>`` (qualifying deals).

    Local generators only: one stream for the team-wide shock and, per rep, one stream keyed
    by the rep's name (its rate noise, win count and deals), one for the extra wins of a
    win-rate uplift and one for thinning a negative uplift. The same seed gives the same draws,
    and a what-if changes them only where it acts."""
    if n_sims < 1:
        raise InputError(f"the number of simulations must be at least 1, not {n_sims}")
    flags = flags or {}
    R = len(model.reps)
    out = {k: np.zeros((n_sims, R)) for k in ("won_amount", "won_count", "new_logos", *(f"flag:{f}" for f in flags))}
    if R == 0:
        return out
    kt = 1.0 / TEAM_SHOCK_CV ** 2
    kr = model.rep_shape
    team = _stream(seed, 0).gamma(kt, 1.0 / kt, size=n_sims)
    keys = model.rep_keys
    for r in range(R):
        base = _stream(seed, 1, int(keys[r]))
        lam = model.rate[r] * base.gamma(kr, 1.0 / kr, size=n_sims) * team
        cell, values, logo, fl = _draw_deals(base, base.poisson(lam), model, r, flags)
        if model.win_uplift > 0:
            extra = _stream(seed, 2, int(keys[r]))
            c2, v2, l2, f2 = _draw_deals(extra, extra.poisson(lam * model.win_uplift), model, r, flags)
            cell, values, logo = np.concatenate([cell, c2]), np.concatenate([values, v2]), np.concatenate([logo, l2])
            fl = {k: np.concatenate([fl[k], f2[k]]) for k in fl}
        elif model.win_uplift < 0:
            keep = _stream(seed, 3, int(keys[r])).random(len(cell)) < 1 + model.win_uplift
            cell, values, logo = cell[keep], values[keep], logo[keep]
            fl = {k: v[keep] for k, v in fl.items()}
        out["won_amount"][:, r] = np.bincount(cell, weights=values, minlength=n_sims) * model.size_factor
        out["won_count"][:, r] = np.bincount(cell, minlength=n_sims)
        out["new_logos"][:, r] = np.bincount(cell, weights=logo.astype(float), minlength=n_sims)
        for k, v in fl.items():
            out[f"flag:{k}"][:, r] = np.bincount(cell, weights=v.astype(float), minlength=n_sims)
        if progress is not None:
            progress((r + 1) / R)
    return out


def calibrate_to_team(sims: dict[str, np.ndarray], team_samples) -> dict[str, np.ndarray]:
    """Rescale simulated rep bookings so the team total follows ``team_samples`` (the forecast's
    landing distribution) while each simulation keeps its split between reps: the simulation
    ranked r-th by team total is scaled to the forecast's quantile at (r + 0.5) / n. Counts
    are left as drawn. Simulations with a zero team total stay zero. A forecast whose samples
    are all zero is ignored."""
    if team_samples is None or len(team_samples) == 0 or not np.nanmax(np.asarray(team_samples, dtype=float)) > 0:
        return sims  # no forecast, or one that expects nothing (e.g. a period after the data): keep the history view
    amount = sims["won_amount"]
    n = amount.shape[0]
    if n == 0 or amount.shape[1] == 0:
        return sims
    totals = amount.sum(axis=1)
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(totals, kind="stable")] = np.arange(n)
    wanted = np.quantile(np.asarray(team_samples, dtype=float), (ranks + 0.5) / n)
    factor = np.divide(wanted, totals, out=np.zeros(n), where=totals > 0)
    return dict(sims, won_amount=amount * factor[:, None])


def qualifying_share(history: pd.DataFrame, rep: str, mask: pd.Series) -> float:
    """Share of ``rep``'s won deals in the history (team's when the rep has none) where
    ``mask`` holds; used for SPIFs in simulations."""
    if history is None or history.empty:
        return 0.0
    mine = history[S.OWNER] == rep
    if mine.sum() >= 3:
        return float(mask[mine].mean())
    return float(mask.mean())


# --- team targets ------------------------------------------------------------------------------------
def bookings_in(deals: pd.DataFrame, start, end) -> float:
    """Won amount closed in [start, end]."""
    if deals.empty:
        return 0.0
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between(pd.Timestamp(start), pd.Timestamp(end))]
    return float(won[S.AMOUNT].fillna(0.0).sum())


def top_down_target(deals: pd.DataFrame, period: Period, calendar: FiscalCalendar, *,
                    amount: float | None = None, growth: float | None = None) -> dict:
    """A top-down team target: ``amount`` as given, or last year's bookings for the same
    period x (1 + ``growth``). Returns {target, basis, last_year}."""
    last = calendar.same_last_year(period)
    last_year = bookings_in(deals, last.start, last.end)
    if amount is not None:
        if not (isinstance(amount, (int, float)) and math.isfinite(amount) and amount > 0):
            raise InputError(f"target = {amount!r}: a team target must be a positive amount")
        return {"target": float(amount), "basis": "amount", "last_year": last_year, "last_year_period": last.label}
    if growth is None:
        raise InputError("give a target amount or a growth rate over last year")
    if last_year <= 0:
        raise InputError(f"growth over last year needs bookings in {last.label}, and there are none")
    return {"target": last_year * (1 + growth), "basis": f"{growth:+.0%} over {last.label}", "last_year": last_year,
            "last_year_period": last.label}


def bottom_up_target(deals: pd.DataFrame, reps: pd.DataFrame | None, period: Period, *,
                     history_quarters: int = 4, as_of: date | None = None) -> dict:
    """Capacity-based target: ramped-rep equivalents in the middle of the period x
    productivity per ramped rep per quarter over the trailing ``history_quarters`` quarters x
    the period's length in quarters. Returns {target, ramped_reps, productivity, quarters}."""
    from .ramp import productivity_per_ramped_rep, ramped_rep_equivalents

    end = period.start - timedelta(days=1)
    if as_of is not None and as_of < end:
        end = as_of
    start = (pd.Timestamp(end) - pd.DateOffset(months=3 * history_quarters) + pd.Timedelta(days=1)).date()
    mid = period.start + (period.end - period.start) / 2
    rre = ramped_rep_equivalents(deals, reps, mid) if not deals.empty else 0.0
    prod = productivity_per_ramped_rep(deals, reps, start, end) if not deals.empty else float("nan")
    quarters = period.days / (365.25 / 4)
    target = rre * prod * quarters if (np.isfinite(prod) and rre > 0) else float("nan")
    return {"target": target, "ramped_reps": rre, "productivity": prod, "quarters": quarters,
            "history": (start, end)}


# --- allocation ---------------------------------------------------------------------------------------
def allocation_weights(method: str, model: BookingsModel, *, accounts: pd.DataFrame | None = None,
                       deals: pd.DataFrame | None = None) -> pd.Series:
    """Weight of each rep of ``model`` under ``method`` (index: rep):

    * ``equal``: 1 each;
    * ``history``: won amount per period over the history window (reps without history get 0);
    * ``capacity``: ramp factor x share of the period on the team (a tenured rep = 1);
    * ``territory``: revenue of the accounts the rep owns (each account goes to the owner of
      most of its deals); needs accounts with revenue."""
    if method not in METHODS:
        raise InputError(f"method = {method!r}: use one of {', '.join(METHODS)}")
    idx = pd.Index(model.reps, name="rep")
    if method == "equal":
        return pd.Series(1.0, index=idx)
    if method == "history":
        w = pd.Series(model.hist_bookings, index=idx)
        if not (w > 0).any():
            raise InputError("no rep has won deals in the history window, so there is no historical share; "
                             "use equal or capacity")
        return w
    if method == "capacity":
        return pd.Series(model.ramp, index=idx)
    if accounts is None or accounts.empty or "revenue" not in accounts.columns or not accounts["revenue"].fillna(0).gt(0).any():
        raise InputError("territory potential needs accounts with revenue: import an accounts file first")
    if deals is None or deals.empty:
        raise InputError("territory potential needs deals to know which rep covers which account")
    owner_of = (deals.dropna(subset=[S.ACCOUNT]).groupby([S.ACCOUNT, S.OWNER]).size().reset_index(name="n")
                .sort_values(["n", S.OWNER], ascending=[False, True]).drop_duplicates(S.ACCOUNT).set_index(S.ACCOUNT)[S.OWNER])
    acc = accounts.assign(owner=accounts[S.NAME].map(owner_of))
    w = acc.groupby("owner")["revenue"].sum().reindex(idx, fill_value=0.0)
    if not (w > 0).any():
        raise InputError("none of these reps covers an account with revenue")
    return w


def allocate(target: float, weights: pd.Series, *, overrides: dict | None = None,
             over_assignment: float = 0.0) -> pd.Series:
    """Quotas that sum exactly (to the cent) to ``target x (1 + over_assignment)``.

    ``overrides`` {rep: amount} are kept as typed; the rest is spread over the other reps in
    proportion to ``weights`` (equally when their weights are all 0). Raises InputError when the
    overrides alone exceed the total, or leave money that no rep can take."""
    if not (isinstance(target, (int, float, np.floating)) and math.isfinite(target) and target > 0):
        raise InputError(f"target = {target!r}: the team target must be a positive amount")
    if not -0.5 < over_assignment <= 1.0:
        raise InputError(f"over-assignment = {over_assignment!r}: use a share between 0 and 1 (0.1 = 10%)")
    if weights.empty:
        raise InputError("there are no reps to allocate to")
    overrides = {k: v for k, v in (overrides or {}).items() if k in weights.index and v is not None and not pd.isna(v)}
    for rep, v in overrides.items():
        if not math.isfinite(float(v)) or float(v) < 0:
            raise InputError(f"quota for {rep} = {v!r}: a quota must be 0 or more")
    total_cents = int(round(target * (1 + over_assignment) * 100))
    fixed = {k: int(round(float(v) * 100)) for k, v in overrides.items()}
    rest_cents = total_cents - sum(fixed.values())
    free = [r for r in weights.index if r not in fixed]
    if rest_cents < 0:
        raise InputError(f"the overrides add up to {sum(fixed.values()) / 100:,.2f}, more than the total to allocate "
                         f"({total_cents / 100:,.2f}); lower some of them")
    if not free:
        if rest_cents != 0:
            raise InputError(f"every quota is set by hand and they add up to {sum(fixed.values()) / 100:,.2f}, not the "
                             f"total {total_cents / 100:,.2f}; free one rep or change the target")
        return pd.Series({r: fixed[r] / 100 for r in weights.index}, name="quota", dtype=float)
    w = weights.reindex(free).fillna(0.0).clip(lower=0).to_numpy(dtype=float)
    if w.sum() <= 0:
        w = np.ones(len(free))
    exact = rest_cents * w / w.sum()
    cents = np.floor(exact).astype(np.int64)
    short = rest_cents - int(cents.sum())
    order = np.argsort(-(exact - cents), kind="stable")
    cents[order[:short]] += 1
    out = {**{r: c / 100 for r, c in zip(free, cents)}, **{r: c / 100 for r, c in fixed.items()}}
    return pd.Series(out, name="quota", dtype=float).reindex(weights.index)


# --- realism ------------------------------------------------------------------------------------------
def attainment_probability(won_amount: np.ndarray, quotas) -> np.ndarray:
    """P(bookings >= quota) per rep from simulations (n_sims x reps). A zero quota has no
    probability of attainment (NaN): it is not a quota, so nobody "hits" it."""
    q = np.asarray(quotas, dtype=float)
    p = (won_amount >= q[None, :] - 1e-9).mean(axis=0) if won_amount.size else np.zeros(len(q))
    return np.where(q > 0, p, np.nan)


def share_at_quota(p_attain) -> float | None:
    """The expected share of reps at quota: the mean probability over the reps that have a
    quota (reps with a zero quota are left out); None when no rep has one."""
    p = np.asarray(p_attain, dtype=float)
    p = p[np.isfinite(p)]
    return float(p.mean()) if len(p) else None


@dataclass
class Realism:
    """How realistic a set of quotas is. ``reps``: rep, quota, expected, p10, p50, p90,
    p_attain (NaN for a zero quota), flag. ``team``: target, p_team, expected_share_hitting,
    reps_without_quota, p10/p50/p90 of the team total and ``source`` of the team distribution."""

    reps: pd.DataFrame
    team: dict


def flag_for(p: float) -> str:
    if not np.isfinite(p):
        return "no quota"
    if p < IMPLAUSIBLE_P:
        return "above plausible"
    if p < STRETCH_P:
        return "stretch"
    return ""


def assess(quotas: pd.Series, sims: dict[str, np.ndarray], model: BookingsModel, *,
           team_samples: np.ndarray | None = None, target: float | None = None) -> Realism:
    """Probability of attainment per rep and for the team.

    Reps: share of simulations at or above their quota (none for a zero quota). Team: the
    share of ``team_samples`` (the landing zone's samples when given) at or above ``target``
    (default: sum of quotas), else of the simulated team totals. ``expected_share_hitting`` =
    mean of the probabilities of the reps with a quota (industry norm 50-70%)."""
    amount = sims["won_amount"]
    q = quotas.reindex(model.reps).fillna(0.0).to_numpy(dtype=float)
    p = attainment_probability(amount, q)
    qs = np.quantile(amount, [0.1, 0.5, 0.9], axis=0) if amount.size else np.zeros((3, len(q)))
    reps = pd.DataFrame({"rep": model.reps, "quota": q, "expected": amount.mean(axis=0) if amount.size else np.zeros(len(q)),
                         "p10": qs[0], "p50": qs[1], "p90": qs[2], "p_attain": p})
    reps["flag"] = [flag_for(x) for x in p]
    tgt = float(q.sum()) if target is None else float(target)
    totals = amount.sum(axis=1) if amount.size else np.zeros(1)
    source = "rep simulation"
    samples = totals
    if team_samples is not None and len(team_samples) and np.nanmax(np.asarray(team_samples, dtype=float)) > 0:
        samples, source = np.asarray(team_samples, dtype=float), "landing zone"
    tq = np.quantile(samples, [0.1, 0.5, 0.9])
    team = {"target": tgt, "p_team": float((samples >= tgt - 1e-9).mean()), "source": source,
            "p10": float(tq[0]), "p50": float(tq[1]), "p90": float(tq[2]),
            "expected_share_hitting": share_at_quota(p),
            "reps_with_quota": int((q > 0).sum()), "reps_without_quota": int((q <= 0).sum()),
            "reps_flagged": int((reps["flag"] == "above plausible").sum()),
            "industry_norm": INDUSTRY_HIT_RANGE}
    return Realism(reps, team)


def plan_goals(deals: pd.DataFrame, reps: pd.DataFrame | None, period: Period, target: float, *,
               method: str = "capacity", over_assignment: float = 0.0, overrides: dict | None = None,
               accounts: pd.DataFrame | None = None, n_sims: int = 2000, seed: int = 0,
               lookback_periods: int = 4, as_of: date | None = None, team_samples=None,
               model: BookingsModel | None = None,
               progress: Callable[[float], None] | None = None) -> tuple[pd.DataFrame, dict, BookingsModel]:
    """The whole goal-setting step on plain frames: model (fitted unless given), allocation,
    realism. Returns (table, team, model); the table has rep, weight, quota, expected, p10,
    p50, p90, p_attain, flag, ramp, overridden. ``team_samples`` (the landing zone's samples)
    calibrate the rep simulations' team total (:func:`calibrate_to_team`) and give the team
    probability."""
    if model is None:
        model = fit_bookings_model(deals, reps, period, lookback_periods=lookback_periods, as_of=as_of)
    if not model.reps:
        raise InputError(f"there are no reps on the team in {period.label}: load deals or a roster first")
    weights = allocation_weights(method, model, accounts=accounts, deals=deals)
    quotas = allocate(target, weights, overrides=overrides, over_assignment=over_assignment)
    sims = simulate_bookings(model, n_sims=n_sims, seed=seed, progress=progress)
    sims = calibrate_to_team(sims, team_samples)
    realism = assess(quotas, sims, model, team_samples=team_samples, target=target)
    table = realism.reps.copy()
    table.insert(1, "weight", weights.reindex(model.reps).to_numpy(dtype=float))
    table["ramp"] = model.ramp
    table["overridden"] = table["rep"].isin(list((overrides or {}).keys()))
    team = dict(realism.team, method=method, over_assignment=over_assignment, quota_total=float(quotas.sum()))
    return table, team, model


# --- publishing -------------------------------------------------------------------------------------
def goal_sheet(table: pd.DataFrame, period: Period, *, currency: str = "USD", scenario: str | None = None) -> pd.DataFrame:
    """One row per rep for the per-rep goal sheets: period, quota, probability, expected."""
    out = pd.DataFrame({
        "rep": table["rep"], "period": period.label, "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(), "quota": table["quota"].round(2),
        "expected_bookings": table["expected"].round(2), "probability_of_attainment": table["p_attain"].round(4),
        "realism": table["flag"].replace("", "ok"), "currency": currency,
    })
    if scenario:
        out.insert(0, "scenario", scenario)
    return out


def goal_sheets_xlsx(sheet: pd.DataFrame) -> bytes:
    """An Excel workbook with a summary sheet and one goal sheet per rep (cells that look like
    formulas neutralised, sheet names made safe and unique)."""
    import io
    import re

    from .reports import neutralise_cells

    buf = io.BytesIO()
    used: set = set()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        neutralise_cells(sheet).to_excel(xw, sheet_name="All reps", index=False)
        used.add("all reps")
        for _, row in sheet.iterrows():
            base = re.sub(r"[\[\]:*?/\\']", " ", str(row["rep"])).strip()[:28] or "Rep"
            name, i = base, 2
            while name.lower() in used:
                name, i = f"{base[:25]} ({i})", i + 1
            used.add(name.lower())
            one = pd.DataFrame({"item": list(row.index), "value": [row[c] for c in row.index]})
            neutralise_cells(one.astype({"value": object})).to_excel(xw, sheet_name=name, index=False)
    return buf.getvalue()


def publish_targets(conn, period: Period, quotas: pd.Series) -> int:
    """Replace the period's owner targets with ``quotas`` (inside the caller's write
    transaction, ``store.connect(path, write=True)``). Returns the rows written."""
    from . import store

    ps, pe = period.start.isoformat(), period.end.isoformat()
    conn.execute("DELETE FROM targets WHERE scope = 'owner' AND period_start = ? AND period_end = ?", (ps, pe))
    frame = pd.DataFrame({S.SCOPE: "owner", S.SCOPE_NAME: list(quotas.index), S.PERIOD_START: ps, S.PERIOD_END: pe,
                          S.AMOUNT: quotas.to_numpy(dtype=float)})
    return store.insert_frame(conn, "targets", frame)


def _num(x):
    return float(x) if x is not None and np.isfinite(float(x)) else None


def scenario_payload(period: Period, target: float, method: str, over_assignment: float, table: pd.DataFrame,
                     team: dict, *, basis: str = "", overrides: dict | None = None, name: str | None = None,
                     filters: str | None = None) -> dict:
    """A goal scenario as saved in the ``scenarios`` table (kind "goals"): what the page shows."""
    return {"name": name, "period": period.label, "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(), "filters": filters,
            "target": float(target), "basis": basis, "method": method, "over_assignment": float(over_assignment),
            "overrides": {k: float(v) for k, v in (overrides or {}).items()},
            "quotas": {r: float(q) for r, q in zip(table["rep"], table["quota"])},
            "p_attain": {r: _num(p) for r, p in zip(table["rep"], table["p_attain"])},
            "p_team": team.get("p_team"), "expected_share_hitting": team.get("expected_share_hitting")}


def compare_scenarios(a: dict, b: dict) -> pd.DataFrame:
    """Two saved scenarios side by side, per rep: ``quota_a``, ``quota_b``, ``quota_change``
    (b - a), ``p_a``, ``p_b`` (probability of attainment; NaN where a scenario lacks the rep)."""
    reps = sorted(set(a.get("quotas", {})) | set(b.get("quotas", {})))
    out = pd.DataFrame({"rep": reps})
    out["quota_a"] = [a.get("quotas", {}).get(r, np.nan) for r in reps]
    out["quota_b"] = [b.get("quotas", {}).get(r, np.nan) for r in reps]
    out["quota_change"] = out["quota_b"].fillna(0.0) - out["quota_a"].fillna(0.0)
    out["p_a"] = [a.get("p_attain", {}).get(r) for r in reps]
    out["p_b"] = [b.get("p_attain", {}).get(r) for r in reps]
    return out.astype({"p_a": float, "p_b": float})


# =====================================================================================================
# A workspace and its filters: what the Goals page and ``goals`` in the CLI call
# =====================================================================================================
def slice_reps(ws, f) -> list[str] | None:
    """The reps a planning view of the filters holds (None: everyone): the reps the roster
    places inside the slice; without a roster, or for a cut by a deal-only field (segment),
    the owners of the slice's deals."""
    from .filters import ROSTER_COLUMNS

    if not f.filtered:
        return None
    if not ws.reps.empty and all(c in ROSTER_COLUMNS for c in f.cuts()):
        return f.reps(ws) or []
    return f.owners(ws) or []


_MODELS: OrderedDict = OrderedDict()
_MODELS_LOCK = threading.Lock()
_MODELS_MAX = 16


def team_model(ws, period: Period, as_of: date | None, names: list[str] | None = None,
               lookback_periods: int = 4) -> BookingsModel:
    """The bookings model of the whole team for ``period`` learned up to ``as_of`` (kept per
    workspace object, period and as-of date), restricted to ``names`` when given (reps the
    team model lacks are fitted as average tenured reps)."""
    key = (ws.path, ws.version, id(ws), period.start, period.end, as_of, lookback_periods)
    with _MODELS_LOCK:
        hit = _MODELS.get(key)
        model = hit[1] if hit is not None and hit[0]() is ws else None
    if model is None:
        model = fit_bookings_model(ws.deals, ws.reps, period, lookback_periods=lookback_periods, as_of=as_of)
        with _MODELS_LOCK:
            _MODELS[key] = (weakref.ref(ws), model)
            while len(_MODELS) > _MODELS_MAX:
                _MODELS.popitem(last=False)
    if names is None:
        return model
    pos = {r: i for i, r in enumerate(model.reps)}
    if all(n in pos for n in names):
        return subset_model(model, [pos[n] for n in names])
    return fit_bookings_model(ws.deals, ws.reps, period, lookback_periods=lookback_periods, as_of=as_of,
                              rep_names=list(names))


def slice_model(ws, f, period: Period | None = None) -> BookingsModel:
    """The team model restricted to the reps inside the filters' slice."""
    model = team_model(ws, period or f.period, f.as_of)
    inside = slice_reps(ws, f)
    if inside is None:
        return model
    keep = set(inside)
    return subset_model(model, [i for i, r in enumerate(model.reps) if r in keep])


def allocation_methods(ws) -> list[str]:
    """The allocation methods this workspace can use (territory needs accounts with revenue)."""
    acc = ws.accounts
    territory = not acc.empty and "revenue" in acc.columns and bool(pd.to_numeric(acc["revenue"], errors="coerce").fillna(0).gt(0).any())
    return [m for m in METHODS if m != "territory" or territory]


def _round_amount(x: float) -> float:
    return float(round(x / 1000) * 1000) or 1000.0


def target_options(ws, f) -> dict:
    """The ways to set the team target of the filters' slice and period: ``published`` (the
    one target rule: TargetView.as_dict() with ``has_target`` and ``note``), ``last_year``
    (bookings of the same period last year, by the KPI engine) and ``last_year_label``,
    ``bottom_up`` (capacity; ``target`` NaN and ``error`` when it cannot be estimated),
    ``reps`` (the reps the quotas go to), ``suggested`` (a round starting amount)."""
    from . import metrics
    from .filters import roster_rows

    period, cal = f.period, ws.settings.calendar
    view = f.target(ws)
    last = cal.same_last_year(period)
    last_year = float(metrics.kpis(ws, f, period=last)["won_amount"].iloc[0])
    model = slice_model(ws, f)
    roster = roster_rows(ws.reps, f.cuts()) if f.filtered else ws.reps
    try:
        bottom = bottom_up_target(f.deals(ws), roster if not roster.empty else None, period, as_of=f.as_of)
    except InputError as exc:
        bottom = {"target": float("nan"), "error": str(exc)}
    bu = bottom.get("target", float("nan"))
    if view.has_target:
        suggested = float(view.amount)
    elif np.isfinite(bu) and bu > 0:
        suggested = _round_amount(bu)
    elif last_year > 0:
        suggested = _round_amount(last_year)
    else:
        suggested = _round_amount(float(model.expected_bookings.sum()))
    return {"period": period.label, "published": dict(view.as_dict(), has_target=view.has_target, note=_target_note(view, ws)),
            "last_year": last_year, "last_year_label": last.label, "bottom_up": bottom, "reps": list(model.reps),
            "suggested": suggested}


def _target_note(view, ws) -> str | None:
    """Both published targets of the slice, named (never mixed), or None when there is one."""
    from .formats import money

    if view.own is None or view.rep_sum is None:
        return None
    cur = ws.settings.currency
    if abs(view.own - view.rep_sum) < 0.5:
        return f"The {view.label} ({money(view.own, cur)}) equals the sum of the {view.reps} reps' own targets."
    return (f"The published target is the {view.label} ({money(view.own, cur)}); the {view.reps} reps' own targets add up "
            f"to {money(view.rep_sum, cur)}.")


def choose_target(options: dict, basis: str, *, amount: float | None = None, growth: float | None = None,
                  growth_pct: float | None = None) -> dict:
    """The team target for ``basis`` (a key of :data:`BASES`): {target (None when there is
    none), basis (in words), problem (why there is none, or None)}. ``growth`` is a share
    (0.1), ``growth_pct`` the same in percent (10)."""
    if growth_pct is not None:
        growth = float(growth_pct) / 100
    if basis not in BASES:
        raise InputError(f"basis {basis!r}: use one of {', '.join(BASES)}")
    pub = options["published"]
    if basis == "published":
        if not pub["has_target"]:
            return {"target": None, "basis": "published target",
                    "problem": f"{options['period']} has no published target for this view; choose another basis."}
        return {"target": float(pub["amount"]), "basis": f"published {pub['label']}", "problem": None}
    if basis == "amount":
        ok = amount is not None and np.isfinite(amount) and amount > 0
        return {"target": float(amount) if ok else None, "basis": "amount",
                "problem": None if ok else "Type a positive team target."}
    if basis == "growth":
        g = float(growth or 0.0)
        if options["last_year"] <= 0:
            return {"target": None, "basis": f"growth over {options['last_year_label']}",
                    "problem": f"There are no bookings in {options['last_year_label']} to grow from; set an amount instead."}
        return {"target": options["last_year"] * (1 + g), "basis": f"{g:+.0%} over {options['last_year_label']}",
                "problem": None}
    bu = options["bottom_up"]
    t = bu.get("target", float("nan"))
    if not np.isfinite(t) or t <= 0:
        why = f" ({bu['error']})" if bu.get("error") else ""
        return {"target": None, "basis": "bottom-up capacity",
                "problem": "The capacity target needs won deals in the last four quarters and reps on the team" + why + "."}
    return {"target": float(t), "basis": "bottom-up capacity", "problem": None}


def target_rows(options: dict, landing: dict | None, target: float | None) -> pd.DataFrame:
    """The rows of the target comparison chart: label, value, low, high (the landing zone's
    P10-P90 only)."""
    rows = []
    pub = options["published"]
    if pub["has_target"]:
        rows.append({"label": f"Published ({pub['label']})", "value": pub["amount"], "low": np.nan, "high": np.nan})
    rows.append({"label": f"Last year ({options['last_year_label']})", "value": options["last_year"], "low": np.nan, "high": np.nan})
    bu = options["bottom_up"].get("target", float("nan"))
    if np.isfinite(bu):
        rows.append({"label": "Bottom-up capacity", "value": bu, "low": np.nan, "high": np.nan})
    if landing:
        rows.append({"label": "Landing zone (P50)", "value": landing["p50"], "low": landing["p10"], "high": landing["p90"]})
    if target:
        rows.append({"label": "Chosen target", "value": float(target), "low": np.nan, "high": np.nan})
    return pd.DataFrame(rows, columns=["label", "value", "low", "high"])


def bottom_up_text(options: dict, currency: str) -> str | None:
    """The bottom-up arithmetic in words, or None when there is none."""
    from .formats import money

    b = options["bottom_up"]
    if not np.isfinite(b.get("target", float("nan"))):
        return None
    return (f"Bottom-up: {b['ramped_reps']:.1f} ramped-rep equivalents x {money(b['productivity'], currency)} per "
            f"ramped rep per quarter x {b['quarters']:.2f} quarters.")


@dataclass
class GoalPlan:
    """Quotas for a team target and how realistic they are (the Goals page, ``goals --json``)."""

    period: Period
    target: float
    table: pd.DataFrame      # rep, weight, quota, expected, p10, p50, p90, p_attain, flag, ramp, overridden
    team: dict               # see assess(), plus method, over_assignment, quota_total
    window: tuple
    rep_shape: float
    notes: list

    @property
    def quotas(self) -> pd.Series:
        return self.table.set_index("rep")["quota"]

    def reconciliation(self, currency: str) -> str:
        """"Quotas add up to $9,900,000 = target $9,000,000 x 1.10 over-assignment."."""
        from .formats import money

        over = self.team["over_assignment"]
        return (f"Quotas add up to {money(self.team['quota_total'], currency, compact=False)} = target "
                f"{money(self.target, currency, compact=False)}" + (f" x {1 + over:.2f} over-assignment" if over else "") + ".")

    def hit_words(self) -> tuple[str, str]:
        """The expected share of reps at quota against the usual 50-70%: (words, colour)."""
        share = self.team["expected_share_hitting"]
        lo, hi = INDUSTRY_HIT_RANGE
        if share is None:
            return "no rep has a quota", "off"
        if lo <= share <= hi:
            return f"within the usual {lo:.0%}-{hi:.0%}", "off"
        return (f"-below the usual {lo:.0%}-{hi:.0%}", "normal") if share < lo else (f"+above the usual {lo:.0%}-{hi:.0%}", "normal")

    def explanation(self) -> str:
        return (f"Each rep's won deals in a period are drawn from a Poisson distribution whose rate is the rep's own win "
                f"count over the last four periods, shrunk toward the team's and scaled by their ramp and time on the "
                f"team; the rate varies between periods (rep-level spread, shape {self.rep_shape:.1f}) and with a "
                f"team-wide shock. Deal sizes come from the rep's own won deals mixed with the team's. History: "
                f"{self.window[0]:%d %b %Y} to {self.window[1]:%d %b %Y}. {' '.join(self.notes)}").strip()

    def to_json(self) -> dict:
        cols = ["rep", "quota", "p_attain", "expected", "p10", "p50", "p90", "flag", "weight"]
        return {"target": self.target, "method": self.team["method"], "over_assignment": self.team["over_assignment"],
                "quota_total": self.team["quota_total"], "p_team": self.team["p_team"], "team_source": self.team["source"],
                "team_p10": self.team["p10"], "team_p50": self.team["p50"], "team_p90": self.team["p90"],
                "expected_share_hitting": self.team["expected_share_hitting"],
                "reps_with_quota": self.team["reps_with_quota"], "reps_without_quota": self.team["reps_without_quota"],
                "reps_flagged": self.team["reps_flagged"], "reps": self.table[cols].to_dict(orient="records")}


def parse_overrides(pairs) -> tuple:
    """Hand-typed quotas [(rep, text)] -> ((rep, amount), ...): "150000", "150,000" or
    "150 000" (a currency sign is ignored); InputError naming the rep and the value otherwise."""
    out = []
    for rep, text in pairs:
        t = str(text).strip()
        if not t:
            continue
        clean = "".join(ch for ch in t if ch not in ",_ $€£¥₹'")
        try:
            v = float(clean)
        except ValueError:
            raise InputError(f"manual quota for {rep} = {t!r}: type an amount such as 150000") from None
        if not math.isfinite(v) or v < 0:
            raise InputError(f"manual quota for {rep} = {t!r}: a quota must be 0 or more")
        out.append((str(rep), v))
    return tuple(out)


def scenario_name(typed: str | None, period: Period, basis: str, method: str, f=None) -> str:
    """The name a goal scenario is saved under: what was typed, else a name made of what is on
    screen ("2026Q4 · published company target · Equal split · Region: EMEA")."""
    if typed and typed.strip():
        return typed.strip()
    parts = [period.label, basis, METHOD_LABELS.get(method, method)]
    if f is not None and f.filtered:
        parts.append(f.describe())
    return " · ".join(parts)


def goal_plan(ws, f, target: float, method: str = "capacity", over_assignment: float = 0.0, overrides: tuple = (),
              n_sims: int = 2000, seed: int = 0, team_samples=None) -> GoalPlan:
    """Quotas for ``target`` split by ``method`` over the reps inside the filters' slice, with
    ``overrides`` ((rep, quota) pairs typed by hand) kept, and their realism from ``n_sims``
    simulations (``team_samples``: the landing zone's samples of the slice, which calibrate
    the team total)."""
    if not (isinstance(target, (int, float, np.floating)) and math.isfinite(target) and target > 0):
        raise InputError(f"target = {target!r}: the team target must be a positive amount")
    model = slice_model(ws, f)
    if not model.reps:
        raise InputError(f"there are no reps on the team in {f.period.label} for {f.describe()}: "
                         "check the roster's hire and end dates, or the filters")
    table, team, model = plan_goals(f.deals(ws), ws.reps, f.period, float(target), method=method,
                                    over_assignment=over_assignment, overrides=dict(overrides),
                                    accounts=ws.accounts, n_sims=n_sims, seed=seed, team_samples=team_samples,
                                    model=model)
    table["realism"] = table["flag"].replace("", "ok")
    table["set_by"] = np.where(table["overridden"], "set by hand", METHOD_LABELS.get(method, method).lower())
    return GoalPlan(f.period, float(target), table, team, model.window, model.rep_shape, list(model.notes))


def compare_saved(ws, a: tuple, b: tuple) -> dict:
    """Two saved goal scenarios, each (name, version): ``table`` (compare_scenarios), ``a`` and
    ``b`` (their payloads)."""
    da = ws.load_saved("scenarios", a[0], int(a[1])) or {}
    db = ws.load_saved("scenarios", b[0], int(b[1])) or {}
    return {"table": compare_scenarios(da, db), "a": da, "b": db}


def publish(ws, period: Period, quotas: dict) -> int:
    """Replace the period's rep targets with ``quotas`` {rep: amount} in one transaction;
    returns the rows written."""
    from . import audit, store

    q = pd.Series(quotas, dtype=float)
    with audit.action("targets") as entry:
        with store.connect(ws.path, write=True) as conn:
            old = store.read_frame(conn, "SELECT scope_name, amount FROM targets WHERE scope = 'owner' AND period_start = ? "
                                         "AND period_end = ?", (period.start.isoformat(), period.end.isoformat()))
            n = publish_targets(conn, period, q)
            entry.before = {"period": period.label, "reps": len(old), "total": float(old["amount"].sum()) if len(old) else 0.0,
                            "quotas": {str(k): float(v) for k, v in zip(old["scope_name"], old["amount"])}}
            entry.after = {"period": period.label, "reps": int(len(q)), "total": float(q.sum()),
                           "quotas": {str(k): float(v) for k, v in q.items()}}
            entry.summary = f"{period.label}: {len(q)} rep targets published, total {q.sum():,.0f}"
        return n
