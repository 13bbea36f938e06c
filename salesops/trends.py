"""The Team page's questions: how this period compares with the last one and with last year,
how it paces inside the period, every KPI over time split by any dimension, and the deals
behind one bar.

Every number comes from salesops.metrics (the one engine, cut at the filters' as-of date) and
every target from the one target rule (``Filters.target`` / ``Filters.group_targets``); this
module only chooses periods and as-of dates, and says in words what each comparison is
against. Functions take ``(ws, f, ...)`` (a Workspace and its Filters) so that pages call
them through ``context.compute``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from . import formats, metrics, overview
from . import schema as S
from .filters import Filters
from .periods import Period
from .targets import TargetView

#: KPIs the "KPIs over time" chart offers, in menu order (labels and kinds from the registry).
TREND_KPIS = ("won_amount", "won_count", "win_rate", "avg_deal_size", "avg_cycle_days", "open_pipeline",
              "coverage", "velocity", "pipeline_created_amount", "attainment")
#: KPIs of the period comparison table, in order.
COMPARE_KPIS = ("won_amount", "won_count", "lost_count", "win_rate", "avg_deal_size", "avg_cycle_days",
                "open_pipeline", "weighted_pipeline", "coverage", "velocity", "pipeline_created_amount", "attainment")
#: Fields a trend can be split by: deal field -> business name. The compact deal facts hold the
#: first four; the others are read from the deal rows when chosen.
SPLITS = {S.REGION: "Region", S.TEAM: "Team", S.MANAGER: "Manager", S.SEGMENT: "Segment", S.PRODUCT: "Product",
          S.LEAD_SOURCE: "Lead source", S.TYPE: "Deal type"}
#: How many groups a split trend shows (the largest by bookings over the window).
TOP_GROUPS = 8
#: Columns of the "deals behind a bar" table.
BEHIND_COLUMNS = [S.OPPORTUNITY_ID, S.NAME, S.ACCOUNT, S.OWNER, S.STAGE, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE]
STATE_WORDS = {"running": "in progress", "closed": "closed", "future": "not started"}
KIND_WORDS = overview.KIND_WORDS


def with_field(ws, by: str | None):
    """The workspace, or a shallow view of it whose deal facts also carry ``by`` (read from the
    deal rows) when the facts do not hold it (product, lead source, deal type)."""
    if by is None or by in ws.facts.columns:
        return ws
    view = copy.copy(ws)
    values = ws.deals[by].reindex(ws.facts.index) if by in ws.deals.columns else pd.Series(None, index=ws.facts.index)
    view.facts = ws.facts.assign(**{by: values.astype("category")})
    return view


def _as_of_for(state: str, period: Period, other: Period, as_of: date) -> date:
    """The day ``other`` is seen on when compared with ``period``: the same point of it while
    ``period`` runs, the as-of date once it has closed, ``other``'s end before it starts
    (the rule of the Overview's comparison, salesops.overview.standing)."""
    if state == "running":
        return metrics.same_point(period, other, as_of)
    if state == "closed":
        return as_of
    return other.end


def _span(p: Period, as_of: date) -> str:
    return f"{p.start:%d %b} – {min(as_of, p.end):%d %b %Y}"


# =============================================================================================
# This period against the last one and last year
# =============================================================================================
@dataclass
class Comparison:
    """The period's KPIs (metrics.team) beside the previous period and the same period last
    year, each seen on the day that makes them comparable."""

    period: Period
    as_of: date
    state: str                      # running | closed | future
    previous: Period
    previous_as_of: date
    last_year: Period
    last_year_as_of: date
    current: dict
    prev: dict
    ly: dict
    target: TargetView

    @property
    def word(self) -> str:
        return KIND_WORDS.get(self.period.kind, "period")

    def text(self) -> str:
        """One sentence saying what the changes compare with."""
        if self.state == "running":
            return (f"Changes compare with {self.previous.label} up to the same day ({_span(self.previous, self.previous_as_of)}) "
                    f"and with {self.last_year.label} up to the same day ({_span(self.last_year, self.last_year_as_of)}), "
                    "because this period is still running.")
        return (f"Changes compare with {self.previous.label} ({self.previous.start:%d %b} – {self.previous.end:%d %b %Y}) "
                f"and with {self.last_year.label} ({self.last_year.start:%d %b} – {self.last_year.end:%d %b %Y}).")

    def open_note(self) -> str:
        """The open pipeline tile's note: how many deals are open on the as-of date."""
        return f"{int(self.current.get('open_count') or 0):,} deals closing in {self.period.label}"

    def coverage_note(self) -> str:
        """The coverage tile's note: the coverage the current win rate needs."""
        need = self.current.get("required_coverage")
        k = metrics.KPIS["required_coverage"]
        return "no win rate yet" if k.format(need) == formats.MISSING else f"needs {k.format(need)} at the current win rate"

    def help(self, name: str, currency: str = "USD") -> str:
        """A tile's help: the KPI's definition, and the value of the previous period and of
        last year with the changes."""
        k = metrics.KPIS[name]
        cur = self.current.get(name)
        return (f"{k.definition} {self.previous.label}: {k.format(self.prev.get(name), currency)} "
                f"({_change(k, cur, self.prev.get(name), currency)}); {self.last_year.label}: "
                f"{k.format(self.ly.get(name), currency)} ({_change(k, cur, self.ly.get(name), currency)}).")

    def table(self, currency: str = "USD") -> pd.DataFrame:
        """Every KPI of :data:`COMPARE_KPIS` side by side, as text: columns KPI, this period,
        the previous one, the change, last year's, the change against last year (rates in
        points, amounts with their relative change)."""
        rows = []
        for name in COMPARE_KPIS:
            k = metrics.KPIS[name]
            cur, prev, ly = self.current.get(name), self.prev.get(name), self.ly.get(name)
            rows.append({"KPI": k.label, self.period.label: k.format(cur, currency),
                         self.previous.label: k.format(prev, currency), "Change": _change(k, cur, prev, currency),
                         self.last_year.label: k.format(ly, currency),
                         f"Change vs {self.last_year.label}": _change(k, cur, ly, currency)})
        return pd.DataFrame(rows)


def _change(k: metrics.Kpi, cur, prev, currency: str) -> str:
    d = k.delta(cur, prev, currency)
    if d is None:
        return formats.MISSING
    rel = k.relative(cur, prev)
    return d if rel is None else f"{d} ({_rel(rel)})"


def _rel(x: float) -> str:
    return f"{x * 100:+.1f}%" if abs(x) < 0.1 else f"{x * 100:+.0f}%"


def compare(ws, f: Filters) -> Comparison:
    """The filters' period against the previous period and the same period last year (the
    team row of metrics.kpis for each; the previous period is seen on the same day as the
    Overview's comparison, so the two pages show the same changes)."""
    cal = ws.settings.calendar
    p, as_of = f.period, f.as_of
    state = overview.state_of(p, as_of)
    prev, ly = cal.previous(p), cal.same_last_year(p)
    prev_as_of, ly_as_of = _as_of_for(state, p, prev, as_of), _as_of_for(state, p, ly, as_of)
    return Comparison(p, as_of, state, prev, prev_as_of, ly, ly_as_of,
                      current=metrics.team(ws, f), prev=metrics.team(ws, f, period=prev, as_of=prev_as_of),
                      ly=metrics.team(ws, f, period=ly, as_of=ly_as_of), target=f.target(ws))


# =============================================================================================
# Pacing inside the period
# =============================================================================================
@dataclass
class Tile:
    """A tile's words: label, value, a note (None: none) and whether the note is good news
    (True / False; None: neutral), and the help text."""

    label: str
    value: str
    note: str | None = None
    good: bool | None = None
    help: str | None = None


@dataclass
class Pacing:
    """Cumulative bookings inside the period against an even pace to the target, against last
    year's shape of the same period scaled to this target, and against last year's bookings.

    ``frame``: one row per day of the period: ``day`` (1-based), ``date``, ``won_to_date``
    (NaN after the as-of date), ``target_line`` (NaN without a target), ``last_year_to_date``
    (last year's cumulative bookings on the same day of its period), and
    ``last_year_curve_to_target`` (last year's cumulative share of its total x this target)."""

    period: Period
    as_of: date
    state: str
    target: TargetView
    last_year: Period
    frame: pd.DataFrame
    pace: dict                       # metrics.pace, exactly as the Overview computes it
    won_to_date: float
    last_year_same_day: float
    last_year_total: float
    last_year_share: float | None     # share of last year's total booked by the same day
    tiles: list[Tile] = field(default_factory=list)

    @property
    def day(self) -> int:
        return int(self.pace["elapsed_days"])

    @property
    def days(self) -> int:
        return self.period.days


def pacing(ws, f: Filters) -> Pacing:
    """Where bookings stand inside the filters' period on their as-of date, in words: against
    an even pace to the target (metrics.pace, the Overview's tile), against last year's shape of
    the period scaled to this target, and against last year's bookings by the same day. The
    target is the slice's target by the one rule (the Overview's)."""
    cal, cc = ws.settings.calendar, ws.settings.currency
    p, as_of = f.period, f.as_of
    state = overview.state_of(p, as_of)
    target = f.target(ws)
    tgt = target.amount if target.has_target else None
    ly = cal.same_last_year(p)
    won = float(metrics.team(ws, f)["won_amount"])
    pace = metrics.pace(won, tgt, p.start, p.end, min(as_of, p.end))
    this = overview.cumulative_bookings(ws, f, tgt)
    last = overview.cumulative_bookings(ws, f.with_period(ly), None)["won_to_date"].to_numpy(dtype=float)
    last = np.nan_to_num(last, nan=0.0)
    n = p.days
    ly_cum = np.concatenate([last, np.full(max(n - len(last), 0), last[-1] if len(last) else 0.0)])[:n]
    ly_total = float(last[-1]) if len(last) else 0.0
    frame = pd.DataFrame({"day": np.arange(1, n + 1), "date": this["day"].to_numpy(),
                          "won_to_date": this["won_to_date"].to_numpy(dtype=float),
                          "target_line": this["target_pace"].to_numpy(dtype=float),
                          "last_year_to_date": ly_cum})
    frame["last_year_curve_to_target"] = ly_cum / ly_total * tgt if tgt and ly_total > 0 else np.nan
    day = int(pace["elapsed_days"])
    ly_same = float(ly_cum[day - 1]) if day > 0 else 0.0
    share = ly_same / ly_total if ly_total > 0 else None
    out = Pacing(p, as_of, state, target, ly, frame, pace, won, ly_same, ly_total, share)
    out.tiles = _pacing_tiles(out, cc)
    return out


def _money(x, cc):
    return formats.money(x, cc)


def _pacing_tiles(pc: Pacing, cc: str) -> list[Tile]:
    """The pacing tiles in words: what each number is and what it is compared with."""
    p, ly, t = pc.period, pc.last_year, pc.target
    word = KIND_WORDS.get(p.kind, "period")
    tiles = []
    if pc.state == "future":
        tiles.append(Tile("Target", _money(t.amount, cc), t.label if t.has_target else "no target set",
                          help="The target of what the filters show, pro-rated to the period (the Overview's). "
                               + (t.note(cc) or "")))
        if t.has_target and pc.last_year_total > 0:
            tiles.append(Tile(f"{ly.label} booked", _money(pc.last_year_total, cc), f"the same {word} last year",
                              help=f"What {ly.label} booked in the whole {word}: last year's shape of the {word} is "
                                   "drawn against this target in the chart."))
        return tiles
    day_words = f"day {pc.day} of {pc.days}"
    tiles.append(Tile("Booked to date" if pc.state == "running" else f"Booked in {p.label}", _money(pc.won_to_date, cc),
                      f"{day_words}, up to {min(pc.as_of, p.end):%d %b}" if pc.state == "running" else f"the whole {word}",
                      help="Won amount with a close date in the period, as known on the as-of date."))
    if t.has_target:
        gap = pc.pace["gap"]
        against = "an even pace to the " + t.label if pc.state == "running" else "the " + t.label
        tiles.append(Tile("Against an even pace to target" if pc.state == "running" else "Against target",
                          _money(abs(gap), cc), f"{'ahead of' if gap >= 0 else 'behind'} {against}", gap >= 0,
                          help=f"Booked to date minus a straight line from 0 to the {t.label} of {_money(t.amount, cc)}: "
                               f"{_money(pc.pace['expected_by_now'], cc)} by {day_words}. " + (t.note(cc) or "")))
        if pc.last_year_share is not None and pc.state == "running":
            expected = pc.last_year_share * t.amount
            gap_ly = pc.won_to_date - expected
            tiles.append(Tile(f"Against last year's shape of the {word}", _money(abs(gap_ly), cc),
                              f"{'ahead of' if gap_ly >= 0 else 'behind'} {ly.label}'s shape, scaled to this target",
                              gap_ly >= 0,
                              help=f"By {day_words} {ly.label} had booked {formats.pct(pc.last_year_share, 1)} of its "
                                   f"{word}'s {_money(pc.last_year_total, cc)}. The same share of this {word}'s "
                                   f"{t.label} ({_money(t.amount, cc)}) is {_money(expected, cc)}; booked to date "
                                   f"minus that is the gap. It allows for a {word} that books late."))
    else:
        tiles.append(Tile("Target", formats.MISSING, "no target set for this period",
                          help="Load targets (Settings or the targets command) to pace against one."))
    k = metrics.KPIS["won_amount"]
    rel = k.relative(pc.won_to_date, pc.last_year_same_day)
    tiles.append(Tile(f"{ly.label} by the same day" if pc.state == "running" else f"{ly.label}, the same {word} last year",
                      _money(pc.last_year_same_day, cc),
                      None if rel is None else f"this {word} {_rel(rel)}", None if rel is None else rel >= 0,
                      help=f"Won amount of {ly.label} up to {day_words} of it" if pc.state == "running" else
                           f"Won amount of the whole of {ly.label}."))
    return tiles


# =============================================================================================
# KPIs over time
# =============================================================================================
@dataclass
class Trend:
    """One KPI over time (metrics.series rows), per group of a split (the largest
    :data:`TOP_GROUPS` by bookings over the window), and the periods it covers."""

    kpi: str
    freq: str
    by: str | None
    frame: pd.DataFrame              # metrics.series columns + kind (actual / in progress / not started)
    groups: list[str]
    first: Period
    last: Period
    dropped: int = 0                 # groups left out of the chart

    @property
    def periods(self) -> list[str]:
        return list(dict.fromkeys(self.frame.sort_values("period_start")["period"]))

    def default_period(self, as_of: date) -> str | None:
        """The bar the deals list opens on: the last period started by the as-of date."""
        frame = self.frame.drop_duplicates("period").sort_values("period_start")
        started = frame.loc[frame["period_start"] <= pd.Timestamp(as_of), "period"]
        return started.iloc[-1] if len(started) else (frame["period"].iloc[-1] if len(frame) else None)

    def caption(self, filters_text: str) -> str:
        k = metrics.KPIS[self.kpi]
        unit = {"W": "week", "M": "month", "Q": "fiscal quarter", "Y": "fiscal year"}[self.freq]
        text = f"{k.label} per {unit} from {self.first.label} to {self.last.label}, as known on the as-of date"
        if self.by:
            text += f", split by {SPLITS.get(self.by, self.by).lower()}"
            if self.dropped:
                text += f" (the largest {len(self.groups)} of {len(self.groups) + self.dropped} by bookings)"
        return text + f"; {filters_text}."


def trend(ws, f: Filters, kpi: str = "won_amount", freq: str = "M", n: int = 12, by: str | None = None) -> Trend:
    """``kpi`` per period of ``freq`` for the ``n`` periods ending with the one that holds the
    filters' period end (or the as-of date when that is earlier, as the Overview's trend),
    split by ``by`` (largest :data:`TOP_GROUPS` groups by bookings)."""
    if kpi not in metrics.KPIS:
        raise ValueError(f"unknown KPI {kpi!r}")
    cal = ws.settings.calendar
    last = cal.period_of(min(f.period.end, max(f.as_of, f.period.start)), freq)
    first = cal.shift(last, -(n - 1))
    view = with_field(ws, by)
    s = metrics.series(view, f, freq, first.start, last.end, by=by)
    s = s[s["period_start"] >= pd.Timestamp(first.start)].copy()
    s["kind"] = np.where(s["in_progress"], "in progress",
                         np.where(s["period_start"] > pd.Timestamp(f.as_of), "not started", "actual"))
    groups = sorted(s[metrics.GROUP].astype(str).unique()) if len(s) else []
    dropped = 0
    if by is not None and len(groups) > TOP_GROUPS:
        top = s.groupby(metrics.GROUP)["won_amount"].sum().sort_values(ascending=False, kind="stable").head(TOP_GROUPS)
        dropped = len(groups) - TOP_GROUPS
        groups = sorted(str(g) for g in top.index)
        s = s[s[metrics.GROUP].astype(str).isin(groups)]
    return Trend(kpi, freq, by, s.reset_index(drop=True), groups, first, last, dropped)


@dataclass
class DealsBehind:
    """The deals a KPI counts in one bar (one period, one group) and words for them."""

    deals: pd.DataFrame
    count: int
    amount: float
    text: str


def deals_behind(ws, f: Filters, kpi: str, period_label: str, by: str | None = None,
                 group: str | None = None, limit: int = 500) -> DealsBehind:
    """The deals behind one bar of :func:`trend`: those that ``kpi`` counts in the period of
    labelled ``period_label`` ("2026-11", "2026Q4", "2026-W47"; metrics.deal_mask: the one as-of rule), in ``group``
    of ``by``; the largest ``limit`` as full rows, largest first."""
    cal, cc = ws.settings.calendar, ws.settings.currency
    p = cal.parse(period_label)
    view = with_field(ws, by)
    facts = f.facts(view)
    m = metrics.deal_mask(facts, kpi, p.start, p.end, f.as_of)
    if by is not None and group is not None:
        col = facts[by].astype(object)
        m &= (col.isna() | (col == "")).to_numpy() if group == metrics.BLANK else (col.astype(str) == str(group)).to_numpy()
    chosen = facts.loc[m, S.AMOUNT]
    total, count = float(np.nansum(chosen.to_numpy(dtype=float))), int(m.sum())
    top = chosen.sort_values(ascending=False, na_position="last", kind="stable").head(limit)
    cols = BEHIND_COLUMNS + ([by] if by and by not in BEHIND_COLUMNS else [])
    rows = ws.deal_rows(list(top.index), cols).reset_index(drop=True)
    k = metrics.KPIS.get(kpi)
    what = k.label.lower() if k else kpi
    text = (f"{count:,} deals behind {what} in {p.label}" + (f" for {group}" if group is not None and by else "")
            + f", {formats.money(total, cc)} in total" + (f"; the largest {limit:,} are listed" if count > limit else "") + ".")
    return DealsBehind(rows, count, total, text)
