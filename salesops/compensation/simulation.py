"""What a comp plan may cost: a Monte Carlo of every plan period the range touches.

Each plan period (see :mod:`salesops.compensation.payout`) is simulated from the bookings
model of :mod:`salesops.goals` fitted for it (each rep's own history up to the as-of date),
the plan applied in every simulation with that period's quotas (the published rep targets by
default, as for actual payouts), and the costs of the periods summed.

The baseline and every what-if are simulated the same way from the same seed: a win-rate
uplift adds won deals on top of the same draws (or removes some), a deal-size change scales
the same deals, a hire adds a rep and a leaver removes one without redrawing the others
(:func:`salesops.goals.simulate_bookings`). So cost moves with each lever in every simulation,
not only on average: more wins never cost less. Clawbacks and draws are not simulated; SPIFs
are, by the share of the rep's past won deals that qualified.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import InputError
from ..periods import Period
from .payout import QUOTA_SOURCES, plan_periods, plan_reps, published_quotas, rep_quotas
from .plan import EPS, Plan, as_plan, component_multiple, spif_mask

#: What-if steps of the page's sliders: -30% to +50%.
WHAT_IF_STEPS = tuple(round(i / 100, 2) for i in range(-30, 51))
#: Headcount what-ifs: five leavers to ten hires.
HEADCOUNT_STEPS = tuple(range(-5, 11))


@dataclass
class SimulationResult:
    """Monte Carlo of a plan's cost over a range: ``totals`` and ``bookings`` (n_sims),
    ``per_rep`` (n_sims x reps) pay summed over the plan periods, ``quotas`` (reps, summed);
    ``hits`` (n_sims x K) whether each of the K (rep, plan period) pairs with a quota reached
    it, ``hit_rep`` the rep of each pair."""

    reps: list
    periods: list
    totals: np.ndarray
    bookings: np.ndarray
    per_rep: np.ndarray
    quotas: np.ndarray
    hits: np.ndarray
    hit_rep: np.ndarray
    n_sims: int
    seed: int
    what_ifs: dict = field(default_factory=dict)

    def summary(self) -> dict:
        t = self.totals
        b = self.bookings
        cos = np.divide(t, b, out=np.full(len(t), np.nan), where=b > 0)
        return {"n_sims": int(len(t)), "seed": self.seed, "periods": list(self.periods), **self.what_ifs,
                "mean_cost": float(t.mean()) if len(t) else 0.0,
                "p10_cost": float(np.quantile(t, 0.1)) if len(t) else 0.0,
                "p50_cost": float(np.quantile(t, 0.5)) if len(t) else 0.0,
                "p90_cost": float(np.quantile(t, 0.9)) if len(t) else 0.0,
                "mean_bookings": float(b.mean()) if len(t) else 0.0,
                "mean_cost_of_sales": float(np.nanmean(cos)) if np.isfinite(cos).any() else None,
                "share_reps_at_quota": float(self.hits.mean()) if self.hits.size else None,
                "reps_without_quota": int(sum(1 for i in range(len(self.reps)) if not (self.hit_rep == i).any()))}

    def rep_table(self) -> pd.DataFrame:
        """Per rep: quota (over the plan periods), mean/P10/P90 payout, and the probability of
        reaching quota in a plan period (NaN for a rep without a quota)."""
        cols = ["rep", "quota", "mean_payout", "p10_payout", "p90_payout", "p_attain"]
        if not self.reps:
            return pd.DataFrame(columns=cols)
        p = np.full(len(self.reps), np.nan)
        for i in range(len(self.reps)):
            mine = self.hit_rep == i
            if mine.any():
                p[i] = float(self.hits[:, mine].mean())
        return pd.DataFrame({"rep": self.reps, "quota": self.quotas, "mean_payout": self.per_rep.mean(axis=0),
                             "p10_payout": np.quantile(self.per_rep, 0.1, axis=0),
                             "p90_payout": np.quantile(self.per_rep, 0.9, axis=0), "p_attain": p}, columns=cols)

    def to_json(self) -> dict:
        return {**self.summary(), "reps": self.rep_table().to_dict(orient="records")}


def _pay(plan: Plan, values: dict, quotas: np.ndarray, ti: np.ndarray, spif_counts: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pay (n_sims x reps) and the first measure's attainment (NaN without a quota) in each
    simulation. ``quotas`` is reps x measures."""
    n, r = values["won_amount"].shape
    multiple = np.zeros((n, r))
    att0 = np.full((n, r), np.nan)
    for j, comp in enumerate(plan.components):
        q = quotas[:, j]
        att = np.divide(values[comp.measure], q[None, :], out=np.full((n, r), np.nan), where=q[None, :] > 0)
        multiple += comp.weight * component_multiple(plan, att)
        if j == 0:
            att0 = att
    if plan.cap is not None:
        multiple = np.minimum(multiple, plan.cap)
    pay = multiple * ti[None, :]
    if plan.spifs:
        spif = sum(spif_counts[sp.name] * sp.amount for sp in plan.spifs)
        if plan.spif_in_cap and plan.cap is not None:
            spif = np.minimum(spif, np.clip(plan.cap * ti[None, :] - pay, 0, None))
        pay = pay + spif
    return pay, att0


