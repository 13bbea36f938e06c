"""The comp-plan model (DESIGN.md section 7): a plan document, its validation, its payout curve,
the sample plans, and the designer form that builds a plan document.

A plan is a JSON document (see :data:`PLAN_KEYS` and docs/planning.md). Payout rules, in the
order they apply, for each rep, each plan period and each measure of the plan:

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
  by the deal's share of the rep's won amount;
* draw: a guaranteed minimum per plan period; the top-up (draw - earned, when positive) is
  paid, and when ``recoverable`` it is owed back from later commission.

Quota, target incentive and draw are per plan ``period`` (month, quarter or year): the plan is
evaluated once per plan period (see :mod:`salesops.compensation.payout`), never with a scaled
quota. Quotas default to the published rep targets of each plan period; the plan's own quota
is the fallback.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema as S
from ..errors import InputError, Problem

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
SPIF_FIELDS = tuple(c for c in S.OPPORTUNITY_COLUMNS if c not in S.BOOKKEEPING_COLUMNS) + (S.MANAGER, S.TEAM)
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




def curve_view(plan: Plan, currency: str = "USD", upto: float = 2.0) -> dict:
    """What the page's payout-curve section shows: ``curve`` (attainment, multiple, payout),
    ``cliffs`` (with ``before_payout`` / ``after_payout`` in money), ``target_incentive`` (the
    plan's default, else its first per-rep amount) and ``text``, the cliffs in words."""
    from ..formats import money

    ti = plan.target_incentive.default
    if ti is None:
        ti = next(iter(plan.target_incentive.by_rep.values()), 0.0)
    curve = curve_table(plan, upto=upto, target_incentive=ti)
    cliffs = curve_cliffs(plan, upto)
    cliffs = cliffs.assign(before_payout=cliffs["before"] * ti, after_payout=cliffs["after"] * ti)
    if len(cliffs):
        text = ("Cliffs: " + "; ".join(f"at {r.attainment:.0%} pay jumps from {money(r.before_payout, currency)} to "
                                      f"{money(r.after_payout, currency)} ({r.what})" for r in cliffs.itertuples())
                + ". Reps just below a cliff have a strong reason to pull deals in or hold them back.")
    else:
        text = "No cliffs: pay rises smoothly with attainment."
    return {"curve": curve, "cliffs": cliffs, "target_incentive": float(ti), "text": text}


# --- SPIFs ------------------------------------------------------------------------------------------
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


# --- plans as text, samples ------------------------------------------------------------------------
#: The sample plans shipped with salesops; the designer opens on the first, the standard plan.
PLANS_DIR = Path(__file__).resolve().parents[2] / "data" / "plans"
DEFAULT_SAMPLE = "standard.json"


def plan_sources(ws) -> dict[str, dict]:
    """Where a plan can start from: {"Sample: <name>": {kind, name, doc}, "Saved: <name>":
    {kind, name, versions (newest first)}}."""
    out = {f"Sample: {n}": {"kind": "sample", "name": n, "doc": d} for n, d in sample_plans().items()}
    saved = ws.saved("comp_plans")
    for name in dict.fromkeys(saved["name"]) if not saved.empty else []:
        versions = sorted((int(v) for v in saved.loc[saved["name"] == name, "version"]), reverse=True)
        out[f"Saved: {name}"] = {"kind": "saved", "name": name, "versions": versions}
    return out


def source_doc(ws, source: dict, version: int | None = None) -> dict:
    """The plan document of a :func:`plan_sources` entry (a saved plan's ``version``, default the newest)."""
    if source["kind"] == "sample":
        return dict(source["doc"])
    return ws.load_saved("comp_plans", source["name"], version) or {}


def sample_plans() -> dict[str, dict]:
    """The sample plans in data/plans, by plan name, the standard plan first (files that do
    not read are skipped)."""
    out = {}
    for f in sorted(PLANS_DIR.glob("*.json"), key=lambda f: (f.name != DEFAULT_SAMPLE, f.name)):
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            out[str(doc.get("name") or f.stem)] = doc
    return out


def plan_json(plan) -> str:
    """A plan (Plan or document) as canonical JSON text: hashable, so it can key a cache."""
    doc = plan.to_json() if isinstance(plan, Plan) else plan
    return json.dumps(doc, sort_keys=True, default=str)


def as_plan(plan) -> Plan:
    """A :class:`Plan` from a Plan, a plan document or its JSON text."""
    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, str):
        return parse_plan(parse_json_text(plan))
    return parse_plan(plan)


