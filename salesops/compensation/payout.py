"""Payouts of a comp plan from actual bookings, once per plan period (DESIGN.md section 7).

The rule: a plan is evaluated once per **plan period** (its month, quarter or year) that the
selected range touches, each with its own quota, threshold, tiers, cap and draw, and the
payouts over the range are the sum of those periods. A quarterly plan over a fiscal year is
four quarters; a month under a quarterly plan is its quarter *to date* (from the quarter's
first day to the month's last day, against the whole quarter's quota), never a scaled quota.
Every plan period is evaluated from its own first day to the earliest of its last day, the
range's last day and the as-of date; plan periods that start after the as-of date have not
started and pay nothing yet. A plan without a period is evaluated once, on the range.

Bookings follow the KPI engine's as-of rule (:func:`salesops.metrics.deal_mask`): a won deal
counts once its close date has passed the as-of date, so a rep's attainment for a quarter is
the one the Reps page and ``kpis --by owner`` show against the same target.

Quotas (of the bookings measure): the quota set in the plan for the rep by name, else the
rep's **published target** for the plan period (targets of scope owner, pro-rated by days:
salesops.targets), else the plan's default quota (the fallback). ``quota_source="plan"``
ignores published targets. A published target of 0 (a new hire in training) is no quota: the
rep is listed, attainment is blank and the measure pays nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from .. import schema as S
from ..errors import InputError
from ..periods import FiscalCalendar, Period
from .plan import DEFAULT_CANCEL_STAGES, EPS, Plan, as_plan, component_multiple, spif_mask

#: Which quotas a plan pays against.
QUOTA_SOURCES = {"targets": "published rep targets (the plan's quota where a rep has none)",
                 "plan": "the plan's own quota for everyone"}
#: Where a rep's quota comes from, in words.
FROM_PLAN_REP = "set in the plan for this rep"
FROM_TARGET = "published target"
FROM_FALLBACK = "plan quota (no published target)"
FROM_PLAN = "plan quota"
FROM_ZERO = "no quota (published target is 0)"
PLAN_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}

PAYOUT_COLUMNS = ["rep", "quota", "quota_from", "achieved", "attainment", "commission", "spif", "clawback",
                  "draw_top_up", "draw_recovered", "total", "draw_balance", "target_incentive", "won_amount", "won_count",
                  "periods"]
PERIOD_COLUMNS = ["rep", "plan_period", "period_start", "period_end", "through", "to_date", "quota", "quota_from",
                  "achieved", "attainment", "commission", "spif", "clawback", "earned", "draw_top_up", "draw_recovered",
                  "total", "draw_balance", "target_incentive", "won_amount", "won_count"]


# --- plan periods -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlanPeriod:
    """One evaluation of the plan: ``period`` is the whole plan period (its quota, target
    incentive and draw); bookings count from ``start`` to ``end`` (cut at the as-of date)."""

    period: Period
    start: date
    end: date

    @property
    def label(self) -> str:
        return self.period.label

    def through(self, as_of: date | None) -> date:
        """The last day whose bookings count."""
        return self.end if as_of is None else min(self.end, as_of)

    def to_date(self, as_of: date | None) -> bool:
        return self.through(as_of) < self.period.end

    def started(self, as_of: date | None) -> bool:
        return as_of is None or self.start <= as_of

    def describe(self, as_of: date | None) -> str:
        """"2026Q3", "2026Q4 to date (to 20 Nov 2026)", "2027Q1 (not started)"."""
        if not self.started(as_of):
            return f"{self.label} (not started)"
        if self.to_date(as_of):
            return f"{self.label} to date (to {self.through(as_of):%d %b %Y})"
        return self.label

    def as_dict(self, as_of: date | None) -> dict:
        return {"label": self.label, "start": self.period.start.isoformat(), "end": self.period.end.isoformat(),
                "through": self.through(as_of).isoformat(), "to_date": self.to_date(as_of),
                "started": self.started(as_of)}


def plan_periods(plan: Plan, period: Period, calendar: FiscalCalendar | None = None) -> list[PlanPeriod]:
    """The plan periods the range ``period`` touches, each cut at the range's end."""
    if plan.period is None:
        return [PlanPeriod(period, period.start, period.end)]
    cal = calendar or FiscalCalendar(1)
    return [PlanPeriod(p, p.start, min(p.end, period.end)) for p in cal.periods_between(period.start, period.end, PLAN_FREQ[plan.period])]


