"""Commission plans (DESIGN.md section 7): the plan model, the payout curve, payouts from
bookings, Monte Carlo cost simulation and plan effectiveness.

A plan is a JSON document (see :data:`PLAN_KEYS` and docs/planning.md). Payout rules, in the
order they apply, for each rep and each measure of the plan:

* base rate = target_incentive / quota, so ``base_rate x quota`` is the target incentive (TI);
* attainment ``a`` = achieved / quota;
* threshold: below it nothing is paid; reaching it (``a >= threshold``) pays from the first
  dollar;
* tiers ``[{from, to, rate}]`` over attainment, ``[from, to)``, contiguous from 0, the last open
  (``to`` null). ``marginal``: TI x sum of rate x overlap(a, [from, to)); ``whole``
  (retroactive): TI x a x rate of the tier ``a`` ends in (exactly on a boundary = the upper
  tier);
* several measures: each measure pays ``weight x TI`` through the same threshold and tiers on
  its own attainment; the commission is their sum;
* cap last: commission <= cap x TI;
* SPIFs: a fixed amount per qualifying won deal, on top and outside the cap unless
  ``spif_in_cap`` is true (then commission + SPIFs <= cap x TI);
* clawback: ``share`` of the commission earned on a deal that a later snapshot shows cancelled
  (its stage is one of ``clawback.stages``) within ``window_days`` of its close date, prorated
  by the deal's share of the rep's won amount. A won deal that a later export shows lost or
  open again for any other reason is a *data reversal*: it is not paid and is reported
  separately;
* draw: a guaranteed minimum per plan period; the top-up (draw - earned, when positive) is
  paid, and when ``recoverable`` it is owed back from later commission (``draw_balance``).

Plan period and the requested period: quota, target incentive and draw in a plan are per plan
``period`` (month, quarter or year). For a requested period of whole months they scale by
months(requested) / months(plan period): a quarterly quota over a fiscal year counts x4, over a
month x1/3. Weeks and ranges that do not start on a month's first day and end on a month's last
day are refused. A plan without ``period`` is taken as written for whatever period is asked.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

import numpy as np
import pandas as pd

from . import schema as S
from .errors import InputError, Problem
from .periods import Period

#: Every key a plan document may have. Unknown keys are refused (a typo must not be ignored).
PLAN_KEYS = ("name", "description", "measure", "measures", "period", "quota", "target_incentive",
             "threshold", "tiers", "tier_mode", "cap", "spifs", "spif_in_cap", "clawback", "draw")
MEASURES = {
    "won_amount": "bookings (won amount)",
    "won_count": "won deals",
    "new_logos": "new logos (a customer's first won deal)",
}
TIER_MODES = ("marginal", "whole")
PLAN_PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}
DEFAULT_CANCEL_STAGES = ("Cancelled", "Canceled", "Storniert")
#: Deal fields a SPIF filter may name (plus the roster's manager and team).
SPIF_FIELDS = tuple(c for c in S.OPPORTUNITY_COLUMNS if c not in (S.EXTRA, S.IMPORT_ID)) + (S.MANAGER, S.TEAM)
#: Boundaries (threshold, tier starts) are compared with this tolerance on attainment.
EPS = 1e-9

PAYOUT_COLUMNS = ["rep", "quota", "achieved", "attainment", "commission", "spif", "clawback",
                  "draw_top_up", "total", "draw_balance", "target_incentive", "won_amount", "won_count"]


# --- the plan ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tier:
    """A slice [start, end) of attainment paid at ``rate`` x the base rate (end None = open)."""

    start: float
    end: float | None
    rate: float


@dataclass(frozen=True)
class RepAmounts:
    """A per-rep amount: ``by_rep`` where named, else ``default`` (None = rep not on the plan)."""

    default: float | None
    by_rep: dict = field(default_factory=dict)

    def for_rep(self, rep: str) -> float | None:
        return self.by_rep.get(rep, self.default)

    def to_json(self):
        return {"default": self.default, "by_rep": dict(self.by_rep)}


@dataclass(frozen=True)
class Component:
    """One measure of a plan with its weight (share of the target incentive) and quota."""

    measure: str
    weight: float
    quota: RepAmounts


@dataclass(frozen=True)
class Spif:
    name: str
    filter: dict
    amount: float


@dataclass(frozen=True)
class Clawback:
    share: float
    window_days: int
    stages: tuple = DEFAULT_CANCEL_STAGES


@dataclass(frozen=True)
class Draw:
    amount: float
    recoverable: bool = True


@dataclass(frozen=True)
class Plan:
    """A validated comp plan; build it with :func:`parse_plan`."""

    name: str
    measure: str
    quota: RepAmounts
    target_incentive: RepAmounts
    tiers: tuple
    components: tuple
    period: str | None = None
    threshold: float = 0.0
    tier_mode: str = "marginal"
    cap: float | None = None
    spifs: tuple = ()
    spif_in_cap: bool = False
    clawback: Clawback | None = None
    draw: Draw | None = None
    description: str = ""
    raw: dict = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict:
        """The plan as a JSON document that :func:`parse_plan` reads back to an equal plan."""
        doc = {
            "name": self.name, "description": self.description, "measure": self.measure,
            "period": self.period, "quota": self.quota.to_json(),
            "target_incentive": self.target_incentive.to_json(), "threshold": self.threshold,
            "tiers": [{"from": t.start, "to": t.end, "rate": t.rate} for t in self.tiers],
            "tier_mode": self.tier_mode, "cap": self.cap,
            "spifs": [{"name": s.name, "filter": s.filter, "amount": s.amount} for s in self.spifs],
            "spif_in_cap": self.spif_in_cap,
            "clawback": None if self.clawback is None else {"share": self.clawback.share, "window_days": self.clawback.window_days,
                                                              "stages": list(self.clawback.stages)},
            "draw": None if self.draw is None else {"amount": self.draw.amount, "recoverable": self.draw.recoverable},
        }
        if len(self.components) > 1 or self.components[0].measure != self.measure:
            doc["measures"] = [{"measure": c.measure, "weight": c.weight, "quota": c.quota.to_json()} for c in self.components]
        return doc


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(float(v))


class _Checker:
    """Collects every problem of a plan document, each naming the key and the value."""

    def __init__(self):
        self.problems: list[Problem] = []

    def add(self, key: str, value, text: str) -> None:
        self.problems.append(Problem(text, column=key, value=_show(value)))

    def number(self, key, value, *, minimum=None, positive=False, maximum=None, required=True):
        if value is None and not required:
            return None
        if not _is_number(value):
            self.add(key, value, "must be a number")
            return None
        v = float(value)
        if positive and v <= 0:
            self.add(key, value, "must be greater than 0")
            return None
        if minimum is not None and v < minimum:
            self.add(key, value, f"must be at least {minimum:g}")
            return None
        if maximum is not None and v > maximum:
            self.add(key, value, f"must be at most {maximum:g}")
            return None
        return v

    def rep_amounts(self, key, value, *, what: str, required_default: bool) -> RepAmounts | None:
        if _is_number(value) or value is None or not isinstance(value, dict):
            if value is None and not required_default:
                return RepAmounts(None, {})
            v = self.number(key, value, positive=True)
            if v is None and _is_number(value):
                self.problems[-1].problem = f"{what} must be greater than 0" + (" (a zero quota cannot be attained)" if what == "a quota" else "")
            return None if v is None else RepAmounts(v, {})
        unknown = set(value) - {"default", "by_rep"}
        for k in sorted(unknown):
            self.add(f"{key}.{k}", value[k], "unknown key (allowed: default, by_rep)")
        default = value.get("default")
        by_rep = value.get("by_rep") or {}
        ok = True
        if default is not None:
            d = self.number(f"{key}.default", default, positive=True)
            if d is None:
                ok = False
                if _is_number(default):
                    self.problems[-1].problem = f"{what} must be greater than 0" + (" (a zero quota cannot be attained)" if what == "a quota" else "")
            default = d
        if not isinstance(by_rep, dict):
            self.add(f"{key}.by_rep", by_rep, "must be an object {rep: amount}")
            return None
        reps = {}
        for rep, amount in by_rep.items():
            v = self.number(f"{key}.by_rep.{rep}", amount, positive=True)
            if v is None:
                ok = False
                if _is_number(amount):
                    self.problems[-1].problem = f"{what} must be greater than 0" + (" (a zero quota cannot be attained)" if what == "a quota" else "")
            else:
                reps[str(rep)] = v
        if default is None and not by_rep and required_default and ok:
            self.add(f"{key}.default", None, f"{what} is needed: give a default or amounts by_rep")
            return None
        return RepAmounts(default, reps) if ok else None


def _show(value) -> str:
    if value is None:
        return "null"
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def parse_plan(doc: dict, source: str | None = None) -> Plan:
    """Validate a plan document and return a :class:`Plan`.

    Every problem is collected; the :class:`InputError` names the first one's key and value in
    its message (``quota.default = 0: a quota must be greater than 0``) and lists all of them in
    ``problems`` (file = ``source``)."""
    if not isinstance(doc, dict):
        raise InputError(f"{source or 'comp plan'}: a plan must be a JSON object, not {type(doc).__name__}")
    c = _Checker()
    for k in doc:
        if k not in PLAN_KEYS:
            c.add(str(k), doc[k], f"unknown key (allowed: {', '.join(PLAN_KEYS)})")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        c.add("name", name, "a plan needs a name (text)")
        name = "(unnamed)"
    measure = doc.get("measure", "won_amount") or "won_amount"
    if measure not in MEASURES:
        c.add("measure", measure, f"unknown measure (use one of {', '.join(MEASURES)})")
    period = doc.get("period")
    if period is not None and period not in PLAN_PERIOD_MONTHS:
        c.add("period", period, "must be month, quarter or year (or left out)")
    quota = c.rep_amounts("quota", doc.get("quota"), what="a quota", required_default=True)
    ti = c.rep_amounts("target_incentive", doc.get("target_incentive"), what="the target incentive", required_default=True)
    threshold = c.number("threshold", doc.get("threshold", 0.0) if doc.get("threshold") is not None else 0.0, minimum=0.0)
    tier_mode = doc.get("tier_mode", "marginal") or "marginal"
    if tier_mode not in TIER_MODES:
        c.add("tier_mode", tier_mode, "must be marginal or whole")
    tiers = _parse_tiers(c, doc.get("tiers"))
    cap = doc.get("cap")
    if cap is not None:
        cap = c.number("cap", cap, positive=True)
    spifs = _parse_spifs(c, doc.get("spifs"))
    spif_in_cap = doc.get("spif_in_cap", False)
    if not isinstance(spif_in_cap, bool):
        c.add("spif_in_cap", spif_in_cap, "must be true or false")
    clawback = _parse_clawback(c, doc.get("clawback"))
    draw = _parse_draw(c, doc.get("draw"))
    components = _parse_components(c, doc.get("measures"), measure, quota)
    description = doc.get("description") or ""
    if c.problems:
        first = c.problems[0]
        more = f" (and {len(c.problems) - 1} more problems)" if len(c.problems) > 1 else ""
        for p in c.problems:
            p.file = source
        where = f"{source}: " if source else ""
        raise InputError(f"{where}comp plan {name!r}: {first.column} = {first.value}: {first.problem}{more}", c.problems)
    return Plan(name=name.strip(), measure=measure, quota=quota, target_incentive=ti, tiers=tuple(tiers),
                components=tuple(components), period=period, threshold=float(threshold or 0.0), tier_mode=tier_mode,
                cap=cap, spifs=tuple(spifs), spif_in_cap=bool(spif_in_cap), clawback=clawback, draw=draw,
                description=str(description), raw=dict(doc))


def _parse_tiers(c: _Checker, tiers) -> list[Tier]:
    if tiers is None:
        return [Tier(0.0, None, 1.0)]
    if not isinstance(tiers, list) or not tiers:
        c.add("tiers", tiers, "must be a non-empty list of {from, to, rate}")
        return []
    out, prev_end = [], 0.0
    for i, t in enumerate(tiers):
        key = f"tiers[{i}]"
        if not isinstance(t, dict):
            c.add(key, t, "must be an object {from, to, rate}")
            return []
        for k in t:
            if k not in ("from", "to", "rate"):
                c.add(f"{key}.{k}", t[k], "unknown key (allowed: from, to, rate)")
        start = c.number(f"{key}.from", t.get("from"), minimum=0.0)
        end = t.get("to")
        last = i == len(tiers) - 1
        if end is not None:
            end = c.number(f"{key}.to", end, minimum=0.0)
        elif not last:
            c.add(f"{key}.to", None, "only the last tier may be open-ended (to null)")
        if last and t.get("to") is not None:
            c.add(f"{key}.to", t.get("to"), "the last tier must be open-ended (to null); use cap to limit pay")
        rate = t.get("rate")
        if _is_number(rate) and float(rate) < 0:
            c.add(f"{key}.rate", rate, "a negative rate is not allowed")
            rate = None
        else:
            rate = c.number(f"{key}.rate", rate)
        if start is None or rate is None:
            return []
        if i == 0 and start != 0:
            c.add(f"{key}.from", t.get("from"), "the first tier must start at 0")
        if i > 0 and prev_end is not None:
            if start > prev_end + EPS:
                c.add(f"{key}.from", t.get("from"), f"leaves a gap after the previous tier's end {prev_end:g}")
            elif start < prev_end - EPS:
                c.add(f"{key}.from", t.get("from"), f"overlaps the previous tier, which ends at {prev_end:g}")
        if end is not None and end <= start:
            c.add(f"{key}.to", t.get("to"), f"must be greater than from ({start:g})")
        out.append(Tier(start, end, rate))
        prev_end = end
    return out


def _parse_spifs(c: _Checker, spifs) -> list[Spif]:
    if spifs is None:
        return []
    if not isinstance(spifs, list):
        c.add("spifs", spifs, "must be a list of {name, filter, amount}")
        return []
    out = []
    for i, s in enumerate(spifs):
        key = f"spifs[{i}]"
        if not isinstance(s, dict):
            c.add(key, s, "must be an object {name, filter, amount}")
            continue
        for k in s:
            if k not in ("name", "filter", "amount"):
                c.add(f"{key}.{k}", s[k], "unknown key (allowed: name, filter, amount)")
        name = s.get("name") or f"SPIF {i + 1}"
        amount = s.get("amount")
        if _is_number(amount) and float(amount) < 0:
            c.add(f"{key}.amount", amount, "a negative SPIF amount is not allowed")
            continue
        amount = c.number(f"{key}.amount", amount)
        flt = s.get("filter") or {}
        if not isinstance(flt, dict):
            c.add(f"{key}.filter", flt, "must be an object {field: value}")
            continue
        good = True
        for fld, val in flt.items():
            if fld not in SPIF_FIELDS:
                c.add(f"{key}.filter.{fld}", val, f"unknown deal field (use one of {', '.join(SPIF_FIELDS)})")
                good = False
            elif isinstance(val, dict):
                if set(val) - {"min", "max"} or not all(_is_number(v) for v in val.values()):
                    c.add(f"{key}.filter.{fld}", val, "a range must be {min: number, max: number}")
                    good = False
        if amount is not None and good:
            out.append(Spif(str(name), dict(flt), amount))
    return out


def _parse_clawback(c: _Checker, cb) -> Clawback | None:
    if cb is None:
        return None
    if not isinstance(cb, dict):
        c.add("clawback", cb, "must be an object {share, window_days, stages}")
        return None
    for k in cb:
        if k not in ("share", "window_days", "stages"):
            c.add(f"clawback.{k}", cb[k], "unknown key (allowed: share, window_days, stages)")
    share = c.number("clawback.share", cb.get("share", 1.0), minimum=0.0, maximum=1.0)
    window = c.number("clawback.window_days", cb.get("window_days", 90), positive=True)
    stages = cb.get("stages", list(DEFAULT_CANCEL_STAGES))
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        c.add("clawback.stages", stages, "must be a list of stage names")
        return None
    if share is None or window is None:
        return None
    return Clawback(share, int(window), tuple(stages))


def _parse_draw(c: _Checker, draw) -> Draw | None:
    if draw is None:
        return None
    if _is_number(draw):
        draw = {"amount": draw}
    if not isinstance(draw, dict):
        c.add("draw", draw, "must be an object {amount, recoverable}")
        return None
    for k in draw:
        if k not in ("amount", "recoverable"):
            c.add(f"draw.{k}", draw[k], "unknown key (allowed: amount, recoverable)")
    amount = c.number("draw.amount", draw.get("amount"), minimum=0.0)
    rec = draw.get("recoverable", True)
    if not isinstance(rec, bool):
        c.add("draw.recoverable", rec, "must be true or false")
        return None
    return None if amount is None else Draw(amount, rec)


def _parse_components(c: _Checker, measures, measure: str, quota: RepAmounts | None) -> list[Component]:
    if measures is None:
        return [Component(measure, 1.0, quota)] if quota is not None else []
    if not isinstance(measures, list) or not measures:
        c.add("measures", measures, "must be a non-empty list of {measure, weight, quota}")
        return []
    out, total = [], 0.0
    for i, m in enumerate(measures):
        key = f"measures[{i}]"
        if not isinstance(m, dict):
            c.add(key, m, "must be an object {measure, weight, quota}")
            return []
        for k in m:
            if k not in ("measure", "weight", "quota"):
                c.add(f"{key}.{k}", m[k], "unknown key (allowed: measure, weight, quota)")
        name = m.get("measure")
        if name not in MEASURES:
            c.add(f"{key}.measure", name, f"unknown measure (use one of {', '.join(MEASURES)})")
            continue
        w = m.get("weight")
        if _is_number(w) and not 0 < float(w) <= 1:
            c.add(f"{key}.weight", w, "a weight must be above 0 and at most 1")
            continue
        w = c.number(f"{key}.weight", w)
        if w is None:
            continue
        total += w
        if "quota" in m:
            q = c.rep_amounts(f"{key}.quota", m.get("quota"), what="a quota", required_default=True)
        elif name == measure:
            q = quota
        else:
            c.add(f"{key}.quota", None, f"a quota is needed for the measure {name} (the plan's quota is for {measure})")
            q = None
        if q is not None:
            out.append(Component(name, w, q))
    if out and abs(total - 1.0) > 1e-6:
        c.add("measures", [m.get("weight") for m in measures if isinstance(m, dict)], f"weights must add up to 1 (they add up to {total:g})")
    return out


def load_plan_file(path) -> Plan:
    """Read and validate a plan JSON file (errors name the file)."""
    import json
    from pathlib import Path

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{p}: plan file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read the plan file ({exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return parse_plan(doc, source=str(p))


# --- the curve -------------------------------------------------------------------------------------
def _tier_arrays(plan: Plan):
    starts = np.array([t.start for t in plan.tiers], dtype=float)
    ends = np.array([np.inf if t.end is None else t.end for t in plan.tiers], dtype=float)
    rates = np.array([t.rate for t in plan.tiers], dtype=float)
    return starts, ends, rates


def component_multiple(plan: Plan, attainment) -> np.ndarray:
    """Commission of one measure per unit of its target incentive, threshold applied, no cap.

    ``attainment`` may be any array shape; NaN and negative attainment pay 0."""
    a = np.asarray(attainment, dtype=float)
    a = np.where(np.isfinite(a), np.maximum(a, 0.0), 0.0)
    starts, ends, rates = _tier_arrays(plan)
    if plan.tier_mode == "marginal":
        overlap = np.clip(a[..., None] - starts, 0.0, ends - starts)
        m = (overlap * rates).sum(axis=-1)
    else:
        idx = np.clip(np.searchsorted(starts, a + EPS, side="right") - 1, 0, len(rates) - 1)
        m = a * rates[idx]
    return np.where(a + EPS >= plan.threshold, m, 0.0)


def payout_multiple(plan: Plan, attainment) -> np.ndarray:
    """The plan's payout curve for a single measure: commission / target incentive at each
    attainment, threshold and cap applied (SPIFs excluded)."""
    m = component_multiple(plan, attainment)
    return np.minimum(m, plan.cap) if plan.cap is not None else m


def curve_cliffs(plan: Plan, upto: float = 2.0) -> pd.DataFrame:
    """Where the payout curve jumps: columns ``attainment, before, after, what`` (payout as a
    multiple of the target incentive just below and at the point)."""
    points = []
    if plan.threshold > 0:
        points.append((plan.threshold, "threshold"))
    if plan.tier_mode == "whole":
        for prev, t in zip(plan.tiers, plan.tiers[1:]):
            if t.rate != prev.rate:
                points.append((t.start, f"tier from {t.start:.0%}"))
    rows = []
    for a, what in points:
        if a > upto:
            continue
        before = float(payout_multiple(plan, a - 1e-7))
        after = float(payout_multiple(plan, a))
        if abs(after - before) > 1e-6:
            rows.append({"attainment": a, "before": before, "after": after, "what": what})
    return pd.DataFrame(rows, columns=["attainment", "before", "after", "what"])


def curve_table(plan: Plan, upto: float = 2.0, step: float = 0.01, target_incentive: float | None = None) -> pd.DataFrame:
    """Points of the payout curve 0..``upto`` (with both sides of every cliff, so a line chart
    shows the jump): columns ``attainment, multiple`` and, given ``target_incentive``,
    ``payout`` in money."""
    grid = np.round(np.arange(0.0, upto + step / 2, step), 10)
    cliffs = curve_cliffs(plan, upto)
    extra = np.concatenate([cliffs["attainment"].to_numpy() - 1e-7, cliffs["attainment"].to_numpy()]) if len(cliffs) else np.array([])
    if plan.cap is not None:  # where the cap bites, for a crisp corner
        extra = np.append(extra, [a for a in _cap_points(plan, upto)])
    a = np.unique(np.concatenate([grid, extra]))
    out = pd.DataFrame({"attainment": a, "multiple": payout_multiple(plan, a)})
    if target_incentive is not None:
        out["payout"] = out["multiple"] * float(target_incentive)
    return out


def _cap_points(plan: Plan, upto: float) -> list[float]:
    a = np.linspace(0, upto, 4001)
    m = component_multiple(plan, a)
    hit = np.nonzero(m >= plan.cap)[0]
    return [float(a[hit[0]])] if len(hit) else []


# --- periods -------------------------------------------------------------------------------------
def months_in(period: Period) -> float | None:
    """Whole months covered by ``period``, or None when it is not made of whole months."""
    s, e = period.start, period.end
    if s.day != 1:
        return None
    nxt = date(e.year + (e.month // 12), e.month % 12 + 1, 1)
    if (nxt - e).days != 1:
        return None
    return float((e.year - s.year) * 12 + e.month - s.month + 1)


def quota_scale(plan: Plan, period: Period) -> float:
    """How the plan's per-period amounts (quota, target incentive, draw) scale to ``period``:
    months(period) / months(plan period); 1 when the plan names no period.

    Raises InputError for a week or a range that is not whole months when the plan has one."""
    if plan.period is None:
        return 1.0
    months = months_in(period)
    if months is None:
        raise InputError(
            f"period {period.label!r}: the plan {plan.name!r} has {plan.period}ly quotas, which scale only to whole "
            f"months; ask for a month, quarter, year or a range from a month's first day to a month's last day")
    return months / PLAN_PERIOD_MONTHS[plan.period]


# --- measures --------------------------------------------------------------------------------------
def first_win_ids(deals: pd.DataFrame) -> set:
    """Ids of deals that are their account's first won deal (earliest close date; ties by id).
    Deals without an account are never new logos."""
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.ACCOUNT].notna() & (deals[S.ACCOUNT].astype(str).str.strip() != "")]
    if won.empty:
        return set()
    first = won.sort_values([S.CLOSE_DATE, S.OPPORTUNITY_ID]).drop_duplicates(S.ACCOUNT)
    return set(first[S.OPPORTUNITY_ID])


def _measure_by_rep(booked: pd.DataFrame, measure: str, new_logo_ids: set) -> pd.Series:
    if measure == "won_amount":
        return booked.groupby(S.OWNER)[S.AMOUNT].sum()
    if measure == "won_count":
        return booked.groupby(S.OWNER).size().astype(float)
    flag = booked[S.OPPORTUNITY_ID].isin(new_logo_ids)
    return flag.groupby(booked[S.OWNER]).sum().astype(float)


def spif_mask(deals: pd.DataFrame, spif: Spif) -> pd.Series:
    """Which deals match a SPIF's filter: every field must match (a value, any of a list, or
    a {min, max} range); text compares case-insensitively; a field the data lacks matches
    nothing."""
    mask = pd.Series(True, index=deals.index)
    for fld, val in spif.filter.items():
        if fld not in deals.columns:
            return pd.Series(False, index=deals.index)
        col = deals[fld]
        if isinstance(val, dict):
            num = pd.to_numeric(col, errors="coerce")
            if "min" in val:
                mask &= num >= float(val["min"])
            if "max" in val:
                mask &= num <= float(val["max"])
            continue
        values = val if isinstance(val, list) else [val]
        wanted = {str(v).strip().casefold() for v in values}
        mask &= col.astype(str).str.strip().str.casefold().isin(wanted) & col.notna()
    return mask


# --- payouts ---------------------------------------------------------------------------------------
@dataclass
class PayoutResult:
    """Payouts for one plan and period. ``payouts`` has :data:`PAYOUT_COLUMNS` (+ per-measure
    ``attainment_<measure>`` columns for multi-measure plans); ``reversals`` lists won deals a
    later export shows lost or open again (not paid); ``cancellations`` the clawed-back deals."""

    plan: Plan
    period: Period
    payouts: pd.DataFrame
    total_cost: float
    bookings: float
    cost_of_sales: float | None
    full_cost_of_sales: float | None
    quota_scale: float
    reversals: pd.DataFrame
    cancellations: pd.DataFrame
    not_on_plan: list

    def to_json(self) -> dict:
        cols = ["rep", "quota", "achieved", "attainment", "commission", "spif", "clawback", "draw_top_up", "total", "draw_balance"]
        return {
            "plan": self.plan.name, "period": self.period.label,
            "period_start": self.period.start.isoformat(), "period_end": self.period.end.isoformat(),
            "payouts": self.payouts[cols].to_dict(orient="records"),
            "total_cost": self.total_cost, "cost_of_sales": self.cost_of_sales,
            "bookings": self.bookings, "full_cost_of_sales": self.full_cost_of_sales,
            "quota_scale": self.quota_scale,
            "reversals": self.reversals.to_dict(orient="records"),
            "clawbacks": self.cancellations.to_dict(orient="records"),
            "not_on_plan": self.not_on_plan,
        }


def booked_deals(deals: pd.DataFrame, start, end, snapshots: pd.DataFrame | None = None,
                 cancel_stages=DEFAULT_CANCEL_STAGES) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The deals booked in [start, end]: (booked, cancellations, reversals).

    ``booked``: deals won now with close date in the period, plus deals a snapshot showed won
    in the period that a later snapshot shows in a cancellation stage (they were booked and
    paid; ``cancelled_on`` = the first snapshot showing the cancellation). ``reversals``: deals
    a snapshot showed won in the period that are now lost or open for another reason."""
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between(s, e)].copy()
    won["cancelled_on"] = pd.NaT
    empty_rev = pd.DataFrame(columns=[S.OPPORTUNITY_ID, S.OWNER, S.AMOUNT, S.CLOSE_DATE, "won_in_snapshot", "now"])
    if snapshots is None or snapshots.empty:
        return won, won.iloc[0:0], empty_rev
    snaps = snapshots
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


