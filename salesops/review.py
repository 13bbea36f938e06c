"""The quarterly business review: a sequence of slides, one idea each, for a period of a slice
seen on an as-of date. The Review page presents them, ``report`` writes them as a deck
(PowerPoint, PDF, offline HTML) through salesops.reports.

Every figure comes from the functions the pages call (the semantic layer): overview.standing,
metrics.kpis / series / team, the one target rule (Filters.target), pipeline.movement_for,
outlook.landing_zone, ramp.rep_ramp and the saved landing zones of the Forecast page. This
module only picks, orders and words them: each slide's sentence is generated from those
numbers through the KPI registry's own formatting (``metrics.KPIS[name].format/delta``).

One function per slide (:data:`SLIDES`), each ``fn(ws, f) -> Slide``, so the page computes
only the slide on screen and a slide can switch to a newer domain function on its own
(the team and rep highlights, forecast accuracy and goals slides name theirs).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from . import metrics, outlook, overview, pipeline, ramp, store
from . import schema as S
from .charts import overview as overview_charts
from .charts import pipeline as pipeline_charts
from .charts import review as charts
from .errors import InputError, SalesopsError
from .filters import Filters

K = metrics.KPIS


# =============================================================================================
# What a slide is
# =============================================================================================
@dataclass
class Tile:
    """A big number on a slide: its label, its value as text and a small note (or None)."""

    label: str
    value: str
    note: str | None = None


@dataclass
class Slide:
    """One slide: a title, one sentence generated from the numbers, tiles, a chart (an
    Altair spec), a table (``columns`` = {column: (business label, kind)}), presenter notes
    with the definitions, and ``figures``: the raw numbers the sentence states."""

    key: str
    title: str
    sentence: str
    tiles: list[Tile] = field(default_factory=list)
    chart: object | None = None
    chart_data: pd.DataFrame | None = None
    table: pd.DataFrame | None = None
    columns: dict = field(default_factory=dict)
    notes: str = ""
    figures: dict = field(default_factory=dict)


@dataclass
class Review:
    """Every slide of a review and what the deck's footer states."""

    period_label: str
    as_of: date
    slice_text: str
    currency: str
    workspace_name: str
    slides: list[Slide]
    sources: str
    definitions_version: str

    @property
    def footer(self) -> str:
        return (f"As of {self.as_of:%d %b %Y} · {self.slice_text} · built from {self.sources} · "
                f"definitions version {self.definitions_version}")


# =============================================================================================
# Words from numbers (through the registry's formatting)
# =============================================================================================
def _money(x, currency: str) -> str:
    return K["won_amount"].format(x, currency)


def _word(period) -> str:
    return overview.KIND_WORDS.get(period.kind, "period")


def _change_words(name: str, current, previous, against: str, currency: str) -> str | None:
    """"up 12% on last year" / "down 3 pts on last quarter"; None when unknown."""
    k = K[name]
    rel = k.relative(current, previous)
    if rel is not None:
        return f"{'up' if rel >= 0 else 'down'} {abs(rel):.0%} on {against}"
    d = k.delta(current, previous, currency)
    return None if d is None else f"{d} on {against}"


def _notes(*names: str, target=None, currency: str = "USD", extra: str = "") -> str:
    """Presenter notes: the definition of every KPI the slide shows, from the registry."""
    lines = [f"{K[n].label}: {K[n].definition}" for n in names]
    if target is not None:
        lines.append(f"Target: the {target.label}, pro-rated to the period by days (the target rule of docs/kpis.md)."
                     + (f" {target.note(currency)}" if target.note(currency) else ""))
    if extra:
        lines.append(extra)
    lines.append(f"Definitions version {metrics.definitions_version()}.")
    return "\n".join(lines)


def _against_same(period, other, as_of: date, state: str) -> date:
    """The as-of date at which ``other`` is compared with ``period``: the same point of it
    while ``period`` runs, the as-of date once closed, its end for a future period."""
    if state == "running":
        return metrics.same_point(period, other, as_of)
    return as_of if state == "closed" else other.end


@dataclass
class _Basis:
    """The standing of the period and the same period last year (shared by several slides)."""

    standing: overview.Standing
    last_year: dict
    last_year_label: str


def _basis(ws, f: Filters) -> _Basis:
    s = overview.standing(ws, f)
    cal = ws.settings.calendar
    ly = cal.same_last_year(f.period)
    last_year = metrics.team(ws, f, period=ly, as_of=_against_same(f.period, ly, f.as_of, s.state))
    return _Basis(s, last_year, "last year" if s.state != "running" else "the same point last year")


def _split_field(ws, f: Filters) -> tuple[str, str]:
    """The field the quarter's story is told by: regions, or teams inside one region."""
    rows = metrics.kpis(ws, f, S.REGION)
    return (S.REGION, "Region") if len(rows) > 1 else (S.TEAM, "Team")


