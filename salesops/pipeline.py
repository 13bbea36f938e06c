"""Pipeline health: the stage funnel, where deals leak, time to close, and pipeline movement
between two snapshots (the waterfall), push counts and deals at risk.

Inputs are the frames of :mod:`salesops.store`:

* stage history ``(opportunity_id, stage, entered_at)`` from :func:`store.load_stage_history`,
  or derived from successive snapshots with :func:`history_from_snapshots`;
* snapshots ``(as_of, opportunity_id, owner, stage, status, amount, created_date, close_date,
  probability, forecast_category, import_id)`` from :func:`store.load_snapshots`;
* deals (the current ``opportunities``) from :func:`store.load_deals`;
* the stage map ``{stage_key: StageRule}`` from :func:`store.stage_rules`.

Every function returns plain DataFrames; nothing here touches the database or Streamlit.

Funnel rules (docs/pipeline.md says the same in words):

* Stages are ordered by the stage map; stages it does not know come after the known ones,
  ordered among themselves by where they typically occur in a deal's life.
* A deal's *level* is the highest funnel order it ever entered; a deal whose history ends in a
  won stage has passed every stage; every deal has at least entered the first stage.
  ``reached`` counts deals whose level is at or beyond a stage (the usual "reached this stage
  or later" funnel; skipped stages count as passed).
* ``conversion`` of a stage = deals that went beyond it / (those + deals lost while it was their
  furthest stage). Deals still open there have not decided yet and are left out.
* Time in stage: consecutive rows of the same stage are one spell (Salesforce writes a history
  row for amount or date changes too); a spell ends when the next different stage is entered.
  ``median_days`` is over finished spells; spells still running are counted in ``in_stage_now``.

Movement rules: see :func:`movement`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import schema as S
from .errors import InputError

# --- common ------------------------------------------------------------------------------------
WON_LEVEL = 10_000  # a won deal's funnel level: beyond every open stage
UNKNOWN_ORDER = 1_000  # stages the map does not know come after the known open stages
ALL = "all"


def _ts(d) -> pd.Timestamp:
    return pd.Timestamp(d).normalize()


def _rule(rules: dict, stage) -> S.StageRule | None:
    if stage is None or (isinstance(stage, float) and np.isnan(stage)):
        return None
    return rules.get(S.stage_key(stage))


def _stage_info(stages: pd.Series, rules: dict) -> pd.DataFrame:
    """status and order per distinct stage text (unknown stages: open, after the known ones)."""
    uniq = pd.Series(stages.dropna().unique())
    rows = []
    for st in uniq:
        r = _rule(rules, st)
        rows.append({"stage": st, "key": S.stage_key(st),
                     "status": r.status if r else S.OPEN,
                     "order": r.order if r else UNKNOWN_ORDER,
                     "known": r is not None})
    return pd.DataFrame(rows, columns=["stage", "key", "status", "order", "known"])


# --- stage history ---------------------------------------------------------------------------------
def history_from_snapshots(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Stage history derived from successive snapshots: a row each time a deal shows a stage
    different from its previous snapshot.

    ``entered_at`` is the snapshot date that first shows the stage (the change happened at or
    before it); a deal's first stage is dated by its created_date when that is known and not
    later than the snapshot. Returns (opportunity_id, stage, entered_at)."""
    cols = [S.OPPORTUNITY_ID, S.STAGE, S.ENTERED_AT]
    if snapshots is None or snapshots.empty:
        return pd.DataFrame(columns=cols)
    snap = snapshots.dropna(subset=[S.STAGE]).sort_values([S.OPPORTUNITY_ID, S.AS_OF], kind="stable")
    key = snap[S.STAGE].map(S.stage_key)
    prev = key.groupby(snap[S.OPPORTUNITY_ID]).shift()
    first = prev.isna()
    changed = first | (key != prev)
    out = snap.loc[changed, [S.OPPORTUNITY_ID, S.STAGE, S.AS_OF, S.CREATED_DATE]].copy()
    is_first = first[changed]
    created = pd.to_datetime(out[S.CREATED_DATE])
    use_created = is_first & created.notna() & (created <= out[S.AS_OF])
    out[S.ENTERED_AT] = out[S.AS_OF].where(~use_created, created)
    return out[cols].reset_index(drop=True)


def stage_visits(history: pd.DataFrame, rules: dict, as_of=None) -> pd.DataFrame:
    """One row per spell a deal spent in a stage.

    Columns: opportunity_id, stage, key, status, order, entered_at, left_at (the next different
    stage's entry; NaT while still there), days (finished spells), age_days (running spells, to
    ``as_of``), finished. Rows with no stage or no date are dropped."""
    cols = [S.OPPORTUNITY_ID, S.STAGE, "key", "status", "order", S.ENTERED_AT, "left_at",
            "days", "age_days", "finished"]
    if history is None or history.empty:
        return pd.DataFrame(columns=cols)
    h = history[[S.OPPORTUNITY_ID, S.STAGE, S.ENTERED_AT]].copy()
    h[S.ENTERED_AT] = pd.to_datetime(h[S.ENTERED_AT], errors="coerce")
    h = h.dropna(subset=[S.OPPORTUNITY_ID, S.STAGE, S.ENTERED_AT])
    h = h[h[S.STAGE].astype(str).str.strip() != ""]
    if h.empty:
        return pd.DataFrame(columns=cols)
    info = _stage_info(h[S.STAGE], rules).set_index("stage")
    h["key"] = h[S.STAGE].map(info["key"])
    h["status"] = h[S.STAGE].map(info["status"])
    h["order"] = h[S.STAGE].map(info["order"])
    h = h.sort_values([S.OPPORTUNITY_ID, S.ENTERED_AT, "order"], kind="stable")
    unknown = (h["order"] == UNKNOWN_ORDER) & (h["status"] == S.OPEN)
    if unknown.any():
        # stages the map does not know: ordered among themselves by where they typically occur
        # in a deal's life (median position of their rows), after the known stages
        pos = h.groupby(S.OPPORTUNITY_ID).cumcount()
        typical = pos[unknown].groupby(h.loc[unknown, "key"]).median().sort_index(kind="stable")
        rank = typical.rank(method="first").astype(int)
        h.loc[unknown, "order"] = UNKNOWN_ORDER + h.loc[unknown, "key"].map(rank)
        h = h.sort_values([S.OPPORTUNITY_ID, S.ENTERED_AT, "order"], kind="stable")
    prev_key = h.groupby(S.OPPORTUNITY_ID)["key"].shift()
    h = h[prev_key.isna() | (h["key"] != prev_key)].copy()
    h["left_at"] = h.groupby(S.OPPORTUNITY_ID)[S.ENTERED_AT].shift(-1)
    h["finished"] = h["left_at"].notna()
    h["days"] = (h["left_at"] - h[S.ENTERED_AT]).dt.days.astype(float)
    if as_of is not None:
        age = (_ts(as_of) - h[S.ENTERED_AT]).dt.days.astype(float)
        h["age_days"] = age.where(~h["finished"] & (h["status"] == S.OPEN))
    else:
        h["age_days"] = np.nan
    return h[cols].reset_index(drop=True)