def plan_reps(plan: Plan, deals: pd.DataFrame, reps: pd.DataFrame | None, start, end,
              booked: pd.DataFrame | None = None) -> list[str]:
    """Reps the plan pays for the period: roster reps on the team at some point of the period
    and owners of won deals in it, that have a quota (default or by name)."""
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    names = set()
    if reps is not None and not reps.empty:
        hire = pd.to_datetime(reps[S.HIRE_DATE]) if S.HIRE_DATE in reps else pd.Series(pd.NaT, index=reps.index)
        end_ = pd.to_datetime(reps[S.END_DATE]) if S.END_DATE in reps else pd.Series(pd.NaT, index=reps.index)
        active = reps[S.ACTIVE].fillna(True).astype(bool) if S.ACTIVE in reps else pd.Series(True, index=reps.index)
        on = (hire.isna() | (hire <= e)) & (end_.isna() | (end_ >= s)) & (active | end_.notna())
        names |= set(reps.loc[on, S.NAME].astype(str))
    if not deals.empty:
        names |= set(deals.loc[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between(s, e), S.OWNER].dropna().astype(str))
    if booked is not None and not booked.empty:
        names |= set(booked[S.OWNER].dropna().astype(str))
    names |= set(plan.quota.by_rep)
    return sorted(n for n in names if all(c.quota.for_rep(n) is not None for c in plan.components)
                  and plan.target_incentive.for_rep(n) is not None)