def _story_rows(ws, f: Filters, by: str) -> pd.DataFrame:
    rows = metrics.kpis(ws, f, by)
    return rows[rows["group"] != "(not on roster)"].reset_index(drop=True)


def headline(ws, f: Filters, basis: _Basis | None = None) -> str:
    """The quarter in one sentence: "Bookings $9.2M, 112% of the company target, up 12% on
    last year; APAC carried the quarter." """
    b = basis or _basis(ws, f)
    s, cur, cc = b.standing, b.standing.current, ws.settings.currency
    word = _word(f.period)
    if s.state == "future":
        return (f"{f.period.label} has not started on {f.as_of:%d %b %Y}: its target is {_money(s.target.amount, cc)} "
                f"and {_money(cur['open_pipeline'], cc)} of pipeline already closes in it.")
    parts = [f"Bookings {_money(cur['won_amount'], cc)}" + (f" to {f.as_of:%d %b}" if s.in_progress else "")]
    if s.target.has_target:
        parts.append(f"{K['attainment'].format(cur['attainment'])} of the {s.target.label}")
    change = _change_words("won_amount", cur["won_amount"], b.last_year["won_amount"], b.last_year_label, cc)
    if change:
        parts.append(change)
    text = ", ".join(parts)
    by, _ = _split_field(ws, f)
    rows = _story_rows(ws, f, by)
    if len(rows) > 1 and rows["won_amount"].max() > 0:
        top = rows.sort_values("won_amount", ascending=False).iloc[0]
        text += f"; {top['group']} {'carried' if not s.in_progress else 'leads'} the {word}" + ("" if not s.in_progress else " so far")
    return text + "."


# =============================================================================================
# The slides
# =============================================================================================
def cover(ws, f: Filters) -> Slide:
    """At a glance: the headline sentence and the four numbers an executive asks first."""
    b = _basis(ws, f)
    s, cur, cc = b.standing, b.standing.current, ws.settings.currency
    tiles = [Tile("Bookings", K["won_amount"].format(cur["won_amount"], cc),
                  K["won_amount"].delta(cur["won_amount"], s.previous["won_amount"], cc) and
                  f"{K['won_amount'].delta(cur['won_amount'], s.previous['won_amount'], cc)} {s.compare_label}"),
             Tile("Attainment", K["attainment"].format(cur["attainment"]),
                  f"of {_money(s.target.amount, cc)} target" if s.target.has_target else "no target set"),
             Tile("Win rate", K["win_rate"].format(cur["win_rate"]),
                  f"{cur['won_count']:,} of {cur['won_count'] + cur['lost_count']:,} closed"),
             Tile("Open pipeline", K["open_pipeline"].format(cur["open_pipeline"], cc),
                  f"{cur['open_count']:,} deals open") if s.state != "closed" else
             Tile("Pipeline created", K["pipeline_created_amount"].format(cur["pipeline_created_amount"], cc),
                  f"{cur['pipeline_created_count']:,} deals created")]
    title = f"{f.period.label} business review"
    agenda = pd.DataFrame({"n": range(1, len(SLIDES) + 1), "slide": [v[0] for v in SLIDES.values()],
                           "about": [ABOUT[k] for k in SLIDES]})
    return Slide("cover", title, headline(ws, f, b), tiles, None, None, agenda,
                 {"n": ("#", "count"), "slide": ("Slide", "text"), "about": ("What it shows", "text")},
                 _notes("won_amount", "attainment", "win_rate", "open_pipeline", target=s.target, currency=cc,
                              extra=s.compare_text()),
                 {"won_amount": cur["won_amount"], "attainment": cur["attainment"], "target": s.target.amount,
                          "last_year_won_amount": b.last_year["won_amount"]})


