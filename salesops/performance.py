"""Team and rep performance: KPI time series, comparisons, pacing, the rep leaderboard,
consistency, coaching flags, ramp cohorts and the team -> manager -> rep roll-up.

Every function takes plain DataFrames (deals as :func:`salesops.store.load_deals` returns them,
reps as :func:`salesops.store.load_reps`) and returns plain DataFrames; nothing here touches
the database or Streamlit. Work is done with pandas/numpy groupbys, never a Python loop over
deals, so the functions stay fast at a million deals.

Ramp (used by goal setting): a new rep's productivity grows with tenure. :func:`ramp_factors`
gives each active rep the expected share (0..1) of a tenured rep's productivity at their
tenure, learned from the workspace's own cohort curves when there is enough history
(:func:`ramp_curve`), otherwise a straight line from 0 at hire to 1 after ``ramp_months``
(default :data:`DEFAULT_RAMP_MONTHS`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression

from . import schema as S
from .ramp import (MONTH_DAYS, _active_at, _data_start, _has_roster, _months_between, _ts, ramp_factors,  # noqa: F401
                   rep_ramp, roster_spans)

# KPI sums and the rep/day cube
# =============================================================================================
#: Additive sums from which every period KPI is derived (DESIGN.md section 4).
SUM_COLUMNS = ["won_amount", "won_count", "lost_count", "cycle_sum", "cycle_n", "open_pipeline",
               "open_count", "weighted_pipeline", "coverage_pipeline", "pipeline_created_amount",
               "pipeline_created_count"]
_COUNT_COLUMNS = ("won_count", "lost_count", "open_count", "pipeline_created_count")
#: Fewer closed deals than this and a win rate is flagged as a small sample.
SMALL_SAMPLE = 10
#: Deals a win rate is shrunk by toward the team's rate (see metrics.shrunk_win_rate).
SHRINK_STRENGTH = 10.0
BLANK = "(blank)"


def _close_parts(deals: pd.DataFrame) -> pd.DataFrame:
    """Per deal, its contribution to the close-date sums (zeros where it contributes nothing)."""
    status = deals[S.STATUS]
    amount = deals[S.AMOUNT].fillna(0.0)
    won, lost, open_ = status == S.WON, status == S.LOST, status == S.OPEN
    omitted = (deals[S.FORECAST_CATEGORY].fillna("").eq("omitted") if S.FORECAST_CATEGORY in deals.columns
               else pd.Series(False, index=deals.index))
    cycle = (deals[S.CLOSE_DATE] - deals[S.CREATED_DATE]).dt.days
    prob = deals[S.PROBABILITY].fillna(0.0) if S.PROBABILITY in deals.columns else pd.Series(0.0, index=deals.index)
    return pd.DataFrame({
        "won_amount": amount.where(won, 0.0),
        "won_count": won.astype(np.int64),
        "lost_count": lost.astype(np.int64),
        "cycle_sum": cycle.where(won & cycle.notna(), 0.0).astype(float),
        "cycle_n": (won & cycle.notna()).astype(np.int64),
        "open_pipeline": amount.where(open_, 0.0),
        "open_count": open_.astype(np.int64),
        "weighted_pipeline": (amount * prob).where(open_, 0.0),
        "coverage_pipeline": amount.where(open_ & ~omitted, 0.0),
    }, index=deals.index)


def finish_kpis(sums: pd.DataFrame, target: pd.Series | None = None, interval_level: float = 0.8) -> pd.DataFrame:
    """Derive the ratio KPIs of DESIGN.md section 4 from :data:`SUM_COLUMNS` sums.

    ``sums`` is indexed by group; ``target`` (same index) may be None. Adds win_rate (+ Beta
    interval), avg_deal_size, avg_cycle_days, target, attainment, coverage,
    required_coverage and velocity, with exactly :func:`salesops.metrics.period_kpis`'
    formulas (a test holds the two equal)."""
    g = sums.copy()
    closed = g["won_count"] + g["lost_count"]
    g["win_rate"] = (g["won_count"] / closed).where(closed > 0)
    if len(g):
        g["win_rate_low"], g["win_rate_high"] = _interval(g["won_count"].to_numpy(), g["lost_count"].to_numpy(), interval_level)
    else:
        g["win_rate_low"] = g["win_rate_high"] = pd.Series(dtype=float)
    g["avg_deal_size"] = (g["won_amount"] / g["won_count"]).where(g["won_count"] > 0)
    g["avg_cycle_days"] = (g["cycle_sum"] / g["cycle_n"]).where(g["cycle_n"] > 0)
    g["target"] = g.index.map(target).astype(float) if target is not None and not target.empty else np.nan
    g["attainment"] = (g["won_amount"] / g["target"]).where(g["target"] > 0)
    remaining = g["target"] - g["won_amount"]
    g["coverage"] = (g["coverage_pipeline"] / remaining).where(remaining > 0)
    g["required_coverage"] = (1 / g["win_rate"]).where(g["win_rate"] > 0)
    g["velocity"] = (g["open_count"] * g["win_rate"] * g["avg_deal_size"] / g["avg_cycle_days"]).where(g["avg_cycle_days"] > 0)
    for col in _COUNT_COLUMNS:
        g[col] = g[col].astype(np.int64)
    return g


def _interval(won, lost, level):
    from .metrics import win_rate_interval

    return win_rate_interval(won, lost, level)


def rep_day_cube(deals: pd.DataFrame) -> pd.DataFrame:
    """The deals summed per (owner, region, day): the one expensive pass over the deals,
    done once per data version, from which every rep KPI of any date range is summed.

    Columns: ``owner``, ``region`` ("(blank)" when none), ``day`` (datetime64), ``month``
    (the day's calendar month start) and :data:`SUM_COLUMNS`; close-date sums sit on the
    close day, pipeline created on the created day."""
    cols = [S.OWNER, S.REGION, "day", "month", *SUM_COLUMNS]
    if deals is None or deals.empty:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c in ("day", "month") else (object if c in (S.OWNER, S.REGION) else float))
                             for c in cols})
    owner = deals[S.OWNER].fillna(BLANK).astype(str)
    region = deals[S.REGION].fillna(BLANK).astype(str).replace("", BLANK) if S.REGION in deals.columns else pd.Series(BLANK, index=deals.index)
    close = _close_parts(deals)
    close[S.OWNER], close[S.REGION], close["day"] = owner, region, deals[S.CLOSE_DATE]
    created = pd.DataFrame({S.OWNER: owner, S.REGION: region, "day": deals[S.CREATED_DATE],
                            "pipeline_created_amount": deals[S.AMOUNT].fillna(0.0),
                            "pipeline_created_count": np.int64(1)})
    keys = [S.OWNER, S.REGION, "day"]
    a = close.dropna(subset=["day"]).groupby(keys, sort=False, observed=True).sum()
    b = created.dropna(subset=["day"]).groupby(keys, sort=False, observed=True).sum()
    cube = a.join(b, how="outer").fillna(0.0).reset_index()
    for col in SUM_COLUMNS:
        if col not in cube.columns:
            cube[col] = 0.0
    cube["month"] = cube["day"].dt.to_period("M").dt.start_time
    for col in _COUNT_COLUMNS + ("cycle_n",):
        cube[col] = cube[col].astype(np.int64)
    return cube[cols]


def with_roster_fields(cube: pd.DataFrame, reps: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``manager`` and ``team`` (from the roster, "(not on roster)" otherwise) to a cube
    or deal frame with an ``owner`` column; a blank region takes the owner's region."""
    out = cube.copy()
    if reps is None or reps.empty:
        out[S.MANAGER] = "(not on roster)"
        out[S.TEAM] = "(not on roster)"
        return out
    roster = reps.drop_duplicates(S.NAME).set_index(S.NAME)
    for col in (S.MANAGER, S.TEAM):
        mapped = out[S.OWNER].map(roster[col]) if col in roster.columns else pd.Series(None, index=out.index, dtype=object)
        out[col] = mapped.fillna("(not on roster)")
    if S.REGION in out.columns and S.REGION in roster.columns:
        rep_region = out[S.OWNER].map(roster[S.REGION])
        blank = out[S.REGION].isna() | out[S.REGION].isin(["", BLANK])
        out[S.REGION] = out[S.REGION].where(~blank, rep_region.fillna(BLANK))
    return out


def cube_kpis(cube: pd.DataFrame, start, end, *, by: str | None = S.OWNER,
              targets: pd.DataFrame | None = None, reps: pd.DataFrame | None = None,
              interval_level: float = 0.8, keep_all: bool = False) -> pd.DataFrame:
    """The KPIs of [start, end] per ``by`` (owner, region, manager, team; None for the
    team), summed from :func:`rep_day_cube`: equal to :func:`salesops.metrics.period_kpis`
    on the deals. Columns: ``group`` + metrics.KPI_COLUMNS. Groups with nothing in the period
    and no target are left out unless ``keep_all``."""
    from .metrics import GROUP, KPI_COLUMNS, ALL, _group_targets

    s, e = _ts(start), _ts(end)
    part = cube[(cube["day"] >= s) & (cube["day"] <= e)]
    if by in (S.MANAGER, S.TEAM) and by not in part.columns:
        part = with_roster_fields(part, reps)
    key = part[by].fillna(BLANK).astype(str) if by else pd.Series(ALL, index=part.index)
    sums = part[SUM_COLUMNS].groupby(key.rename(GROUP)).sum()
    if by is None and sums.empty:
        sums = pd.DataFrame(0.0, index=pd.Index([ALL], name=GROUP), columns=SUM_COLUMNS)
    tgt = _group_targets(cube.rename(columns={}), targets, s, e, by, reps) if targets is not None else None
    if tgt is not None and not tgt.empty and by is not None and keep_all is False:
        sums = sums.reindex(sums.index.union(pd.Index(tgt.index.astype(str), name=GROUP)), fill_value=0)
    g = finish_kpis(sums, tgt, interval_level)
    if by is not None and not keep_all:
        active = (g["won_count"] + g["lost_count"] + g["open_count"] + g["pipeline_created_count"] > 0) | g["target"].notna()
        g = g[active]
    g.index.name = GROUP
    return g.reset_index()[KPI_COLUMNS].sort_values(GROUP, ignore_index=True)


# =============================================================================================
# Team page: KPIs over time, period comparisons, pacing
# =============================================================================================
#: KPIs a trend chart can show, with their business names and kinds (money, ratio, days, ...).
TREND_KPIS = {
    "won_amount": ("Bookings", "money"),
    "win_rate": ("Win rate", "pct"),
    "avg_deal_size": ("Average deal size", "money"),
    "avg_cycle_days": ("Sales cycle (days)", "days"),
    "open_pipeline": ("Open pipeline", "money"),
    "coverage": ("Pipeline coverage", "ratio"),
    "velocity": ("Sales velocity (per day)", "money"),
    "pipeline_created_amount": ("Pipeline created", "money"),
    "won_count": ("Deals won", "count"),
}


def kpi_series(deals: pd.DataFrame, calendar, freq: str, start, end, *, by: str | None = None,
               targets: pd.DataFrame | None = None, reps: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPIs per period of ``freq`` (W, M, Q, Y) overlapping [start, end], per ``by`` group.

    One pass of groupbys over the deals (no loop over periods for the sums). Columns:
    ``period_start``, ``period_end``, ``period`` (label), ``group`` and metrics.KPI_COLUMNS;
    every period x group appears (zeros where nothing happened) so charts show gaps as zero.
    Each row equals metrics.period_kpis for that period and group. ``deals`` must carry
    ``by`` (attach_roster for manager/team)."""
    from .metrics import GROUP, KPI_COLUMNS, ALL, _group_targets

    periods = calendar.periods_between(_ts(start).date(), _ts(end).date(), freq)
    out_cols = ["period_start", "period_end", "period", *KPI_COLUMNS]
    if not periods:
        return pd.DataFrame(columns=out_cols)
    first, last = pd.Timestamp(periods[0].start), pd.Timestamp(periods[-1].end)
    key = deals[by].fillna(BLANK).astype(str) if by else pd.Series(ALL, index=deals.index)
    in_close = deals[S.CLOSE_DATE].between(first, last)
    in_created = deals[S.CREATED_DATE].between(first, last)
    close = _close_parts(deals[in_close])
    close["period_start"] = calendar.period_starts(deals.loc[in_close, S.CLOSE_DATE], freq)
    close[GROUP] = key[in_close]
    created = pd.DataFrame({"period_start": calendar.period_starts(deals.loc[in_created, S.CREATED_DATE], freq),
                            GROUP: key[in_created],
                            "pipeline_created_amount": deals.loc[in_created, S.AMOUNT].fillna(0.0),
                            "pipeline_created_count": np.int64(1)})
    a = close.groupby(["period_start", GROUP]).sum()
    b = created.groupby(["period_start", GROUP]).sum()
    sums = a.join(b, how="outer").fillna(0)
    groups = sorted(set(sums.index.get_level_values(GROUP))) or ([ALL] if by is None else [])
    if not groups:
        return pd.DataFrame(columns=out_cols)
    starts = [pd.Timestamp(p.start) for p in periods]
    full = pd.MultiIndex.from_product([starts, groups], names=["period_start", GROUP])
    sums = sums.reindex(full, fill_value=0)
    for col in SUM_COLUMNS:
        if col not in sums.columns:
            sums[col] = 0
    frames = []
    for p in periods:  # one small step per period for the (pro-rated) targets
        ps = pd.Timestamp(p.start)
        chunk = sums.xs(ps, level="period_start")
        tgt = _group_targets(deals, targets, p.start, p.end, by, reps) if targets is not None and not targets.empty else None
        g = finish_kpis(chunk[SUM_COLUMNS], tgt)
        g.index.name = GROUP
        g = g.reset_index()
        g["period_start"], g["period_end"], g["period"] = ps, pd.Timestamp(p.end), p.label
        frames.append(g)
    return pd.concat(frames, ignore_index=True)[out_cols]


#: KPIs a period comparison lists, in order.
COMPARE_KPIS = ["won_amount", "won_count", "win_rate", "avg_deal_size", "avg_cycle_days", "open_pipeline",
                "pipeline_created_amount", "attainment", "coverage", "velocity"]


_TO_DATE_KEYS = ("won_amount", "won_count", "lost_count", "win_rate", "win_rate_low", "win_rate_high", "avg_deal_size",
                 "avg_cycle_days", "pipeline_created_amount", "pipeline_created_count")


def _kpis_to_day(deals, p, days: int | None, targets, reps) -> dict:
    """Team KPIs of period ``p``; with ``days``, closed-deal KPIs only over its first ``days``
    days (pipeline, target and coverage stay those of the whole period)."""
    from datetime import timedelta

    from .metrics import team_kpis

    full = team_kpis(deals, p.start, p.end, targets=targets, reps=reps)
    if days is None:
        return full
    cut = min(p.start + timedelta(days=days - 1), p.end)
    part = team_kpis(deals, p.start, cut, targets=targets, reps=reps)
    for key in _TO_DATE_KEYS:
        full[key] = part[key]
    full["attainment"] = full["won_amount"] / full["target"] if full["target"] and full["target"] > 0 else np.nan
    remaining = (full["target"] or np.nan) - full["won_amount"]
    full["velocity"] = (full["open_count"] * full["win_rate"] * full["avg_deal_size"] / full["avg_cycle_days"]
                        if full["avg_cycle_days"] and full["avg_cycle_days"] > 0 else np.nan)
    full["remaining"] = remaining
    return full


def compare_periods(deals: pd.DataFrame, calendar, period, *, as_of=None, targets=None, reps=None) -> pd.DataFrame:
    """This period vs the previous one and vs the same period last year, for the team.

    When ``as_of`` falls inside the period, closed-deal KPIs (bookings, win rate, deal size,
    cycle, pipeline created) count only its first days up to ``as_of`` and so do the
    comparison periods' (the same number of days), so half a quarter is not set against a
    whole one. Columns: ``kpi``, ``name``, ``kind``, ``current``, ``previous``,
    ``last_year``, ``vs_previous`` and ``vs_last_year`` (relative change, NaN when the base
    is 0 or missing); period labels and ``to_date_days`` in ``attrs``."""
    prev, ly = calendar.previous(period), calendar.same_last_year(period)
    days = None
    if as_of is not None:
        a = _ts(as_of).date()
        if period.start <= a < period.end:
            days = (a - period.start).days + 1
    vals = {name: _kpis_to_day(deals, p, days, targets, reps)
            for name, p in (("current", period), ("previous", prev), ("last_year", ly))}
    names = {**{k: v for k, (v, _) in TREND_KPIS.items()}, "attainment": "Attainment"}
    kinds = {**{k: v for k, (_, v) in TREND_KPIS.items()}, "attainment": "pct"}
    rows = []

    def num(x):
        return float(x) if x is not None and pd.notna(x) else np.nan

    for k in COMPARE_KPIS:
        cur, pr, ly_v = num(vals["current"][k]), num(vals["previous"][k]), num(vals["last_year"][k])
        rows.append({"kpi": k, "name": names.get(k, k), "kind": kinds.get(k, "number"), "current": cur,
                     "previous": pr, "last_year": ly_v,
                     "vs_previous": (cur - pr) / abs(pr) if pr and np.isfinite(pr) and np.isfinite(cur) else np.nan,
                     "vs_last_year": (cur - ly_v) / abs(ly_v) if ly_v and np.isfinite(ly_v) and np.isfinite(cur) else np.nan})
    out = pd.DataFrame(rows)
    out.attrs.update(current=period.label, previous=prev.label, last_year=ly.label, to_date_days=days)
    return out


def pacing(deals: pd.DataFrame, calendar, period, as_of, *, targets=None) -> pd.DataFrame:
    """Cumulative bookings by day of ``period`` up to ``as_of``, against a straight line to
    the target and against the same period last year.

    One row per day of the period. Columns: ``day`` (1-based day of the period), ``date``,
    ``won_to_date`` (NaN after as_of), ``target_line`` (target x day / days; NaN without a
    target), ``last_year_to_date`` (cumulative won on the same day of last year's period),
    ``last_year_curve_to_target`` (last year's cumulative share of its final total x this
    target: where we would be had we followed last year's shape)."""
    from .metrics import target_for_period

    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    days = (end - start).days + 1
    ly = calendar.same_last_year(period)
    ly_start, ly_end = pd.Timestamp(ly.start), pd.Timestamp(ly.end)
    won = deals[deals[S.STATUS] == S.WON]

    def cumulative(s, e, n):
        w = won[won[S.CLOSE_DATE].between(s, e)]
        idx = (w[S.CLOSE_DATE] - s).dt.days.clip(upper=n - 1)
        daily = np.bincount(idx.to_numpy(dtype=np.int64), weights=w[S.AMOUNT].fillna(0.0).to_numpy(), minlength=n)[:n]
        return np.cumsum(daily)

    this = cumulative(start, end, days)
    last = cumulative(ly_start, ly_end, days)
    dates = pd.date_range(start, periods=days, freq="D")
    out = pd.DataFrame({"day": np.arange(1, days + 1), "date": dates, "won_to_date": this,
                        "last_year_to_date": last})
    out.loc[out["date"] > _ts(as_of), "won_to_date"] = np.nan
    tgt = np.nan
    if targets is not None and not targets.empty:
        t_all = target_for_period(targets, period.start, period.end, scope="all")
        t_own = target_for_period(targets, period.start, period.end, scope="owner")
        tgt = float(t_all.sum()) if not t_all.empty else (float(t_own.sum()) if not t_own.empty else np.nan)
    out["target_line"] = tgt * out["day"] / days if np.isfinite(tgt) else np.nan
    final_ly = last[-1] if len(last) else 0.0
    out["last_year_curve_to_target"] = (last / final_ly * tgt) if final_ly > 0 and np.isfinite(tgt) else np.nan
    out.attrs.update(target=tgt, last_year_total=float(final_ly), last_year=ly.label)
    return out


def pacing_summary(pace_frame: pd.DataFrame, as_of) -> dict:
    """Where the period stands on ``as_of``: won so far, expected by the target line and by
    last year's curve, last year at the same day, and the gaps."""
    t = _ts(as_of)
    upto = pace_frame[pace_frame["date"] <= t]
    if upto.empty:
        row = pace_frame.iloc[0] * np.nan
        row["day"] = 0
    else:
        row = upto.iloc[-1]
    won = float(row["won_to_date"]) if pd.notna(row["won_to_date"]) else 0.0
    target = pace_frame.attrs.get("target", np.nan)
    return {
        "won_to_date": won, "target": target, "day": int(row["day"]), "days": int(len(pace_frame)),
        "expected_by_target_line": float(row["target_line"]) if pd.notna(row["target_line"]) else np.nan,
        "expected_by_last_year_curve": float(row["last_year_curve_to_target"]) if pd.notna(row["last_year_curve_to_target"]) else np.nan,
        "last_year_same_day": float(row["last_year_to_date"]) if pd.notna(row["last_year_to_date"]) else 0.0,
        "last_year_total": pace_frame.attrs.get("last_year_total", np.nan),
    }


def deals_behind(deals: pd.DataFrame, calendar, freq: str, period_start, *, kpi: str = "won_amount",
                 by: str | None = None, group: str | None = None) -> pd.DataFrame:
    """The deals behind one bar of :func:`kpi_series`: those whose date (created date for
    pipeline created, close date otherwise) falls in the period starting ``period_start``,
    in ``group`` of ``by``, with the status the KPI counts (won for bookings, open for
    pipeline, won and lost for win rate)."""
    p = calendar.period_of(_ts(period_start).date(), freq)
    s, e = pd.Timestamp(p.start), pd.Timestamp(p.end)
    date_col = S.CREATED_DATE if kpi.startswith("pipeline_created") else S.CLOSE_DATE
    mask = deals[date_col].between(s, e)
    if kpi in ("won_amount", "won_count", "avg_deal_size", "avg_cycle_days"):
        mask &= deals[S.STATUS] == S.WON
    elif kpi in ("open_pipeline", "open_count", "coverage", "weighted_pipeline"):
        mask &= deals[S.STATUS] == S.OPEN
    elif kpi == "win_rate":
        mask &= deals[S.STATUS].isin([S.WON, S.LOST])
    if by and group is not None:
        mask &= deals[by].fillna(BLANK).astype(str) == str(group)
    cols = [c for c in (S.OPPORTUNITY_ID, S.NAME, S.ACCOUNT, S.OWNER, S.STAGE, S.STATUS, S.AMOUNT, S.CREATED_DATE,
                        S.CLOSE_DATE, by) if c and c in deals.columns]
    cols = list(dict.fromkeys(cols))
    return deals.loc[mask, cols].sort_values(S.AMOUNT, ascending=False, ignore_index=True)


# =============================================================================================
# Reps page: consistency, leaderboard, coaching flags, comparisons, profile
# =============================================================================================
def trailing_months(as_of, months: int = 12) -> pd.DatetimeIndex:
    """Start dates of the ``months`` calendar months ending with the last complete month on
    ``as_of`` (the month of ``as_of`` counts when ``as_of`` is its last day)."""
    t = _ts(as_of)
    last = t.to_period("M").start_time if (t + pd.Timedelta(days=1)).day == 1 else (t.to_period("M") - 1).start_time
    return pd.date_range(end=last, periods=months, freq="MS")


def monthly_bookings(cube: pd.DataFrame, months: pd.DatetimeIndex, reps: pd.DataFrame | None = None,
                     owners=None) -> pd.DataFrame:
    """Won amount per owner (rows) and month (columns: ``months``), from
    :func:`rep_day_cube`. Months when a rostered rep was not yet hired or had left are NaN;
    other months without bookings are 0."""
    part = cube[cube["month"].isin(months)]
    table = part.groupby([S.OWNER, "month"])["won_amount"].sum().unstack("month", fill_value=0.0)
    idx = table.index if owners is None else pd.Index(list(owners), name=S.OWNER)
    table = table.reindex(index=idx, columns=months, fill_value=0.0).fillna(0.0)
    if reps is not None and not reps.empty and S.HIRE_DATE in reps.columns:
        roster = reps.drop_duplicates(S.NAME).set_index(S.NAME)
        hire = pd.to_datetime(table.index.map(roster[S.HIRE_DATE]))
        end = pd.to_datetime(table.index.map(roster[S.END_DATE])) if S.END_DATE in roster.columns else pd.DatetimeIndex([pd.NaT] * len(table))
        month_end = (months + pd.offsets.MonthEnd(0)).to_numpy()
        before = hire.to_numpy()[:, None] > month_end[None, :]  # hired after the month ended
        after = end.to_numpy()[:, None] < months.to_numpy()[None, :]  # left before it began
        values = table.to_numpy(dtype=float)
        values[before | after] = np.nan
        table = pd.DataFrame(values, index=table.index, columns=months)
    table.index.name = S.OWNER
    return table


def targets_by_period(targets: pd.DataFrame | None, starts, ends, *, scope: str = "owner") -> pd.DataFrame:
    """Targets of ``scope`` per name (rows) for many periods at once (columns 0..n-1 for the
    [starts[i], ends[i]] ranges), pro-rated by overlapping days exactly as
    :func:`salesops.metrics.target_for_period`; NaN where a name has no target overlapping
    the period. One numpy broadcast instead of one filter per period."""
    starts = pd.to_datetime(pd.Index(starts)).to_numpy()
    ends = pd.to_datetime(pd.Index(ends)).to_numpy()
    if targets is None or targets.empty:
        return pd.DataFrame(columns=range(len(starts)), dtype=float)
    t = targets[targets[S.SCOPE] == scope]
    if t.empty:
        return pd.DataFrame(columns=range(len(starts)), dtype=float)
    day = np.timedelta64(1, "D")
    ts = pd.to_datetime(t[S.PERIOD_START]).to_numpy()[:, None]
    te = pd.to_datetime(t[S.PERIOD_END]).to_numpy()[:, None]
    overlap = (np.minimum(te, ends[None, :]) - np.maximum(ts, starts[None, :])) / day + 1
    length = (te - ts) / day + 1
    share = np.where(length > 0, np.clip(overlap, 0, None) / np.where(length > 0, length, 1), 0.0)
    names = t[S.SCOPE_NAME].to_numpy()
    amount = pd.DataFrame(t[S.AMOUNT].to_numpy(dtype=float)[:, None] * share, index=names).groupby(level=0).sum()
    has = pd.DataFrame(share > 0, index=names).groupby(level=0).any()
    return amount.where(has)


def consistency(cube: pd.DataFrame, as_of, *, reps: pd.DataFrame | None = None,
                targets: pd.DataFrame | None = None, calendar=None, months: int = 12,
                owners=None) -> pd.DataFrame:
    """Consistency per rep over the trailing ``months`` complete months (DESIGN.md section 4).

    Columns (index ``owner``):
      ``cv`` coefficient of variation of monthly won amount (population standard deviation /
      mean over the months the rep was on the team; NaN with fewer than 3 such months or no
      bookings); ``months_observed``; ``months_above`` months at or above the threshold;
      ``threshold`` the rep's pro-rated monthly target where one exists, else the median
      rep-month of the team over the window; ``quarters_with_target``,
      ``quarters_at_quota`` and ``quarter_quota_share`` (share of complete fiscal quarters
      ending inside the window at or above 100% attainment; NaN without targets);
      ``spark`` the monthly won amounts as a list (0 where not on the team)."""
    from .periods import FiscalCalendar

    cal = calendar or FiscalCalendar(1)
    window = trailing_months(as_of, months)
    table = monthly_bookings(cube, window, reps, owners)
    values = table.to_numpy(dtype=float)
    observed = ~np.isnan(values)
    n = observed.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(np.where(observed, values, np.nan), axis=1) if values.size else np.zeros(len(table))
        std = np.nanstd(np.where(observed, values, np.nan), axis=1) if values.size else np.zeros(len(table))
        cv = np.where((n >= 3) & (mean > 0), std / np.where(mean > 0, mean, 1), np.nan)
    out = pd.DataFrame({"cv": cv, "months_observed": n}, index=table.index)
    # threshold: monthly target (pro-rated) where one exists, else the team's median rep-month
    team_median = float(np.nanmedian(values[observed])) if observed.any() else np.nan
    monthly_targets = targets_by_period(targets, window, window + pd.offsets.MonthEnd(0))
    thr = monthly_targets.reindex(index=table.index, columns=range(len(window))).to_numpy(dtype=float)
    thr = np.where(np.isnan(thr), team_median, thr)
    out["months_above"] = ((values >= thr) & observed).sum(axis=1)
    out["threshold"] = np.nanmean(np.where(np.isnan(thr), np.nan, thr), axis=1) if thr.size else np.nan
    # quarters at or above quota
    w_start, w_end = window[0], window[-1] + pd.offsets.MonthEnd(0)
    quarters = [q for q in cal.periods_between(w_start.date(), w_end.date(), "Q")
                if pd.Timestamp(q.start) >= w_start and pd.Timestamp(q.end) <= w_end]
    hit = np.zeros(len(table), dtype=int)
    with_target = np.zeros(len(table), dtype=int)
    if targets is not None and not targets.empty and quarters:
        q_targets = targets_by_period(targets, [q.start for q in quarters], [q.end for q in quarters])
        q_targets = q_targets.reindex(index=table.index, columns=range(len(quarters)))
        for i, q in enumerate(quarters):  # at most four quarters
            qt = q_targets[i].to_numpy(dtype=float)
            qs, qe = pd.Timestamp(q.start), pd.Timestamp(q.end)
            won = table.loc[:, (table.columns >= qs) & (table.columns <= qe)].fillna(0).sum(axis=1).to_numpy()
            has = ~np.isnan(qt) & (qt > 0)
            with_target += has
            hit += has & (won >= np.where(has, qt, np.inf))
    out["quarters_with_target"] = with_target
    out["quarters_at_quota"] = hit
    out["quarter_quota_share"] = np.where(with_target > 0, hit / np.maximum(with_target, 1), np.nan)
    out["spark"] = [list(np.nan_to_num(r, nan=0.0)) for r in values]
    out.attrs.update(months=[m.date().isoformat() for m in window], team_median_month=team_median)
    return out


LEADERBOARD_COLUMNS = [
    "rank", S.OWNER, S.MANAGER, S.TEAM, S.REGION, "attainment", "target", "won_amount", "won_count", "lost_count",
    "win_rate", "win_rate_low", "win_rate_high", "win_rate_shrunk", "small_sample", "avg_deal_size",
    "avg_cycle_days", "open_pipeline", "open_count", "coverage", "required_coverage", "velocity",
    "pipeline_created_amount", "pipeline_created_count", "cv", "months_above", "months_observed",
    "quarter_quota_share", "spark",
]


def leaderboard(cube: pd.DataFrame, start, end, as_of, *, reps: pd.DataFrame | None = None,
                targets: pd.DataFrame | None = None, calendar=None, owners=None) -> pd.DataFrame:
    """One row per rep for [start, end]: the KPIs, the win rate with its uncertainty and
    consistency. Columns :data:`LEADERBOARD_COLUMNS`:

    ``win_rate_low/high`` the 80% Beta interval; ``win_rate_shrunk`` shrunk toward the
    team's rate by :data:`SHRINK_STRENGTH` deals; ``small_sample`` fewer than
    :data:`SMALL_SAMPLE` closed deals; ``cv`` … ``spark`` from :func:`consistency` over the 12
    months before min(as_of, end). Reps on the roster and on the team during the period are
    listed even with no deals; ``owners`` limits the list (sidebar filters). Ranked by
    attainment where targets exist, else by bookings. The team row is in ``attrs["team"]``."""
    from .metrics import shrunk_win_rate

    from .metrics import KPI_COLUMNS

    s, e = _ts(start), _ts(end)
    part = cube if owners is None else cube[cube[S.OWNER].isin(list(owners))]
    # one date filter and one groupby; the team row is the sum of the reps' sums (the same
    # numbers cube_kpis gives, at a third of the cost)
    in_range = part[(part["day"] >= s) & (part["day"] <= e)]
    sums = in_range[SUM_COLUMNS].groupby(in_range[S.OWNER].rename("group")).sum()
    tgt = targets_by_period(targets, [s], [e]).get(0, pd.Series(dtype=float)).dropna()
    if len(tgt):
        sums = sums.reindex(sums.index.union(pd.Index(tgt.index.astype(str), name="group")), fill_value=0)
    lb = finish_kpis(sums, tgt if len(tgt) else None)
    active = (lb["won_count"] + lb["lost_count"] + lb["open_count"] + lb["pipeline_created_count"] > 0) | lb["target"].notna()
    lb = lb[active]
    lb.index.name = "group"
    lb = lb.reset_index()[KPI_COLUMNS].rename(columns={"group": S.OWNER})
    if owners is not None:
        lb = lb[lb[S.OWNER].isin(list(owners))]
    team_sums = pd.DataFrame([sums[SUM_COLUMNS].sum() if len(sums) else pd.Series(0, index=SUM_COLUMNS)], index=pd.Index(["all"], name="group"))
    team = finish_kpis(team_sums).reset_index().iloc[0].to_dict()
    team["target"] = float(lb["target"].sum()) if lb["target"].notna().any() else np.nan
    team["attainment"] = team["won_amount"] / team["target"] if team["target"] and team["target"] > 0 else np.nan
    remaining = team["target"] - team["won_amount"] if pd.notna(team["target"]) else np.nan
    team["coverage"] = float(sums["coverage_pipeline"].sum()) / remaining if pd.notna(remaining) and remaining > 0 else np.nan
    if reps is not None and not reps.empty:  # reps on the team in the period but with no deals
        spans = roster_spans(None, reps)
        on_team = spans[(spans[S.HIRE_DATE].isna() | (spans[S.HIRE_DATE] <= e)) & (spans[S.END_DATE].isna() | (spans[S.END_DATE] >= s))]
        missing = [o for o in on_team[S.OWNER] if o not in set(lb[S.OWNER]) and (owners is None or o in set(owners))]
        if missing:
            blank = pd.DataFrame({S.OWNER: missing})
            for col in lb.columns:
                if col != S.OWNER:
                    blank[col] = 0 if col in SUM_COLUMNS else np.nan
            lb = pd.concat([lb, blank.astype({c: lb[c].dtype for c in lb.columns if c in SUM_COLUMNS})], ignore_index=True)
    closed = lb["won_count"] + lb["lost_count"]
    team_rate = team["win_rate"] if pd.notna(team["win_rate"]) else 0.0
    lb["win_rate_shrunk"] = np.where(closed > 0, shrunk_win_rate(lb["won_count"], lb["lost_count"], team_rate, SHRINK_STRENGTH), np.nan)
    lb["small_sample"] = closed < SMALL_SAMPLE
    window_end = min(_ts(as_of), e)
    cons = consistency(part, window_end, reps=reps, targets=targets, calendar=calendar, owners=lb[S.OWNER])
    lb = lb.join(cons, on=S.OWNER)
    lb = with_roster_fields(lb.assign(**{S.REGION: np.nan}), reps)
    if reps is None or reps.empty:  # without a roster, a rep's region is where most of their bookings are
        reg = part[part[S.REGION] != BLANK].groupby([S.OWNER, S.REGION])["pipeline_created_count"].sum()
        main = reg.sort_values(ascending=False).reset_index().drop_duplicates(S.OWNER).set_index(S.OWNER)[S.REGION] if len(reg) else pd.Series(dtype=object)
        lb[S.REGION] = lb[S.OWNER].map(main)
    sort_key = "attainment" if lb["attainment"].notna().any() else "won_amount"
    lb = lb.sort_values([sort_key, "won_amount"], ascending=False, na_position="last", ignore_index=True)
    lb["rank"] = np.arange(1, len(lb) + 1)
    team["cv_median"] = float(lb["cv"].median()) if lb["cv"].notna().any() else np.nan
    lb = lb[LEADERBOARD_COLUMNS]
    lb.attrs["team"] = team
    lb.attrs["teams"] = _peer_teams(sums, reps, lb)
    lb.attrs["team_median_month"] = cons.attrs.get("team_median_month")
    lb.attrs["months"] = cons.attrs.get("months")
    return lb


def _peer_teams(owner_sums: pd.DataFrame, reps, lb: pd.DataFrame) -> dict:
    """KPI rows of each roster team with at least 3 reps in ``lb`` (peer groups for flags),
    from the reps' sums of the period."""
    if reps is None or reps.empty or S.TEAM not in lb.columns:
        return {}
    sizes = lb[S.TEAM].value_counts()
    big = [t for t, n in sizes.items() if n >= 3 and t != "(not on roster)"]
    if not big or owner_sums.empty:
        return {}
    team_of = reps.drop_duplicates(S.NAME).set_index(S.NAME)[S.TEAM]
    k = finish_kpis(owner_sums[SUM_COLUMNS].groupby(owner_sums.index.map(team_of)).sum())
    return {t: k.loc[t].to_dict() for t in big if t in k.index}


#: Thresholds for the coaching flags (documented in docs/performance.md).
FLAG_CYCLE_LONGER = 0.30   # cycle this much longer than the team's
FLAG_DEAL_SMALLER = 0.40   # average deal this much smaller than the team's
FLAG_PACE_BEHIND = 0.60    # attainment below this share of the team's attainment so far
FLAG_COVERAGE_SHARE = 0.5  # coverage below what the win rate needs and below half the team's coverage
FLAG_CV = 1.0              # monthly coefficient of variation above this and 1.5x the team median
MIN_CLOSED_FOR_FLAG = 5


def coaching_flags(lb: pd.DataFrame, *, elapsed_share: float | None = None, currency: str = "USD",
                   period_label: str = "the period") -> pd.DataFrame:
    """"Who needs coaching": each flag explained in words against the team.

    ``lb`` is a :func:`leaderboard` (its ``attrs["team"]`` is the team row). Returns one row
    per flag: ``owner``, ``flag`` (win_rate, cycle, deal_size, coverage, pace, consistency,
    pipeline), ``message`` (e.g. "win rate 18% vs team 31% (4 of 22 closed)"). A win rate
    is flagged only when its whole 80% interval lies below the team's rate, so small
    samples are not blamed for bad luck. "The team" is the rep's own roster team when
    ``lb.attrs["teams"]`` has it (teams of 3+ reps: enterprise reps are not compared with
    SMB reps on cycle or deal size), else the whole team. Coverage (below 1 / team win
    rate and below half of the whole team's coverage) and pace (attainment below 60% of the team's attainment so far: a
    quarter-end-heavy team is not measured against a straight line) are flagged only while
    the period is in progress (``0 < elapsed_share < 1``)."""
    from .formats import money, pct

    team = lb.attrs.get("team", {})
    peers = lb.attrs.get("teams", {})  # roster team -> its KPI row, for teams of 3+ reps
    rows = []
    t_cv = team.get("cv_median")
    in_progress = elapsed_share is not None and 0 < elapsed_share < 1
    rep_team = lb[S.TEAM] if S.TEAM in lb.columns else pd.Series(None, index=lb.index)
    for r, tm in zip(lb.itertuples(index=False), rep_team):  # one step per rep, not per deal
        ref = peers.get(tm, team) if tm is not None else team
        t_rate, t_cycle, t_size = ref.get("win_rate"), ref.get("avg_cycle_days"), ref.get("avg_deal_size")
        won_n, closed = int(r.won_count), int(r.won_count + r.lost_count)
        if pd.notna(t_rate) and closed >= MIN_CLOSED_FOR_FLAG and pd.notna(r.win_rate_high) and r.win_rate_high < t_rate:
            rows.append((r.owner, "win_rate", f"win rate {pct(r.win_rate)} vs team {pct(t_rate)} ({won_n} of {closed} closed)"))
        if pd.notna(t_cycle) and t_cycle > 0 and pd.notna(r.avg_cycle_days) and won_n >= 3 and r.avg_cycle_days > t_cycle * (1 + FLAG_CYCLE_LONGER):
            rows.append((r.owner, "cycle", f"cycle {r.avg_cycle_days / t_cycle - 1:.0%} longer than the team ({r.avg_cycle_days:.0f} vs {t_cycle:.0f} days)"))
        if pd.notna(t_size) and t_size > 0 and pd.notna(r.avg_deal_size) and won_n >= 3 and r.avg_deal_size < t_size * (1 - FLAG_DEAL_SMALLER):
            rows.append((r.owner, "deal_size", f"average deal {money(r.avg_deal_size, currency)} vs team {money(t_size, currency)}"))
        if in_progress and pd.notna(r.target) and r.target > 0 and r.won_amount < r.target and pd.notna(t_rate) and t_rate > 0:
            need = 1 / t_rate
            cov = r.coverage if pd.notna(r.coverage) else 0.0
            t_cov = team.get("coverage")
            if cov < need and (pd.isna(t_cov) or cov < FLAG_COVERAGE_SHARE * t_cov):
                vs = f" vs the team's {t_cov:.1f}x" if pd.notna(t_cov) else ""
                rows.append((r.owner, "coverage", f"pipeline covers {cov:.1f}x of the remaining target{vs}; about {need:.1f}x is needed at the team's {pct(t_rate)} win rate"))
        t_att = team.get("attainment")
        if in_progress and pd.notna(r.attainment) and pd.notna(t_att) and t_att > 0 and r.attainment < t_att * FLAG_PACE_BEHIND:
            rows.append((r.owner, "pace", f"at {pct(r.attainment)} of target vs the team's {pct(t_att)} with {pct(elapsed_share)} of {period_label} gone"))
        if pd.notna(r.cv) and r.cv > FLAG_CV and (pd.isna(t_cv) or r.cv > 1.5 * t_cv) and r.months_observed >= 6:
            rows.append((r.owner, "consistency", f"lumpy bookings: monthly variation {r.cv:.1f} vs team median {t_cv:.1f}" if pd.notna(t_cv)
                         else f"lumpy bookings: monthly variation {r.cv:.1f}"))
        if r.pipeline_created_count == 0:
            rows.append((r.owner, "pipeline", f"no new pipeline created in {period_label}"))
    return pd.DataFrame(rows, columns=[S.OWNER, "flag", "message"])


def quadrants(lb: pd.DataFrame) -> pd.DataFrame:
    """Win rate vs deal size with quadrants split at the team medians (reps with a win rate
    and a deal size only). Columns: owner, win_rate, avg_deal_size, closed (volume),
    won_amount, quadrant ("Wins often, wins big", "Wins often, small deals", "Big deals,
    low win rate", "Small deals, low win rate"); medians in ``attrs``."""
    d = lb[lb["win_rate"].notna() & lb["avg_deal_size"].notna()].copy()
    d["closed"] = d["won_count"] + d["lost_count"]
    mw = float(d["win_rate"].median()) if len(d) else np.nan
    ms = float(d["avg_deal_size"].median()) if len(d) else np.nan
    hi_w, hi_s = d["win_rate"] >= mw, d["avg_deal_size"] >= ms
    d["quadrant"] = np.select([hi_w & hi_s, hi_w & ~hi_s, ~hi_w & hi_s],
                              ["Wins often, wins big", "Wins often, small deals", "Big deals, low win rate"],
                              "Small deals, low win rate")
    out = d[[S.OWNER, "win_rate", "avg_deal_size", "closed", "won_amount", "quadrant"]].reset_index(drop=True)
    out.attrs.update(median_win_rate=mw, median_deal_size=ms)
    return out


def rep_trends(cube: pd.DataFrame, owners, start, end) -> pd.DataFrame:
    """Monthly bookings, win rate and pipeline created of ``owners`` against the team
    median (the median over reps with any activity that month), long format.

    Columns: ``month``, ``series`` (a rep's name or "Team median"), ``won_amount``,
    ``win_rate``, ``pipeline_created_amount``."""
    s, e = _ts(start), _ts(end)
    part = cube[(cube["day"] >= s) & (cube["day"] <= e)]
    per = part.groupby([S.OWNER, "month"])[["won_amount", "won_count", "lost_count", "pipeline_created_amount"]].sum()
    closed = per["won_count"] + per["lost_count"]
    per["win_rate"] = (per["won_count"] / closed).where(closed > 0)
    per = per.reset_index()
    med = per.groupby("month")[["won_amount", "win_rate", "pipeline_created_amount"]].median().reset_index()
    med["series"] = "Team median"
    mine = per[per[S.OWNER].isin(list(owners))].rename(columns={S.OWNER: "series"})
    cols = ["month", "series", "won_amount", "win_rate", "pipeline_created_amount"]
    return pd.concat([mine[cols], med[cols]], ignore_index=True).sort_values(["series", "month"], ignore_index=True)


def rep_funnel(deals: pd.DataFrame, owner: str, start, end) -> pd.DataFrame:
    """A rep's funnel for deals created in [start, end] against the team's median rep:
    steps "Created", "Closed" (won or lost so far), "Won". Columns: ``step``, ``count``,
    ``amount``, ``team_median_count``, ``team_median_amount``, ``conversion`` (count / the
    created count)."""
    s, e = _ts(start), _ts(end)
    d = deals[deals[S.CREATED_DATE].between(s, e)]
    amount = d[S.AMOUNT].fillna(0.0)
    steps = {"Created": pd.Series(True, index=d.index), "Closed": d[S.STATUS].isin([S.WON, S.LOST]),
             "Won": d[S.STATUS] == S.WON}
    rows = []
    for step, mask in steps.items():  # three vectorised group sums
        per_rep = pd.DataFrame({"n": mask.astype(int), "a": amount.where(mask, 0.0), S.OWNER: d[S.OWNER]}).groupby(S.OWNER).sum()
        mine = per_rep.loc[owner] if owner in per_rep.index else pd.Series({"n": 0, "a": 0.0})
        rows.append({"step": step, "count": int(mine["n"]), "amount": float(mine["a"]),
                     "team_median_count": float(per_rep["n"].median()) if len(per_rep) else np.nan,
                     "team_median_amount": float(per_rep["a"].median()) if len(per_rep) else np.nan})
    out = pd.DataFrame(rows)
    created = out.loc[0, "count"]
    out["conversion"] = out["count"] / created if created else np.nan
    return out


def hierarchy(cube: pd.DataFrame, start, end, *, reps: pd.DataFrame | None = None,
              targets: pd.DataFrame | None = None) -> pd.DataFrame:
    """KPIs at every level of team -> manager -> rep from the roster, plus the whole team.

    Columns: ``level`` ("all", "team", "manager", "rep"), ``name``, ``parent``, ``path``
    (e.g. ["East", "Dana Ruiz", "Ann Lee"] for a tree view) and metrics.KPI_COLUMNS minus
    ``group``. Each level's sums equal the sum of its children's."""
    from .metrics import KPI_COLUMNS

    c = with_roster_fields(cube, reps)
    roster = reps.drop_duplicates(S.NAME).set_index(S.NAME) if reps is not None and not reps.empty else None
    kp = [k for k in KPI_COLUMNS if k != "group"]
    frames = []
    top = cube_kpis(c, start, end, by=None, targets=targets, reps=reps)
    top = top.assign(level="all", name="All", parent=None)
    frames.append(top)
    tm = cube_kpis(c, start, end, by=S.TEAM, targets=targets, reps=reps).assign(level="team")
    tm["name"], tm["parent"] = tm["group"], "All"
    frames.append(tm)
    mg = cube_kpis(c, start, end, by=S.MANAGER, targets=targets, reps=reps).assign(level="manager")
    mgr_team = (roster.groupby(S.MANAGER)[S.TEAM].agg(lambda s: s.mode().iat[0] if s.notna().any() else "(not on roster)")
                if roster is not None else pd.Series(dtype=object))
    mg["name"], mg["parent"] = mg["group"], mg["group"].map(mgr_team).fillna("(not on roster)")
    frames.append(mg)
    rp = cube_kpis(c, start, end, by=S.OWNER, targets=targets, reps=reps).assign(level="rep")
    rp["name"] = rp["group"]
    rp["parent"] = rp["group"].map(roster[S.MANAGER]).fillna("(not on roster)") if roster is not None else "(not on roster)"
    frames.append(rp)
    out = pd.concat(frames, ignore_index=True)
    team_of_mgr = dict(zip(mg["name"], mg["parent"]))
    out["path"] = [
        ["All"] if lv == "all" else [n] if lv == "team" else [p, n] if lv == "manager" else [team_of_mgr.get(p, "(not on roster)"), p, n]
        for lv, n, p in zip(out["level"], out["name"], out["parent"])
    ]
    return out[["level", "name", "parent", "path", *kp]]