def compute_payouts(plan: Plan, deals: pd.DataFrame, period: Period, *, reps: pd.DataFrame | None = None,
                    snapshots: pd.DataFrame | None = None, rep_names: list[str] | None = None) -> PayoutResult:
    """Payouts of ``plan`` for ``period`` from actual bookings (``deals`` as load_deals gives
    them, roster fields optional). ``snapshots`` enables clawbacks and data reversals;
    ``reps`` (the roster) adds reps without bookings and base salaries for the full cost of
    sales; ``rep_names`` restricts the payout to those reps."""
    scale = quota_scale(plan, period)
    booked, cancelled, reversals = booked_deals(deals, period.start, period.end, snapshots,
                                                plan.clawback.stages if plan.clawback else DEFAULT_CANCEL_STAGES)
    booked = booked.copy()
    booked[S.AMOUNT] = booked[S.AMOUNT].fillna(0.0)
    names = plan_reps(plan, deals, reps, period.start, period.end, booked)
    if rep_names is not None:  # e.g. the sidebar's filters
        keep = set(rep_names)
        names = [n for n in names if n in keep]
    everyone = set(deals[S.OWNER].dropna().astype(str)) | (set(reps[S.NAME]) if reps is not None and not reps.empty else set())
    not_on_plan = sorted(n for n in set(booked[S.OWNER].dropna().astype(str)) if n not in names
                         and (rep_names is None or n in set(rep_names)))
    new_ids = first_win_ids(pd.concat([deals, cancelled], ignore_index=True) if not cancelled.empty else deals)
    idx = pd.Index(names, name="rep")
    ti = np.array([plan.target_incentive.for_rep(n) for n in names], dtype=float) * scale
    multiple = np.zeros(len(names))
    out = pd.DataFrame(index=idx)
    for j, comp in enumerate(plan.components):
        q = np.array([comp.quota.for_rep(n) for n in names], dtype=float) * scale
        achieved = _measure_by_rep(booked, comp.measure, new_ids).reindex(idx, fill_value=0.0).to_numpy(dtype=float)
        att = achieved / q
        multiple += comp.weight * component_multiple(plan, att)
        if j == 0:
            out["quota"], out["achieved"], out["attainment"] = q, achieved, att
        if len(plan.components) > 1:
            out[f"quota_{comp.measure}"], out[f"achieved_{comp.measure}"], out[f"attainment_{comp.measure}"] = q, achieved, att
    if plan.cap is not None:
        multiple = np.minimum(multiple, plan.cap)
    commission = multiple * ti
    spif = np.zeros(len(names))
    for sp in plan.spifs:
        hits = booked[spif_mask(booked, sp)].groupby(S.OWNER).size().reindex(idx, fill_value=0).to_numpy(dtype=float)
        spif += hits * sp.amount
    if plan.spif_in_cap and plan.cap is not None:
        spif = np.clip(plan.cap * ti - commission, 0.0, None).clip(max=spif)
    won_amount = booked.groupby(S.OWNER)[S.AMOUNT].sum().reindex(idx, fill_value=0.0).to_numpy(dtype=float)
    won_count = booked.groupby(S.OWNER).size().reindex(idx, fill_value=0).to_numpy(dtype=float)
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
    earned = commission + spif - clawback
    draw_top_up = np.zeros(len(names))
    if plan.draw is not None:
        draw_top_up = np.clip(plan.draw.amount * scale - earned, 0.0, None)
    total = earned + draw_top_up
    out["commission"], out["spif"], out["clawback"] = commission, spif, clawback
    out["draw_top_up"], out["total"] = draw_top_up, total
    out["draw_balance"] = draw_top_up if (plan.draw is not None and plan.draw.recoverable) else 0.0
    out["target_incentive"], out["won_amount"], out["won_count"] = ti, won_amount, won_count
    out = out.reset_index()
    lead = [c for c in PAYOUT_COLUMNS if c in out.columns]
    out = out[lead + [c for c in out.columns if c not in lead]]
    total_cost = float(total.sum())
    bookings = float(won_amount.sum())
    cos = total_cost / bookings if bookings > 0 else None
    full = None
    if reps is not None and not reps.empty and S.BASE_SALARY in reps.columns and bookings > 0 and names:
        base = reps.drop_duplicates(S.NAME).set_index(S.NAME)[S.BASE_SALARY].reindex(names)
        if base.notna().all():
            months = months_in(period)
            years = months / 12.0 if months is not None else period.days / 365.25
            full = (float(base.sum()) * years + total_cost) / bookings
    return PayoutResult(plan, period, out, total_cost, bookings, cos, full, scale, reversals, cancel_rows,
                        [n for n in not_on_plan if n in everyone])


