"""Territory plans: rules that put every account in exactly one territory, the reps who own
each territory (one, or several with shares), the balance of the books across reps, what-if
moves, and versioned plans with one marked active (the active plan is the ``territory``
filter of every page).

A plan (JSON; ``python -m salesops territories --plan FILE``)::

    {"name": "FY2027 territories",
     "territories": [{"name": "EMEA Enterprise", "reps": {"Ann Lee": 0.6, "Bob Park": 0.4}},
                     {"name": "Key accounts", "rep": "Cat Diaz"}],
     "rules": [{"territory": "Key accounts", "accounts": ["Acme Corp"]},
               {"territory": "EMEA Enterprise", "region": ["EMEA"], "size_band": ["5,000+ employees"]},
               {"territory": "EMEA Enterprise", "region": ["EMEA"], "priority": 1}],
     "default": "House accounts"}

Precedence (which rule wins when several match an account):

1. a named-account rule (``accounts``) beats every other rule;
2. then the higher ``priority`` (default: the number of criteria the rule uses, so
   "EMEA and 5,000+ employees" beats "EMEA");
3. equal rank and different territories is a **conflict**: the rule listed first wins and the
   conflict is reported;
4. an account no rule matches goes to ``default`` when the plan has one, else it is
   **unassigned** (reported).

Criteria: ``region`` (the account's region: the accounts import's, else the region of most of
its deals), ``industry``, ``size_band`` (the workspace's size bands) and ``accounts`` (names).
Within a criterion any listed value matches; across criteria all must match.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from . import accounts as A
from . import schema as S
from .errors import InputError, Problem

#: The saved-work table and kind of territory plans.
TABLE = "scenarios"
KIND = "territory_plan"
CRITERIA = {"region": A.ACCOUNT_REGION, "industry": S.INDUSTRY, "size_band": A.SIZE_BAND}
CRITERIA_LABELS = {"region": "region", "industry": "industry", "size_band": "company size", "accounts": "named accounts"}
NAMED_RANK = 1_000_000
UNASSIGNED = "(unassigned)"
NO_REP = "(no rep)"
SHARE_TOLERANCE = 1e-6
#: Potential: the weight of an account's own history is closed / (closed + this).
HISTORY_WEIGHT_DEALS = 5
LOOKBACK_YEARS = 3


# --- the plan ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """One rule: accounts matching every criterion given go to ``territory``."""

    territory: str
    region: tuple[str, ...] = ()
    industry: tuple[str, ...] = ()
    size_band: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    priority: int | None = None

    @property
    def named(self) -> bool:
        return bool(self.accounts)

    @property
    def n_criteria(self) -> int:
        return sum(bool(getattr(self, k)) for k in (*CRITERIA, "accounts"))

    @property
    def rank(self) -> int:
        """Higher wins: named accounts first, then the priority (default: criteria count)."""
        p = self.n_criteria if self.priority is None else int(self.priority)
        return (NAMED_RANK if self.named else 0) + p

    def describe(self) -> str:
        parts = []
        for k in (*CRITERIA, "accounts"):
            vals = getattr(self, k)
            if vals:
                shown = ", ".join(vals[:3]) + (f" and {len(vals) - 3} more" if len(vals) > 3 else "")
                parts.append(f"{CRITERIA_LABELS[k]}: {shown}")
        return " and ".join(parts) if parts else "every account"

    def as_doc(self) -> dict:
        out = {"territory": self.territory}
        for k in (*CRITERIA, "accounts"):
            if getattr(self, k):
                out[k] = list(getattr(self, k))
        if self.priority is not None:
            out["priority"] = self.priority
        return out


@dataclass(frozen=True)
class Territory:
    """A territory and its reps with their shares (adding up to 1)."""

    name: str
    reps: tuple[tuple[str, float], ...] = ()

    def as_doc(self) -> dict:
        if len(self.reps) == 1 and abs(self.reps[0][1] - 1) < SHARE_TOLERANCE:
            return {"name": self.name, "rep": self.reps[0][0]}
        return {"name": self.name, "reps": {r: s for r, s in self.reps}}


@dataclass(frozen=True)
class Plan:
    """A territory plan: territories, rules (in order), the default territory."""

    name: str
    territories: tuple[Territory, ...] = ()
    rules: tuple[Rule, ...] = ()
    default: str | None = None

    @property
    def territory_names(self) -> list[str]:
        return [t.name for t in self.territories]

    def territory(self, name: str) -> Territory | None:
        return next((t for t in self.territories if t.name == name), None)

    def as_doc(self) -> dict:
        out = {"name": self.name, "territories": [t.as_doc() for t in self.territories],
               "rules": [r.as_doc() for r in self.rules]}
        if self.default:
            out["default"] = self.default
        return out

    def rep_shares(self) -> pd.DataFrame:
        """territory, rep, share: one row per (territory, rep); territories without a rep
        have the rep :data:`NO_REP` at share 1."""
        rows = []
        for t in self.territories:
            for rep, share in (t.reps or ((NO_REP, 1.0),)):
                rows.append((t.name, rep, float(share)))
        return pd.DataFrame(rows, columns=[A.TERRITORY, "rep", "share"])


def _values(v, where: str, problems: list) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        v = [x for x in (p.strip() for p in split_names(v)) if x]
    if not isinstance(v, (list, tuple)):
        problems.append(Problem(f"{where} must be a list of names", value=v))
        return ()
    return tuple(dict.fromkeys(str(x).strip() for x in v if x is not None and str(x).strip()))


def split_names(text: str) -> list[str]:
    """Names in one text: separated by ";" when there is one, else by commas that are not
    inside a number ("1,000–4,999 employees" stays whole)."""
    import re

    text = str(text)
    return text.split(";") if ";" in text else re.split(r",(?!\d{3})", text)


def parse_plan(doc, source: str = "the plan") -> Plan:
    """A :class:`Plan` from its JSON document (a dict or JSON text). Raises InputError
    listing every problem (naming the territory or rule and the value at fault)."""
    if isinstance(doc, (str, bytes)):
        try:
            doc = json.loads(doc)
        except ValueError as exc:
            raise InputError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{source}: a plan is a JSON object with territories and rules")
    problems: list[Problem] = []
    name = str(doc.get("name") or "Territory plan").strip() or "Territory plan"
    territories: list[Territory] = []
    seen = set()
    raw_t = doc.get("territories") or []
    if not isinstance(raw_t, list):
        raise InputError(f"{source}: territories must be a list")
    for i, t in enumerate(raw_t, start=1):
        if isinstance(t, str):
            t = {"name": t}
        if not isinstance(t, dict) or not str(t.get("name") or "").strip():
            problems.append(Problem(f"territory {i} needs a name", column="territories", row=i))
            continue
        tname = str(t["name"]).strip()
        if tname in seen:
            problems.append(Problem(f"territory {tname!r} is listed twice", column="territories", row=i, value=tname))
            continue
        seen.add(tname)
        reps: dict[str, float] = {}
        if t.get("rep"):
            reps[str(t["rep"]).strip()] = 1.0
        given = t.get("reps")
        if isinstance(given, dict):
            for rep, share in given.items():
                try:
                    reps[str(rep).strip()] = float(share)
                except (TypeError, ValueError):
                    problems.append(Problem(f"territory {tname!r}: the share of {rep} is not a number", column="reps", row=i, value=share))
        elif isinstance(given, (list, tuple)):
            for rep in given:
                reps[str(rep).strip()] = 1.0 / len(given)
        elif isinstance(given, str) and given.strip():
            reps.update(parse_reps(given, tname, problems))
        if reps:
            bad = [r for r, s in reps.items() if not (s > 0 and np.isfinite(s))]
            for r in bad:
                problems.append(Problem(f"territory {tname!r}: the share of {r} must be above 0", column="reps", row=i, value=reps[r]))
            total = sum(reps.values())
            if not bad and abs(total - 1) > 0.005:
                problems.append(Problem(f"territory {tname!r}: the reps' shares add up to {total:.0%}, not 100%",
                                        column="reps", row=i, value=round(total, 4)))
        territories.append(Territory(tname, tuple((r, float(s)) for r, s in reps.items())))
    rules: list[Rule] = []
    raw_r = doc.get("rules") or []
    if not isinstance(raw_r, list):
        raise InputError(f"{source}: rules must be a list")
    for i, r in enumerate(raw_r, start=1):
        if not isinstance(r, dict):
            problems.append(Problem(f"rule {i} must be an object with a territory", column="rules", row=i))
            continue
        terr = str(r.get("territory") or "").strip()
        if not terr:
            problems.append(Problem(f"rule {i} names no territory", column="rules", row=i))
            continue
        if terr not in seen:
            problems.append(Problem(f"rule {i}: territory {terr!r} is not one of the plan's territories", column="territory",
                                    row=i, value=terr))
        unknown = set(r) - {"territory", "priority", "accounts", *CRITERIA}
        if unknown:
            problems.append(Problem(f"rule {i}: {', '.join(sorted(unknown))} is not a criterion (use region, industry, "
                                    "size_band or accounts)", column="rules", row=i, value=sorted(unknown)[0]))
        pr = r.get("priority")
        if pr is not None and str(pr).strip() != "":
            try:
                pr = int(pr)
            except (TypeError, ValueError):
                problems.append(Problem(f"rule {i}: priority must be a whole number", column="priority", row=i, value=pr))
                pr = None
        else:
            pr = None
        rule = Rule(terr, *(_values(r.get(k), f"rule {i}: {k}", problems) for k in (*CRITERIA, "accounts")), priority=pr)
        rules.append(rule)
    default = str(doc.get("default") or "").strip() or None
    if default and default not in seen:
        problems.append(Problem(f"the default territory {default!r} is not one of the plan's territories", column="default",
                                value=default))
    if problems:
        raise InputError(f"{source} has {len(problems)} problem(s)" if len(problems) > 1 else f"{source}: {problems[0].problem}",
                         problems)
    return Plan(name, tuple(territories), tuple(rules), default)


def parse_reps(text: str, territory: str = "", problems: list | None = None) -> dict[str, float]:
    """"Ann Lee 60%, Bob Park 40%" (or "Ann Lee" alone, or "Ann Lee, Bob Park" = equal
    shares) as {rep: share}."""
    import re

    out: dict[str, float] = {}
    parts = [p.strip() for p in split_names(text) if p.strip()]
    unshared = []
    for p in parts:
        m = re.match(r"^(.*?)[\s:=]+(\d+(?:\.\d+)?)\s*%$", p)
        if m:
            out[m.group(1).strip()] = float(m.group(2)) / 100
        else:
            unshared.append(p)
    if unshared:
        rest = max(1.0 - sum(out.values()), 0.0) if out else 1.0
        for p in unshared:
            out[p] = rest / len(unshared)
        if out and rest == 0 and problems is not None:
            problems.append(Problem(f"territory {territory!r}: no share is left for {', '.join(unshared)}", column="reps"))
    return out


# --- assignment -------------------------------------------------------------------------------
@dataclass
class Assignment:
    """Where every account goes: ``accounts`` has one row per account (name, territory or
    None, how, rule position or -1, conflict), ``conflicts`` one row per contested account
    (account, territory chosen, territories, rules), ``unassigned`` the names left out."""

    accounts: pd.DataFrame
    conflicts: pd.DataFrame
    unassigned: list[str]

    def territory_of(self) -> pd.Series:
        """account name -> territory (assigned accounts only)."""
        a = self.accounts[self.accounts[A.TERRITORY].notna()]
        return pd.Series(a[A.TERRITORY].to_numpy(dtype=object), index=a[S.NAME].astype(str).to_numpy())


def assign(plan: Plan, uni: pd.DataFrame) -> Assignment:
    """Put every account of ``uni`` (accounts.universe with a ``size_band`` column) in exactly
    one territory by the precedence of the module docstring."""
    n = len(uni)
    names = uni[S.NAME].astype(str).to_numpy()
    best_rank = np.full(n, -1, dtype=np.int64)
    best_rule = np.full(n, -1, dtype=np.int64)
    matches: list[np.ndarray] = []
    texts: dict[str, tuple[pd.Series, np.ndarray]] = {}  # each criterion's column as text, and where it is set

    def text_of(col: str) -> tuple[pd.Series, np.ndarray]:
        if col not in texts:  # once per column, not once per rule
            texts[col] = (uni[col].astype(object).astype(str), uni[col].notna().to_numpy())
        return texts[col]

    for i, rule in enumerate(plan.rules):
        m = np.ones(n, dtype=bool)
        for k, col in CRITERIA.items():
            vals = getattr(rule, k)
            if vals:
                text, known = text_of(col)
                m &= text.isin(vals).to_numpy() & known
        if rule.accounts:
            m &= np.isin(names, rule.accounts)
        matches.append(m)
        better = m & (rule.rank > best_rank)
        best_rank = np.where(better, rule.rank, best_rank)
        best_rule = np.where(better, i, best_rule)
    territory = np.array([plan.rules[r].territory if r >= 0 else None for r in best_rule], dtype=object)
    how = np.array([("named account" if plan.rules[r].named else f"rule {r + 1}: {plan.rules[r].describe()}") if r >= 0 else None
                    for r in best_rule], dtype=object)
    # conflicts: another matching rule of the same rank naming another territory
    conflict = np.zeros(n, dtype=bool)
    rows = []
    if plan.rules:
        rank = np.array([r.rank for r in plan.rules])
        terr = np.array([r.territory for r in plan.rules], dtype=object)
        stack = np.vstack(matches) if matches else np.zeros((0, n), dtype=bool)
        for j in np.flatnonzero(best_rule >= 0):
            same = np.flatnonzero(stack[:, j] & (rank == best_rank[j]))
            others = {terr[k] for k in same} - {territory[j]}
            if others:
                conflict[j] = True
                rows.append({"account": names[j], "territory": territory[j],
                             "territories": sorted({terr[k] for k in same}), "rules": [int(k) + 1 for k in same]})
    none = best_rule < 0
    if plan.default:
        territory = np.where(none, plan.default, territory)
        how = np.where(none, "default territory", how)
    unassigned = sorted(names[none].tolist()) if not plan.default else []
    frame = pd.DataFrame({S.NAME: names, A.TERRITORY: territory, "how": np.where(pd.isna(how), "no rule matches", how),
                          "rule": np.where(best_rule >= 0, best_rule + 1, -1), "conflict": conflict})
    return Assignment(frame, pd.DataFrame(rows, columns=["account", "territory", "territories", "rules"]), unassigned)


def active_assignment(ws_accounts: pd.DataFrame, deal_accounts: pd.DataFrame, bands: A.SizeBands, plan_doc: dict | None,
                      currency: str = "USD") -> pd.Series | None:
    """account -> territory under the active plan (the workspace's ``territory`` field), or
    None without an active plan (or when it no longer reads: pages say so on Territories)."""
    if not plan_doc:
        return None
    try:
        plan = parse_plan(plan_doc)
    except InputError:
        return None
    uni = A.universe(ws_accounts, deal_accounts)
    uni[A.SIZE_BAND] = bands.band(uni[bands.basis].to_numpy(), currency).astype(object)
    return assign(plan, uni).territory_of()


# --- the accounts' numbers --------------------------------------------------------------------------
def account_book(ws, f=None, as_of: date | None = None) -> pd.DataFrame:
    """Per account of the workspace (accounts.universe plus the size band): the numbers a
    book is balanced on, as known on ``as_of`` (default the filters', else the data's):

    ``bookings_12m`` (won in the 12 months to the as-of date), ``open_pipeline`` and
    ``open_deals`` (open on the as-of date, any close date), ``closed_3y`` and
    ``bookings_3y`` (the last three years), ``first_deal``, ``last_activity``,
    ``current_owner`` (the rep with most of its deals), and ``potential`` (yearly bookings to
    expect: the account's own yearly bookings over the last three years, shrunk toward the
    average account of its size band by closed / (closed + 5))."""
    as_of = as_of or (f.as_of if f is not None else ws.as_of)
    return ws.slice(("account_book", as_of), lambda: _account_book(ws, as_of)).copy()


def _account_book(ws, as_of: date) -> pd.DataFrame:
    from . import metrics

    uni = ws.account_universe()
    facts = ws.facts
    acc = facts[S.ACCOUNT] if S.ACCOUNT in facts.columns else pd.Series(pd.Categorical([]))
    st = metrics.deal_states(facts, as_of)
    close = facts[S.CLOSE_DATE].to_numpy(dtype="datetime64[ns]")
    created = facts[S.CREATED_DATE].to_numpy(dtype="datetime64[ns]")
    amount = np.nan_to_num(facts[S.AMOUNT].to_numpy(dtype=float))
    end = np.datetime64(pd.Timestamp(as_of), "ns")
    y1 = np.datetime64(pd.Timestamp(as_of) - pd.DateOffset(years=1), "ns")
    first_data = ws.first_close or as_of
    start3 = max(pd.Timestamp(as_of) - pd.DateOffset(years=LOOKBACK_YEARS) + pd.Timedelta(days=1), pd.Timestamp(first_data))
    y3 = np.datetime64(start3, "ns")
    years = max(((pd.Timestamp(as_of) - start3).days + 1) / 365.25, 0.25)
    cats = acc.cat.categories if isinstance(acc.dtype, pd.CategoricalDtype) else pd.Index([])
    codes = acc.cat.codes.to_numpy().astype(np.int64) if isinstance(acc.dtype, pd.CategoricalDtype) else np.full(len(facts), -1)
    ok = codes >= 0
    k = len(cats)

    def total(mask, weights=None):
        m = mask & ok
        return np.bincount(codes[m], weights=None if weights is None else weights[m], minlength=k)

    won_12 = st["won"] & (close > y1) & (close <= end)
    won_3 = st["won"] & (close >= y3) & (close <= end)
    closed_3 = (st["won"] | st["lost"]) & (close >= y3) & (close <= end)
    exists = st["created_ok"]
    per = pd.DataFrame({
        "bookings_12m": total(won_12, amount), "open_pipeline": total(st["open"], amount),
        "open_deals": total(st["open"]).astype(np.int64), "bookings_3y": total(won_3, amount),
        "closed_3y": total(closed_3).astype(np.int64), "won_3y": total(won_3).astype(np.int64),
        "deals_to_date": total(exists).astype(np.int64),
    }, index=pd.Index([str(c) for c in cats]))
    frame = pd.DataFrame({"code": codes[ok & exists], "created": created[ok & exists],
                          "last": np.fmax(created[ok & exists], np.where(close[ok & exists] <= end, close[ok & exists],
                                                                          created[ok & exists]))})
    if len(frame):
        g = frame.groupby("code")
        per.loc[per.index[g["created"].min().index], "first_deal"] = g["created"].min().to_numpy()
        per.loc[per.index[g["last"].max().index], "last_activity"] = g["last"].max().to_numpy()
        own = facts[S.OWNER].cat.codes.to_numpy().astype(np.int64)
        m = ok & exists & (own >= 0)
        pair = pd.DataFrame({"a": codes[m], "o": own[m]}).value_counts().reset_index()
        best = pair.sort_values(["a", "count", "o"], ascending=[True, False, True]).drop_duplicates("a")
        owners = np.asarray(facts[S.OWNER].cat.categories, dtype=object)
        per.loc[per.index[best["a"].to_numpy()], "current_owner"] = owners[best["o"].to_numpy()]
    for col in ("first_deal", "last_activity"):
        per[col] = pd.to_datetime(per[col]) if col in per else pd.Series(pd.NaT, index=per.index)
    if "current_owner" not in per:
        per["current_owner"] = None
    out = uni.merge(per, left_on=S.NAME, right_index=True, how="left")
    for col in ("bookings_12m", "open_pipeline", "bookings_3y"):
        out[col] = out[col].fillna(0.0)
    for col in ("open_deals", "closed_3y", "won_3y", "deals_to_date"):
        out[col] = out[col].fillna(0).astype(np.int64)
    out["current_owner"] = out["current_owner"].astype(object).where(out["current_owner"].notna(), None)
    # potential: own history shrunk toward the average account of the size band
    yearly = out["bookings_3y"] / years
    band = out[A.SIZE_BAND].astype(object).where(out[A.SIZE_BAND].notna(), "\x00")
    band_avg = yearly.groupby(band).transform("mean")
    w = out["closed_3y"] / (out["closed_3y"] + HISTORY_WEIGHT_DEALS)
    out["history_yearly"] = yearly
    out["size_yearly"] = band_avg
    out["history_weight"] = w
    out["potential"] = w * yearly + (1 - w) * band_avg
    return out


# --- balance -------------------------------------------------------------------------------------
BALANCE_METRICS = {"accounts": "Accounts", "potential": "Potential", "open_pipeline": "Open pipeline",
                   "bookings_12m": "Bookings, last 12 months", "open_deals": "Open deals (workload)"}


def gini(values) -> float:
    """The Gini coefficient of non-negative values (0 = equal books, towards 1 = one rep holds
    everything); NaN for no values or a zero total. Mean absolute difference / (2 x mean)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0 or x.sum() <= 0:
        return float("nan")
    x = np.sort(x)
    n = len(x)
    return float((2 * np.sum(np.arange(1, n + 1) * x) / (n * x.sum())) - (n + 1) / n)


def cv(values) -> float:
    """Coefficient of variation: population standard deviation / mean (NaN for a zero mean)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0 or x.mean() == 0:
        return float("nan")
    return float(x.std(ddof=0) / x.mean())


@dataclass
class Balance:
    """The books of a plan: ``accounts`` (account_book + territory), ``territories`` (one row
    per territory), ``reps`` (one row per rep: the share-weighted sums of their territories),
    ``spread`` (per metric: total, mean, cv, gini, most and least loaded rep), and the
    assignment's conflicts and unassigned accounts."""

    plan: Plan
    assignment: Assignment
    accounts: pd.DataFrame
    territories: pd.DataFrame
    reps: pd.DataFrame
    spread: pd.DataFrame
    unowned: pd.DataFrame          # territories without a rep, and unassigned accounts: their totals

    def summary(self) -> dict:
        return {m: self.spread.loc[m].to_dict() for m in self.spread.index}


def _totals(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    g = frame.groupby(by, dropna=False, sort=True)
    return pd.DataFrame({"accounts": g.size(), "potential": g["potential"].sum(), "open_pipeline": g["open_pipeline"].sum(),
                         "bookings_12m": g["bookings_12m"].sum(), "open_deals": g["open_deals"].sum()})


def balance(plan: Plan, book: pd.DataFrame) -> Balance:
    """The balance of ``plan`` over the accounts of :func:`account_book`."""
    uni = book
    asg = assign(plan, uni)
    acc = book.assign(**{A.TERRITORY: asg.accounts[A.TERRITORY].to_numpy(), "how": asg.accounts["how"].to_numpy()})
    acc[A.TERRITORY] = acc[A.TERRITORY].astype(object)
    names = plan.territory_names
    terr = _totals(acc[acc[A.TERRITORY].notna()], A.TERRITORY).reindex(names).fillna(0)
    terr.index.name = A.TERRITORY
    shares = plan.rep_shares()
    terr = terr.reset_index()
    terr["reps"] = terr[A.TERRITORY].map(lambda t: ", ".join(
        r if abs(s - 1) < SHARE_TOLERANCE else f"{r} {s:.0%}" for r, s in (plan.territory(t).reps if plan.territory(t) else ())) or NO_REP)
    joined = shares.merge(terr.drop(columns="reps"), on=A.TERRITORY, how="left").fillna(0)
    cols = list(BALANCE_METRICS)
    for c in cols:
        joined[c] = joined[c] * joined["share"]
    owned = joined[joined["rep"] != NO_REP]
    reps = owned.groupby("rep", sort=True)[cols].sum()
    reps["territories"] = owned.groupby("rep", sort=True)[A.TERRITORY].agg(lambda s: ", ".join(s))
    reps = reps.reset_index()
    for c in ("accounts", "open_deals"):
        reps[c] = reps[c].astype(float)
    rows = {}
    for c in cols:
        v = reps[c].to_numpy(dtype=float)
        if len(v):
            hi, lo = int(np.argmax(v)), int(np.argmin(v))
            rows[c] = {"total": float(v.sum()), "mean": float(v.mean()), "cv": cv(v), "gini": gini(v),
                       "most_loaded": reps["rep"].iloc[hi], "most": float(v[hi]),
                       "least_loaded": reps["rep"].iloc[lo], "least": float(v[lo])}
        else:
            rows[c] = {"total": 0.0, "mean": float("nan"), "cv": float("nan"), "gini": float("nan"),
                       "most_loaded": None, "most": float("nan"), "least_loaded": None, "least": float("nan")}
    spread = pd.DataFrame.from_dict(rows, orient="index")
    no_rep_t = {t.name for t in plan.territories if not t.reps}
    left = acc[acc[A.TERRITORY].isna() | acc[A.TERRITORY].isin(no_rep_t)]
    unowned = _totals(left.assign(group=np.where(left[A.TERRITORY].isna(), UNASSIGNED, left[A.TERRITORY].astype(object))), "group")
    return Balance(plan, asg, acc, terr, reps, spread, unowned.reset_index())


# --- what-if -------------------------------------------------------------------------------------
def parse_moves(items) -> dict[str, str]:
    """``ACCOUNT=REP`` texts (or a dict) as {account: rep}."""
    if isinstance(items, dict):
        return {str(k).strip(): str(v).strip() for k, v in items.items()}
    out = {}
    for item in items or []:
        if "=" not in str(item):
            raise InputError(f"--move {item!r}: write ACCOUNT=REP", [Problem("not ACCOUNT=REP", column="--move", value=item)])
        a, r = str(item).rsplit("=", 1)
        if not a.strip() or not r.strip():
            raise InputError(f"--move {item!r}: write ACCOUNT=REP", [Problem("not ACCOUNT=REP", column="--move", value=item)])
        out[a.strip()] = r.strip()
    return out


def move_accounts(plan: Plan, moves: dict[str, str]) -> Plan:
    """The plan with each account of ``moves`` given to its rep: into the territory the rep
    owns alone (the first one), else into a new territory "REP (named accounts)"; as a
    named-account rule listed first, and taken out of other named-account rules."""
    territories = list(plan.territories)
    rules = list(plan.rules)
    new_rules: dict[str, list[str]] = {}
    for account, rep in moves.items():
        own = next((t.name for t in territories if len(t.reps) == 1 and t.reps[0][0] == rep), None)
        if own is None:
            own = f"{rep} (named accounts)"
            if all(t.name != own for t in territories):
                territories.append(Territory(own, ((rep, 1.0),)))
        new_rules.setdefault(own, []).append(account)
    moved = set(moves)
    kept = []
    for r in rules:
        if r.accounts and moved & set(r.accounts):
            rest = tuple(a for a in r.accounts if a not in moved)
            if not rest:
                continue
            r = replace(r, accounts=rest)
        kept.append(r)
    top = max([r.rank for r in kept if r.named] + [NAMED_RANK]) - NAMED_RANK + 1
    first = [Rule(t, accounts=tuple(a), priority=top) for t, a in new_rules.items()]
    return replace(plan, territories=tuple(territories), rules=tuple(first + kept))


@dataclass
class WhatIf:
    before: Balance
    after: Balance
    moved: pd.DataFrame       # per account whose territory or reps changed: from, to, its numbers
    reps: pd.DataFrame        # per rep: each balance metric before and after, and the quota effect
    quota_total: float | None


def compare(before: Balance, after: Balance, quota_total: float | None = None) -> WhatIf:
    """Before/after of two plans over the same accounts: the accounts that change hands (with
    the history and pipeline that go with them), each rep's book before and after, and the
    quota each rep would get if ``quota_total`` were split in proportion to potential."""
    def owners(b: Balance) -> pd.Series:
        shares = b.plan.rep_shares()
        text = shares.groupby(A.TERRITORY)["rep"].agg(lambda s: ", ".join(s))
        return b.accounts[A.TERRITORY].map(text).where(b.accounts[A.TERRITORY].notna(), UNASSIGNED)

    a0, a1 = before.accounts, after.accounts
    t0 = a0[A.TERRITORY].astype(object).where(a0[A.TERRITORY].notna(), UNASSIGNED)
    t1 = a1[A.TERRITORY].astype(object).where(a1[A.TERRITORY].notna(), UNASSIGNED)
    r0, r1 = owners(before), owners(after)
    changed = (t0.to_numpy() != t1.to_numpy()) | (r0.to_numpy() != r1.to_numpy())
    moved = a0.loc[changed, [c for c in (S.NAME, "bookings_12m", "open_pipeline", "open_deals", "bookings_3y", "potential")
                             if c in a0.columns]].copy()
    moved.insert(1, "from_territory", t0[changed].to_numpy())
    moved.insert(2, "from_reps", r0[changed].to_numpy())
    moved.insert(3, "to_territory", t1[changed].to_numpy())
    moved.insert(4, "to_reps", r1[changed].to_numpy())
    cols = list(BALANCE_METRICS)
    b = before.reps.set_index("rep")[cols]
    c = after.reps.set_index("rep")[cols]
    idx = b.index.union(c.index)
    reps = pd.DataFrame(index=idx)
    for m in cols:
        reps[f"{m}_before"] = b[m].reindex(idx).fillna(0.0)
        reps[f"{m}_after"] = c[m].reindex(idx).fillna(0.0)
        reps[f"{m}_change"] = reps[f"{m}_after"] - reps[f"{m}_before"]
    if quota_total and quota_total > 0:
        for when in ("before", "after"):
            p = reps[f"potential_{when}"]
            reps[f"quota_{when}"] = quota_total * p / p.sum() if p.sum() > 0 else np.nan
        reps["quota_change"] = reps["quota_after"] - reps["quota_before"]
    reps.index.name = "rep"
    return WhatIf(before, after, moved.reset_index(drop=True), reps.reset_index(), quota_total)


def quota_total(ws, f, reps: list[str]) -> float | None:
    """The sum of the rep targets of ``reps`` for the filters' period (what quotas by potential
    would split), or None when they have none."""
    book = ws.target_book(f.period.start, f.period.end)
    own = book.scope("owner")
    if own is None or len(own) == 0:
        return None
    vals = own.reindex([r for r in reps if r in own.index])
    total = float(np.nansum(vals.to_numpy(dtype=float))) if len(vals) else 0.0
    return total if total > 0 else None


def quota_by_potential(ws, f, plan: Plan | None = None, total: float | None = None) -> pd.DataFrame:
    """Quotas that follow potential (for Goals): ``total`` (default: the plan's reps' targets
    for the period) split over the reps in proportion to the potential of their books under
    ``plan`` (default: the active plan). Columns rep, potential, share, quota."""
    plan = plan or active_plan(ws)
    if plan is None:
        return pd.DataFrame(columns=["rep", "potential", "share", "quota"])
    b = balance(plan, account_book(ws, f))
    reps = b.reps[["rep", "potential"]].copy()
    total = total if total is not None else quota_total(ws, f, reps["rep"].tolist())
    s = reps["potential"].sum()
    reps["share"] = reps["potential"] / s if s > 0 else np.nan
    reps["quota"] = reps["share"] * total if total else np.nan
    return reps


# --- saved plans ---------------------------------------------------------------------------------
def describe_changes(old: Plan | None, new: Plan) -> str:
    """What changed from ``old`` to ``new``, in words (saved with each version)."""
    if old is None:
        return f"first version: {len(new.territories)} territories, {len(new.rules)} rules"
    parts = []
    ot, nt = {t.name: t for t in old.territories}, {t.name: t for t in new.territories}
    if set(nt) - set(ot):
        parts.append("added territory " + ", ".join(sorted(set(nt) - set(ot))))
    if set(ot) - set(nt):
        parts.append("removed territory " + ", ".join(sorted(set(ot) - set(nt))))
    for name in sorted(set(ot) & set(nt)):
        if ot[name].reps != nt[name].reps:
            parts.append(f"{name}: reps {Territory(name, ot[name].reps).as_doc().get('rep') or dict(ot[name].reps)} -> "
                         f"{Territory(name, nt[name].reps).as_doc().get('rep') or dict(nt[name].reps)}")
    old_named = {a: r.territory for r in old.rules for a in r.accounts}
    new_named = {a: r.territory for r in new.rules for a in r.accounts}
    moved = [a for a in new_named if old_named.get(a) != new_named[a]]
    if moved:
        parts.append(f"{len(moved)} named account(s) moved: " + ", ".join(f"{a} -> {new_named[a]}" for a in moved[:5])
                     + (" ..." if len(moved) > 5 else ""))
    orules = [r for r in old.rules if not r.named]
    nrules = [r for r in new.rules if not r.named]
    if orules != nrules:
        parts.append(f"rules changed ({len(orules)} -> {len(nrules)} rules)")
    if old.default != new.default:
        parts.append(f"default territory {old.default or 'none'} -> {new.default or 'none'}")
    return "; ".join(parts) or "no change"


def save_plan(path, plan: Plan, *, activate: bool = False, note: str | None = None) -> int:
    """Save ``plan`` as the next version of its name (who and when are recorded; ``note`` or a
    description of the changes against the previous version); returns the version."""
    from . import audit, store

    with audit.action("territory_plan") as entry, store.connect(path, write=True) as conn:
        prev = store.load_document(conn, TABLE, plan.name)
        old = parse_plan(prev["plan"]) if prev and isinstance(prev, dict) and "plan" in prev else None
        payload = {"plan": plan.as_doc(), "changes": note or describe_changes(old, plan)}
        _, version = store.save_document(conn, TABLE, plan.name, payload, kind=KIND)
        if activate:
            store.set_settings(conn, **{A.ACTIVE_PLAN_KEY: {"name": plan.name, "version": version}})
        entry.summary = f"saved {plan.name!r} version {version}" + (" (active)" if activate else "")
        entry.after = {"name": plan.name, "version": version, "active": activate, "changes": payload["changes"]}
    return version


def set_active(path, name: str | None, version: int | None = None) -> None:
    """Mark a saved plan version active (None: no active plan)."""
    from . import audit, store

    with audit.action("territory_plan", f"active plan: {name or 'none'}" + (f" version {version}" if version else ""),
                      after={"name": name, "version": version}), store.connect(path, write=True) as conn:
        if name is None:
            conn.execute("DELETE FROM settings WHERE key = ?", (A.ACTIVE_PLAN_KEY,))
            return
        doc = store.load_document(conn, TABLE, name, version)
        if doc is None:
            raise InputError(f"there is no saved territory plan {name!r}" + (f" version {version}" if version else ""))
        if version is None:
            version = int(conn.execute(f"SELECT MAX(version) FROM {TABLE} WHERE name = ? AND kind = ?", (name, KIND)).fetchone()[0])
        store.set_settings(conn, **{A.ACTIVE_PLAN_KEY: {"name": name, "version": int(version)}})


def saved_plans(ws) -> pd.DataFrame:
    """Every saved plan version (newest first per name) with who, when, what changed and
    whether it is the active one."""
    from . import store

    with store.connect(ws.path) as conn:
        rows = conn.execute(f"SELECT name, version, created_at, created_by, payload FROM {TABLE} WHERE kind = ? "
                            "ORDER BY name, version DESC", (KIND,)).fetchall()
    active = ws.active_plan_ref or {}
    out = []
    for name, version, at, by, payload in rows:
        try:
            changes = json.loads(payload).get("changes", "")
        except ValueError:
            changes = ""
        out.append({"name": name, "version": int(version), "saved_at": str(at).replace("T", " ")[:16], "saved_by": by,
                    "changes": changes, "active": active.get("name") == name and int(active.get("version") or -1) == int(version)})
    return pd.DataFrame(out, columns=["name", "version", "saved_at", "saved_by", "changes", "active"])


def load_plan(ws, name: str, version: int | None = None) -> Plan | None:
    doc = ws.load_saved(TABLE, name, version)
    return parse_plan(doc["plan"], f"plan {name!r}") if doc and "plan" in doc else None


def active_plan(ws) -> Plan | None:
    """The active plan of the workspace (None without one)."""
    doc = ws.active_plan_doc
    return parse_plan(doc, "the active plan") if doc else None


def current_books_plan(ws, name: str = "Current books", as_of: date | None = None) -> Plan:
    """A starting plan that keeps today's books: one territory per rep holding, as named
    accounts, the accounts where the rep owns most deals (accounts without deals left to the
    default territory "Unassigned accounts", owned by nobody yet)."""
    book = account_book(ws, None, as_of)
    owned = book[book["current_owner"].notna()]
    territories, rules = [], []
    for rep, grp in owned.groupby("current_owner", sort=True):
        t = f"{rep}'s book"
        territories.append(Territory(t, ((str(rep), 1.0),)))
        rules.append(Rule(t, accounts=tuple(grp[S.NAME].astype(str))))
    default = None
    if (book["current_owner"].isna()).any():
        default = "Unassigned accounts"
        territories.append(Territory(default, ()))
    return Plan(name, tuple(territories), tuple(rules), default)


# --- documents for the CLI and the page ------------------------------------------------------------
def balance_doc(b: Balance) -> dict:
    """The ``territories --json`` document of one plan."""
    acc = b.accounts
    return {
        "plan": b.plan.name,
        "assignment": [{"account": a, "territory": t, "how": h} for a, t, h in
                       zip(acc[S.NAME], acc[A.TERRITORY].astype(object).where(acc[A.TERRITORY].notna(), None), acc["how"])],
        "territories": b.territories.to_dict(orient="records"),
        "reps": b.reps.to_dict(orient="records"),
        "balance": {m: {k: v for k, v in b.spread.loc[m].to_dict().items()} for m in b.spread.index},
        "conflicts": b.assignment.conflicts.to_dict(orient="records"),
        "unassigned": b.assignment.unassigned,
        "unowned": b.unowned.to_dict(orient="records"),
    }


def plan_view(ws, f, plan_json: str, moves: tuple = ()) -> dict:
    """What the Territories page shows for a plan (its JSON text) and optional moves
    (((account, rep), ...)): the balance, and with moves the before/after."""
    plan = parse_plan(plan_json)
    book = account_book(ws, f)
    b = balance(plan, book)
    out = {"plan": plan, "balance": b, "what_if": None}
    if moves:
        after = balance(move_accounts(plan, dict(moves)), book)
        out["what_if"] = compare(b, after, quota_total(ws, f, sorted(set(b.reps["rep"]) | set(after.reps["rep"]))))
    return out


def known_reps(ws) -> list[str]:
    names = set(ws.reps[S.NAME].astype(str)) if not ws.reps.empty else set()
    return sorted(names | {str(o) for o in ws.values(S.OWNER)})


__all__ = ["Plan", "Rule", "Territory", "parse_plan", "assign", "Assignment", "account_book", "balance", "Balance",
           "gini", "cv", "move_accounts", "parse_moves", "compare", "WhatIf", "save_plan", "set_active", "saved_plans",
           "load_plan", "active_plan", "current_books_plan", "balance_doc", "plan_view", "quota_by_potential",
           "describe_changes"]


# --- the plan as tables (the page's editors) ---------------------------------------------------------
TERRITORY_TABLE = ["territory", "reps"]
RULE_TABLE = ["territory", "region", "industry", "size_band", "accounts", "priority"]


def plan_tables(plan: Plan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(territories, rules) of ``plan`` as editable text tables: reps as "Ann Lee 60%, Bob
    Park 40%", criteria as comma-separated names, the priority blank for the default."""
    terr = pd.DataFrame([{"territory": t.name, "reps": "; ".join(r if abs(s - 1) < SHARE_TOLERANCE else f"{r} {s * 100:g}%"
                                                                  for r, s in t.reps)} for t in plan.territories],
                        columns=TERRITORY_TABLE)
    rules = pd.DataFrame([{"territory": r.territory, **{k: "; ".join(getattr(r, k)) for k in (*CRITERIA, "accounts")},
                           "priority": None if r.priority is None else float(r.priority)} for r in plan.rules],
                         columns=RULE_TABLE)
    return terr, rules


def plan_from_tables(name: str, territories: pd.DataFrame, rules: pd.DataFrame, default: str | None = None) -> Plan:
    """A plan from the page's edited tables (see :func:`plan_tables`); blank rows are
    skipped; InputError names the row at fault (rows counted from 1 as shown)."""
    def text(v) -> str:
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()

    t_rows = []
    for _, r in territories.iterrows():
        if not text(r.get("territory")) and not text(r.get("reps")):
            continue
        t_rows.append({"name": text(r.get("territory")), "reps": text(r.get("reps"))})
    r_rows = []
    for _, r in rules.iterrows():
        if not any(text(r.get(c)) for c in RULE_TABLE):
            continue
        row = {"territory": text(r.get("territory"))}
        for k in (*CRITERIA, "accounts"):
            if text(r.get(k)):
                row[k] = text(r.get(k))
        pr = r.get("priority")
        if text(pr):
            try:
                row["priority"] = int(float(pr))
            except ValueError:
                row["priority"] = text(pr)
        r_rows.append(row)
    return parse_plan({"name": name, "territories": t_rows, "rules": r_rows, "default": default or None}, f"plan {name!r}")


def plan_json(plan: Plan) -> str:
    """The plan as JSON text (hashable: the page's cache key)."""
    return json.dumps(plan.as_doc(), sort_keys=True, ensure_ascii=False)


def plan_choices(ws, f) -> list[tuple[str, str | None, int | None]]:
    """The plans the page can open: (label, name, version) of every saved version, the
    active one first, then "today's books" (a new plan from the current owners)."""
    saved = saved_plans(ws)
    out = []
    for r in saved.sort_values(["active", "name", "version"], ascending=[False, True, False]).itertuples():
        out.append((f"{r.name} · version {r.version}" + (" (active)" if r.active else ""), r.name, int(r.version)))
    out.append(("A new plan from today's books", None, None))
    return out


def open_plan(ws, f, name: str | None, version: int | None) -> str:
    """The JSON text of a saved plan version, or of :func:`current_books_plan` (name None)."""
    if name is None:
        return plan_json(current_books_plan(ws, as_of=f.as_of))
    plan = load_plan(ws, name, version)
    if plan is None:
        raise InputError(f"there is no saved territory plan {name!r} version {version}")
    return plan_json(plan)


def plan_parts(ws, f, text: str) -> tuple[Plan, pd.DataFrame, pd.DataFrame]:
    """(plan, territories table, rules table) of a plan's JSON text (the page's editors)."""
    plan = parse_plan(text)
    t, r = plan_tables(plan)
    return plan, t, r


def account_names(ws, f) -> list[str]:
    """Every account name (the what-if's choices)."""
    return ws.account_universe()[S.NAME].astype(str).tolist()


def versions(ws, f) -> pd.DataFrame:
    """Saved versions for the page's table (who, when, what changed, active as words)."""
    v = saved_plans(ws)
    v["state"] = np.where(v["active"], "active", "")
    return v


def conflicts_table(b: Balance) -> pd.DataFrame:
    """The conflicts as text columns for a table."""
    c = b.assignment.conflicts
    return pd.DataFrame({"account": c["account"], "territory": c["territory"],
                         "claimed_by": c["territories"].map(lambda t: ", ".join(t)),
                         "rules": c["rules"].map(lambda r: ", ".join(str(x) for x in r))})