def deal_levels(visits: pd.DataFrame) -> pd.DataFrame:
    """Per deal: ``level`` (furthest funnel order entered; WON_LEVEL when the history ends
    won), ``final_status`` (status of the last stage) and ``final_stage``."""
    if visits.empty:
        return pd.DataFrame(columns=[S.OPPORTUNITY_ID, "level", "final_status", "final_stage"])
    g = visits.groupby(S.OPPORTUNITY_ID, sort=False)
    last = g.tail(1).set_index(S.OPPORTUNITY_ID)
    open_max = visits[visits["status"] == S.OPEN].groupby(S.OPPORTUNITY_ID)["order"].max()
    out = pd.DataFrame({"final_status": last["status"], "final_stage": last[S.STAGE]})
    out["level"] = open_max.reindex(out.index).astype(float)
    out.loc[out["final_status"] == S.WON, "level"] = WON_LEVEL
    return out.reset_index()[[S.OPPORTUNITY_ID, "level", "final_status", "final_stage"]]


FUNNEL_COLUMNS = ["stage", "order", "reached", "reached_share", "advanced", "lost", "open",
                  "conversion", "drop_rate", "median_days", "mean_days", "spells", "in_stage_now"]


def funnel(history: pd.DataFrame, rules: dict, as_of=None, *, visits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Stage-to-stage conversion and time in stage, one row per open stage in funnel order,
    then a "Won" row (``reached`` = won deals).

    Columns: stage, order, reached (deals at or beyond the stage), reached_share (of the first
    stage), advanced (went beyond it), lost (lost with this as furthest stage), open (still
    open with this as furthest stage), conversion = advanced / (advanced + lost), drop_rate =
    1 - conversion, median_days / mean_days (finished spells), spells (finished), in_stage_now
    (open deals whose current spell is in this stage)."""
    v = stage_visits(history, rules, as_of) if visits is None else visits
    if v.empty:
        return pd.DataFrame(columns=FUNNEL_COLUMNS)
    open_v = v[v["status"] == S.OPEN]
    # funnel stages: the open stages that occur, by order; display text = the commonest spelling
    stages = (open_v.groupby("key").agg(order=("order", "min"),
                                       stage=(S.STAGE, lambda s: s.value_counts().index[0]))
              .sort_values(["order", "stage"]).reset_index())
    levels = deal_levels(v)
    if stages.empty:
        first_order = 0
    else:
        first_order = stages["order"].iloc[0]
    lvl = levels["level"].fillna(first_order).clip(lower=first_order).to_numpy()
    final = levels["final_status"].to_numpy()
    rows = []
    orders = list(stages["order"]) + [WON_LEVEL]
    # stages that share an order (unknown stages) are separate rows with the same order: use
    # the position for "beyond" instead of the order value
    for i, st in stages.iterrows():
        here = orders[i]
        nxt = orders[i + 1]
        if nxt == here:  # same order: treat as one step
            nxt = next((o for o in orders[i + 1:] if o > here), WON_LEVEL)
        reached = int((lvl >= here).sum())
        advanced = int((lvl >= nxt).sum())
        stuck = (lvl >= here) & (lvl < nxt)
        lost = int((stuck & (final == S.LOST)).sum())
        still = int((stuck & (final == S.OPEN)).sum())
        spells = open_v[(open_v["key"] == st["key"]) & open_v["finished"]]["days"]
        now = open_v[(open_v["key"] == st["key"]) & ~open_v["finished"]]
        decided = advanced + lost
        conv = advanced / decided if decided else np.nan
        rows.append({"stage": st["stage"], "order": here, "reached": reached, "advanced": advanced,
                     "lost": lost, "open": still, "conversion": conv,
                     "drop_rate": 1 - conv if decided else np.nan,
                     "median_days": float(spells.median()) if len(spells) else np.nan,
                     "mean_days": float(spells.mean()) if len(spells) else np.nan,
                     "spells": int(len(spells)), "in_stage_now": int(len(now))})
    won = int((final == S.WON).sum())
    rows.append({"stage": "Won", "order": WON_LEVEL, "reached": won, "advanced": np.nan, "lost": np.nan,
                 "open": np.nan, "conversion": np.nan, "drop_rate": np.nan, "median_days": np.nan,
                 "mean_days": np.nan, "spells": 0, "in_stage_now": 0})
    out = pd.DataFrame(rows, columns=FUNNEL_COLUMNS)
    top = out["reached"].iloc[0] if len(out) else 0
    out["reached_share"] = out["reached"] / top if top else np.nan
    return out


def funnel_from_current(deals: pd.DataFrame, rules: dict) -> pd.DataFrame:
    """What current stages allow when there is no stage history and fewer than two snapshots:
    deals and amount per current stage (open stages in funnel order, then won, then lost).
    No conversion between stages can be measured from final stages alone."""
    cols = ["stage", "status", "order", "deals", "amount"]
    if deals is None or deals.empty:
        return pd.DataFrame(columns=cols)
    d = deals.copy()
    d[S.STAGE] = d[S.STAGE].fillna("(no stage)")
    g = d.groupby(S.STAGE).agg(deals=(S.OPPORTUNITY_ID, "size"), amount=(S.AMOUNT, "sum"),
                               status=(S.STATUS, lambda s: s.mode().iloc[0] if len(s.mode()) else S.OPEN)).reset_index()
    g["order"] = [(_rule(rules, s).order if _rule(rules, s) else UNKNOWN_ORDER) for s in g[S.STAGE]]
    rank = g["status"].map({S.OPEN: 0, S.WON: 1, S.LOST: 2}).fillna(0)
    g = g.assign(_r=rank).sort_values(["_r", "order", S.STAGE]).drop(columns="_r")
    return g.rename(columns={S.STAGE: "stage"})[cols].reset_index(drop=True)


@dataclass
class FunnelSource:
    """Which stage history drives the funnel: ``kind`` is "history" (imported), "snapshots"
    (derived from successive snapshots) or "none"; ``note`` says so in words."""

    kind: str
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    note: str = ""


def funnel_source(stage_history: pd.DataFrame | None, snapshots: pd.DataFrame | None) -> FunnelSource:
    """Prefer an imported stage history, else derive one from two or more snapshots."""
    if stage_history is not None and not stage_history.dropna(subset=[S.ENTERED_AT]).empty:
        n = stage_history[S.OPPORTUNITY_ID].nunique()
        return FunnelSource("history", stage_history, f"Funnel from the imported stage history ({n:,} deals).")
    if snapshots is not None and not snapshots.empty and snapshots[S.AS_OF].nunique() >= 2:
        k = snapshots[S.AS_OF].nunique()
        return FunnelSource("snapshots", history_from_snapshots(snapshots),
                            f"Funnel derived from {k} snapshots: a stage change is dated by the first snapshot "
                            "that shows it, so times in stage are approximate.")
    return FunnelSource("none", pd.DataFrame(columns=[S.OPPORTUNITY_ID, S.STAGE, S.ENTERED_AT]),
                        "No stage history and fewer than two snapshots: stage-to-stage conversion cannot be "
                        "measured. Import a stage history file (e.g. Salesforce Opportunity History) or a "
                        "second export on a later date. Shown instead: deals by their current stage.")


# --- leaks -------------------------------------------------------------------------------------------
def conversion_by(history: pd.DataFrame, rules: dict, deals: pd.DataFrame, by: str, as_of=None, *,
                  visits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Stage conversion per group (``by`` a column of ``deals``, joined on opportunity_id):
    the funnel columns plus ``group``. Deals without a value go to "(none)"."""
    visits = stage_visits(history, rules, as_of) if visits is None else visits
    if visits.empty or deals is None or by not in deals.columns:
        return pd.DataFrame(columns=["group", *FUNNEL_COLUMNS])
    groups = deals.set_index(S.OPPORTUNITY_ID)[by]
    groups = groups[~groups.index.duplicated()]
    g = visits[S.OPPORTUNITY_ID].map(groups)
    g = g.where(g.notna() & (g.astype(str).str.strip() != ""), "(none)")
    out = []
    for name, part in visits.groupby(g, sort=True):
        f = funnel(None, rules, as_of, visits=part)
        f.insert(0, "group", name)
        out.append(f)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["group", *FUNNEL_COLUMNS])