def payouts_over_periods(plan: Plan, deals: pd.DataFrame, periods: list[Period], *, reps: pd.DataFrame | None = None,
                         snapshots: pd.DataFrame | None = None, rep_names: list[str] | None = None) -> pd.DataFrame:
    """Payouts period after period with the draw carried forward.

    A draw guarantees ``draw x scale`` per period. Non-recoverable: the shortfall is topped up
    and forgotten. Recoverable: the top-up is owed (``draw_balance``) and repaid from later
    earnings above the draw, before they are paid out. Columns: rep, period, period_start,
    earned (commission + SPIFs - clawbacks), draw_top_up, draw_recovered, total, draw_balance."""
    no_draw = Plan(**{**plan.__dict__, "draw": None})
    rows, balance = [], {}
    for period in periods:
        res = compute_payouts(no_draw, deals, period, reps=reps, snapshots=snapshots, rep_names=rep_names)
        scale = res.quota_scale
        for r in res.payouts.itertuples(index=False):
            earned = float(r.total)
            owed = balance.get(r.rep, 0.0)
            top_up = recovered = 0.0
            if plan.draw is not None:
                floor = plan.draw.amount * scale
                if earned < floor:
                    top_up = floor - earned
                    if plan.draw.recoverable:
                        owed += top_up
                elif plan.draw.recoverable and owed > 0:
                    recovered = min(owed, earned - floor)
                    owed -= recovered
            balance[r.rep] = owed
            rows.append({"rep": r.rep, "period": period.label, "period_start": period.start, "earned": earned,
                         "draw_top_up": top_up, "draw_recovered": recovered, "total": earned + top_up - recovered,
                         "draw_balance": owed})
    return pd.DataFrame(rows, columns=["rep", "period", "period_start", "earned", "draw_top_up", "draw_recovered",
                                       "total", "draw_balance"])