def bookings(ws, f: Filters) -> Slide:
    """Bookings against target and attainment, with the last eight quarters."""
    b = _basis(ws, f)
    s, cur, prev, cc = b.standing, b.standing.current, b.standing.previous, ws.settings.currency
    t = s.target
    tiles = [Tile("Bookings", K["won_amount"].format(cur["won_amount"], cc, compact=False),
                  f"{K['won_amount'].delta(cur['won_amount'], prev['won_amount'], cc)} {s.compare_label}"
                  if K["won_amount"].delta(cur["won_amount"], prev["won_amount"], cc) else None),
             Tile("Target", _money(t.amount, cc), t.label if t.has_target else "no target set"),
             Tile("Attainment", K["attainment"].format(cur["attainment"]),
                  f"{K['attainment'].delta(cur['attainment'], prev['attainment'])} {s.compare_label}"
                  if K["attainment"].delta(cur["attainment"], prev["attainment"]) else None),
             Tile("Same period last year", _money(b.last_year["won_amount"], cc),
                  _change_words("won_amount", cur["won_amount"], b.last_year["won_amount"], b.last_year_label, cc))]
    if s.state == "future":
        sentence = headline(ws, f, b)
    elif t.has_target:
        gap = K["won_amount"].delta(cur["won_amount"], t.amount, cc)
        sentence = (f"{_money(cur['won_amount'], cc)} booked against the {_money(t.amount, cc)} {t.label}: "
                    f"{K['attainment'].format(cur['attainment'])} attainment ({gap} {'above' if cur['won_amount'] >= t.amount else 'against'} target"
                    + (f", with {s.pace['days_left']} days left" if s.in_progress else "") + ").")
    else:
        sentence = f"{_money(cur['won_amount'], cc)} booked; no target is set for {f.period.label}."
    trend = s.trend
    chart = overview_charts.bookings_vs_target(trend, cc, _word(f.period))
    columns = {"period": ("Period", "text"), "won_amount": ("Bookings", "money"), "target": ("Target", "money"),
               "attainment": ("Attainment", "pct"), "won_count": ("Deals won", "count"), "kind": ("Status", "text")}
    return Slide("bookings", "Bookings against target", sentence, tiles, chart, trend[list(columns)], trend[list(columns)],
                 columns, _notes("won_amount", "target", "attainment", target=t, currency=cc, extra=s.compare_text()),
                 {"won_amount": cur["won_amount"], "target": t.amount, "attainment": cur["attainment"]})


def story(ws, f: Filters) -> Slide:
    """Where the quarter came from: bookings and attainment by region (by team inside one region)."""
    by, label = _split_field(ws, f)
    rows = _story_rows(ws, f, by)
    cc, word = ws.settings.currency, _word(f.period)
    plural = {"Region": "regions", "Team": "teams"}[label]
    if rows.empty or rows["won_amount"].max() <= 0:
        sentence = f"Nothing was booked in {f.period.label} in any of the {plural} yet."
    else:
        ranked = rows.sort_values("won_amount", ascending=False)
        top = ranked.iloc[0]
        sentence = (f"{top['group']} {'carried' if f.period.end <= f.as_of else 'leads'} the {word} with "
                    f"{_money(top['won_amount'], cc)}"
                    + (f" ({K['attainment'].format(top['attainment'])} of its target)" if top["attainment"] == top["attainment"] else ""))
        with_target = rows.dropna(subset=["attainment"])
        if len(with_target) > 1:
            low = with_target.sort_values("attainment").iloc[0]
            if low["group"] != top["group"]:
                sentence += f"; {low['group']} reached {K['attainment'].format(low['attainment'])} of its target"
        sentence += "."
    chart = charts.group_bookings(rows, cc, label, f"Bookings by {label.lower()} vs target",
                                  "Bars: bookings. Grey ticks: each one's own target.") if not rows.empty else None
    columns = {"group": (label, "text"), "won_amount": ("Bookings", "money"), "target": ("Target", "money"),
               "attainment": ("Attainment", "pct"), "won_count": ("Deals won", "count"), "win_rate": ("Win rate", "pct"),
               "target_label": ("Target used", "text")}
    table = rows[list(columns)]
    return Slide("story", f"Where the {word} came from", sentence, [], chart, table, table, columns,
                 _notes("won_amount", "attainment", "win_rate", extra=f"Split by {label.lower()}; each {label.lower()}'s "
                        "target follows the one target rule (its own target, else the sum of its reps' targets)."),
                 {"by": by, "rows": rows[["group", "won_amount", "attainment"]].to_dict(orient="records")})


def wins(ws, f: Filters) -> Slide:
    """Wins, losses and win rate (with its 80% interval), deal size and cycle."""
    b = _basis(ws, f)
    s, cur, prev, cc = b.standing, b.standing.current, b.standing.previous, ws.settings.currency
    label = s.compare_label

    def tile(name, title=None, note=None):
        d = K[name].delta(cur[name], prev[name], cc)
        return Tile(title or K[name].label, K[name].format(cur[name], cc), note or (f"{d} {label}" if d else None))

    closed = cur["won_count"] + cur["lost_count"]
    interval = (f"80% interval {K['win_rate'].format(cur['win_rate_low'])}–{K['win_rate'].format(cur['win_rate_high'])}"
                if closed else None)
    tiles = [tile("won_count"), tile("lost_count"), tile("win_rate", note=interval), tile("avg_deal_size"), tile("avg_cycle_days")]
    if closed:
        wr_change = K["win_rate"].delta(cur["win_rate"], prev["win_rate"])
        sentence = (f"{cur['won_count']:,} deals won and {cur['lost_count']:,} lost: a {K['win_rate'].format(cur['win_rate'])} "
                    f"win rate" + (f", {wr_change} {label}" if wr_change else "")
                    + f"; the average deal was {K['avg_deal_size'].format(cur['avg_deal_size'], cc)}"
                    + f" and took {K['avg_cycle_days'].format(cur['avg_cycle_days'])} to close.")
    else:
        sentence = f"No deal has closed in {f.period.label} yet."
    trend = s.trend
    chart = charts.wins_and_losses(trend, _word(f.period))
    columns = {"period": ("Period", "text"), "won_count": ("Deals won", "count"), "lost_count": ("Deals lost", "count"),
               "win_rate": ("Win rate", "pct"), "avg_deal_size": ("Average deal size", "money"),
               "avg_cycle_days": ("Sales cycle", "days")}
    return Slide("wins", "Wins, losses and win rate", sentence, tiles, chart, trend[list(columns)], trend[list(columns)],
                 columns, _notes("won_count", "lost_count", "win_rate", "avg_deal_size", "avg_cycle_days", extra=s.compare_text()),
                 {"won_count": cur["won_count"], "lost_count": cur["lost_count"], "win_rate": cur["win_rate"]})


