"""The KPIs of DESIGN.md section 4: one definition used by the UI, the CLI and exports.

All period KPIs select deals by ``close_date`` inside [start, end] (inclusive);
``pipeline_created`` selects by ``created_date``. Functions take the deals frame of
:func:`salesops.store.load_deals` (columns: status, amount, created_date, close_date,
probability, forecast_category and whatever ``by`` names) and return plain DataFrames.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from . import schema as S

#: The grouping fields the roster can supply (rep attributes joined on ``owner``).
ROSTER_FIELDS = (S.MANAGER, S.TEAM, S.REGION)
GROUP = "group"
ALL = "all"

KPI_COLUMNS = [
    GROUP, "won_amount", "won_count", "lost_count", "win_rate", "win_rate_low", "win_rate_high",
    "avg_deal_size", "avg_cycle_days", "open_pipeline", "open_count", "weighted_pipeline",
    "target", "attainment", "coverage", "required_coverage", "velocity",
    "pipeline_created_amount", "pipeline_created_count",
]
#: The subset the CLI contract names, in its order.
CONTRACT_COLUMNS = [
    GROUP, "won_amount", "won_count", "lost_count", "win_rate", "avg_deal_size", "avg_cycle_days",
    "open_pipeline", "open_count", "weighted_pipeline", "target", "attainment",
]


def _ts(d) -> pd.Timestamp:
    return pd.Timestamp(d)


def attach_roster(deals: pd.DataFrame, reps: pd.DataFrame | None) -> pd.DataFrame:
    """Add the owner's ``manager`` and ``team`` from the roster, and fill a blank deal
    ``region`` with the owner's region. Deals whose owner is not on the roster get
    "(not on roster)" for manager and team."""
    out = deals.copy()
    if reps is None or reps.empty:
        for col in (S.MANAGER, S.TEAM):
            if col not in out.columns:
                out[col] = "(not on roster)"
        if S.REGION not in out.columns:
            out[S.REGION] = None
        return out
    roster = reps.drop_duplicates(S.NAME).set_index(S.NAME)
    for col in (S.MANAGER, S.TEAM):
        mapped = out[S.OWNER].map(roster[col]) if col in roster.columns else pd.Series(None, index=out.index, dtype=object)
        out[col] = mapped.fillna("(not on roster)")
    rep_region = out[S.OWNER].map(roster[S.REGION]) if S.REGION in roster.columns else pd.Series(None, index=out.index, dtype=object)
    if S.REGION in out.columns:
        out[S.REGION] = out[S.REGION].where(out[S.REGION].notna() & (out[S.REGION] != ""), rep_region)
    else:
        out[S.REGION] = rep_region
    return out


def win_rate_interval(won: np.ndarray | float, lost: np.ndarray | float, level: float = 0.8):
    """Equal-tailed Beta(won + 1, lost + 1) posterior interval for a win rate (uniform prior).

    Returns (low, high); NaN where won + lost == 0."""
    from scipy import stats  # imported on use: scipy.stats costs about a second at start-up

    won = np.asarray(won, dtype=float)
    lost = np.asarray(lost, dtype=float)
    tail = (1 - level) / 2
    low = stats.beta.ppf(tail, won + 1, lost + 1)
    high = stats.beta.ppf(1 - tail, won + 1, lost + 1)
    empty = (won + lost) == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def shrunk_win_rate(won, lost, prior_rate: float, prior_strength: float = 10.0):
    """Win rate shrunk toward ``prior_rate`` (e.g. the team's) as if ``prior_strength`` extra
    deals had closed at that rate: (won + k p) / (won + lost + k)."""
    won = np.asarray(won, dtype=float)
    lost = np.asarray(lost, dtype=float)
    return (won + prior_strength * prior_rate) / (won + lost + prior_strength)


def target_for_period(targets: pd.DataFrame | None, start, end, *, scope: str = "owner",
                      names: list[str] | None = None) -> pd.Series:
    """Target per ``scope_name`` for [start, end], pro-rated by days where a target's own
    period only partly overlaps (a month of a quarterly target gets its share)."""
    if targets is None or targets.empty:
        return pd.Series(dtype=float)
    t = targets[targets[S.SCOPE] == scope]
    if names is not None:
        t = t[t[S.SCOPE_NAME].isin(names)]
    if t.empty:
        return pd.Series(dtype=float)
    s, e = _ts(start), _ts(end)
    t_start, t_end = t[S.PERIOD_START], t[S.PERIOD_END]
    overlap = (t_end.clip(upper=e) - t_start.clip(lower=s)).dt.days + 1
    length = (t_end - t_start).dt.days + 1
    share = (overlap.clip(lower=0) / length).where(length > 0, 0.0)
    amount = t[S.AMOUNT] * share
    return amount[share > 0].groupby(t.loc[share > 0, S.SCOPE_NAME]).sum()


def _group_targets(deals: pd.DataFrame, targets: pd.DataFrame | None, start, end, by: str | None,
                   reps: pd.DataFrame | None) -> pd.Series:
    """Target per group: the group's own targets where they exist (scope = by, or 'all'),
    otherwise the sum of its reps' targets."""
    if targets is None or targets.empty:
        return pd.Series(dtype=float)
    by_owner = target_for_period(targets, start, end, scope="owner")
    if by is None:
        own = target_for_period(targets, start, end, scope="all")
        if not own.empty:
            return pd.Series({ALL: own.sum()})
        return pd.Series({ALL: by_owner.sum()}) if not by_owner.empty else pd.Series(dtype=float)
    if by == S.OWNER:
        return by_owner
    own = target_for_period(targets, start, end, scope=by)
    if not own.empty:
        return own
    if by_owner.empty:
        return pd.Series(dtype=float)
    # roll reps' targets up through the roster (or, lacking one, through the deals' own values)
    if reps is not None and not reps.empty and by in reps.columns:
        owner_group = reps.drop_duplicates(S.NAME).set_index(S.NAME)[by]
    elif by in deals.columns:
        owner_group = deals.dropna(subset=[by]).groupby(S.OWNER)[by].agg(lambda s: s.mode().iat[0])
    else:
        return pd.Series(dtype=float)
    grouped = by_owner.groupby(by_owner.index.map(owner_group)).sum()
    return grouped[grouped.index.notna()]


def period_kpis(deals: pd.DataFrame, start, end, *, by: str | None = None,
                targets: pd.DataFrame | None = None, reps: pd.DataFrame | None = None,
                interval_level: float = 0.8) -> pd.DataFrame:
    """KPIs for [start, end], one row per group (``group`` = "all" when ``by`` is None).

    Columns: :data:`KPI_COLUMNS`. Ratios are NaN where undefined (win_rate with no closed
    deals, attainment without a target, coverage when the target is already met).
    ``deals`` should already carry roster fields (:func:`attach_roster`) when ``by`` is one."""
    s, e = _ts(start), _ts(end)
    d = deals
    key = d[by].fillna("(blank)").astype(str) if by else pd.Series(ALL, index=d.index)
    in_close = d[S.CLOSE_DATE].between(s, e)
    in_created = d[S.CREATED_DATE].between(s, e)
    status = d[S.STATUS]
    amount = d[S.AMOUNT].fillna(0.0)
    won = in_close & (status == S.WON)
    lost = in_close & (status == S.LOST)
    open_ = in_close & (status == S.OPEN)
    omitted = d[S.FORECAST_CATEGORY].fillna("").eq("omitted") if S.FORECAST_CATEGORY in d.columns else False
    cycle = (d[S.CLOSE_DATE] - d[S.CREATED_DATE]).dt.days
    prob = d[S.PROBABILITY] if S.PROBABILITY in d.columns else pd.Series(np.nan, index=d.index)

    parts = pd.DataFrame({
        GROUP: key,
        "won_amount": amount.where(won, 0.0),
        "won_count": won.astype(int),
        "lost_count": lost.astype(int),
        "cycle_sum": cycle.where(won & cycle.notna(), 0.0),
        "cycle_n": (won & cycle.notna()).astype(int),
        "open_pipeline": amount.where(open_, 0.0),
        "open_count": open_.astype(int),
        "weighted_pipeline": (amount * prob.fillna(0.0)).where(open_, 0.0),
        "coverage_pipeline": amount.where(open_ & ~omitted, 0.0),
        "pipeline_created_amount": amount.where(in_created, 0.0),
        "pipeline_created_count": in_created.astype(int),
    })
    g = parts.groupby(GROUP, sort=True).sum()
    if g.empty and by is None:
        g = pd.DataFrame(0.0, index=pd.Index([ALL], name=GROUP), columns=parts.columns.drop(GROUP))

    closed = g["won_count"] + g["lost_count"]
    g["win_rate"] = (g["won_count"] / closed).where(closed > 0)
    g["win_rate_low"], g["win_rate_high"] = win_rate_interval(g["won_count"].to_numpy(), g["lost_count"].to_numpy(), interval_level)
    g["avg_deal_size"] = (g["won_amount"] / g["won_count"]).where(g["won_count"] > 0)
    g["avg_cycle_days"] = (g["cycle_sum"] / g["cycle_n"]).where(g["cycle_n"] > 0)
    tgt = _group_targets(deals, targets, start, end, by, reps)
    g["target"] = g.index.map(tgt).astype(float) if not tgt.empty else np.nan
    g["attainment"] = (g["won_amount"] / g["target"]).where(g["target"] > 0)
    remaining = g["target"] - g["won_amount"]
    g["coverage"] = (g["coverage_pipeline"] / remaining).where(remaining > 0)
    g["required_coverage"] = (1 / g["win_rate"]).where(g["win_rate"] > 0)
    g["velocity"] = (g["open_count"] * g["win_rate"] * g["avg_deal_size"] / g["avg_cycle_days"]).where(g["avg_cycle_days"] > 0)
    for col in ("won_count", "lost_count", "open_count", "pipeline_created_count"):
        g[col] = g[col].astype(int)
    if by is not None:  # groups with nothing in the period and no target are not listed
        active = (closed + g["open_count"] + g["pipeline_created_count"] > 0) | g["target"].notna()
        g = g[active]
    return g.reset_index()[KPI_COLUMNS]


def team_kpis(deals: pd.DataFrame, start, end, **kwargs) -> dict:
    """The one-row (group = "all") KPIs as a dict."""
    return period_kpis(deals, start, end, by=None, **kwargs).iloc[0].to_dict()


def bookings_series(deals: pd.DataFrame, freq_starts: pd.Series, *, status: str = S.WON) -> pd.DataFrame:
    """Won amount and count per period start: ``freq_starts`` holds each deal's period start
    (e.g. ``FiscalCalendar.period_starts(deals.close_date, "M")``)."""
    mask = deals[S.STATUS] == status
    frame = pd.DataFrame({"period_start": freq_starts[mask], "amount": deals.loc[mask, S.AMOUNT].fillna(0.0)})
    out = frame.groupby("period_start").agg(won_amount=("amount", "sum"), won_count=("amount", "size")).reset_index()
    return out


def pace(won_amount: float, target: float | None, start: date, end: date, as_of: date) -> dict:
    """Where bookings stand against the straight-line pace to ``target`` on ``as_of``.

    Returns elapsed share, expected-by-now, gap, and the amount needed per remaining day."""
    days = (end - start).days + 1
    elapsed = min(max((as_of - start).days + 1, 0), days)
    remaining_days = days - elapsed
    out = {"elapsed_share": elapsed / days, "days_left": remaining_days,
           "expected_by_now": None, "gap": None, "needed_per_day": None, "remaining": None}
    if target and target > 0:
        out["expected_by_now"] = target * elapsed / days
        out["gap"] = won_amount - out["expected_by_now"]
        out["remaining"] = max(target - won_amount, 0.0)
        out["needed_per_day"] = out["remaining"] / remaining_days if remaining_days > 0 else None
    return out
