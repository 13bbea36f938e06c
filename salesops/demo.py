"""A deterministic demo workspace that looks like a real company.

Three regions, six managers, 30 reps (four hired in the last six months, one who left and
whose open deals were handed to a teammate), about three years of deals with growth, a Q4
peak and quarter-end spikes, win rates and deal sizes that differ by rep and segment, monthly
snapshots (so pipeline movement has data), stage history, and quarterly targets per rep, per
region, per enterprise team and for the company (rep quotas over-assigned by 10%), with a new
hire on a zero quota, a rep based in another region than their team, and a few deals booked in
another region than their rep's.

Every deal is simulated along its whole life (stage entries, close-date pushes, amount
changes, outcome), and each snapshot is that life read as of its date, so snapshots,
stage history and the current state agree with each other. The same seed gives the same
workspace on every machine; ``scale`` multiplies deal volume (benchmarks use it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from . import audit
from . import schema as S
from . import store
from .periods import FiscalCalendar

DEMO_AS_OF = date(2026, 11, 20)
DEMO_START = date(2023, 6, 5)
SEED = 20261120

REGIONS = ("North America", "EMEA", "APAC")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
PRODUCTS = ("Core Platform", "Analytics Add-on", "Premium Support")
LEAD_SOURCES = ("Inbound", "Outbound", "Partner", "Event")
TYPES = ("New Business", "Expansion", "Renewal")
INDUSTRIES = ("Software", "Manufacturing", "Retail", "Healthcare", "Financial Services", "Logistics", "Education")
LOSS_REASONS = ("Price", "Competitor", "No decision", "Timing", "Product fit")
OPEN_STAGES = ("Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review")
STAGE_FRACTIONS = np.array([0.0, 0.12, 0.32, 0.55, 0.8])
STAGE_CATEGORY = ("pipeline", "pipeline", "best_case", "best_case", "commit")
LOST_STAGE_REACHED = np.array([0.32, 0.26, 0.2, 0.13, 0.09])
MONTH_SEASON = np.array([0.85, 0.95, 1.05, 0.95, 1.0, 1.05, 0.85, 0.85, 1.1, 1.15, 1.12, 0.9])

SEGMENT_SIZE = {"SMB": 9_000, "Mid-Market": 32_000, "Enterprise": 115_000}
SEGMENT_CYCLE = {"SMB": 32, "Mid-Market": 62, "Enterprise": 105}
SEGMENT_WIN = {"SMB": 0.34, "Mid-Market": 0.28, "Enterprise": 0.22}
#: How an account's industry moves win odds and deal size (the ideal customer profile has
#: something to find: software and financial services buy more, manufacturing and education less).
#: Applied to the odds and sizes already drawn: the random stream is the same as without them.
INDUSTRY_WIN = {"Software": 1.2, "Financial Services": 1.1, "Healthcare": 0.95, "Retail": 1.0, "Manufacturing": 0.8,
                "Logistics": 0.95, "Education": 0.85}
INDUSTRY_SIZE = {"Software": 1.15, "Financial Services": 1.25, "Healthcare": 1.1, "Retail": 0.95, "Manufacturing": 0.9,
                 "Logistics": 0.9, "Education": 0.7}

FIRST = ["Ava", "Ben", "Chloe", "Diego", "Elena", "Farid", "Grace", "Hiro", "Isla", "Jonas", "Kara", "Liam",
         "Maya", "Noah", "Olga", "Priya", "Quinn", "Rafael", "Sofia", "Tariq", "Uma", "Victor", "Wen", "Xavier",
         "Yara", "Zane", "Amelie", "Bruno", "Carmen", "Dev", "Emma", "Felix", "Gita", "Hugo", "Ines", "Jack"]
LAST = ["Adams", "Becker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen", "Kim",
        "Lopez", "Meyer", "Nakamura", "Okafor", "Patel", "Quinlan", "Rossi", "Schmidt", "Tanaka", "Ulrich",
        "Varga", "Walsh", "Xu", "Yilmaz", "Zimmer", "Novak", "Moreau", "Silva", "Berg", "Costa", "Haas"]
ACCOUNT_STEMS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Tyrell",
                 "Cyberdyne", "Wonka", "Oscorp", "Nakatomi", "Gringotts", "Monarch", "Aperture", "Massive", "Pied Piper",
                 "Dunder", "Sterling", "Bluth", "Prestige", "Virtucon", "Zorg", "Ollivander", "Kramerica", "Gekko",
                 "Duff", "Spacely", "Cogswell", "Vehement", "Axiom", "Nimbus", "Polaris", "Quantum", "Redwood", "Summit"]
ACCOUNT_SUFFIXES = ["Corp", "Group", "Systems", "Labs", "Holdings", "Partners", "Industries", "Analytics", "Logistics", "Health", "Retail", "Bank"]


@dataclass
class Workspace:
    """The tables of a workspace, shaped as the store's tables."""

    opportunities: pd.DataFrame
    snapshots: pd.DataFrame
    stage_history: pd.DataFrame
    reps: pd.DataFrame
    accounts: pd.DataFrame
    targets: pd.DataFrame
    settings: dict