def teams(ws, f: Filters) -> Slide:
    """Team highlights: each team's bookings against its target.

    Seam: switches to the leaderboard module's team roll-up when it lands; today it is
    metrics.kpis by team (the numbers the Team page's roll-up will show)."""
    rows = _story_rows(ws, f, S.TEAM)
    cc = ws.settings.currency
    with_target = rows.dropna(subset=["attainment"])
    if rows.empty:
        sentence = f"No team has deals or a target in {f.period.label}."
    elif len(with_target):
        best = with_target.sort_values("attainment", ascending=False).iloc[0]
        reached = int((with_target["attainment"] >= 1).sum())
        sentence = (f"{reached} of {len(with_target)} teams reached their target; {best['group']} led with "
                    f"{K['attainment'].format(best['attainment'])} ({_money(best['won_amount'], cc)}).")
    else:
        best = rows.sort_values("won_amount", ascending=False).iloc[0]
        sentence = f"No team has a target; {best['group']} booked most ({_money(best['won_amount'], cc)})."
    chart = charts.group_bookings(rows, cc, "Team", "Bookings by team vs target",
                                  "Bars: bookings. Grey ticks: the team's target.") if not rows.empty else None
    columns = {"group": ("Team", "text"), "won_amount": ("Bookings", "money"), "target": ("Target", "money"),
               "attainment": ("Attainment", "pct"), "win_rate": ("Win rate", "pct"), "avg_deal_size": ("Average deal size", "money"),
               "open_pipeline": ("Open pipeline", "money")}
    table = rows[list(columns)]
    return Slide("teams", "Team highlights", sentence, [], chart, table, table, columns,
                 _notes("won_amount", "attainment", "win_rate", "avg_deal_size", "open_pipeline"),
                 {"rows": rows[["group", "won_amount", "attainment"]].to_dict(orient="records")})


def rep_movers(ws, f: Filters, n: int = 5) -> pd.DataFrame:
    """Each rep's bookings this period and in the comparison period (as the Overview compares),
    with the change; the ``n`` largest gains and the ``n`` largest drops. Columns: owner,
    won_amount, previous, change, attainment, target.

    Seam: the leaderboard module's movers replace this when it lands."""
    s = overview.standing(ws, f)
    cur = metrics.kpis(ws, f, S.OWNER).set_index("group")
    prev = metrics.kpis(ws, f, S.OWNER, period=s.compare, as_of=s.compare_as_of).set_index("group")
    names = cur.index.union(prev.index)
    k = K["won_amount"]
    frame = pd.DataFrame({S.OWNER: [str(x) for x in names],
                          "won_amount": cur["won_amount"].reindex(names).fillna(0.0).to_numpy(),
                          "previous": prev["won_amount"].reindex(names).fillna(0.0).to_numpy(),
                          "attainment": cur["attainment"].reindex(names).to_numpy(),
                          "target": cur["target"].reindex(names).to_numpy()})
    frame["change"] = [k.change(a, b) for a, b in zip(frame["won_amount"], frame["previous"])]
    owners = f.owners(ws)
    if owners is not None:
        frame = frame[frame[S.OWNER].isin(owners)]
    up = frame[frame["change"] > 0].nlargest(n, "change")
    down = frame[frame["change"] < 0].nsmallest(n, "change")
    return pd.concat([up, down], ignore_index=True)