def _years(start: date, end: date) -> float:
    """Length of [start, end] in years: whole months / 12 when it is whole months, else days / 365.25."""
    nxt = date(end.year + end.month // 12, end.month % 12 + 1, 1)
    if start.day == 1 and (nxt - end).days == 1:
        return ((end.year - start.year) * 12 + end.month - start.month + 1) / 12
    return ((end - start).days + 1) / 365.25


# --- bookings ---------------------------------------------------------------------------------------
def booked_deals(deals: pd.DataFrame, start, end, snapshots: pd.DataFrame | None = None,
                 cancel_stages=DEFAULT_CANCEL_STAGES, as_of=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The deals booked in [start, end] as known on ``as_of``: (booked, cancellations, reversals).

    ``booked``: won deals the KPI engine counts for the range (close date inside it and not
    after ``as_of``), plus deals a snapshot (taken by ``as_of``) showed won in the range that
    a later snapshot shows in a cancellation stage (they were booked and paid;
    ``cancelled_on`` = the first snapshot showing the cancellation). ``reversals``: deals a
    snapshot showed won in the range that are now lost or open for another reason."""
    from ..metrics import deal_mask

    s, e = pd.Timestamp(start), pd.Timestamp(end)
    if as_of is not None:
        e = min(e, pd.Timestamp(as_of))
    won = deals[deal_mask(deals, "won_amount", s, e, as_of)].copy() if len(deals) else deals.copy()
    won["cancelled_on"] = pd.NaT
    empty_rev = pd.DataFrame(columns=[S.OPPORTUNITY_ID, S.OWNER, S.AMOUNT, S.CLOSE_DATE, "won_in_snapshot", "now"])
    if snapshots is None or snapshots.empty:
        return won, won.iloc[0:0], empty_rev
    snaps = snapshots if as_of is None else snapshots[snapshots[S.AS_OF] <= pd.Timestamp(as_of)]
    was_won = snaps[(snaps[S.STATUS] == S.WON) & snaps[S.CLOSE_DATE].between(s, e)]
    was_won = was_won[~was_won[S.OPPORTUNITY_ID].isin(won[S.OPPORTUNITY_ID])]
    if was_won.empty:
        return won, won.iloc[0:0], empty_rev
    last_won = was_won.sort_values(S.AS_OF).drop_duplicates(S.OPPORTUNITY_ID, keep="last")
    keys = {S.stage_key(x) for x in cancel_stages}
    later = snaps[snaps[S.OPPORTUNITY_ID].isin(last_won[S.OPPORTUNITY_ID])]
    later = later.merge(last_won[[S.OPPORTUNITY_ID, S.AS_OF]].rename(columns={S.AS_OF: "won_as_of"}), on=S.OPPORTUNITY_ID)
    later = later[later[S.AS_OF] > later["won_as_of"]]
    is_cancel = later[S.STAGE].map(lambda x: S.stage_key(x) in keys if isinstance(x, str) else False)
    cancel_on = later[is_cancel].groupby(S.OPPORTUNITY_ID)[S.AS_OF].min()
    current = deals.set_index(S.OPPORTUNITY_ID) if not deals.empty else None
    cancelled_ids = set(cancel_on.index)
    if current is not None:
        now_cancel = current[current[S.STAGE].map(lambda x: S.stage_key(x) in keys if isinstance(x, str) else False)].index
        cancelled_ids |= set(now_cancel) & set(last_won[S.OPPORTUNITY_ID])
    extra_cols = [c for c in won.columns if c in last_won.columns]
    cancelled = last_won[last_won[S.OPPORTUNITY_ID].isin(cancelled_ids)][extra_cols].copy()
    if current is not None and not cancelled.empty:  # roster/deal dimensions from the current row
        for col in won.columns:
            if col not in cancelled.columns and col != "cancelled_on":
                cancelled[col] = cancelled[S.OPPORTUNITY_ID].map(current[col]) if col in current.columns else None
    cancelled["cancelled_on"] = cancelled[S.OPPORTUNITY_ID].map(cancel_on)
    rev = last_won[~last_won[S.OPPORTUNITY_ID].isin(cancelled_ids)]
    rev = rev.assign(won_in_snapshot=rev[S.AS_OF],
                     now=rev[S.OPPORTUNITY_ID].map(current[S.STATUS]).fillna("absent") if current is not None else "absent")
    rev = rev[rev["now"] != S.WON][[S.OPPORTUNITY_ID, S.OWNER, S.AMOUNT, S.CLOSE_DATE, "won_in_snapshot", "now"]]
    booked = pd.concat([won, cancelled], ignore_index=True) if not cancelled.empty else won
    return booked, cancelled, rev.reset_index(drop=True)


def measure_by_rep(booked: pd.DataFrame, measure: str, new_logo_ids: set) -> pd.Series:
    """What each rep achieved on ``measure`` over the booked deals."""
    if booked.empty:
        return pd.Series(dtype=float)
    if measure == "won_amount":
        return booked.groupby(S.OWNER, observed=True)[S.AMOUNT].sum()
    if measure == "won_count":
        return booked.groupby(S.OWNER, observed=True).size().astype(float)
    flag = booked[S.OPPORTUNITY_ID].isin(new_logo_ids)
    return flag.groupby(booked[S.OWNER], observed=True).sum().astype(float)


# --- who is on the plan, on which quota ----------------------------------------------------------------
def published_quotas(targets: pd.DataFrame | None, period: Period) -> pd.Series:
    """Each rep's published target for ``period`` (scope owner, pro-rated by days: the target
    rule of a one-rep slice, salesops.targets)."""
    from ..targets import TargetBook

    return TargetBook(targets, period.start, period.end).scope("owner")


def rep_quotas(plan: Plan, names, published: pd.Series | None) -> pd.DataFrame:
    """Per rep: ``quota_<j>`` for each measure j of the plan (NaN = not on the plan) and
    ``quota_from`` (where the first measure's quota comes from). ``published`` None = the
    plan's quotas only."""
    rows = []
    for n in names:
        row = {"rep": n}
        for j, comp in enumerate(plan.components):
            src = None
            if n in comp.quota.by_rep:
                q, src = comp.quota.by_rep[n], FROM_PLAN_REP
            elif comp.measure == "won_amount" and published is not None and n in published.index:
                q = float(published[n])
                src = FROM_TARGET if q > 0 else FROM_ZERO
            elif comp.quota.default is not None:
                q = comp.quota.default
                src = FROM_FALLBACK if (published is not None and comp.measure == "won_amount") else FROM_PLAN
            else:
                q = np.nan
            row[f"quota_{j}"] = q
            if j == 0:
                row["quota_from"] = src
        rows.append(row)
    cols = ["rep"] + [f"quota_{j}" for j in range(len(plan.components))] + ["quota_from"]
    return pd.DataFrame(rows, columns=cols)


def plan_reps(plan: Plan, reps: pd.DataFrame | None, start, end, booked: pd.DataFrame | None = None,
              published: pd.Series | None = None) -> list[str]:
    """The people who could be on the plan for [start, end]: roster reps on the team at some
    point of it, owners of its booked deals, reps the plan names and reps with a published
    target for it."""
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    names = set()
    if reps is not None and not reps.empty:
        hire = pd.to_datetime(reps[S.HIRE_DATE]) if S.HIRE_DATE in reps else pd.Series(pd.NaT, index=reps.index)
        end_ = pd.to_datetime(reps[S.END_DATE]) if S.END_DATE in reps else pd.Series(pd.NaT, index=reps.index)
        active = reps[S.ACTIVE].fillna(True).astype(bool) if S.ACTIVE in reps else pd.Series(True, index=reps.index)
        on = (hire.isna() | (hire <= e)) & (end_.isna() | (end_ >= s)) & (active | end_.notna())
        names |= set(reps.loc[on, S.NAME].astype(str))
    if booked is not None and not booked.empty:
        names |= set(booked[S.OWNER].dropna().astype(str))
    for comp in plan.components:
        names |= set(comp.quota.by_rep)
    if published is not None:
        names |= set(published.index.astype(str))
    return sorted(names)


# --- one plan period ----------------------------------------------------------------------------------
def _evaluate(plan: Plan, deals: pd.DataFrame, pp: PlanPeriod, as_of, *, reps, targets, snapshots,
              rep_names, quota_source: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, set]:
    """(rows per rep, booked, cancellations, reversals, booked owners not on the plan) of one plan period."""
    stages = plan.clawback.stages if plan.clawback else DEFAULT_CANCEL_STAGES
    booked, cancelled, reversals = booked_deals(deals, pp.start, pp.end, snapshots, stages, as_of=as_of)
    booked = booked.copy()
    booked[S.AMOUNT] = booked[S.AMOUNT].fillna(0.0)
    published = published_quotas(targets, pp.period) if quota_source == "targets" else None
    candidates = plan_reps(plan, reps, pp.period.start, pp.period.end, booked, published)
    if rep_names is not None:
        keep = set(rep_names)
        candidates = [n for n in candidates if n in keep]
    q = rep_quotas(plan, candidates, published)
    ti_all = np.array([plan.target_incentive.for_rep(n) for n in q["rep"]], dtype=float)
    ok = q[[f"quota_{j}" for j in range(len(plan.components))]].notna().all(axis=1).to_numpy() & np.isfinite(ti_all)
    q = q[ok].reset_index(drop=True)
    names = list(q["rep"])
    owners = set(booked[S.OWNER].dropna().astype(str))
    if rep_names is not None:
        owners &= set(rep_names)
    not_on_plan = owners - set(names)
    idx = pd.Index(names, name="rep")
    ti = ti_all[ok]
    new_ids = _new_logo_ids(deals, cancelled) if any(c.measure == "new_logos" for c in plan.components) else set()
    out = pd.DataFrame(index=idx)
    multiple = np.zeros(len(names))
    for j, comp in enumerate(plan.components):
        quota = q[f"quota_{j}"].to_numpy(dtype=float)
        achieved = measure_by_rep(booked, comp.measure, new_ids).reindex(idx, fill_value=0.0).to_numpy(dtype=float)
        att = np.divide(achieved, quota, out=np.full(len(names), np.nan), where=quota > 0)
        multiple += comp.weight * component_multiple(plan, att)
        if j == 0:
            out["quota"], out["achieved"], out["attainment"] = quota, achieved, att
        if len(plan.components) > 1:
            out[f"quota_{comp.measure}"], out[f"achieved_{comp.measure}"], out[f"attainment_{comp.measure}"] = quota, achieved, att
    if plan.cap is not None:
        multiple = np.minimum(multiple, plan.cap)
    commission = multiple * ti
    spif = np.zeros(len(names))
    for sp in plan.spifs:
        if booked.empty:
            break
        hits = booked[spif_mask(booked, sp)].groupby(S.OWNER, observed=True).size().reindex(idx, fill_value=0).to_numpy(dtype=float)
        spif += hits * sp.amount
    if plan.spif_in_cap and plan.cap is not None:
        spif = np.clip(plan.cap * ti - commission, 0.0, None).clip(max=spif)
    by_owner = booked.groupby(S.OWNER, observed=True)[S.AMOUNT] if not booked.empty else None
    won_amount = by_owner.sum().reindex(idx, fill_value=0.0).to_numpy(dtype=float) if by_owner is not None else np.zeros(len(names))
    won_count = by_owner.size().reindex(idx, fill_value=0).to_numpy(dtype=float) if by_owner is not None else np.zeros(len(names))
    clawback = np.zeros(len(names))
    cancel_rows = pd.DataFrame(columns=[S.OPPORTUNITY_ID, S.OWNER, S.AMOUNT, S.CLOSE_DATE, "cancelled_on", "clawback"])
    if plan.clawback is not None and not cancelled.empty:
        c = cancelled.copy()
        c[S.AMOUNT] = c[S.AMOUNT].fillna(0.0)
        within = (c["cancelled_on"] - c[S.CLOSE_DATE]).dt.days <= plan.clawback.window_days
        c = c[within & c[S.OWNER].isin(names)]
        if not c.empty:
            pos = {n: i for i, n in enumerate(names)}
            rows = []
            for r in c.itertuples(index=False):
                i = pos[getattr(r, S.OWNER)]
                share = getattr(r, S.AMOUNT) / won_amount[i] if won_amount[i] > 0 else 0.0
                amount = plan.clawback.share * commission[i] * share
                clawback[i] += amount
                rows.append({S.OPPORTUNITY_ID: getattr(r, S.OPPORTUNITY_ID), S.OWNER: getattr(r, S.OWNER),
                             S.AMOUNT: getattr(r, S.AMOUNT), S.CLOSE_DATE: getattr(r, S.CLOSE_DATE),
                             "cancelled_on": r.cancelled_on, "clawback": amount})
            cancel_rows = pd.DataFrame(rows)
    out["quota_from"] = q["quota_from"].to_numpy()
    out["commission"], out["spif"], out["clawback"] = commission, spif, clawback
    out["earned"] = commission + spif - clawback
    out["target_incentive"], out["won_amount"], out["won_count"] = ti, won_amount, won_count
    return out.reset_index(), booked, cancel_rows, reversals, not_on_plan


def _new_logo_ids(deals: pd.DataFrame, cancelled: pd.DataFrame) -> set:
    from ..metrics import first_win_ids

    return first_win_ids(pd.concat([deals, cancelled], ignore_index=True) if not cancelled.empty else deals)


# --- the range ------------------------------------------------------------------------------------------
@dataclass
class PayoutResult:
    """Payouts of one plan over a range. ``payouts``: one row per rep (:data:`PAYOUT_COLUMNS`,
    summed over the plan periods; attainment = achieved / quota over them, blank without a
    quota); ``periods``: one row per rep and plan period (:data:`PERIOD_COLUMNS`);
    ``plan_periods``: the plan periods the range touches; ``reversals``: won deals a later
    export shows lost or open again (not paid); ``cancellations``: the clawed-back deals."""

    plan: Plan
    period: Period
    as_of: date | None
    quota_source: str
    plan_periods: list
    payouts: pd.DataFrame
    periods: pd.DataFrame
    total_cost: float
    bookings: float
    cost_of_sales: float | None
    full_cost_of_sales: float | None
    reversals: pd.DataFrame
    cancellations: pd.DataFrame
    not_on_plan: list
    notes: list = field(default_factory=list)

    @property
    def started(self) -> list:
        return [pp for pp in self.plan_periods if pp.started(self.as_of)]

    @property
    def reps_at_quota(self) -> int:
        """Reps at or above quota (a rep without a quota is never at it)."""
        a = self.payouts["attainment"]
        return int((a.notna() & (a >= 1 - EPS)).sum())

    @property
    def reps_with_quota(self) -> int:
        return int(self.payouts["attainment"].notna().sum())

    def evaluated_as(self) -> str:
        """The plan periods in words: "2026Q1, 2026Q2, 2026Q3 and 2026Q4 to date (to 20 Nov 2026)"."""
        parts = [pp.describe(self.as_of) for pp in self.plan_periods]
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

    def to_json(self) -> dict:
        cols = [c for c in PAYOUT_COLUMNS if c in self.payouts.columns and c != "periods"]
        return {
            "plan": self.plan.name, "period": self.period.label,
            "period_start": self.period.start.isoformat(), "period_end": self.period.end.isoformat(),
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "quota_source": self.quota_source,
            "plan_periods": [pp.as_dict(self.as_of) for pp in self.plan_periods],
            "payouts": self.payouts[cols].to_dict(orient="records"),
            "periods": self.periods.to_dict(orient="records"),
            "total_cost": self.total_cost, "cost_of_sales": self.cost_of_sales,
            "bookings": self.bookings, "full_cost_of_sales": self.full_cost_of_sales,
            "reps_at_quota": self.reps_at_quota, "reps_with_quota": self.reps_with_quota,
            "reversals": self.reversals.to_dict(orient="records"),
            "clawbacks": self.cancellations.to_dict(orient="records"),
            "not_on_plan": self.not_on_plan, "notes": self.notes,
        }


def compute_payouts(plan, deals: pd.DataFrame, period: Period, *, calendar: FiscalCalendar | None = None,
                    as_of: date | None = None, reps: pd.DataFrame | None = None, targets: pd.DataFrame | None = None,
                    snapshots: pd.DataFrame | None = None, rep_names: list[str] | None = None,
                    quota_source: str = "targets") -> PayoutResult:
    """Payouts of ``plan`` over ``period``, once per plan period (module docstring).

    ``deals``: deal rows (owner, status, amount, created_date, close_date, stage, account and
    any field a SPIF filters on). ``calendar``: the fiscal calendar of the plan periods.
    ``as_of``: what was known then (None: everything). ``reps``: the roster (reps without
    bookings, base salaries for the full cost of sales). ``targets``: published targets (the
    default quotas). ``snapshots``: clawbacks and data reversals. ``rep_names``: only these reps."""
    plan = as_plan(plan)
    if quota_source not in QUOTA_SOURCES:
        raise InputError(f"quota source {quota_source!r}: use one of {', '.join(QUOTA_SOURCES)}")
    if quota_source == "targets" and (targets is None or targets.empty):
        quota_source_used = "plan"
    else:
        quota_source_used = quota_source
    pps = plan_periods(plan, period, calendar)
    frames, booked_all, cancels, revs, missing = [], [], [], [], set()
    balance: dict[str, float] = {}
    notes = []
    for pp in pps:
        if not pp.started(as_of):
            notes.append(f"{pp.label} has not started on {as_of:%d %b %Y}: nothing is paid for it yet.")
            continue
        rows, booked, cancel_rows, rev, off = _evaluate(plan, deals, pp, as_of, reps=reps, targets=targets,
                                                        snapshots=snapshots, rep_names=rep_names,
                                                        quota_source=quota_source_used)
        top_up, recovered, owed_after = [], [], []
        for r in rows.itertuples(index=False):
            owed = balance.get(r.rep, 0.0)
            up = rec = 0.0
            if plan.draw is not None:
                floor = plan.draw.amount
                if r.earned < floor:
                    up = floor - r.earned
                    if plan.draw.recoverable:
                        owed += up
                elif plan.draw.recoverable and owed > 0:
                    rec = min(owed, r.earned - floor)
                    owed -= rec
            balance[r.rep] = owed
            top_up.append(up), recovered.append(rec), owed_after.append(owed)
        rows["draw_top_up"], rows["draw_recovered"], rows["draw_balance"] = top_up, recovered, owed_after
        rows["total"] = rows["earned"] + rows["draw_top_up"] - rows["draw_recovered"]
        rows.insert(1, "plan_period", pp.label)
        rows.insert(2, "period_start", pp.period.start)
        rows.insert(3, "period_end", pp.period.end)
        rows.insert(4, "through", pp.through(as_of))
        rows.insert(5, "to_date", pp.to_date(as_of))
        frames.append(rows)
        booked_all.append(booked)
        cancels.append(cancel_rows.assign(plan_period=pp.label) if len(cancel_rows) else cancel_rows)
        revs.append(rev)
        missing |= off
    periods = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PERIOD_COLUMNS)
    extra = [c for c in periods.columns if c not in PERIOD_COLUMNS]
    periods = periods[[c for c in PERIOD_COLUMNS if c in periods.columns] + extra]
    payouts = _per_rep(periods, plan)
    total_cost = float(payouts["total"].sum()) if len(payouts) else 0.0
    bookings = float(payouts["won_amount"].sum()) if len(payouts) else 0.0
    cos = total_cost / bookings if bookings > 0 else None
    full = None
    if reps is not None and not reps.empty and S.BASE_SALARY in reps.columns and bookings > 0 and len(periods):
        base = reps.drop_duplicates(S.NAME).set_index(S.NAME)[S.BASE_SALARY]
        per = periods.assign(base=periods["rep"].map(base))
        if per["base"].notna().all():
            years = [_years(r.period_start, r.through) for r in per.itertuples(index=False)]
            full = (float((per["base"] * np.array(years)).sum()) + total_cost) / bookings
    reversals = pd.concat(revs, ignore_index=True) if any(len(r) for r in revs) else (revs[0] if revs else
                                                                                     pd.DataFrame(columns=[S.OPPORTUNITY_ID, S.OWNER, S.AMOUNT, S.CLOSE_DATE, "won_in_snapshot", "now"]))
    cancellations = pd.concat([c for c in cancels if len(c)], ignore_index=True) if any(len(c) for c in cancels) else \
        pd.DataFrame(columns=[S.OPPORTUNITY_ID, S.OWNER, S.AMOUNT, S.CLOSE_DATE, "cancelled_on", "clawback"])
    if quota_source == "targets" and quota_source_used == "plan":
        notes.append("There are no published targets: every rep is on the plan's own quota.")
    return PayoutResult(plan, period, as_of, quota_source_used, pps, payouts, periods, total_cost, bookings, cos, full,
                        reversals, cancellations, sorted(missing), notes)


def _per_rep(periods: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The plan periods of each rep summed into one row."""
    if periods.empty:
        return pd.DataFrame(columns=PAYOUT_COLUMNS)
    sums = ["quota", "achieved", "commission", "spif", "clawback", "draw_top_up", "draw_recovered", "total",
            "target_incentive", "won_amount", "won_count"]
    extra = [c for c in periods.columns if c.startswith(("quota_", "achieved_")) and c != "quota_from"]
    g = periods.groupby("rep", sort=True)
    out = g[sums + extra].sum()
    out["draw_balance"] = g["draw_balance"].last()
    out["periods"] = g.size()
    with_quota = periods.assign(q_ok=periods["quota"] > 0)
    quota_ok = with_quota.groupby("rep")["q_ok"].any()
    q_sum = with_quota.assign(qq=np.where(with_quota["q_ok"], with_quota["quota"], 0.0),
                              aa=np.where(with_quota["q_ok"], with_quota["achieved"], 0.0)).groupby("rep")[["qq", "aa"]].sum()
    out["attainment"] = np.where(quota_ok, q_sum["aa"] / q_sum["qq"].where(q_sum["qq"] > 0), np.nan)
    for m in [c.measure for c in plan.components] if len(plan.components) > 1 else []:
        qm, am = out[f"quota_{m}"], out[f"achieved_{m}"]
        out[f"attainment_{m}"] = (am / qm).where(qm > 0)
    out["quota_from"] = g["quota_from"].agg(_sources)
    out = out.reset_index()
    lead = [c for c in PAYOUT_COLUMNS if c in out.columns]
    return out[lead + [c for c in out.columns if c not in lead]]


def _sources(values) -> str:
    """One rep's quota sources over the plan periods, in words."""
    vals = [v for v in values if isinstance(v, str)]
    unique = list(dict.fromkeys(vals))
    if len(unique) == 1:
        return unique[0]
    return "; ".join(f"{v} ({vals.count(v)} of {len(vals)})" for v in unique)


def payout_columns(plan: Plan) -> dict:
    """The columns of the payouts table for ``plan`` ({column: (label, kind)}): clawback and
    draw columns only when the plan has them; quota and achieved in money for a bookings plan."""
    kind = "money" if plan.measure == "won_amount" else "number"
    cols = {"rep": ("Rep", "text"), "quota_from": ("Quota from", "text"), "quota": ("Quota", kind),
            "achieved": ("Achieved", kind), "attainment": ("Attainment", "pct"), "commission": ("Commission", "money")}
    if plan.spifs:
        cols["spif"] = ("SPIFs", "money")
    if plan.clawback is not None:
        cols["clawback"] = ("Clawback", "money")
    if plan.draw is not None:
        cols["draw_top_up"] = ("Draw top-up", "money")
        if plan.draw.recoverable:
            cols["draw_recovered"] = ("Draw recovered", "money")
    cols["total"] = ("Total", "money")
    return cols


# --- effectiveness ---------------------------------------------------------------------------------------
def pay_for_performance(payouts: pd.DataFrame) -> float | None:
    """Spearman rank correlation of total payout with attainment (1 = pay follows
    performance exactly); None with fewer than 3 reps with a quota or no variation."""
    p = payouts.dropna(subset=["attainment", "total"])
    if len(p) < 3 or p["attainment"].nunique() < 2 or p["total"].nunique() < 2:
        return None
    from scipy import stats  # imported on use: scipy.stats costs about a second at start-up

    return float(stats.spearmanr(p["attainment"], p["total"]).statistic)


def top_performer_share(payouts: pd.DataFrame, top: float = 0.2) -> float | None:
    """Share of total pay going to the top ``top`` fraction of reps by attainment (at least
    one rep; reps without a quota are left out); None when nothing is paid."""
    p = payouts.dropna(subset=["attainment"])
    total = float(p["total"].sum())
    if p.empty or total <= 0:
        return None
    n = max(1, int(math.ceil(len(p) * top)))
    best = p.sort_values(["attainment", "rep"], ascending=[False, True]).head(n)
    return float(best["total"].sum()) / total


def effectiveness(result: PayoutResult) -> dict:
    """Headline effectiveness figures of one plan's payouts."""
    p = result.payouts
    return {"plan": result.plan.name, "total_cost": result.total_cost, "cost_of_sales": result.cost_of_sales,
            "pay_for_performance": pay_for_performance(p), "top20_share_of_pay": top_performer_share(p),
            "reps_at_quota": result.reps_at_quota, "reps": int(len(p))}


def compare_plans(results: list[PayoutResult]) -> pd.DataFrame:
    """Total pay per rep under each plan (one column per plan, named by plan) beside the
    first plan's attainment, and ``change_<plan>`` = that plan minus the first plan for every
    other plan: positive = the rep gains."""
    if not results:
        return pd.DataFrame(columns=["rep", "attainment"])
    frames, labels = [], []
    for r in results:
        label = r.plan.name
        while label in labels:
            label += " (2)"
        labels.append(label)
        frames.append(r.payouts.set_index("rep")[["total"]].rename(columns={"total": label}))
    out = pd.concat(frames, axis=1).fillna(0.0)
    out.insert(0, "attainment", results[0].payouts.set_index("rep")["attainment"].reindex(out.index))
    for label in labels[1:]:
        out[f"change_{label}"] = out[label] - out[labels[0]]
    out.index.name = "rep"
    return out.reset_index()


# --- a workspace and its filters -----------------------------------------------------------------------
def payouts(ws, f, plan, quota_source: str = "targets") -> PayoutResult:
    """:func:`compute_payouts` of ``plan`` (a Plan, document or JSON text) for the filters'
    period, as known on their as-of date, for the reps inside their slice (the Compensation
    page and ``comp`` in the CLI). A rep is paid on all of their bookings, whatever the slice."""
    from ..goals import slice_reps

    return compute_payouts(plan, ws.deals, f.period, calendar=ws.settings.calendar, as_of=f.as_of, reps=ws.reps,
                           targets=ws.targets, snapshots=ws.snapshots(), rep_names=slice_reps(ws, f),
                           quota_source=quota_source)


def comparison(ws, f, plans: tuple, quota_source: str = "targets") -> dict:
    """Several plans on the same bookings: ``effectiveness`` (one row per plan) and ``table``
    (:func:`compare_plans`, the first plan is the baseline), and ``plans`` (their names)."""
    results = [payouts(ws, f, p, quota_source) for p in plans]
    table = compare_plans(results)
    names = [c for c in table.columns if c not in ("rep", "attainment") and not str(c).startswith("change_")]
    return {"effectiveness": pd.DataFrame([effectiveness(r) for r in results]), "table": table, "plans": names}