def _roster(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    names = iter(f"{FIRST[i]} {LAST[(i * 7) % len(LAST)]}" for i in range(len(FIRST)))
    new_hires = {(0, 4), (2, 4), (3, 3), (5, 4)}  # (team index, seat) hired in the last six months
    for r_i, region in enumerate(REGIONS):
        for kind in ("Enterprise", "Commercial"):
            t_i = r_i * 2 + (kind == "Commercial")
            manager = next(names)
            team = f"{region} {kind}"
            for seat in range(5):
                name = next(names)
                if (t_i, seat) in new_hires:
                    hire = date(2026, 5 + seat, 1 + int(rng.integers(0, 20)))
                else:
                    hire = date(2019 + int(rng.integers(0, 4)), 1 + int(rng.integers(0, 12)), 1 + int(rng.integers(0, 25)))
                rows.append({"name": name, "manager": manager, "team": team, "region": region, "hire_date": hire,
                             "end_date": None, "kind": kind})
    reps = pd.DataFrame(rows)
    # a North America Enterprise rep based in London: the EMEA region crosses into that team
    reps.loc[reps.index[reps["team"] == "North America Enterprise"][2], "region"] = "EMEA"
    # one rep left at the end of March 2026; their open deals went to a teammate
    reps.loc[7, "end_date"] = date(2026, 3, 31)
    reps["hire_date"] = pd.to_datetime(reps["hire_date"])
    reps["end_date"] = pd.to_datetime(reps["end_date"])
    reps["ote"] = np.where(reps["kind"] == "Enterprise", 260_000.0, 150_000.0)
    reps["base_salary"] = reps["ote"] * 0.5
    reps["active"] = reps["end_date"].isna()
    reps["win_skill"] = np.clip(rng.normal(1.0, 0.2, len(reps)), 0.55, 1.5)
    reps["size_skill"] = np.exp(rng.normal(0, 0.22, len(reps)))
    reps["volume_skill"] = np.clip(rng.normal(1.0, 0.18, len(reps)), 0.6, 1.4)
    reps["cycle_skill"] = np.exp(rng.normal(0, 0.15, len(reps)))
    return reps


def _accounts(rng: np.random.Generator, n: int = 420) -> pd.DataFrame:
    names = sorted({f"{s} {x}" for s in ACCOUNT_STEMS for x in ACCOUNT_SUFFIXES})
    chosen = rng.choice(names, size=n, replace=False)
    seg = rng.choice(SEGMENTS, size=n, p=[0.5, 0.32, 0.18])
    emp = np.where(seg == "SMB", rng.integers(10, 200, n), np.where(seg == "Mid-Market", rng.integers(200, 2000, n), rng.integers(2000, 60000, n)))
    return pd.DataFrame({
        "name": chosen, "industry": rng.choice(INDUSTRIES, size=n), "employees": emp,
        "revenue": (emp * rng.uniform(120_000, 400_000, n)).round(-5),
        "region": rng.choice(REGIONS, size=n), "territory": None, "segment": seg,
    })


def _ramp(tenure_days: np.ndarray, months: float) -> np.ndarray:
    return np.clip((tenure_days / 30.4 + 1) / months, 0.05, 1.0)


def _growth(t: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    years = (pd.to_datetime(t) - pd.Timestamp(DEMO_START)).days.to_numpy() / 365.25 if isinstance(t, pd.DatetimeIndex) else ((pd.to_datetime(t) - pd.Timestamp(DEMO_START)).dt.days.to_numpy() / 365.25)
    return np.exp(0.17 * years)


def _simulate_deals(rng: np.random.Generator, reps: pd.DataFrame, accounts: pd.DataFrame, scale: float) -> pd.DataFrame:
    weeks = pd.date_range(DEMO_START, DEMO_AS_OF, freq="W-MON")
    growth = _growth(weeks)
    season = MONTH_SEASON[weeks.month - 1]
    frames = []
    acc_by = {(r, s): accounts[(accounts.region == r) & (accounts.segment == s)]["name"].to_numpy() for r in REGIONS for s in SEGMENTS}
    for rep in reps.itertuples():
        ent = rep.kind == "Enterprise"
        base_rate = (1.05 if ent else 2.3) * rep.volume_skill * scale
        hire = pd.Timestamp(rep.hire_date)
        end = pd.Timestamp(rep.end_date) if pd.notna(rep.end_date) else pd.Timestamp(DEMO_AS_OF)
        tenure = (weeks - hire).days.to_numpy()
        active = (tenure >= 0) & (weeks <= end)
        rate = base_rate * growth * season * _ramp(tenure, 9 if ent else 6) * active
        counts = rng.poisson(rate)
        n = int(counts.sum())
        if n == 0:
            continue
        created = np.repeat(weeks.to_numpy(), counts) + rng.integers(0, 5, n).astype("timedelta64[D]")
        seg_p = [0.0, 0.45, 0.55] if ent else [0.62, 0.38, 0.0]
        frames.append(pd.DataFrame({
            "owner": rep.name, "region": rep.region, "created": created,
            "segment": rng.choice(SEGMENTS, size=n, p=seg_p),
            "win_skill": rep.win_skill, "size_skill": rep.size_skill, "cycle_skill": rep.cycle_skill,
            "tenure_at_create": (pd.to_datetime(created) - hire).days,
        }))
    d = pd.concat(frames, ignore_index=True).sort_values(["created", "owner"], kind="stable").reset_index(drop=True)
    n = len(d)
    seg = d["segment"].to_numpy()
    d["account"] = [acc_by[(r, s)][i % len(acc_by[(r, s)])] if len(acc_by[(r, s)]) else "Independent Customer"
                    for r, s, i in zip(d["region"], seg, rng.integers(0, 10_000, n))]
    # about 3% of deals are booked against an account of another region (a global customer)
    elsewhere = rng.random(n) < 0.03
    other = rng.choice(REGIONS, size=n)
    d["region"] = np.where(elsewhere & (other != d["region"].to_numpy()), other, d["region"].to_numpy())
    d["product"] = rng.choice(PRODUCTS, size=n, p=[0.55, 0.3, 0.15])
    d["type"] = rng.choice(TYPES, size=n, p=[0.6, 0.28, 0.12])
    d["lead_source"] = rng.choice(LEAD_SOURCES, size=n, p=[0.38, 0.32, 0.18, 0.12])
    size = np.vectorize(SEGMENT_SIZE.get)(seg) * d["size_skill"].to_numpy() * np.exp(rng.normal(0, 0.45, n))
    size *= np.where(d["product"] == "Premium Support", 0.45, np.where(d["product"] == "Analytics Add-on", 0.8, 1.0))
    industry = d["account"].map(accounts.set_index("name")["industry"])
    size *= industry.map(INDUSTRY_SIZE).fillna(1.0).to_numpy()
    d["amount0"] = np.maximum(np.round(size, -2), 500.0)
    cyc = np.vectorize(SEGMENT_CYCLE.get)(seg) * d["cycle_skill"].to_numpy() * rng.gamma(4.0, 0.25, n)
    d["cycle"] = np.maximum(np.round(cyc), 3).astype(int)
    p_win = np.vectorize(SEGMENT_WIN.get)(seg) * d["win_skill"].to_numpy()
    p_win *= np.where(d["lead_source"] == "Partner", 1.2, np.where(d["lead_source"] == "Outbound", 0.85, 1.0))
    p_win *= np.where(d["type"] == "Renewal", 2.2, np.where(d["type"] == "Expansion", 1.35, 1.0))
    p_win *= np.clip(0.55 + d["tenure_at_create"].to_numpy() / 365.0, 0.55, 1.0)  # new hires win less
    p_win *= industry.map(INDUSTRY_WIN).fillna(1.0).to_numpy()
    created = pd.to_datetime(d["created"])
    actual = created + pd.to_timedelta(d["cycle"], unit="D")
    p_win *= np.where(actual.dt.quarter == 4, 1.22, np.where(actual.dt.quarter == 1, 0.9, 1.0))  # Q4 buying season, Q1 budget freeze
    won = rng.random(n) < np.clip(p_win, 0.02, 0.9)
    # quarter-end spike: many deals that would close in a quarter close in its last ten days
    cal = FiscalCalendar(1)
    q_end = cal.period_starts(actual, "Q") + pd.DateOffset(months=3) - pd.Timedelta(days=1)
    spike = (rng.random(n) < np.where(won, 0.38, 0.15))
    days_left = (q_end - actual).dt.days.to_numpy()
    shift = np.where(spike & (days_left > 0), np.maximum(days_left - rng.integers(0, 10, n), 0), 0)
    actual = actual + pd.to_timedelta(shift, unit="D")
    d["actual_close"] = actual
    d["won"] = won
    d["cycle"] = (actual - created).dt.days
    # amount changes: a fifth of the deals change value once, part-way through
    changes = rng.random(n) < 0.2
    d["amount_change_at"] = pd.NaT
    d.loc[changes, "amount_change_at"] = created[changes] + pd.to_timedelta((d.loc[changes, "cycle"] * rng.uniform(0.3, 0.9, changes.sum())).round(), unit="D")
    d["amount1"] = np.where(changes, np.round(d["amount0"] * rng.uniform(0.75, 1.3, n), -2), d["amount0"])
    # stage entries (days after creation) and, for lost deals, the last open stage reached
    reached = np.where(won, 4, rng.choice(5, size=n, p=LOST_STAGE_REACHED))
    for k in range(5):
        at = created + pd.to_timedelta(np.round(STAGE_FRACTIONS[k] * d["cycle"].to_numpy()), unit="D")
        d[f"stage{k}_at"] = at.where(reached >= k)
    # close-date pushes: the first expected close is optimistic; each push moves it later
    expected = created + pd.to_timedelta(np.round(d["cycle"].to_numpy() * rng.uniform(0.45, 1.0, n)), unit="D")
    d["expected0"] = expected
    for k in range(4):
        need = expected < actual
        late = rng.random(n) < 0.18  # the rep leaves a past close date standing for a while
        push_at = expected + pd.to_timedelta(np.where(late, rng.integers(3, 25, n), -rng.integers(1, 12, n)), unit="D")
        push_at = push_at.where(push_at > created, created + pd.Timedelta(days=1))
        push_at = push_at.where(push_at < actual, actual - pd.Timedelta(days=1))
        nxt = expected + pd.to_timedelta(rng.integers(21, 70, n), unit="D")
        nxt = nxt.where(nxt < actual, actual) if k < 3 else actual
        d[f"push{k}_at"] = push_at.where(need)
        expected = nxt.where(need, expected)
        d[f"expected{k + 1}"] = expected
    d["lost_stage"] = reached
    d["loss_reason"] = np.where(won, None, rng.choice(LOSS_REASONS, size=n))
    d["amount_missing"] = rng.random(n) < 0.015
    d["prob_noise"] = rng.random(n) < 0.04
    d["deleted_at"] = pd.NaT
    deleted = rng.random(n) < 0.008
    d.loc[deleted, "deleted_at"] = created[deleted] + pd.to_timedelta((d.loc[deleted, "cycle"] * 0.5).round(), unit="D")
    d["opportunity_id"] = [f"006D{str(i).zfill(7)}" for i in range(1, n + 1)]
    d["name"] = d["account"] + " - " + d["product"] + np.where(d["type"] == "New Business", "", " " + d["type"].str.lower())
    return d


def _reassignments(reps: pd.DataFrame) -> dict[str, tuple[pd.Timestamp, str]]:
    """Leaver -> (end date, teammate who inherits the open deals)."""
    out = {}
    for rep in reps[reps["end_date"].notna()].itertuples():
        mates = reps[(reps["team"] == rep.team) & reps["end_date"].isna()]["name"].tolist()
        out[rep.name] = (pd.Timestamp(rep.end_date), sorted(mates)[0])
    return out


def state_as_of(d: pd.DataFrame, as_of: date, reassign: dict) -> pd.DataFrame:
    """Every simulated deal as the CRM showed it on ``as_of`` (deals not yet created or already
    deleted are left out)."""
    s = pd.Timestamp(as_of)
    live = (d["created"] <= s) & ~(d["deleted_at"].notna() & (d["deleted_at"] <= s))
    x = d[live]
    closed = x["actual_close"] <= s
    status = np.where(closed, np.where(x["won"], S.WON, S.LOST), S.OPEN)
    entered = np.column_stack([(x[f"stage{k}_at"] <= s).to_numpy() for k in range(5)])
    stage_i = entered.sum(axis=1) - 1
    stage_i = np.clip(stage_i, 0, 4)
    open_stage = np.array(OPEN_STAGES, dtype=object)[stage_i]
    stage = np.where(status == S.WON, "Closed Won", np.where(status == S.LOST, "Closed Lost", open_stage))
    pushes = np.column_stack([(x[f"push{k}_at"] <= s).to_numpy() for k in range(4)]).sum(axis=1)
    exp_cols = np.column_stack([x[f"expected{k}"].to_numpy() for k in range(5)])
    expected = exp_cols[np.arange(len(x)), pushes]
    close_date = np.where(closed, x["actual_close"].to_numpy(), expected)
    amount = np.where(x["amount_change_at"].notna() & (x["amount_change_at"] <= s), x["amount1"], x["amount0"]).astype(float)
    amount = np.where(x["amount_missing"] & (status == S.OPEN), np.nan, amount)
    default_p = np.array([S.DEFAULT_STAGE_MAP[st].probability for st in OPEN_STAGES])[stage_i]
    prob = np.where(status == S.WON, 1.0, np.where(status == S.LOST, 0.0, np.where(x["prob_noise"], 0.9, default_p)))
    category = np.where(status == S.WON, "closed", np.where(status == S.LOST, "omitted", np.array(STAGE_CATEGORY, dtype=object)[stage_i]))
    owner = x["owner"].to_numpy().copy()
    for leaver, (end, heir) in reassign.items():
        owner = np.where((owner == leaver) & (s > end) & ((status == S.OPEN) | (x["actual_close"] > end).to_numpy()), heir, owner)
    return pd.DataFrame({
        S.OPPORTUNITY_ID: x["opportunity_id"].to_numpy(), S.NAME: x["name"].to_numpy(), S.ACCOUNT: x["account"].to_numpy(),
        S.OWNER: owner, S.STAGE: stage, S.STATUS: status, S.AMOUNT: amount, S.CURRENCY: "USD",
        S.CREATED_DATE: x["created"].to_numpy(), S.CLOSE_DATE: close_date, S.PROBABILITY: prob,
        S.FORECAST_CATEGORY: category, S.TYPE: x["type"].to_numpy(), S.LEAD_SOURCE: x["lead_source"].to_numpy(),
        S.REGION: x["region"].to_numpy(), S.SEGMENT: x["segment"].to_numpy(), S.INDUSTRY: None,
        S.PRODUCT: x["product"].to_numpy(), S.PIPELINE: "New Business" if False else "Default",
        S.LOSS_REASON: np.where(status == S.LOST, x["loss_reason"].to_numpy(), None),
    })


def snapshot_dates() -> list[date]:
    """Month ends of the last ten months, then the demo's as-of date."""
    ends = pd.date_range(end=pd.Timestamp(DEMO_AS_OF), periods=11, freq="ME")
    return [t.date() for t in ends if t.date() < DEMO_AS_OF][-10:] + [DEMO_AS_OF]


def _stage_history(d: pd.DataFrame) -> pd.DataFrame:
    s = pd.Timestamp(DEMO_AS_OF)
    parts = []
    for k, stage in enumerate(OPEN_STAGES):
        at = d[f"stage{k}_at"]
        m = at.notna() & (at <= s)
        parts.append(pd.DataFrame({S.OPPORTUNITY_ID: d.loc[m, "opportunity_id"], S.STAGE: stage, S.ENTERED_AT: at[m]}))
    closed = d["actual_close"] <= s
    parts.append(pd.DataFrame({S.OPPORTUNITY_ID: d.loc[closed, "opportunity_id"],
                               S.STAGE: np.where(d.loc[closed, "won"], "Closed Won", "Closed Lost"),
                               S.ENTERED_AT: d.loc[closed, "actual_close"]}))
    keep = d.loc[d["deleted_at"].isna() | (d["deleted_at"] > s), "opportunity_id"]
    out = pd.concat(parts, ignore_index=True)
    out = out[out[S.OPPORTUNITY_ID].isin(keep)]
    out[S.ENTERED_AT] = out[S.ENTERED_AT].dt.strftime("%Y-%m-%d")
    return out.sort_values([S.OPPORTUNITY_ID, S.ENTERED_AT], kind="stable").reset_index(drop=True)


def _targets(reps: pd.DataFrame, opportunities: pd.DataFrame) -> pd.DataFrame:
    """Quarterly targets as a real company sets them, 2024Q1 to the quarter after the as-of:

    * per rep: the rep's expected bookings at full ramp, grown and ramped, with a 12% stretch,
      rounded to $5K; the newest hire has a zero quota up to the current quarter (still in training);
    * per region and for the company: the reps' targets less a 10% over-assignment cushion
      (rep quotas add up to more than the plan), rounded to $50K;
    * per team for the enterprise teams only (the commercial teams are planned rep by rep)."""
    cal = FiscalCalendar(1)
    quarters = cal.periods_between(date(2024, 1, 1), cal.shift(cal.quarter_of(DEMO_AS_OF), 1).end, "Q")
    won = opportunities[opportunities[S.STATUS] == S.WON]
    # full-ramp productivity per rep: their won amount per quarter over 2025, de-grown to mid-2025
    base_q = won[(won[S.CLOSE_DATE] >= "2025-01-01") & (won[S.CLOSE_DATE] <= "2025-12-31")].groupby(S.OWNER)[S.AMOUNT].sum() / 4
    team_median = base_q.groupby(reps.set_index("name")["kind"]).median() if not base_q.empty else pd.Series(dtype=float)
    newest = reps.sort_values("hire_date").iloc[-1]
    rows = []
    for rep in reps.itertuples():
        prod = base_q.get(rep.name, np.nan)
        if not np.isfinite(prod) or (pd.Timestamp(rep.hire_date) > pd.Timestamp("2025-01-01")):
            prod = team_median.get(rep.kind, 250_000.0)
        for q in quarters:
            mid = pd.Timestamp(q.start) + pd.Timedelta(days=45)
            in_training = rep.name == newest["name"] and pd.Timestamp(rep.hire_date).date() <= q.end and q.start <= DEMO_AS_OF
            if in_training:
                amt = 0.0  # on the plan with no quota yet, until the quarter after the as-of date
            elif mid < pd.Timestamp(rep.hire_date) or (pd.notna(rep.end_date) and pd.Timestamp(q.start) > pd.Timestamp(rep.end_date)):
                continue
            else:
                tenure = (mid - pd.Timestamp(rep.hire_date)).days
                grow = float(np.exp(0.17 * (mid - pd.Timestamp("2025-07-01")).days / 365.25))
                season = 1.1 if q.start.month == 10 else (0.92 if q.start.month == 7 else 1.0)
                amt = prod * grow * season * float(_ramp(np.array([tenure]), 9 if rep.kind == "Enterprise" else 6)[0]) * 1.08
                amt = max(round(amt / 5000) * 5000, 5000.0)
            rows.append({S.SCOPE: "owner", S.SCOPE_NAME: rep.name, S.PERIOD_START: q.start.isoformat(),
                         S.PERIOD_END: q.end.isoformat(), S.AMOUNT: amt})
    rep_t = pd.DataFrame(rows)
    roster = reps.set_index("name")
    rep_t["region"] = rep_t[S.SCOPE_NAME].map(roster["region"])
    rep_t["team"] = rep_t[S.SCOPE_NAME].map(roster["team"])
    extra = []
    for scope, key in (("region", "region"), ("team", "team"), ("all", None)):
        grouped = rep_t.groupby([key, S.PERIOD_START, S.PERIOD_END]) if key else rep_t.groupby([S.PERIOD_START, S.PERIOD_END])
        for k, grp in grouped:
            name = k[0] if key else "all"
            if scope == "team" and not str(name).endswith("Enterprise"):
                continue
            ps, pe = (k[1], k[2]) if key else (k[0], k[1])
            extra.append({S.SCOPE: scope, S.SCOPE_NAME: name, S.PERIOD_START: ps, S.PERIOD_END: pe,
                          S.AMOUNT: round(grp[S.AMOUNT].sum() / 1.1 / 50_000) * 50_000})
    return pd.concat([rep_t.drop(columns=["region", "team"]), pd.DataFrame(extra)], ignore_index=True)


def generate(seed: int = SEED, scale: float = 1.0, with_snapshots: bool = True) -> Workspace:
    """Build the demo workspace in memory (deterministic for a given ``seed`` and ``scale``)."""
    rng = np.random.default_rng(seed)
    reps = _roster(rng)
    accounts = _accounts(rng)
    d = _simulate_deals(rng, reps, accounts, scale)
    # a few likely duplicates: an open deal keyed in twice a few days apart
    dup_src = d[(d["actual_close"] > pd.Timestamp(DEMO_AS_OF)) & (d["created"] > pd.Timestamp(DEMO_AS_OF) - pd.Timedelta(days=90))].head(6).copy()
    dup_src["opportunity_id"] = [f"006D9{str(i).zfill(6)}" for i in range(len(dup_src))]
    dup_src["created"] = dup_src["created"] + pd.Timedelta(days=2)
    for k in range(5):
        dup_src[f"stage{k}_at"] = dup_src[f"stage{k}_at"] + pd.Timedelta(days=2)
    d = pd.concat([d, dup_src], ignore_index=True)
    reassign = _reassignments(reps)
    current = state_as_of(d, DEMO_AS_OF, reassign)
    current[S.IMPORT_ID] = None
    current[S.EXTRA] = None
    acc_industry = accounts.set_index("name")["industry"]
    current[S.INDUSTRY] = current[S.ACCOUNT].map(acc_industry)
    snaps = []
    if with_snapshots:
        for day in snapshot_dates():
            st = state_as_of(d, day, reassign)
            st[S.AS_OF] = day.isoformat()
            snaps.append(st[list(S.SNAPSHOT_COLUMNS.keys() - {S.IMPORT_ID})])
    snapshots = pd.concat(snaps, ignore_index=True) if snaps else pd.DataFrame(columns=list(S.SNAPSHOT_COLUMNS))
    roster = reps[["name", "manager", "team", "region", "hire_date", "end_date", "ote", "base_salary", "active"]].copy()
    roster["active"] = roster["active"].astype(int)
    targets = _targets(reps, current.assign(**{S.CLOSE_DATE: pd.to_datetime(current[S.CLOSE_DATE])}))
    return Workspace(
        opportunities=current, snapshots=snapshots, stage_history=_stage_history(d), reps=roster,
        accounts=accounts.drop(columns=["segment"]), targets=targets,
        settings={"fiscal_year_start_month": 1, "currency": "USD", "holiday_country": "US", "workspace_name": "Demo: Northwind Software"},
    )


DEMO_PLAN_NAME = "Demo territories FY2027"


def territory_plan(reps: pd.DataFrame) -> dict:
    """The demo's active territory plan: per team, each active rep owns the accounts of the
    team's region and company sizes in a share of the industries (seven industries over four
    or five reps: some books hold two industries, so the balance has something to show); a
    few key accounts are named; anything else falls to unowned house accounts."""
    from .accounts import SizeBands

    labels = SizeBands().labels()
    sizes = {"Enterprise": labels[2:], "Commercial": labels[:2]}
    territories, rules = [], []
    active = reps[reps["end_date"].isna()] if "end_date" in reps else reps
    for team, grp in active.groupby("team", sort=True):
        region, kind = str(team).rsplit(" ", 1)
        names = sorted(grp["name"])
        for i, rep in enumerate(names):
            t = f"{team} {i + 1}"
            territories.append({"name": t, "rep": rep})
            rules.append({"territory": t, "region": [region], "size_band": sizes[kind], "industry": list(INDUSTRIES[i::len(names)])})
    key = sorted(territories, key=lambda t: t["name"])[0]
    territories.append({"name": "Strategic accounts", "reps": {key["rep"]: 0.5, sorted(active["name"])[1]: 0.5}})
    rules.insert(0, {"territory": "Strategic accounts", "accounts": ["Acme Corp", "Globex Holdings", "Initech Systems"]})
    territories.append({"name": "House accounts"})
    return {"name": DEMO_PLAN_NAME, "territories": territories, "rules": rules, "default": "House accounts"}


def _save_plan(conn, reps: pd.DataFrame) -> None:
    """Save the demo plan (a new version only when it differs from the last) and mark it active."""
    doc = territory_plan(reps)
    last = store.load_document(conn, "scenarios", DEMO_PLAN_NAME)
    if last is not None and last.get("plan") == doc:
        version = int(conn.execute("SELECT MAX(version) FROM scenarios WHERE name = ?", (DEMO_PLAN_NAME,)).fetchone()[0])
    else:
        _, version = store.save_document(conn, "scenarios", DEMO_PLAN_NAME,
                                         {"plan": doc, "changes": "the demo's plan: each rep owns a share of the industries "
                                                                  "of their team's region and company sizes"},
                                         kind="territory_plan", created_by="demo")
    store.set_settings(conn, active_territory_plan={"name": DEMO_PLAN_NAME, "version": version})


def load_demo(path, seed: int = SEED, scale: float = 1.0, with_snapshots: bool = True) -> dict:
    """Replace everything in the database at ``path`` with the demo workspace, in one
    transaction. Returns counts of what was written."""
    with audit.action("demo") as entry:
        ws = generate(seed=seed, scale=scale, with_snapshots=with_snapshots)
        counts = _write(path, ws, entry)
    return counts


def _write(path, ws, entry) -> dict:
    counts = {}
    with store.connect(path, write=True) as conn:
        entry.before = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                        for t in ("opportunities", "imports", "reps", "accounts", "targets")}
        for table in store.WORKSPACE_DATA_TABLES:
            conn.execute(f"DELETE FROM {table}")
        for table in ("opportunities", "stage_history", "reps", "accounts", "targets"):
            counts[table] = store.insert_frame(conn, table, getattr(ws, table))
        counts["snapshots"] = store.replace_snapshots(conn, ws.snapshots)  # stored as versions
        conn.execute("DELETE FROM stage_map")
        conn.execute("DELETE FROM settings")
        store.set_settings(conn, **ws.settings)
        _save_plan(conn, ws.reps)
        entry.after = counts
        entry.summary = (f"replaced {entry.before['opportunities']:,} deals and {entry.before['imports']} imports "
                         f"with the demo ({counts['opportunities']:,} deals)")
    return counts