def new_hires(ws, f: Filters, months: int = 12) -> pd.DataFrame:
    """Reps hired in the last ``months`` before the as-of date (ramp.rep_ramp) with this
    period's bookings, target and attainment (metrics.kpis by rep); ``ahead`` = reached
    their own (ramped) target, ``None`` without one.

    Seam: the leaderboard module's "ahead of ramp" replaces this rule when it lands."""
    r = ramp.rep_ramp(f.deals(ws), ws.reps, f.as_of)
    cols = [S.OWNER, S.HIRE_DATE, "tenure_months", "first_win_date", "won_amount", "target", "attainment", "ahead"]
    if r.empty:
        return pd.DataFrame(columns=cols)
    r = r[(r["tenure_months"] <= months) & (r[S.HIRE_DATE] <= pd.Timestamp(f.as_of))]
    owners = f.owners(ws)
    if owners is not None:
        r = r[r[S.OWNER].isin(owners)]
    cur = metrics.kpis(ws, f, S.OWNER).set_index("group")
    out = r[[S.OWNER, S.HIRE_DATE, "tenure_months", "first_win_date"]].copy()
    out["tenure_months"] = out["tenure_months"].astype(float).round().astype(int)
    out["won_amount"] = out[S.OWNER].map(cur["won_amount"]).fillna(0.0)
    out["target"] = out[S.OWNER].map(cur["target"])
    out["attainment"] = out[S.OWNER].map(cur["attainment"])
    out["ahead"] = [None if a != a else bool(a >= 1) for a in out["attainment"]]
    return out[cols].reset_index(drop=True)


def reps(ws, f: Filters) -> Slide:
    """Rep highlights: the biggest movers against the comparison period, and the new hires
    against their ramped targets."""
    s = overview.standing(ws, f)
    cc = ws.settings.currency
    movers = rep_movers(ws, f)
    hires = new_hires(ws, f)
    k = K["won_amount"]
    up = movers[movers["change"] > 0]
    down = movers[movers["change"] < 0]
    judged = hires.dropna(subset=["attainment"])
    ahead = judged[judged["ahead"] == True]  # noqa: E712
    parts = []
    if len(up):
        parts.append(f"{up.iloc[0][S.OWNER]} gained most ({k.delta(up.iloc[0]['won_amount'], up.iloc[0]['previous'], cc)} {s.compare_label})")
    if len(down):
        parts.append(f"{down.iloc[0][S.OWNER]} fell most ({k.delta(down.iloc[0]['won_amount'], down.iloc[0]['previous'], cc)})")
    sentence = ", ".join(parts) if parts else f"No rep's bookings moved {s.compare_label}"
    if len(judged):
        sentence += (f"; {len(ahead)} of {len(judged)} new hire{'s' if len(judged) != 1 else ''} with a target "
                     f"reached {'their' if len(judged) != 1 else 'the'} ramped target")
    elif len(hires):
        sentence += f"; {len(hires)} new hires have no target yet"
    sentence += "."
    tiles = []
    if len(up):
        tiles.append(Tile("Biggest gain", up.iloc[0][S.OWNER], f"{k.delta(up.iloc[0]['won_amount'], up.iloc[0]['previous'], cc)} {s.compare_label}"))
    if len(down):
        tiles.append(Tile("Biggest drop", down.iloc[0][S.OWNER], f"{k.delta(down.iloc[0]['won_amount'], down.iloc[0]['previous'], cc)} {s.compare_label}"))
    tiles.append(Tile("New hires ahead of ramp", f"{len(ahead)} of {len(judged)}" if len(judged) else "–",
                      ", ".join(ahead[S.OWNER].astype(str).head(3)) or (f"{len(hires)} new hires" if len(hires) else "no new hires")))
    chart = charts.movers(movers, cc, f"Biggest movers in bookings, {s.compare_label}",
                          f"{f.period.label} against {s.compare.label}" + (" up to the same day" if s.in_progress else "")) \
        if not movers.empty else None
    columns = {S.OWNER: ("New hire", "text"), S.HIRE_DATE: ("Hired", "date"), "tenure_months": ("Months in role", "count"),
               "first_win_text": ("First win", "text"), "won_amount": ("Bookings", "money"), "target": ("Target", "money"),
               "attainment": ("Attainment", "pct"), "ahead_text": ("Ramp", "text")}
    table = hires.assign(first_win_text=[f"{pd.Timestamp(d):%d %b %Y}" if pd.notna(d) else "no win yet" for d in hires["first_win_date"]],
                         ahead_text=[("reached their target" if a else "behind their target") if a is not None else "no target"
                                     for a in hires["ahead"]])
    return Slide("reps", "Rep highlights: top movers and new hires", sentence, tiles, chart,
                 movers.rename(columns={S.OWNER: "Rep", "won_amount": "Bookings", "previous": f"Bookings, {s.compare.label}",
                                        "change": "Change", "attainment": "Attainment", "target": "Target"}),
                 table[list(columns)], columns,
                 _notes("won_amount", "attainment",
                        extra=f"Movers: change in bookings per rep {s.compare_label} ({s.compare_text()}). New hires: hired in "
                              "the 12 months before the as-of date; 'ahead of ramp' = reached their own (ramped) target."),
                 {"movers": movers.to_dict(orient="records"), "new_hires": len(hires), "ahead": len(ahead)})