# --- simulation ------------------------------------------------------------------------------------
@dataclass
class SimulationResult:
    """Monte Carlo of a plan's cost: ``totals`` (n_sims) total cost, ``bookings`` (n_sims),
    ``per_rep`` (n_sims x reps) payouts, ``attainment`` (n_sims x reps) of the first measure."""

    reps: list
    totals: np.ndarray
    bookings: np.ndarray
    per_rep: np.ndarray
    attainment: np.ndarray
    quotas: np.ndarray

    def summary(self) -> dict:
        t = self.totals
        cos = np.where(self.bookings > 0, t / np.where(self.bookings > 0, self.bookings, 1), np.nan)
        return {"n_sims": int(len(t)), "mean_cost": float(t.mean()) if len(t) else 0.0,
                "p10_cost": float(np.quantile(t, 0.1)) if len(t) else 0.0,
                "p50_cost": float(np.quantile(t, 0.5)) if len(t) else 0.0,
                "p90_cost": float(np.quantile(t, 0.9)) if len(t) else 0.0,
                "mean_bookings": float(self.bookings.mean()) if len(t) else 0.0,
                "mean_cost_of_sales": float(np.nanmean(cos)) if np.isfinite(cos).any() else None,
                "share_reps_at_quota": float((self.attainment >= 1 - EPS).mean()) if self.attainment.size else None}

    def rep_table(self) -> pd.DataFrame:
        """Per rep: quota, mean/P10/P90 payout, probability of reaching quota."""
        if not self.reps:
            return pd.DataFrame(columns=["rep", "quota", "mean_payout", "p10_payout", "p90_payout", "p_attain"])
        return pd.DataFrame({
            "rep": self.reps, "quota": self.quotas,
            "mean_payout": self.per_rep.mean(axis=0),
            "p10_payout": np.quantile(self.per_rep, 0.1, axis=0),
            "p90_payout": np.quantile(self.per_rep, 0.9, axis=0),
            "p_attain": (self.attainment >= 1 - EPS).mean(axis=0),
        })