LEAK_COLUMNS = ["group", "stage", "conversion", "team_conversion", "gap", "decided", "lost", "deals"]


def leaks(history: pd.DataFrame, rules: dict, deals: pd.DataFrame, by: str, *, min_decided: int = 5,
          as_of=None) -> pd.DataFrame:
    """Where each group's deals leak: per group, the stage whose conversion falls furthest below
    the team's conversion at that stage (only stages where the group has at least
    ``min_decided`` decided deals). Columns: group, stage, conversion, team_conversion, gap
    (team - group, positive = worse than the team), decided, lost, deals (of the group).
    Groups with no stage meeting ``min_decided`` get stage None. Sorted by gap, largest first."""
    visits = stage_visits(history, rules, as_of)
    team = funnel(None, rules, as_of, visits=visits)
    per = conversion_by(None, rules, deals, by, as_of, visits=visits)
    if team.empty or per.empty:
        return pd.DataFrame(columns=LEAK_COLUMNS)
    team_conv = team.set_index("stage")["conversion"]
    per = per[per["stage"] != "Won"].copy()
    per["team_conversion"] = per["stage"].map(team_conv)
    per["decided"] = per["advanced"] + per["lost"]
    per["gap"] = per["team_conversion"] - per["conversion"]
    rows = []
    for name, part in per.groupby("group", sort=True):
        ok = part[(part["decided"] >= min_decided) & part["gap"].notna()]
        deals_n = int(part["reached"].max()) if len(part) else 0
        if ok.empty:
            rows.append({"group": name, "stage": None, "conversion": np.nan, "team_conversion": np.nan,
                         "gap": np.nan, "decided": int(part["decided"].max()) if len(part) else 0,
                         "lost": int(part["lost"].sum()), "deals": deals_n})
            continue
        worst = ok.loc[ok["gap"].idxmax()]
        rows.append({"group": name, "stage": worst["stage"], "conversion": worst["conversion"],
                     "team_conversion": worst["team_conversion"], "gap": worst["gap"],
                     "decided": int(worst["decided"]), "lost": int(worst["lost"]), "deals": deals_n})
    out = pd.DataFrame(rows, columns=LEAK_COLUMNS)
    return out.sort_values("gap", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def team_leak(funnel_frame: pd.DataFrame) -> dict | None:
    """The team's own bottleneck: the stage with the highest drop rate (ties: the earlier stage)."""
    f = funnel_frame[(funnel_frame["stage"] != "Won") & funnel_frame["drop_rate"].notna()]
    if f.empty:
        return None
    row = f.loc[f["drop_rate"].idxmax()]
    return {"stage": row["stage"], "drop_rate": float(row["drop_rate"]), "lost": int(row["lost"]),
            "decided": int(row["advanced"] + row["lost"]), "reached": int(row["reached"])}


# --- time to close ------------------------------------------------------------------------------------
def time_to_close(deals: pd.DataFrame, as_of, by: str | None = None) -> pd.DataFrame:
    """Share of deals still open N days after creation (Kaplan-Meier): closed deals (won or lost)
    close at close_date - created_date; open deals are censored at as_of - created_date.

    Returns one row per group and event day: group, days, share_open, at_risk, closed (deals
    that closed on that day), starting with (0, 1.0). Deals without a created date, created
    after ``as_of``, or closed before created are left out."""
    cols = ["group", "days", "share_open", "at_risk", "closed"]
    if deals is None or deals.empty:
        return pd.DataFrame(columns=cols)
    asof = _ts(as_of)
    d = deals[deals[S.CREATED_DATE].notna() & (deals[S.CREATED_DATE] <= asof)].copy()
    closed = d[S.STATUS].isin([S.WON, S.LOST]) & d[S.CLOSE_DATE].notna()
    end = d[S.CLOSE_DATE].where(closed, asof)
    d["_days"] = (end - d[S.CREATED_DATE]).dt.days
    d["_event"] = closed
    d = d[d["_days"] >= 0]
    if by and by in d.columns:
        g = d[by].where(d[by].notna() & (d[by].astype(str).str.strip() != ""), "(none)")
    else:
        g = pd.Series(ALL, index=d.index)
    out = []
    for name, part in d.groupby(g, sort=True):
        times = np.sort(part.loc[part["_event"], "_days"].unique())
        surv, rows = 1.0, [{"group": name, "days": 0, "share_open": 1.0, "at_risk": len(part), "closed": 0}]
        for t in times:
            at_risk = int((part["_days"] >= t).sum())
            events = int(((part["_days"] == t) & part["_event"]).sum())
            if at_risk:
                surv *= 1 - events / at_risk
            if t == 0 and rows and rows[0]["days"] == 0:
                rows[0].update(share_open=surv, closed=events)
                continue
            rows.append({"group": name, "days": int(t), "share_open": surv, "at_risk": at_risk, "closed": events})
        out.extend(rows)
    return pd.DataFrame(out, columns=cols)


def share_open_after(curve: pd.DataFrame, days: int) -> pd.Series:
    """From :func:`time_to_close`, the share still open after ``days`` per group."""
    out = {}
    for name, part in curve.groupby("group"):
        before = part[part["days"] <= days]
        out[name] = float(before["share_open"].iloc[-1]) if len(before) else 1.0
    return pd.Series(out, name=f"open_after_{days}d")


# --- pipeline movement between two snapshots -----------------------------------------------------
STEPS = ["start", "created", "pulled_in", "pushed_out", "amount_changed", "won", "lost", "removed", "end"]
STEP_LABELS = {
    "start": "Start of period", "created": "Created", "pulled_in": "Pulled in", "pushed_out": "Pushed out",
    "amount_changed": "Amount changed", "won": "Won", "lost": "Lost", "removed": "Removed", "end": "End",
}
#: +1 adds to the pipeline, -1 takes away, 0 is a total bar; amount_changed is signed itself.
STEP_SIGN = {"start": 0, "created": 1, "pulled_in": 1, "pushed_out": -1, "amount_changed": 1,
             "won": -1, "lost": -1, "removed": -1, "end": 0}
ENTRY_STEPS = ("start", "created", "pulled_in")
EXIT_STEPS = ("end", "pushed_out", "won", "lost", "removed")

MOVEMENT_DEAL_COLUMNS = [
    S.OPPORTUNITY_ID, "entry", "exit", S.OWNER, "stage_from", "stage_to", "status_from", "status_to",
    "close_from", "close_to", "amount_from", "amount_to", "entering_amount", "amount_change", "reopened",
]


@dataclass
class Movement:
    """The waterfall of one period between two snapshots, with the deals behind it."""

    period_start: pd.Timestamp
    period_end: pd.Timestamp
    from_date: pd.Timestamp
    to_date: pd.Timestamp
    deals: pd.DataFrame
    waterfall: pd.DataFrame

    def deals_for(self, step: str) -> pd.DataFrame:
        """The deals behind one bar of the waterfall."""
        return deals_behind(self.deals, step)

    def identity_gap(self) -> float:
        """end - (start + created + pulled_in - pushed_out + amount_changed - won - lost - removed);
        0 up to rounding."""
        a = self.waterfall.set_index("step")["amount"]
        return float(a["end"] - (a["start"] + a["created"] + a["pulled_in"] - a["pushed_out"]
                                 + a["amount_changed"] - a["won"] - a["lost"] - a["removed"]))


def _in_period(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    c = frame[S.CLOSE_DATE]
    return c.notna() & (c >= start) & (c <= end)


def movement(s1: pd.DataFrame, s2: pd.DataFrame, start, end, *, from_date=None, to_date=None) -> Movement:
    """Pipeline movement of period [start, end] between snapshot ``s1`` (earlier) and ``s2``.

    A deal is *in P at S* when it is open at S with its close date in P. Entering steps:
    ``start`` in P at S1; ``created`` absent from S1 and at S2 in P or won/lost with close date
    in P; ``pulled_in`` open in S1 but not in P there, and at S2 in P or won/lost with close date in
    P; a deal closed at S1 and open again in P at S2 (reopened) also counts as pulled_in, so
    that ``end`` is exactly the deals in P at S2. Each entered deal leaves by
    exactly one of: ``end`` (in P at S2), ``pushed_out`` (open at S2, close date outside P or
    blank), ``won`` / ``lost`` (at S2, whatever its close date), ``removed`` (absent from S2).
    A deal whose close date moves inside P stays start -> end.

    Amounts: entering steps at S1 amounts (created at its S2 amount); pushed_out and removed at
    the entering amount; won, lost and end at S2 amounts; amount_changed (signed) = S2 amount -
    entering amount over deals leaving by end, won or lost, so that end = start + created +
    pulled_in - pushed_out + amount_changed - won - lost - removed. A blank amount counts as 0.
    ``count`` of amount_changed = deals whose amount changed.
    """
    p0, p1 = _ts(start), _ts(end)
    if p1 < p0:
        raise InputError(f"the period ends ({p1.date()}) before it starts ({p0.date()})")
    need = [S.OPPORTUNITY_ID, S.STATUS, S.CLOSE_DATE, S.AMOUNT, S.STAGE, S.OWNER]
    for name, snap in (("first", s1), ("second", s2)):
        missing = [c for c in need if c not in snap.columns]
        if missing:
            raise InputError(f"the {name} snapshot lacks the columns {', '.join(missing)}")
    a = s1.drop_duplicates(S.OPPORTUNITY_ID, keep="last").set_index(S.OPPORTUNITY_ID)
    b = s2.drop_duplicates(S.OPPORTUNITY_ID, keep="last").set_index(S.OPPORTUNITY_ID)
    ids = a.index.union(b.index)
    in1 = pd.Series(ids.isin(a.index), index=ids)
    in2 = pd.Series(ids.isin(b.index), index=ids)
    a = a.reindex(ids)
    b = b.reindex(ids)
    # a row without a status is an open deal (the stage map's rule for unknown stages)
    a[S.STATUS] = a[S.STATUS].where(~in1 | a[S.STATUS].isin(S.STATUSES), S.OPEN)
    b[S.STATUS] = b[S.STATUS].where(~in2 | b[S.STATUS].isin(S.STATUSES), S.OPEN)
    open1, open2 = in1 & (a[S.STATUS] == S.OPEN), in2 & (b[S.STATUS] == S.OPEN)
    p_a, p_b = _in_period(a, p0, p1), _in_period(b, p0, p1)
    closed2 = in2 & b[S.STATUS].isin([S.WON, S.LOST])
    inP1 = open1 & p_a
    inP2 = open2 & p_b
    lands2 = inP2 | (closed2 & p_b)

    entry = pd.Series(None, index=ids, dtype=object)
    entry[inP1] = "start"
    entry[~in1 & lands2] = "created"
    reopened = in1 & ~open1 & inP2  # closed at S1, open again in P at S2
    pulled = (open1 & ~inP1 & lands2) | reopened
    entry[pulled] = "pulled_in"
    entered = entry.notna()

    exit_ = pd.Series(None, index=ids, dtype=object)
    exit_[entered & ~in2] = "removed"
    exit_[entered & inP2] = "end"
    exit_[entered & open2 & ~p_b] = "pushed_out"
    exit_[entered & in2 & (b[S.STATUS] == S.WON)] = "won"
    exit_[entered & in2 & (b[S.STATUS] == S.LOST)] = "lost"

    amt1 = a[S.AMOUNT].astype(float)
    amt2 = b[S.AMOUNT].astype(float)
    entering = amt1.fillna(0.0).where(entry != "created", amt2.fillna(0.0))
    change = (amt2.fillna(0.0) - entering).where(exit_.isin(["end", "won", "lost"]), 0.0)

    d = pd.DataFrame({
        S.OPPORTUNITY_ID: ids, "entry": entry.to_numpy(), "exit": exit_.to_numpy(),
        S.OWNER: b[S.OWNER].where(in2, a[S.OWNER]).to_numpy(),
        "stage_from": a[S.STAGE].to_numpy(), "stage_to": b[S.STAGE].to_numpy(),
        "status_from": a[S.STATUS].to_numpy(), "status_to": b[S.STATUS].to_numpy(),
        "close_from": a[S.CLOSE_DATE].to_numpy(), "close_to": b[S.CLOSE_DATE].to_numpy(),
        "amount_from": amt1.to_numpy(), "amount_to": amt2.to_numpy(),
        "entering_amount": entering.to_numpy(), "amount_change": change.to_numpy(),
        "reopened": reopened.to_numpy(),
    })
    d = d[entered.to_numpy()].reset_index(drop=True)
    return Movement(p0, p1, _ts(from_date) if from_date is not None else pd.NaT,
                    _ts(to_date) if to_date is not None else pd.NaT, d, waterfall_table(d))


def attach_names(frame: pd.DataFrame, deals: pd.DataFrame | None) -> pd.DataFrame:
    """Add the deal ``name`` and ``account`` from the current deals (snapshots carry neither)."""
    out = frame.copy()
    if deals is None or deals.empty:
        return out
    ref = deals.drop_duplicates(S.OPPORTUNITY_ID).set_index(S.OPPORTUNITY_ID)
    for pos, col in enumerate((S.NAME, S.ACCOUNT), start=1):
        if col in ref.columns and col not in out.columns:
            out.insert(pos, col, out[S.OPPORTUNITY_ID].map(ref[col]))
    return out


def waterfall_table(deals: pd.DataFrame) -> pd.DataFrame:
    """step, label, amount, count for the nine steps (see :func:`movement` for the rules)."""
    rows = []
    for step in STEPS:
        if step in ENTRY_STEPS:
            part = deals[deals["entry"] == step]
            amount = part["entering_amount"].sum()
        elif step == "amount_changed":
            part = deals[deals["exit"].isin(["end", "won", "lost"]) & (deals["amount_change"] != 0)]
            amount = part["amount_change"].sum()
        elif step in ("pushed_out", "removed"):
            part = deals[deals["exit"] == step]
            amount = part["entering_amount"].sum()
        else:  # won, lost, end: S2 amounts
            part = deals[deals["exit"] == step]
            amount = part["amount_to"].fillna(0.0).sum()
        rows.append({"step": step, "label": STEP_LABELS[step], "amount": float(amount), "count": int(len(part))})
    return pd.DataFrame(rows, columns=["step", "label", "amount", "count"])


def deals_behind(deals: pd.DataFrame, step: str) -> pd.DataFrame:
    """The deals behind one step of the waterfall (``step`` a key of STEPS or its label)."""
    by_label = {v: k for k, v in STEP_LABELS.items()}
    step = by_label.get(step, step)
    if step not in STEPS:
        raise InputError(f"unknown waterfall step {step!r}; use one of {', '.join(STEPS)}")
    if step in ENTRY_STEPS:
        out = deals[deals["entry"] == step]
    elif step == "amount_changed":
        out = deals[deals["exit"].isin(["end", "won", "lost"]) & (deals["amount_change"] != 0)]
    else:
        out = deals[deals["exit"] == step]
    return out.reset_index(drop=True)


def pick_snapshot(dates: list, wanted, *, which: str = "from") -> tuple[str, bool]:
    """The snapshot dated ``wanted``, else the latest one before it. Returns (as_of, exact).

    Raises InputError listing the available dates when there is none at or before ``wanted``."""
    ds = sorted(str(d)[:10] for d in dates)
    if not ds:
        raise InputError("there are no snapshots yet: pipeline movement needs two imports of the same CRM "
                         "export on different dates")
    w = _ts(wanted).date().isoformat()
    before = [d for d in ds if d <= w]
    if not before:
        raise InputError(f"no snapshot on or before --{which} {w}; snapshots exist for: {', '.join(ds)}")
    return before[-1], before[-1] == w


def period_snapshots(dates: list, start, end) -> tuple[str, str] | None:
    """The default snapshot pair for a period: the latest snapshot at or before the period's
    start (else the first one) and the latest at or before its end (else the last one); when
    both are the same snapshot, the next one after it (or, after the last snapshot, the one
    before it). None when fewer than two snapshots exist."""
    ds = sorted(str(d)[:10] for d in dates)
    if len(ds) < 2:
        return None
    s, e = _ts(start).date().isoformat(), _ts(end).date().isoformat()
    first = [d for d in ds if d <= s]
    f = first[-1] if first else ds[0]
    last = [d for d in ds if d <= e]
    t = last[-1] if last else ds[-1]
    if t <= f:
        later = [d for d in ds if d > f]
        if later:
            t = later[0]
        else:  # a period after the last snapshot: the last step between snapshots
            f = ds[ds.index(t) - 1]
    return f, t


def resolve_snapshots(dates: list, start, end, from_date=None, to_date=None) -> dict:
    """Choose the snapshot pair for a period: the requested dates (each the snapshot dated
    exactly, else the latest one before it) or, when not given, :func:`period_snapshots`.

    Returns {from, to, from_requested, to_requested, from_exact, to_exact, notes}; raises
    InputError (listing the available dates) when there are fewer than two snapshots, when no
    snapshot is on or before a requested date, or when both resolve to the same snapshot or
    the wrong way round."""
    ds = sorted(str(d)[:10] for d in dates)
    if len(ds) < 2:
        have = f" (there is one, of {ds[0]})" if ds else ""
        raise InputError("pipeline movement needs two snapshots: import the same CRM export again on a later "
                         f"date{have}")
    default = period_snapshots(ds, start, end)
    notes = []
    out = {"from_requested": None, "to_requested": None, "from_exact": True, "to_exact": True}
    chosen = {}
    for which, wanted, fallback in (("from", from_date, default[0]), ("to", to_date, default[1])):
        if wanted is None:
            chosen[which] = fallback
            continue
        got, exact = pick_snapshot(ds, wanted, which=which)
        out[f"{which}_requested"] = _ts(wanted).date().isoformat()
        out[f"{which}_exact"] = exact
        chosen[which] = got
        if not exact:
            notes.append(f"no snapshot on {_ts(wanted).date()}: --{which} uses the snapshot of {got}, "
                         "the latest one before it")
    if chosen["to"] <= chosen["from"]:
        raise InputError(f"the snapshots chosen ({chosen['from']} and {chosen['to']}) must be two different dates, "
                         f"the first earlier; snapshots exist for: {', '.join(ds)}")
    out.update(chosen)
    out["notes"] = notes
    return out


# --- slippage and risk ------------------------------------------------------------------------------
def push_counts(snapshots: pd.DataFrame) -> pd.DataFrame:
    """Per deal, how often its close date was pushed: between consecutive snapshots in which the
    deal is open in the earlier one, a push is a close date moved into a later month (as
    Salesforce's PushCount counts). Columns: opportunity_id, push_count, days_pushed (total days
    the close date moved later), first_close, last_close, snapshots."""
    cols = [S.OPPORTUNITY_ID, "push_count", "days_pushed", "first_close", "last_close", "snapshots"]
    if snapshots is None or snapshots.empty:
        return pd.DataFrame(columns=cols)
    s = snapshots.sort_values([S.OPPORTUNITY_ID, S.AS_OF], kind="stable")
    g = s.groupby(S.OPPORTUNITY_ID, sort=False)
    prev_close = g[S.CLOSE_DATE].shift()
    prev_status = g[S.STATUS].shift()
    cur = s[S.CLOSE_DATE]
    month = lambda x: x.dt.year * 12 + x.dt.month  # noqa: E731
    pushed = (prev_status == S.OPEN) & prev_close.notna() & cur.notna() & (month(cur) > month(prev_close))
    later = ((cur - prev_close).dt.days).where((prev_status == S.OPEN) & (cur > prev_close), 0).fillna(0)
    out = pd.DataFrame({
        "push_count": pushed.groupby(s[S.OPPORTUNITY_ID]).sum().astype(int),
        "days_pushed": later.groupby(s[S.OPPORTUNITY_ID]).sum().astype(int),
        "first_close": g[S.CLOSE_DATE].first(),
        "last_close": g[S.CLOSE_DATE].last(),
        "snapshots": g.size(),
    })
    return out.reset_index()[cols]


TRACKED_FIELDS = (S.STAGE, S.STATUS, S.AMOUNT, S.CLOSE_DATE, S.PROBABILITY, S.FORECAST_CATEGORY, S.OWNER)


def _state_since(snapshots: pd.DataFrame) -> pd.DataFrame:
    """For every snapshot row: ``since`` (the first snapshot date showing the deal's values of
    that row, unchanged since) and ``first_seen`` (the deal's first snapshot date). Sorted by
    deal and date; columns opportunity_id, as_of, since, first_seen."""
    s = snapshots.sort_values([S.OPPORTUNITY_ID, S.AS_OF], kind="stable")
    fields = [f for f in TRACKED_FIELDS if f in s.columns]
    g = s.groupby(S.OPPORTUNITY_ID, sort=False)
    changed = (g.cumcount() == 0).to_numpy()
    for f in fields:
        prev = g[f].shift()
        cur = s[f]
        changed |= ~((cur == prev) | (cur.isna() & prev.isna())).to_numpy()
    since = s[S.AS_OF].where(changed)
    return pd.DataFrame({S.OPPORTUNITY_ID: s[S.OPPORTUNITY_ID].to_numpy(), S.AS_OF: s[S.AS_OF].to_numpy(),
                         "since": since.groupby(s[S.OPPORTUNITY_ID].to_numpy()).ffill().to_numpy(),
                         "first_seen": g[S.AS_OF].transform("min").to_numpy()})


def _combine_changes(since: pd.Series, first_seen: pd.Series, h_last: pd.Series | None) -> pd.Series:
    """Snapshot estimate of the last change, corrected by the stage history (see last_changes)."""
    if h_last is None or h_last.empty:
        return since
    ids = since.index.union(h_last.index)
    lc, first, h = since.reindex(ids), first_seen.reindex(ids), h_last.reindex(ids)
    unchanged = lc.notna() & (lc == first) & h.notna()
    out = pd.concat([lc, h], axis=1).max(axis=1)
    out[unchanged] = h[unchanged]
    return out


def _history_last(history: pd.DataFrame | None, as_of=None) -> pd.Series | None:
    if history is None or history.empty:
        return None
    when = pd.to_datetime(history[S.ENTERED_AT], errors="coerce")
    keep = when.notna() if as_of is None else when <= _ts(as_of)
    return when[keep].groupby(history.loc[keep, S.OPPORTUNITY_ID]).max()


def last_changes(snapshots: pd.DataFrame, history: pd.DataFrame | None = None) -> pd.Series:
    """Per deal (index opportunity_id), the estimated date of its last change.

    From snapshots: the first snapshot showing the deal's latest values of stage, status,
    amount, close date, probability, forecast category and owner. When nothing changed since
    the deal's first snapshot, the change happened at or before it: the last stage-history
    entry is used when there is one, else that first snapshot's date (so staleness is then a
    lower bound). A stage-history entry later than the snapshot estimate wins."""
    h_last = _history_last(history)
    if snapshots is None or snapshots.empty:
        return h_last if h_last is not None else pd.Series(dtype="datetime64[ns]")
    st = _state_since(snapshots).groupby(S.OPPORTUNITY_ID, sort=False).tail(1).set_index(S.OPPORTUNITY_ID)
    return _combine_changes(st["since"], st["first_seen"], h_last)


def last_changes_by_snapshot(snapshots: pd.DataFrame, history: pd.DataFrame | None = None) -> dict:
    """{as_of: last_changes as seen at that snapshot (only earlier data used)} for every
    snapshot date, computed in one pass."""
    if snapshots is None or snapshots.empty:
        return {}
    st = _state_since(snapshots)
    out = {}
    for as_of, part in st.groupby(S.AS_OF, sort=True):
        part = part.set_index(S.OPPORTUNITY_ID)
        out[as_of] = _combine_changes(part["since"], part["first_seen"], _history_last(history, as_of))
    return out


def median_cycle_days(deals: pd.DataFrame) -> float:
    """Median days from created to close over won deals (NaN when there are none)."""
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CREATED_DATE].notna() & deals[S.CLOSE_DATE].notna()]
    days = (won[S.CLOSE_DATE] - won[S.CREATED_DATE]).dt.days
    days = days[days >= 0]
    return float(days.median()) if len(days) else float("nan")