def _movement_snapshots(ws, f: Filters) -> tuple[str, str] | None:
    dates = [d for d in ws.snapshot_dates if d <= f.as_of.isoformat()]
    if len(dates) < 2:
        return None
    return pipeline.period_snapshots(dates, f.period.start, f.period.end)


def movement(ws, f: Filters) -> Slide:
    """How the period's pipeline moved between the snapshots around it (the waterfall of the
    Pipeline page, pipeline.movement_for)."""
    cc = ws.settings.currency
    snaps = _movement_snapshots(ws, f)
    title = "How the pipeline moved"
    if snaps is None or snaps[1] <= snaps[0]:
        return Slide("movement", title, "Pipeline movement needs two snapshots of the CRM export up to the as-of date; "
                     "import the export again on a later date to see it.", notes=_notes("open_pipeline"))
    a, b = snaps
    m = pipeline.movement_for(ws, f, a, b)
    wf = m.waterfall.set_index("step")
    amt = lambda step: wf.loc[step, "amount"]  # noqa: E731
    added = amt("created") + amt("pulled_in")
    day = lambda iso: f"{pd.Timestamp(iso):%d %b %Y}"  # noqa: E731
    sentence = (f"The {_word(f.period)} opened with {_money(amt('start'), cc)} of pipeline on {day(a)}; {_money(added, cc)} came "
                f"in, {_money(amt('pushed_out'), cc)} was pushed out, {_money(amt('won'), cc)} won and {_money(amt('lost'), cc)} "
                f"lost, leaving {_money(amt('end'), cc)} open on {day(b)}.")
    tiles = [Tile("Start of period", _money(amt("start"), cc), f"{int(wf.loc['start', 'count']):,} deals on {day(a)}"),
             Tile("Added", _money(added, cc), f"{int(wf.loc['created', 'count'] + wf.loc['pulled_in', 'count']):,} deals"),
             Tile("Pushed out", _money(amt("pushed_out"), cc), f"{int(wf.loc['pushed_out', 'count']):,} deals"),
             Tile("Won", _money(amt("won"), cc), f"{int(wf.loc['won', 'count']):,} deals"),
             Tile("End", _money(amt("end"), cc), f"{int(wf.loc['end', 'count']):,} deals on {day(b)}")]
    chart = pipeline_charts.waterfall_chart(m.waterfall, cc, f"How the {f.period.label} pipeline moved",
                                            f"Open deals closing in {f.period.label}: snapshot of {day(a)} to snapshot of {day(b)}.")
    table = m.waterfall[["label", "amount", "count"]]
    columns = {"label": ("Step", "text"), "amount": ("Amount", "money"), "count": ("Deals", "count")}
    return Slide("movement", title, sentence, tiles, chart, table, table, columns,
                 _notes("open_pipeline", extra="Start + created + pulled in − pushed out ± amount changes − won − lost − "
                        "removed = end (docs/pipeline.md). Won, lost and end at the later snapshot's amounts."),
                 {"from": a, "to": b, "waterfall": m.waterfall[["step", "amount", "count"]].to_dict(orient="records")})


def forecast_calls(ws, f: Filters) -> pd.DataFrame:
    """What was called for the period: each landing zone saved on the Forecast page for this
    period and slice, and the landing zone re-run as of the period's first day on the data
    known then (outlook.landing_zone); with what landed (metrics, as of the as-of date).
    Columns: call, as_of, p10, p50, p90, actual, error (actual vs median call), inside.

    Seam: the forecasting package's saved-forecast accuracy replaces the saved-run lookup
    when it lands."""
    cols = ["call", "as_of", "p10", "p50", "p90", "actual", "error", "inside"]
    p = f.period
    if f.as_of < p.start:
        return pd.DataFrame(columns=cols)
    actual = metrics.team(ws, f)["won_amount"] if p.end <= f.as_of else float("nan")
    rows = []
    wanted = {k: sorted(v) for k, v in f.cuts().items()}
    try:
        saved = ws.saved("forecast_runs", kind="landing")
    except SalesopsError:
        saved = pd.DataFrame()
    for r in saved.itertuples(index=False) if len(saved) else []:
        payload = ws.load_saved("forecast_runs", r.name, r.version) or {}
        if payload.get("period") != p.label or {k: sorted(v) for k, v in (payload.get("filters") or {}).items()} != wanted:
            continue
        rows.append({"call": f"{r.name} v{r.version} (saved)", "as_of": payload.get("as_of"), "p10": payload.get("p10"),
                     "p50": payload.get("p50"), "p90": payload.get("p90")})
    try:
        lz = outlook.summary(outlook.landing_zone(ws, f.with_period(p, as_of=p.start)))
        rows.append({"call": f"Re-run as of {p.start:%d %b %Y}", "as_of": p.start.isoformat(),
                     "p10": lz["p10"], "p50": lz["p50"], "p90": lz["p90"]})
    except InputError:
        pass
    out = pd.DataFrame(rows, columns=["call", "as_of", "p10", "p50", "p90"])
    out["actual"] = actual
    out["error"] = [K["won_amount"].relative(actual, c) for c in out["p50"]]
    out["inside"] = [None if actual != actual else bool(lo <= actual <= hi) for lo, hi in zip(out["p10"], out["p90"])]
    return out[cols]