def parse_json_text(text: str, source: str = "the plan JSON") -> dict:
    """A plan document from JSON text; InputError naming the line and column when it is not JSON."""
    try:
        doc = json.loads(text)
    except (TypeError, ValueError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError(f"{source} is not valid JSON{where}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{source} must be a JSON object {{...}}, not {type(doc).__name__}")
    return doc


def problems_table(exc: InputError) -> pd.DataFrame:
    """The problems of a refused plan as a table (key, value, problem)."""
    return pd.DataFrame([{"key": p.column, "value": p.value, "problem": p.problem} for p in exc.problems],
                        columns=["key", "value", "problem"])


# --- the designer form -----------------------------------------------------------------------------
#: The designer's choice for a plan without a period.
NO_PERIOD = "as asked"
PERIOD_CHOICES = ("quarter", "month", "year", NO_PERIOD)
PERIOD_LABELS = {"quarter": "Quarter", "month": "Month", "year": "Year", NO_PERIOD: "The sidebar's period (none)"}
MEASURE_LABELS = {k: v[0].upper() + v[1:] for k, v in MEASURES.items()}


def _amounts(value) -> tuple[float | None, dict]:
    if isinstance(value, dict):
        return value.get("default"), dict(value.get("by_rep") or {})
    return value, {}


def _num(value, default: float) -> float:
    return float(value) if _is_number(value) else float(default)


def form_values(doc: dict) -> dict:
    """The designer's starting values for a plan document (a sample or a saved plan):
    percentages as the form shows them (threshold 50 = 50%), tiers and SPIFs as rows."""
    doc = doc if isinstance(doc, dict) else {}
    quota, by_rep = _amounts(doc.get("quota"))
    ti, _ = _amounts(doc.get("target_incentive"))
    measures = doc.get("measures") or []
    logos = next((m for m in measures if isinstance(m, dict) and m.get("measure") == "new_logos"), None)
    measure = doc.get("measure") or "won_amount"
    logo_quota, _ = _amounts((logos or {}).get("quota", 4))
    tiers = doc.get("tiers") or [{"from": 0, "to": None, "rate": 1.0}]
    spifs = []
    for s in doc.get("spifs") or []:
        flt = (s.get("filter") or {"product": ""}) if isinstance(s, dict) else {"product": ""}
        fld, val = next(iter(flt.items())) if flt else ("product", "")
        spifs.append({"name": s.get("name"), "field": fld, "value": json.dumps(val).strip('"'),
                      "amount": _num(s.get("amount"), 0.0)})
    cb = doc.get("clawback") or {}
    draw = doc.get("draw") or {}
    if _is_number(draw):
        draw = {"amount": draw}
    period = doc.get("period")
    return {
        "name": str(doc.get("name") or "New plan"), "description": str(doc.get("description") or ""),
        "period": period if period in PLAN_PERIOD_MONTHS else (NO_PERIOD if "period" in doc and period is None else "quarter"),
        "measure": measure if measure in MEASURES else "won_amount",
        "quota": _num(quota, 100_000), "by_rep": by_rep, "target_incentive": _num(ti, 10_000),
        "threshold_pct": _num(doc.get("threshold"), 0) * 100, "cap": _num(doc.get("cap"), 0),
        "tier_mode": doc.get("tier_mode") if doc.get("tier_mode") in TIER_MODES else "marginal",
        "tiers": [{"from_pct": _num(t.get("from"), 0) * 100,
                   "to_pct": "" if t.get("to") is None else f"{_num(t.get('to'), 0) * 100:g}",
                   "rate": _num(t.get("rate"), 1.0)} for t in tiers if isinstance(t, dict)],
        "spifs": spifs, "spif_in_cap": bool(doc.get("spif_in_cap")),
        "use_logos": logos is not None and measure != "new_logos",
        "logo_weight_pct": int(round(_num((logos or {}).get("weight"), 0.3) * 100)), "logo_quota": _num(logo_quota, 4),
        "clawback_pct": _num(cb.get("share"), 0) * 100, "clawback_days": int(_num(cb.get("window_days"), 90)),
        "clawback_stages": list(cb.get("stages") or DEFAULT_CANCEL_STAGES),
        "draw": _num(draw.get("amount"), 0), "draw_recoverable": bool(draw.get("recoverable", True)),
        "ti_by_rep": _amounts(doc.get("target_incentive"))[1],
    }


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _spif_value(text):
    """A SPIF filter value as typed: JSON when it reads as JSON (a list, a range), else text."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _pct_number(v) -> float:
    """A percentage typed in a cell ("120", "120%", 120.0) as a number (120.0); InputError otherwise."""
    if isinstance(v, str):
        t = v.strip().rstrip("%").strip()
        try:
            return float(t)
        except ValueError:
            raise InputError(f"tier end {v!r}: type a percentage of quota such as 120, or leave it empty for no end") from None
    return float(v)


def from_form(v: dict) -> dict:
    """The plan document the designer's values describe (the inverse of :func:`form_values`).

    ``v`` has the keys :func:`form_values` returns; ``tiers`` and ``spifs`` are lists of row
    dicts as the editors give them (blank rows are skipped; a tier's ``to_pct`` may be text,
    empty = no end). Percentages become fractions, a
    cap or draw of 0 means none, a clawback of 0% means none."""
    tiers = []
    for r in v.get("tiers") or []:
        if _blank(r.get("from_pct")) and _blank(r.get("rate")):
            continue
        tiers.append({"from": 0.0 if _blank(r.get("from_pct")) else float(r["from_pct"]) / 100,
                      "to": None if _blank(r.get("to_pct")) else _pct_number(r["to_pct"]) / 100,
                      "rate": None if _blank(r.get("rate")) else float(r["rate"])})
    spifs = [{"name": r.get("name") if not _blank(r.get("name")) else f"SPIF {i + 1}",
              "filter": {r["field"]: _spif_value(r.get("value"))}, "amount": float(r["amount"])}
             for i, r in enumerate(v.get("spifs") or []) if not _blank(r.get("field")) and not _blank(r.get("amount"))]
    measure = v.get("measure") or "won_amount"
    ti_by_rep = v.get("ti_by_rep") or {}
    doc = {
        "name": v.get("name") or "New plan", "description": v.get("description") or "", "measure": measure,
        "period": None if v.get("period") in (None, NO_PERIOD) else v["period"],
        "quota": {"default": float(v.get("quota") or 0), "by_rep": dict(v.get("by_rep") or {})},
        "target_incentive": ({"default": float(v.get("target_incentive") or 0), "by_rep": dict(ti_by_rep)} if ti_by_rep
                             else float(v.get("target_incentive") or 0)),
        "threshold": float(v.get("threshold_pct") or 0) / 100,
        "tiers": tiers, "tier_mode": v.get("tier_mode") or "marginal",
        "cap": float(v["cap"]) if v.get("cap") else None,
        "spifs": spifs, "spif_in_cap": bool(v.get("spif_in_cap")),
        "clawback": ({"share": float(v["clawback_pct"]) / 100, "window_days": int(v.get("clawback_days") or 90),
                      "stages": list(v.get("clawback_stages") or DEFAULT_CANCEL_STAGES)}
                     if v.get("clawback_pct") else None),
        "draw": {"amount": float(v["draw"]), "recoverable": bool(v.get("draw_recoverable", True))} if v.get("draw") else None,
    }
    if v.get("use_logos") and measure != "new_logos":
        w = float(v.get("logo_weight_pct") or 30) / 100
        doc["measures"] = [{"measure": measure, "weight": round(1 - w, 6)},
                           {"measure": "new_logos", "weight": round(w, 6),
                            "quota": {"default": float(v.get("logo_quota") or 0), "by_rep": {}}}]
    return doc