RISK_REASONS = {
    "pushed_twice": "close date pushed {push_count} times",
    "stale": "no change for {days_unchanged:.0f} days",
    "past_close": "close date {close_date:%Y-%m-%d} is in the past",
    "too_old": "open {age_days:.0f} days, more than twice the median cycle",
}


def at_risk(deals: pd.DataFrame, snapshots: pd.DataFrame | None, as_of, *, stale_days: int = 30,
            min_pushes: int = 2, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """Open deals at risk as of ``as_of``, one row each, with the reasons.

    Flags: pushed_twice (push_count >= ``min_pushes``), stale (no change for ``stale_days`` or
    more, from snapshots and stage history; unknown without them), past_close (close date
    before as_of), too_old (open longer than twice the median won cycle). Columns: the deal's
    id, name, account, owner, stage, amount, close_date, age_days, push_count, days_unchanged,
    the four flags, risk_count and reasons (text). Sorted by risk_count then amount."""
    asof = _ts(as_of)
    cols = [S.OPPORTUNITY_ID, S.NAME, S.ACCOUNT, S.OWNER, S.STAGE, S.AMOUNT, S.CLOSE_DATE, "age_days",
            "push_count", "days_unchanged", *RISK_REASONS, "risk_count", "reasons"]
    if deals is None or deals.empty:
        return pd.DataFrame(columns=cols)
    d = deals[deals[S.STATUS] == S.OPEN].copy()
    for c in (S.NAME, S.ACCOUNT):
        if c not in d.columns:
            d[c] = None
    d["age_days"] = (asof - d[S.CREATED_DATE]).dt.days.astype(float)
    pc = push_counts(snapshots).set_index(S.OPPORTUNITY_ID)["push_count"] if snapshots is not None else pd.Series(dtype=int)
    d["push_count"] = d[S.OPPORTUNITY_ID].map(pc).fillna(0).astype(int)
    lc = last_changes(snapshots, history)
    d["days_unchanged"] = (asof - pd.to_datetime(d[S.OPPORTUNITY_ID].map(lc))).dt.days.astype(float)
    cycle = median_cycle_days(deals)
    d["pushed_twice"] = d["push_count"] >= min_pushes
    d["stale"] = d["days_unchanged"].ge(stale_days).fillna(False).astype(bool)
    d["past_close"] = (d[S.CLOSE_DATE] < asof).fillna(False).astype(bool)
    d["too_old"] = (d["age_days"] > 2 * cycle).fillna(False).astype(bool) if cycle == cycle else False
    flags = list(RISK_REASONS)
    d["risk_count"] = d[flags].sum(axis=1).astype(int)
    d = d[d["risk_count"] > 0].copy()

    def reasons(row) -> str:
        return "; ".join(RISK_REASONS[f].format(**row) for f in flags if row[f])

    d["reasons"] = [reasons(r) for r in d.to_dict(orient="records")] if len(d) else []
    d = d.sort_values(["risk_count", S.AMOUNT], ascending=[False, False], na_position="last", kind="stable")
    return d[cols].reset_index(drop=True)


__all__ = [
    "history_from_snapshots", "stage_visits", "deal_levels", "funnel", "funnel_from_current", "funnel_source",
    "FunnelSource", "conversion_by", "leaks", "team_leak", "time_to_close", "share_open_after",
    "STEPS", "STEP_LABELS", "STEP_SIGN", "Movement", "movement", "waterfall_table", "deals_behind",
    "attach_names", "pick_snapshot", "period_snapshots", "resolve_snapshots", "push_counts", "last_changes", "last_changes_by_snapshot", "median_cycle_days", "at_risk",
]


# =============================================================================================
# The Pipeline page's sections: a workspace and its filters in, one result out
# =============================================================================================
def movement_for(ws, f, from_date: str, to_date: str) -> Movement:
    """The waterfall of the filters' period between two snapshots, for the deals inside the
    slice, with the deals' names and each deal's push count up to the later snapshot."""
    s1 = f.restrict(ws, ws.snapshot(from_date))
    s2 = f.restrict(ws, ws.snapshot(to_date))
    m = movement(s1, s2, f.period.start, f.period.end, from_date=from_date, to_date=to_date)
    deals = attach_names(m.deals, ws.deals)
    every = ws.snapshots()
    upto = every[(every[S.AS_OF] <= pd.Timestamp(to_date)) & every[S.OPPORTUNITY_ID].isin(deals[S.OPPORTUNITY_ID])]
    pushes = push_counts(upto).set_index(S.OPPORTUNITY_ID)["push_count"]
    deals["push_count"] = deals[S.OPPORTUNITY_ID].map(pushes).fillna(0).astype(int)
    m.deals = deals
    return m


@dataclass
class FunnelView:
    """The funnel section: from stage history or snapshots (``kind``), or, with neither, the
    deals' current stages with what final stages tell (``won``, ``lost``, ``win_rate``)."""

    kind: str
    note: str
    funnel: pd.DataFrame
    current: pd.DataFrame
    leak: dict | None
    deals: int
    won: int = 0
    lost: int = 0
    still_open: int = 0

    @property
    def win_rate(self) -> float | None:
        return self.won / (self.won + self.lost) if self.won + self.lost else None


def _history_for(ws, f) -> FunnelSource:
    hist = f.restrict(ws, ws.stage_history())
    snaps = f.restrict(ws, ws.snapshots()) if hist.empty else None
    return funnel_source(hist, snaps)


def funnel_for(ws, f) -> FunnelView:
    """The stage funnel of the deals inside the slice, as of the filters' as-of date."""
    src = _history_for(ws, f)
    rules = ws.stage_rules()
    deals = f.deals(ws)
    if src.kind == "none":
        cur = funnel_from_current(deals, rules)
        count = lambda status: int(cur.loc[cur["status"] == status, "deals"].sum()) if not cur.empty else 0  # noqa: E731
        return FunnelView(src.kind, src.note, pd.DataFrame(), cur, None, len(deals), count(S.WON), count(S.LOST), count(S.OPEN))
    fr = funnel(src.history, rules, f.as_of)
    return FunnelView(src.kind, src.note, fr, pd.DataFrame(), team_leak(fr), int(src.history[S.OPPORTUNITY_ID].nunique()))


def leaks_for(ws, f, by: str, min_decided: int) -> pd.DataFrame:
    src = _history_for(ws, f)
    if src.kind == "none":
        return pd.DataFrame(columns=LEAK_COLUMNS)
    return leaks(src.history, ws.stage_rules(), f.deals(ws), by, min_decided=min_decided, as_of=f.as_of)


def time_to_close_for(ws, f, by: str | None) -> pd.DataFrame:
    """Time-to-close curves of the slice's deals, with the share still open after 30, 60, 90
    and 180 days in ``attrs["open_after"]`` (one row per curve)."""
    curve = time_to_close(f.deals(ws), f.as_of, by=by)
    if not curve.empty:
        curve.attrs["open_after"] = pd.DataFrame({f"Open after {d} days": share_open_after(curve, d) for d in (30, 60, 90, 180)})
    return curve


def risk_for(ws, f, stale_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(deals at risk, push counts of the open deals) of the slice as of the as-of date."""
    every = ws.snapshots()
    snaps = f.restrict(ws, every[every[S.AS_OF] <= pd.Timestamp(f.as_of)])
    hist = f.restrict(ws, ws.stage_history())
    hist = hist[hist[S.ENTERED_AT] <= pd.Timestamp(f.as_of)]
    deals = f.deals(ws)
    risk = at_risk(deals, snaps, f.as_of, stale_days=stale_days, history=hist)
    push = push_counts(snaps)
    push = push[push[S.OPPORTUNITY_ID].isin(deals.loc[deals[S.STATUS] == S.OPEN, S.OPPORTUNITY_ID])]
    return risk, push