def simulate_plan(plan: Plan, model, period: Period, *, n_sims: int = 2000, seed: int = 0,
                  win_rate_uplift: float = 0.0, deal_size_change: float = 0.0, extra_hires: int = 0,
                  team_samples=None, progress: Callable[[float], None] | None = None) -> SimulationResult:
    """Monte Carlo of the plan's cost over the bookings model of :mod:`salesops.goals`.

    Each simulation draws every rep's won deals for the period (count and sizes, see
    :func:`salesops.goals.simulate_bookings`), applies the plan (all measures, threshold,
    tiers, cap; SPIFs by the share of the rep's past won deals that qualified; no clawbacks or
    draws) and sums the cost. What-ifs: ``win_rate_uplift`` (+0.1 = 10% more wins),
    ``deal_size_change`` (+0.1 = deals 10% larger), ``extra_hires`` (headcount change: new reps
    at the team's average productivity, a new hire's ramp and the plan's default quota; negative
    removes the reps with the lowest expected bookings, see goals.with_what_ifs).
    ``team_samples`` (the forecast's landing samples) calibrate the team total when no
    what-if is set (:func:`salesops.goals.calibrate_to_team`)."""
    from . import goals

    model = goals.with_what_ifs(model, win_rate_uplift=win_rate_uplift, deal_size_change=deal_size_change,
                                extra_hires=extra_hires)
    scale = quota_scale(plan, period)
    names = [n for n in model.reps if all(c.quota.for_rep(n) is not None for c in plan.components)
             and plan.target_incentive.for_rep(n) is not None]
    keep = [model.reps.index(n) for n in names]
    sims = goals.simulate_bookings(model, n_sims=n_sims, seed=seed, progress=progress)
    if team_samples is not None and not (win_rate_uplift or deal_size_change or extra_hires):
        sims = goals.calibrate_to_team(sims, team_samples)
    amount, wins, logos = sims["won_amount"][:, keep], sims["won_count"][:, keep], sims["new_logos"][:, keep]
    values = {"won_amount": amount, "won_count": wins, "new_logos": logos}
    ti = np.array([plan.target_incentive.for_rep(n) for n in names], dtype=float) * scale
    multiple = np.zeros_like(amount)
    att0 = np.zeros_like(amount)
    quotas0 = np.zeros(len(names))
    for j, comp in enumerate(plan.components):
        q = np.array([comp.quota.for_rep(n) for n in names], dtype=float) * scale
        att = values[comp.measure] / q
        multiple += comp.weight * component_multiple(plan, att)
        if j == 0:
            att0, quotas0 = att, q
    if plan.cap is not None:
        multiple = np.minimum(multiple, plan.cap)
    pay = multiple * ti
    if plan.spifs:
        rng = np.random.default_rng([seed, 7])
        spif = np.zeros_like(pay)
        hist = model.history
        for sp in plan.spifs:
            share = np.array([goals.qualifying_share(hist, n, spif_mask(hist, sp)) for n in names])
            spif += rng.binomial(wins.astype(np.int64), share[None, :]) * sp.amount
        if plan.spif_in_cap and plan.cap is not None:
            spif = np.minimum(spif, np.clip(plan.cap * ti - pay, 0, None))
        pay = pay + spif
    return SimulationResult(names, pay.sum(axis=1), amount.sum(axis=1), pay, att0, quotas0)


# --- effectiveness -------------------------------------------------------------------------------
def pay_for_performance(payouts: pd.DataFrame) -> float | None:
    """Spearman rank correlation of total payout with attainment (1 = pay follows
    performance exactly); None with fewer than 3 reps or no variation."""
    p = payouts.dropna(subset=["attainment", "total"])
    if len(p) < 3 or p["attainment"].nunique() < 2 or p["total"].nunique() < 2:
        return None
    from scipy import stats  # imported on use: scipy.stats costs about a second at start-up

    return float(stats.spearmanr(p["attainment"], p["total"]).statistic)


def top_performer_share(payouts: pd.DataFrame, top: float = 0.2) -> float | None:
    """Share of total pay going to the top ``top`` fraction of reps by attainment (at least
    one rep); None when nothing is paid."""
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
            "reps_at_quota": int((p["attainment"] >= 1 - EPS).sum()), "reps": int(len(p))}


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
