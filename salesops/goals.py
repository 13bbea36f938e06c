"""Goal setting: team targets, allocation to reps, and how realistic each quota is.

* Team target: top-down (a number, or growth over the same period last year) or bottom-up
  from capacity (ramped-rep equivalents x productivity per ramped rep, from
  :mod:`salesops.performance`), shown beside the forecast landing zone.
* Allocation (:func:`allocate`): equal, by historical share, by capacity with ramp, or by
  territory potential; manual overrides are kept and the rest is spread so the quotas always
  sum to the target x (1 + over-assignment).
* Realism: a Monte Carlo of every rep's bookings (:func:`fit_bookings_model`,
  :func:`simulate_bookings`): won deals per period ~ Poisson with a Gamma-distributed rate
  (the rep's own history shrunk toward the team, scaled by their ramp), deal sizes drawn
  from the rep's own won deals mixed with the team's, a shared team-wide shock. The
  probability of attainment is the share of simulations at or above the quota; the same
  simulations serve every quota (common random numbers), so it falls as the quota rises.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Callable

import numpy as np
import pandas as pd

from . import schema as S
from .errors import InputError, SalesopsError
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
CHUNK = 500


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

    @property
    def expected_bookings(self) -> np.ndarray:
        """Mean bookings per rep for the period (rate x mean deal size of the mixed pool)."""
        team_mean = float(self.team_pool.mean()) if len(self.team_pool) else 0.0
        own = np.array([self.pool_values[s:s + n].mean() if n else team_mean
                        for s, n in zip(self.pool_start, self.pool_len)])
        size = self.own_weight * own + (1 - self.own_weight) * team_mean
        return self.rate * size * self.size_factor


def _ramp_tools(deals: pd.DataFrame, reps: pd.DataFrame | None, as_of):
    """(roster_spans, ramp curve) from the performance module; a flat fallback without it."""
    try:
        from . import ramp as performance
        return performance.roster_spans(deals, reps), performance.ramp_curve(deals, reps, as_of), None
    except (ImportError, AttributeError) as exc:  # adapter: the colleague's module is missing
        owners = sorted(set(deals[S.OWNER].dropna())) if not deals.empty else []
        spans = pd.DataFrame({S.OWNER: owners, S.HIRE_DATE: pd.NaT, S.END_DATE: pd.NaT,
                              "known_hire": False, "on_roster": False})

        class _Flat:
            method = "none"

            @staticmethod
            def at(t):
                return np.ones_like(np.asarray(t, dtype=float))
        return spans, _Flat(), f"ramp not applied ({exc})"


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
    spans, curve, note = _ramp_tools(deals, reps, period.start)
    notes = [note] if note else []
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
    from .compensation import first_win_ids
    first = first_win_ids(deals) if not deals.empty and S.ACCOUNT in deals.columns else set()
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
    expected bookings (attrition usually comes from the bottom of the stack)."""
    if win_rate_uplift <= -1 or deal_size_change <= -1:
        raise InputError("a what-if change must be above -100%")
    if extra_hires < 0 and -extra_hires >= len(model.reps):
        raise InputError(f"a headcount change of {extra_hires} would leave no reps (the team has {len(model.reps)})")
    m = replace(model, rate=model.rate * (1 + win_rate_uplift), full_rate=model.full_rate * (1 + win_rate_uplift),
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


def simulate_bookings(model: BookingsModel, *, n_sims: int = 2000, seed: int = 0,
                      progress: Callable[[float], None] | None = None) -> dict[str, np.ndarray]:
    """Monte Carlo of the period: arrays (n_sims x reps) ``won_amount``, ``won_count``,
    ``new_logos``. Seeded with a local generator; the same seed gives the same draws."""
    if n_sims < 1:
        raise InputError(f"the number of simulations must be at least 1, not {n_sims}")
    rng = np.random.default_rng(seed)
    R = len(model.reps)
    amount = np.zeros((n_sims, R))
    count = np.zeros((n_sims, R))
    logos = np.zeros((n_sims, R))
    if R == 0:
        return {"won_amount": amount, "won_count": count, "new_logos": logos}
    kt = 1.0 / TEAM_SHOCK_CV ** 2
    kr = model.rep_shape
    team_n = len(model.team_pool)
    for lo in range(0, n_sims, CHUNK):
        c = min(CHUNK, n_sims - lo)
        lam = model.rate[None, :] * rng.gamma(kr, 1.0 / kr, size=(c, R)) * rng.gamma(kt, 1.0 / kt, size=(c, 1))
        n = rng.poisson(lam)
        total = int(n.sum())
        if total and team_n:
            cell = np.repeat(np.arange(c * R), n.ravel())
            rep = cell % R
            u = rng.random(total)
            own = (rng.random(total) < model.own_weight[rep]) & (model.pool_len[rep] > 0)
            own_idx = model.pool_start[rep] + np.minimum((u * model.pool_len[rep]).astype(np.int64), np.maximum(model.pool_len[rep] - 1, 0))
            team_idx = np.minimum((u * team_n).astype(np.int64), team_n - 1)
            own_vals = model.pool_values[np.where(own, own_idx, 0)] if len(model.pool_values) else np.zeros(total)
            values = np.where(own, own_vals, model.team_pool[team_idx]) * model.size_factor
            amount[lo:lo + c] = np.bincount(cell, weights=values, minlength=c * R).reshape(c, R)
        count[lo:lo + c] = n
        logos[lo:lo + c] = rng.binomial(n, np.clip(model.new_logo_share, 0, 1)[None, :])
        if progress is not None:
            progress(min(1.0, (lo + c) / n_sims))
    return {"won_amount": amount, "won_count": count, "new_logos": logos}


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
    try:
        from .ramp import productivity_per_ramped_rep, ramped_rep_equivalents
    except ImportError:
        raise InputError("the capacity target needs salesops.performance, which is not installed") from None
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


def landing_zone(deals: pd.DataFrame, period: Period, *, as_of: date | None = None,
                 snapshots: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                 calendar: FiscalCalendar | None = None, owners: list | None = None,
                 model_totals: np.ndarray | None = None, stage_history: pd.DataFrame | None = None) -> dict | None:
    """Where the period is expected to land: p10/p50/p90 (and ``samples``) from
    :func:`salesops.forecasting.landing`, else (when the forecast cannot be made, e.g. too
    little history) from the rep simulation's team totals (``model_totals``); ``source`` says
    which ("forecast" or "rep simulation"). None when neither is there."""
    from .forecasting import landing  # imported here: Prophet and statsforecast load slowly

    if as_of is not None and not deals.empty:
        try:
            res = landing(deals, snapshots, period, as_of, targets=targets, calendar=calendar, owners=owners,
                          stage_history=stage_history)
            return dict(res, source="forecast")
        except SalesopsError:
            pass
    if model_totals is not None and len(model_totals):
        q = np.quantile(model_totals, [0.1, 0.5, 0.9])
        return {"p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2]), "samples": model_totals,
                "source": "rep simulation"}
    return None


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
    """P(bookings >= quota) per rep from simulations (n_sims x reps). A zero quota is met."""
    q = np.asarray(quotas, dtype=float)
    return (won_amount >= q[None, :] - 1e-9).mean(axis=0) if won_amount.size else np.zeros(len(q))


@dataclass
class Realism:
    """How realistic a set of quotas is. ``reps``: rep, quota, expected, p10, p50, p90,
    p_attain, flag. ``team``: target, p_team, expected_share_hitting, p10/p50/p90 of the team
    total and ``source`` of the team distribution."""

    reps: pd.DataFrame
    team: dict


def flag_for(p: float) -> str:
    if p < IMPLAUSIBLE_P:
        return "above plausible"
    if p < STRETCH_P:
        return "stretch"
    return ""


def assess(quotas: pd.Series, sims: dict[str, np.ndarray], model: BookingsModel, *,
           team_samples: np.ndarray | None = None, target: float | None = None) -> Realism:
    """Probability of attainment per rep and for the team.

    Reps: share of simulations at or above their quota. Team: the share of ``team_samples``
    (the forecast's landing samples when given) at or above ``target`` (default: sum of
    quotas), else of the simulated team totals. ``expected_share_hitting`` = mean of the rep
    probabilities (industry norm 50-70%)."""
    amount = sims["won_amount"]
    q = quotas.reindex(model.reps).fillna(0.0).to_numpy(dtype=float)
    p = attainment_probability(amount, q)
    qs = np.quantile(amount, [0.1, 0.5, 0.9], axis=0) if amount.size else np.zeros((3, len(q)))
    reps = pd.DataFrame({"rep": model.reps, "quota": q, "expected": amount.mean(axis=0) if amount.size else np.zeros(len(q)),
                         "p10": qs[0], "p50": qs[1], "p90": qs[2], "p_attain": p})
    reps["flag"] = [flag_for(x) if qq > 0 else "" for x, qq in zip(p, q)]
    tgt = float(q.sum()) if target is None else float(target)
    totals = amount.sum(axis=1) if amount.size else np.zeros(1)
    source = "rep simulation"
    samples = totals
    if team_samples is not None and len(team_samples) and np.nanmax(np.asarray(team_samples, dtype=float)) > 0:
        samples, source = np.asarray(team_samples, dtype=float), "forecast"
    tq = np.quantile(samples, [0.1, 0.5, 0.9])
    team = {"target": tgt, "p_team": float((samples >= tgt - 1e-9).mean()), "source": source,
            "p10": float(tq[0]), "p50": float(tq[1]), "p90": float(tq[2]),
            "expected_share_hitting": float(p.mean()) if len(p) else None,
            "reps_flagged": int((reps["flag"] == "above plausible").sum()),
            "industry_norm": INDUSTRY_HIT_RANGE}
    return Realism(reps, team)


def plan_goals(deals: pd.DataFrame, reps: pd.DataFrame | None, period: Period, target: float, *,
               method: str = "capacity", over_assignment: float = 0.0, overrides: dict | None = None,
               accounts: pd.DataFrame | None = None, n_sims: int = 2000, seed: int = 0,
               lookback_periods: int = 4, as_of: date | None = None, team_samples=None,
               progress: Callable[[float], None] | None = None) -> tuple[pd.DataFrame, dict, BookingsModel]:
    """The whole goal-setting step: model, allocation, realism. Returns (table, team, model);
    the table has rep, weight, quota, expected, p10, p50, p90, p_attain, flag, ramp.
    ``team_samples`` (the forecast's landing samples) calibrate the rep simulations' team
    total (:func:`calibrate_to_team`) and give the team probability."""
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


def scenario_payload(period: Period, target: float, method: str, over_assignment: float, table: pd.DataFrame,
                     team: dict, *, basis: str = "", overrides: dict | None = None) -> dict:
    """A goal scenario as saved in the ``scenarios`` table (kind "goals")."""
    return {"period": period.label, "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
            "target": float(target), "basis": basis, "method": method, "over_assignment": float(over_assignment),
            "overrides": {k: float(v) for k, v in (overrides or {}).items()},
            "quotas": {r: float(q) for r, q in zip(table["rep"], table["quota"])},
            "p_attain": {r: float(p) for r, p in zip(table["rep"], table["p_attain"])},
            "p_team": team.get("p_team"), "expected_share_hitting": team.get("expected_share_hitting")}


def compare_scenarios(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> pd.DataFrame:
    """Two saved scenarios side by side: quota and probability per rep, and the change."""
    reps = sorted(set(a.get("quotas", {})) | set(b.get("quotas", {})))
    out = pd.DataFrame({"rep": reps})
    out[f"quota {name_a}"] = [a.get("quotas", {}).get(r, np.nan) for r in reps]
    out[f"quota {name_b}"] = [b.get("quotas", {}).get(r, np.nan) for r in reps]
    out["quota change"] = out[f"quota {name_b}"] - out[f"quota {name_a}"]
    out[f"P(attain) {name_a}"] = [a.get("p_attain", {}).get(r, np.nan) for r in reps]
    out[f"P(attain) {name_b}"] = [b.get("p_attain", {}).get(r, np.nan) for r in reps]
    return out