def forecast(ws, f: Filters) -> Slide:
    """Forecast accuracy: what was called for the period against what landed."""
    cc = ws.settings.currency
    calls = forecast_calls(ws, f)
    title = "Forecast accuracy: what we called vs what landed"
    if calls.empty:
        return Slide("forecast", title, f"Nothing was called for {f.period.label}: it has not started on {f.as_of:%d %b %Y}.",
                     notes=_notes("won_amount"))
    first = calls.iloc[-1]
    call_text = (f"On {pd.Timestamp(first['as_of']):%d %b} the landing zone called {_money(first['p50'], cc)} "
                 f"(80% range {_money(first['p10'], cc)}–{_money(first['p90'], cc)})")
    landed = first["actual"] == first["actual"]
    if landed:
        side = "inside the range" if first["inside"] else ("above the range" if first["actual"] > first["p90"] else "below the range")
        err = first["error"]
        sentence = (f"{call_text}; {f.period.label} landed at {_money(first['actual'], cc)}, {side}, "
                    f"{abs(err):.0%} {'above' if err >= 0 else 'below'} the call.") if err is not None else f"{call_text}."
    else:
        sentence = f"{call_text}; {f.period.label} is still running, so what landed is not known yet."
    tiles = [Tile("Called", _money(first["p50"], cc), f"on {pd.Timestamp(first['as_of']):%d %b %Y}"),
             Tile("80% range", f"{_money(first['p10'], cc)} – {_money(first['p90'], cc)}", "P10 – P90"),
             Tile("Landed", _money(first["actual"], cc) if landed else "not yet", f"bookings of {f.period.label}"),
             Tile("Off by", f"{abs(first['error']):.0%}" if landed and first["error"] is not None else "–",
                  ("inside the range" if first["inside"] else "outside the range") if landed else None)]
    chart = charts.calls_vs_actual(calls, cc, f"What was called for {f.period.label}",
                                   "Blue bar: the 80% range; dark tick: the median call; green line: what landed.")
    columns = {"call": ("Call", "text"), "as_of": ("Called on", "date"), "p10": ("P10", "money"), "p50": ("Median call", "money"),
               "p90": ("P90", "money"), "actual": ("Landed", "money"), "error": ("Landed vs call", "pct")}
    return Slide("forecast", title, sentence, tiles, chart, calls, calls, columns,
                 _notes("won_amount", extra="The landing zone: booked to date + open pipeline at learned win odds + new "
                        "business still to come, a calibrated 80% range (docs/forecasting.md). A re-run call uses only the "
                        "data known on its date."),
                 {"calls": calls.to_dict(orient="records")})


def next_goals(ws, f: Filters) -> pd.DataFrame:
    """The goals of the next period: each rep's published target (what the Goals page
    publishes) with the open pipeline closing in it. Columns: group, target, open_pipeline,
    coverage.

    Seam: the goals module's per-rep probability of attainment joins here when it lands."""
    rows = metrics.kpis(ws, f, S.OWNER)
    rows = rows[rows["target"].notna()]
    return rows[["group", "target", "open_pipeline", "coverage"]].sort_values("target", ascending=False, ignore_index=True)


