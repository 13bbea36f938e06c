"""The one target rule (DESIGN.md section 4; docs/kpis.md states it for users).

Targets are set per rep (``scope = owner``), per team, per region, per manager, per segment
or for the whole company (``scope = all``), each for a date range; a target is pro-rated to a
period by the days it overlaps (a month of a quarterly target gets its share of days).

For a slice of the business (the sidebar's filters, or one group of ``--by``):

* **the reps' targets**: the sum of the rep targets of the reps inside the slice, those whose
  roster places them inside it (roster region, team, manager; a rep filter names them). With no
  filter, every rep target counts. A slice cut by a deal-only field (segment) holds no reps.
* **the slice's own target**: when the slice is cut by exactly one field (region, team,
  manager or segment), the targets set for that field's chosen values, when every chosen value
  has one. For the whole company: the company target, or else the sum of the region targets
  when every region on the roster has one, or else the sum of the team targets when every team
  has one.
* **the target** (what attainment and coverage use) is the slice's own target when there is
  one, otherwise the reps' targets. When both exist, both are shown and named; they are never
  added together.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema as S
from .formats import money

#: Target scopes and the roster / deal field each one follows.
SCOPE_FIELDS = {"owner": S.OWNER, "team": S.TEAM, "region": S.REGION, "manager": S.MANAGER, "segment": S.SEGMENT}
SCOPE_WORDS = {"all": "company target", "team": "team target", "region": "region target", "manager": "manager target",
               "segment": "segment target", "owner": "rep target"}


def prorate(targets: pd.DataFrame | None, start, end) -> pd.DataFrame:
    """Every target row overlapping [start, end] with its pro-rated ``amount`` (by days).

    Columns: scope, scope_name, amount (only rows that overlap)."""
    cols = [S.SCOPE, S.SCOPE_NAME, S.AMOUNT]
    if targets is None or targets.empty:
        return pd.DataFrame(columns=cols)
    day = np.timedelta64(1, "D")
    s, e = np.datetime64(pd.Timestamp(start), "ns"), np.datetime64(pd.Timestamp(end), "ns")
    t_start = pd.to_datetime(targets[S.PERIOD_START]).to_numpy()
    t_end = pd.to_datetime(targets[S.PERIOD_END]).to_numpy()
    overlap = (np.minimum(t_end, e) - np.maximum(t_start, s)) / day + 1
    length = (t_end - t_start) / day + 1
    share = np.where(length > 0, np.clip(overlap, 0, None) / np.where(length > 0, length, 1), 0.0)
    keep = share > 0
    return pd.DataFrame({S.SCOPE: targets[S.SCOPE].to_numpy()[keep],
                         S.SCOPE_NAME: targets[S.SCOPE_NAME].astype(str).to_numpy()[keep],
                         S.AMOUNT: targets[S.AMOUNT].to_numpy(dtype=float)[keep] * share[keep]})


@dataclass(frozen=True)
class TargetView:
    """The target of one slice for one period, with where it comes from.

    ``amount`` is what attainment uses (None: no target); ``source`` is "all", "team",
    "region", "manager", "segment" (the slice's own target), "reps" (the sum of rep
    targets) or "none". ``rep_sum`` and ``own`` are both parts (None where absent);
    ``reps`` is how many rep targets make ``rep_sum``."""

    amount: float | None
    source: str
    label: str
    rep_sum: float | None
    own: float | None
    reps: int = 0

    @property
    def has_target(self) -> bool:
        return self.amount is not None and np.isfinite(self.amount) and self.amount > 0

    def note(self, currency: str = "USD") -> str | None:
        """Words for when the slice's own target and the reps' targets both exist."""
        if self.own is None or self.rep_sum is None:
            return None
        if abs(self.own - self.rep_sum) < 0.5:
            return f"The {self.label} equals the sum of the {self.reps} reps' targets."
        return (f"Attainment is against the {self.label} ({money(self.own, currency)}); the {self.reps} reps' own "
                f"targets add up to {money(self.rep_sum, currency)}.")

    def as_dict(self) -> dict:
        return {"amount": self.amount, "source": self.source, "label": self.label, "rep_sum": self.rep_sum,
                "own": self.own, "reps": self.reps}


NO_TARGET = TargetView(None, "none", "no target", None, None, 0)


class TargetBook:
    """The targets of one period, pro-rated once, answering :meth:`view` for any slice."""

    def __init__(self, targets: pd.DataFrame | None, start, end):
        p = prorate(targets, start, end)
        self._by: dict[str, pd.Series] = {scope: grp.groupby(S.SCOPE_NAME)[S.AMOUNT].sum()
                                          for scope, grp in p.groupby(S.SCOPE)} if len(p) else {}

    def scope(self, scope: str) -> pd.Series:
        """Pro-rated target per name of ``scope`` (empty Series when none)."""
        return self._by.get(scope, pd.Series(dtype=float))

    def view(self, own_scope: tuple[str, tuple[str, ...]] | None, reps: list[str] | None,
             rollups: list[tuple[str, tuple[str, ...]]] = ()) -> TargetView:
        """The slice's target.

        ``own_scope``: (scope, values) of the slice's own target, ("all", ()) for the
        company, None when the slice has none (cut by several fields). ``reps``: the reps
        inside the slice (None = every rep, for the company; [] = none). ``rollups``: for
        the company, (scope, every name of that scope) to sum when no company target is set,
        in order of preference (regions, then teams)."""
        rep_t = self.scope("owner")
        if reps is None:
            chosen = rep_t
        else:
            chosen = rep_t[rep_t.index.isin([str(r) for r in reps])]
        rep_sum = float(chosen.sum()) if len(chosen) else None
        own, source, label = None, None, ""
        if own_scope is not None:
            scope, values = own_scope
            series = self.scope(scope)
            if scope == "all":
                if len(series):
                    own, source, label = float(series.sum()), "all", SCOPE_WORDS["all"]
                else:
                    for r_scope, names in rollups:
                        part = self.scope(r_scope)
                        if names and len(part) and all(str(n) in part.index for n in names):
                            own, source = float(part[[str(n) for n in names]].sum()), r_scope
                            label = f"sum of {len(names)} {SCOPE_WORDS[r_scope]}s"
                            break
            elif values and len(series) and all(str(v) in series.index for v in values):
                own, source = float(series[[str(v) for v in values]].sum()), scope
                shown = ", ".join(values[:3]) + (f" and {len(values) - 3} more" if len(values) > 3 else "")
                label = f"{SCOPE_WORDS.get(scope, 'target')} of {shown}"
        if own is not None:
            return TargetView(own, source, label, rep_sum, own, int(len(chosen)))
        if rep_sum is not None:
            return TargetView(rep_sum, "reps", f"sum of {len(chosen)} rep target{'s' if len(chosen) != 1 else ''}",
                              rep_sum, None, int(len(chosen)))
        return NO_TARGET