def simulate_period(plan: Plan, model, quotas: pd.DataFrame, *, n_sims: int, seed, win_rate_uplift: float = 0.0,
                    deal_size_change: float = 0.0, extra_hires: int = 0,
                    progress: Callable[[float], None] | None = None) -> dict:
    """One plan period: ``model`` (salesops.goals.BookingsModel of the reps on the plan),
    ``quotas`` (rep_quotas of them). Returns reps, pay, bookings (n_sims x reps), attainment
    and quota (reps) of the first measure."""
    from .. import goals

    m = goals.with_what_ifs(model, win_rate_uplift=win_rate_uplift, deal_size_change=deal_size_change,
                            extra_hires=extra_hires)
    q = quotas.set_index("rep")
    n_comp = len(plan.components)
    cols = [f"quota_{j}" for j in range(n_comp)]
    new_hire = np.array([_new_hire_quota(plan, quotas, j) for j in range(n_comp)])
    qm = np.array([q.loc[r, cols].to_numpy(dtype=float) if r in q.index else new_hire for r in m.reps]).reshape(len(m.reps), n_comp)
    ti_default = plan.target_incentive.default
    if ti_default is None:
        known = [v for v in plan.target_incentive.by_rep.values()]
        ti_default = float(np.median(known)) if known else 0.0
    ti = np.array([plan.target_incentive.for_rep(r) if r in q.index else ti_default for r in m.reps], dtype=float)
    hist = m.history
    shares = {}
    for sp in plan.spifs:
        mask = spif_mask(hist, sp) if not hist.empty else pd.Series(dtype=bool)
        shares[sp.name] = np.array([goals.qualifying_share(hist, r, mask) for r in m.reps])
    sims = goals.simulate_bookings(m, n_sims=n_sims, seed=seed, progress=progress, flags=shares)
    spif_counts = {k: sims[f"flag:{k}"] for k in shares}
    pay, att = _pay(plan, sims, qm, ti, spif_counts)
    return {"reps": list(m.reps), "pay": pay, "bookings": sims["won_amount"], "attainment": att, "quota": qm[:, 0]}


def _new_hire_quota(plan: Plan, quotas: pd.DataFrame, j: int) -> float:
    """A new hire's quota in a what-if: the plan's default, else the median quota of the period."""
    default = plan.components[j].quota.default
    if default is not None:
        return float(default)
    q = quotas[f"quota_{j}"].to_numpy(dtype=float)
    q = q[np.isfinite(q) & (q > 0)]
    return float(np.median(q)) if len(q) else 0.0


def simulate(ws, f, plan, quota_source: str = "targets", *, win_rate_uplift: float = 0.0, deal_size_change: float = 0.0,
             extra_hires: int = 0, n_sims: int = 2000, seed: int = 0,
             progress: Callable[[float], None] | None = None) -> SimulationResult:
    """Monte Carlo of ``plan``'s cost (a Plan, document or JSON text) over the filters'
    period: every plan period it touches, each from the bookings model learned up to the
    filters' as-of date, for the reps inside their slice (module docstring)."""
    from .. import goals

    plan = as_plan(plan)
    if quota_source not in QUOTA_SOURCES:
        raise InputError(f"quota source {quota_source!r}: use one of {', '.join(QUOTA_SOURCES)}")
    if n_sims < 1:
        raise InputError(f"the number of simulations must be at least 1, not {n_sims}")
    pps = plan_periods(plan, f.period, ws.settings.calendar)
    inside = goals.slice_reps(ws, f)
    parts = []
    for i, pp in enumerate(pps):
        window = Period(pp.start, pp.end, pp.label, "range")
        team = goals.team_model(ws, window, f.as_of)
        published = published_quotas(ws.targets, pp.period) if quota_source == "targets" and not ws.targets.empty else None
        candidates = set(team.reps) | set(plan_reps(plan, None, pp.period.start, pp.period.end, None, published))
        if inside is not None:
            candidates &= set(inside)
        q = rep_quotas(plan, sorted(candidates), published)
        ti = np.array([plan.target_incentive.for_rep(n) for n in q["rep"]], dtype=float)
        ok = q[[f"quota_{j}" for j in range(len(plan.components))]].notna().all(axis=1).to_numpy() & np.isfinite(ti)
        q = q[ok].reset_index(drop=True)
        if q.empty:
            continue
        model = goals.team_model(ws, window, f.as_of, names=list(q["rep"]))
        step = (lambda x, i=i: progress((i + x) / len(pps))) if progress is not None else None
        parts.append((pp, simulate_period(plan, model, q, n_sims=n_sims, seed=(seed, i), win_rate_uplift=win_rate_uplift,
                                          deal_size_change=deal_size_change, extra_hires=extra_hires, progress=step)))
    return _combine(parts, n_sims, seed, {"win_rate_uplift": win_rate_uplift, "deal_size_change": deal_size_change,
                                          "extra_hires": extra_hires, "quota_source": quota_source})


def _combine(parts: list, n_sims: int, seed: int, what_ifs: dict) -> SimulationResult:
    reps = sorted({r for _, p in parts for r in p["reps"]}, key=lambda r: (r.startswith("New hire "), r))
    pos = {r: i for i, r in enumerate(reps)}
    per_rep = np.zeros((n_sims, len(reps)))
    quotas = np.zeros(len(reps))
    bookings = np.zeros(n_sims)
    hits, hit_rep = [], []
    for _, p in parts:
        idx = np.array([pos[r] for r in p["reps"]], dtype=int)
        per_rep[:, idx] += p["pay"]
        quotas[idx] += p["quota"]
        bookings += p["bookings"].sum(axis=1)
        with_q = p["quota"] > 0
        hits.append(np.nan_to_num(p["attainment"][:, with_q], nan=0.0) >= 1 - EPS)
        hit_rep.append(idx[with_q])
    return SimulationResult(reps, [pp.label for pp, _ in parts], per_rep.sum(axis=1), bookings, per_rep, quotas,
                            np.concatenate(hits, axis=1) if hits else np.zeros((n_sims, 0), bool),
                            np.concatenate(hit_rep) if hit_rep else np.zeros(0, int), n_sims, seed, what_ifs)