def next_period(ws, f: Filters) -> Slide:
    """Next quarter: its target and goals, the pipeline closing in it, coverage and the
    landing zone."""
    cal, cc = ws.settings.calendar, ws.settings.currency
    nxt = cal.shift(f.period, 1)
    fn = f.with_period(nxt)
    cur = metrics.team(ws, fn)
    t = fn.target(ws)
    lz = None
    try:
        lz = outlook.summary(outlook.landing_zone(ws, fn))
    except InputError:
        pass
    goals = next_goals(ws, fn)
    need = cur["required_coverage"]
    sentence = (f"{nxt.label}: " + (f"a {_money(t.amount, cc)} {t.label} with " if t.has_target else "no target yet; ")
                + f"{_money(cur['open_pipeline'], cc)} of open pipeline"
                + (f" ({K['coverage'].format(cur['coverage'])} coverage"
                   + (f", {K['required_coverage'].format(need)} needed at the current win rate" if need == need else "") + ")"
                   if cur["coverage"] == cur["coverage"] else "")
                + (f"; the likely landing is {_money(lz['p50'], cc)} (80%: {_money(lz['p10'], cc)}–{_money(lz['p90'], cc)})" if lz else "")
                + ".")
    tiles = [Tile("Target", _money(t.amount, cc), t.label if t.has_target else "no target set"),
             Tile("Open pipeline", _money(cur["open_pipeline"], cc), f"{cur['open_count']:,} deals"),
             Tile("Coverage", K["coverage"].format(cur["coverage"]),
                  f"needs {K['required_coverage'].format(need)}" if need == need else "no win rate yet"),
             Tile("Likely landing", _money(lz["p50"], cc) if lz else "–",
                  f"80%: {_money(lz['p10'], cc)} – {_money(lz['p90'], cc)}" if lz else "not estimated"),
             Tile("Rep goals", _money(t.rep_sum, cc) if t.rep_sum is not None else "–",
                  f"{t.reps} reps' targets" if t.rep_sum is not None else "none published")]
    chart = chart_data = None
    if lz:
        zone = pd.DataFrame({"part": ["Booked to date", "Open pipeline (expected)", "New business (expected)"],
                             "amount": [lz["closed_won"], lz["open_expected"], lz["new_expected"]]})
        zone = zone.assign(p10=lz["p10"], p90=lz["p90"], target=t.amount if t.has_target else float("nan"))
        chart = charts.landing_vs_target(zone, cc, f"Where {nxt.label} will land",
                                         "Bars: booked + expected from the pipeline + new business. Black line: 80% range. Grey tick: the target.")
        chart_data = zone.rename(columns={"part": "Part", "amount": "Amount", "p10": "P10", "p90": "P90", "target": "Target"})
    columns = {"group": ("Rep", "text"), "target": ("Goal (published target)", "money"),
               "open_pipeline": ("Open pipeline", "money"), "coverage": ("Coverage", "ratio")}
    return Slide("next", f"Next {_word(f.period)}: {nxt.label}", sentence, tiles, chart, chart_data, goals, columns,
                 _notes("target", "open_pipeline", "coverage", "required_coverage", target=t, currency=cc,
                        extra="Likely landing: the landing zone of the Forecast page for the next period, as known on the "
                              "as-of date. Goals: the rep targets published for the period (Goals page)."),
                 {"period": nxt.label, "target": t.amount, "open_pipeline": cur["open_pipeline"], "coverage": cur["coverage"],
                  "landing": lz})


#: The slides in order: key -> (index title, function). One function per slide.
SLIDES = {
    "cover": ("At a glance", cover),
    "bookings": ("Bookings against target", bookings),
    "story": ("Where it came from", story),
    "wins": ("Wins, losses and win rate", wins),
    "teams": ("Team highlights", teams),
    "reps": ("Rep highlights", reps),
    "movement": ("Pipeline movement", movement),
    "forecast": ("Forecast accuracy", forecast),
    "next": ("Next period", next_period),
}


#: What each slide shows, for the cover's agenda.
ABOUT = {"cover": "the headline and the four numbers asked first", "bookings": "bookings, target, attainment, 8 quarters",
         "story": "which regions (or teams) carried the period", "wins": "deals won and lost, win rate, deal size, cycle",
         "teams": "each team against its target", "reps": "biggest movers, new hires against ramp",
         "movement": "the pipeline waterfall between snapshots", "forecast": "what was called against what landed",
         "next": "next period: target, pipeline, coverage, landing zone, goals"}


def slide(ws, f: Filters, key: str) -> Slide:
    """One slide of the review of the filters' period (what the page shows)."""
    if key not in SLIDES:
        raise InputError(f"there is no slide {key!r}; the slides are {', '.join(SLIDES)}")
    s = SLIDES[key][1](ws, f)
    if s.chart is not None:
        s.chart = charts.for_screen(s.chart)
    return s


def sources(ws) -> str:
    """The imports the workspace was built from, in words (the deck's footer)."""
    name = ws.settings.workspace_name or "the workspace"
    if not ws.path or ws.path == ":memory:":
        return f"{name} (in memory)"
    with store.connect(ws.path) as conn:
        imports = store.load_imports(conn)
    if not imports.empty and "status" in imports.columns:
        imports = imports[imports["status"] == "applied"]
    if imports.empty:
        return f"{name}: no imports (demo or entered in the app), {ws.summary.get('deals', 0):,} deals"
    shown = [f"{r.file_name} (import {r.id}, as of {r.as_of})" for r in imports.head(3).itertuples(index=False)]
    more = f" and {len(imports) - 3} earlier" if len(imports) > 3 else ""
    return f"{len(imports)} import{'s' if len(imports) != 1 else ''}: " + "; ".join(shown) + more


def build(ws, f: Filters, keys: list[str] | None = None) -> Review:
    """The whole review (every slide, or ``keys``) of the filters' period on their as-of date."""
    if ws.empty:
        raise InputError("there are no deals in this workspace; import an export or load the demo first")
    chosen = keys or list(SLIDES)
    return Review(f.period.label, f.as_of, f.describe(), ws.settings.currency, ws.settings.workspace_name,
                  [slide(ws, f, k) for k in chosen], sources(ws), metrics.definitions_version())
