"""Where will the period land? The pipeline-weighted forecast and the calibrated landing zone.

Everything is computed from the data *as of* a date, never from what happened after it:

**The as-of rule.** Deals open on the as-of date are read from the latest snapshot taken on or
before it (when that snapshot is at most 45 days old), minus the deals the current data shows
closing between the snapshot and the as-of date, plus deals created after the snapshot; a stage
the stage history records later than the snapshot (but by the as-of date) wins. Without such a
snapshot they are rebuilt from the current table: a deal created on or before the as-of date was
open then unless it closed (won or lost) on or before it; its stage then comes from the stage
history (or a snapshot) where one records it, and is unknown otherwise (today's stage is used
only when the as-of date is the data's own latest date); its amount is today's, except that a
deal lost after the as-of date with a zero or blank amount counts as one of unknown amount (a
lost deal's 0 is what it closed at, not what it was worth while open: Maven's lost deals all carry
0, and reading it as the value then let the past "know" which deals were going to lose; a deal
won later keeps its amount, which where amounts are closing values tells the past how big the
winners are, though not which deals they are).
Closed-won to date = deals won with a close date from the period start to the as-of date.

**Win probabilities** are learned from the workspace's own history, not the CRM's probability
field: at the same point of each of the eight earlier periods (and a week either side), every
deal then open is one observation with its stage (where known), age band and amount, and the
outcome "won with a close date from then to the end of that period" (e.g. the 41 days to the
quarter's end: the quarter-end rush makes that unlike any 41 days; a reference date a week
early has a window a week longer, so it still ends with its quarter). Only windows that have
fully elapsed by the as-of date are used, so a deal still open at the end of its window is a
genuine "not yet", and deals still open today are never counted as losses; windows that ended
before any deal of the data had closed are not read, nor, while later ones are usable, reference
dates before that first close. The rates are by value (the share of the open amount won in the
window); the rate per (stage, age band) is shrunk toward the age band's rate, and that toward
the overall rate (10 pseudo-deals of the mean amount each). Inside a band, age cells (about a
week to a month, half-months to six months, then quarters to a year) carry their own rate,
shrunk toward the band's: a deal takes its cell's rate, or with a known stage the stage's rate
times its cell's over its band's (a band as wide as 3-6 months mixes deals inside their sales
cycle with deals past it).

**Not-yet-created pipeline**: the amount won, in each of the last four comparable periods, from
deals created after the same point of that period (the run rate of new business).

**Time-series view**: the Forecast's own forecast (:func:`run_forecast` with the page's
defaults) at the period's frequency, trained on the complete periods before the as-of date:
booked to date + the forecast of the rest of the period, the same number the page and
``forecast --json`` show for the running period.

**The landing zone**: Monte Carlo draws of each open deal's win (Bernoulli), of new pipeline
(log-normal around its run rate), blended with the time-series view (the pipeline's weight set
from how well each view did at the same point of earlier periods), times a common log-normal
shock of scale ``kappa`` for the model's own error (rates, timing, new business). ``kappa`` is
fitted on up to eight earlier periods at the same point (and four weeks either side) from their
log errors (forecasts made before the history held one full earlier period are left out), shrunk
toward a default for thin history and never below a floor; its calibration is reported out of
sample: each earlier period's range rebuilt from the other periods only.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from .. import schema as S
from ..errors import InputError
from ..memo import Kept
from ..periods import FiscalCalendar, Period
from .series import as_dates, datetimes, won_values

SNAPSHOT_MAX_AGE_DAYS = 45
REF_PERIODS = 8
SHRINK = 10.0
AGE_BANDS = (0, 14, 30, 60, 90, 180, 365, 100_000)
AGE_LABELS = ("<2 weeks", "2-4 weeks", "1-2 months", "2-3 months", "3-6 months", "6-12 months", "over a year")
#: Age cells inside the bands (every band edge is a cell edge): about a week to a month, half-months
#: to six months, then quarters to a year. A band as wide as 3-6 months mixed deals still inside
#: their sales cycle with deals past it (Maven has won no deal older than 138 days), and the mix
#: differs from one date to the next.
AGE_CELLS = (0, 7, 14, 22, 30, 45, 60, 75, 90, 105, 120, 135, 150, 165, 180, 270, 365, 100_000)
DEFAULT_KAPPA = 0.25
#: Pseudo-points of DEFAULT_KAPPA (and of no bias) that the calibration is shrunk toward.
PRIOR_POINTS = 2
#: The model error never counts as smaller than this (log scale) however well the past fitted.
KAPPA_FLOOR = 0.05
MIN_CALIBRATION_POINTS = 4
CALIBRATION_PERIODS = 8
#: Reference dates around the same point of each earlier period (days).
REF_OFFSETS = (-7, 0, 7)
#: Whether the calibration's mean log error is applied as a location correction. Evaluated and
#: left off: on the tuning sets (the demo and Maven at days 20 and 70, the Wave sample at days
#: 20, 45 and 70) it made the P50 worse (mean |error| 7.5% against 6.0%; measured again after
#: the age cells and the rest of December 2026: 6.9% against 5.3%): an earlier period's miss did
#: not persist into the next (docs/forecasting.md, Landing zone).
LOCATION_CORRECTION = False


_DAY_NS = 86_400_000_000_000


def _ts(x) -> pd.Timestamp:
    if type(x) is pd.Timestamp and x.tz is None and x.value % _DAY_NS == 0:
        return x  # already midnight (most calls: dates the landing zone made itself)
    return pd.Timestamp(x).normalize()


def age_band(age_days: np.ndarray) -> np.ndarray:
    """Index into :data:`AGE_LABELS` for each age in days."""
    return _grid_index(AGE_BANDS, age_days)


def age_cell(age_days: np.ndarray) -> np.ndarray:
    """Index into :data:`AGE_CELLS` (the finer age grid inside the bands) for each age in days."""
    return _grid_index(AGE_CELLS, age_days)


def _grid_index(edges: tuple, age_days) -> np.ndarray:
    """For each age in days, the index of the interval [edges[i], edges[i + 1]) it falls in."""
    return np.clip(np.searchsorted(np.asarray(edges[1:]), np.asarray(age_days, dtype=float), side="right"), 0, len(edges) - 2)


_FAR = np.iinfo(np.int64).max // 4


def _days(values) -> np.ndarray:
    """Dates as int64 day numbers; NaT -> a far-future sentinel."""
    v = as_dates(pd.Series(values)).to_numpy().astype("datetime64[D]")
    out = v.astype(np.int64)
    out[np.isnat(v)] = _FAR
    return out


def open_ages(t: pd.Timestamp, created: np.ndarray) -> np.ndarray:
    """Each open deal's age in whole days at ``t``; a deal without a created date counts at the
    median age of the others (30 days when none has one), and no age is below 0."""
    created = np.asarray(created)
    if created.dtype != "datetime64[ns]":  # texts, dates, objects: parsed once
        created = as_dates(pd.Series(created)).to_numpy(dtype="datetime64[ns]")
    # in numpy (calibration asks at two dozen dates): whole days from the creation day (dates
    # floored to midnight, as as_dates does) to t; integers unless a date is missing
    unknown = np.isnat(created)
    days = (np.datetime64(_ts(t).date(), "D") - created.astype("datetime64[D]")).astype(np.int64)
    if not unknown.any():
        return np.maximum(days, 0)
    age = np.where(unknown, np.nan, days.astype(float))
    med = float(np.nanmedian(age)) if not unknown.all() else 30.0
    return np.maximum(np.where(unknown, med, age), 0.0)


def _stage_keys(values: pd.Series) -> np.ndarray:
    """:func:`schema.stage_key` of each value, computed once per distinct text."""
    v = values.astype(str)
    table = {u: S.stage_key(u) for u in v.unique()}
    return v.map(table).to_numpy(dtype=object)


def _day(t) -> int:
    t = _ts(t)
    if t.unit == "ns":
        return t.value // _DAY_NS  # days since 1970 of a midnight: what the date's datetime64[D] holds
    return int(np.datetime64(t.date(), "D").astype(np.int64))


@dataclass
class Book:
    """The deals and the evidence of their past states, prepared once per call (as numpy
    arrays: the landing zone rebuilds the past at dozens of dates)."""

    deals: pd.DataFrame          # current table plus _created, _close, _amount
    snapshots: pd.DataFrame | None
    events: pd.DataFrame         # id, at, stage_key: when a deal was seen in an open stage
    snapshot_dates: list
    data_end: pd.Timestamp       # the data's own today

    def __post_init__(self):
        d = self.deals
        self.ids = d[S.OPPORTUNITY_ID].astype(str).to_numpy()
        self.index_of = {k: i for i, k in enumerate(self.ids)}
        self._id_index = pd.Index(self.ids)  # for codes_of
        self.created = _days(d["_created"])
        close = _days(d["_close"])
        self.is_open = (d[S.STATUS] == S.OPEN).to_numpy()
        self.is_won = (d[S.STATUS] == S.WON).to_numpy()
        # a closed deal without a close date is treated as closed long ago
        self.close = np.where(~self.is_open & (close == _FAR), -_FAR, close)
        self.amount = d["_amount"].to_numpy(dtype=float)
        #: the won deals alone (status, amount, close date): what the time-series view reads
        won = d[d[S.STATUS] == S.WON]
        self.won_deals = pd.DataFrame({S.OPPORTUNITY_ID: won[S.OPPORTUNITY_ID].to_numpy(), S.STATUS: S.WON,
                                       S.AMOUNT: won["_amount"].to_numpy(), S.CLOSE_DATE: won["_close"].to_numpy()})
        self.won_values = won_values(self.won_deals)  # what the time-series view sums, at every calibration point
        known = self.created[self.created < _FAR]
        self.first_day = int(known.min()) if len(known) else _FAR  # the history's first day (first deal created)
        closes = self.close[~self.is_open & (self.close > -_FAR) & (self.close < _FAR)]
        self.first_close = int(closes.min()) if len(closes) else _FAR  # the history of outcomes begins
        self.won_amount = np.where(self.is_won, np.nan_to_num(self.amount), 0.0)
        self.stage_now = _stage_keys(d[S.STAGE])
        # a readable stage text per key, for display (the first text seen for it)
        texts = pd.concat([d[S.STAGE].astype(str), self.events["stage"].astype(str)], ignore_index=True).drop_duplicates()
        self.stage_label = {}
        for key, text in zip(_stage_keys(texts), texts.to_numpy()):
            self.stage_label.setdefault(key, text)
        self.owner = d[S.OWNER].to_numpy(dtype=object)
        cd = d["_close"]
        self.close_month = (cd.dt.year.fillna(0) * 12 + cd.dt.month.fillna(1) - 1).astype(np.int64).to_numpy()
        # events keyed by (deal code, day) for vectorised "last stage seen by then" look-ups
        codes = self.codes_of(self.events["id"].to_numpy(dtype=object))
        ok = codes >= 0
        ev_code = codes[ok].astype(np.int64)
        ev_day = _days(self.events["at"][ok])
        order = np.lexsort((ev_day, ev_code))
        self.ev_key = ev_code[order] * 1_000_000 + ev_day[order]
        self.ev_code = ev_code[order]
        self.ev_stage = self.events["stage_key"].to_numpy(dtype=object)[ok][order]

    @classmethod
    def build(cls, deals: pd.DataFrame, snapshots: pd.DataFrame | None = None,
              stage_history: pd.DataFrame | None = None, data_end=None) -> "Book":
        d = deals[deals[S.STATUS].isin(S.STATUSES)].copy()
        d["_created"] = as_dates(d[S.CREATED_DATE])
        d["_close"] = as_dates(d[S.CLOSE_DATE])
        d["_amount"] = d[S.AMOUNT].astype(float)
        d = d.drop_duplicates(S.OPPORTUNITY_ID, keep="last")
        ev = []
        if stage_history is not None and not stage_history.empty:
            sh = stage_history[[S.OPPORTUNITY_ID, S.STAGE, S.ENTERED_AT]].dropna()
            ev.append(pd.DataFrame({"id": sh[S.OPPORTUNITY_ID].astype(str), "at": as_dates(sh[S.ENTERED_AT]),
                                    "stage": sh[S.STAGE].astype(str)}))
        snaps = None
        dates: list = []
        if snapshots is not None and not snapshots.empty:
            snaps = snapshots.copy()
            snaps[S.AS_OF] = as_dates(snaps[S.AS_OF])
            dates = sorted(snaps[S.AS_OF].unique())
            op = snaps[snaps[S.STATUS] == S.OPEN]
            ev.append(pd.DataFrame({"id": op[S.OPPORTUNITY_ID].astype(str), "at": op[S.AS_OF], "stage": op[S.STAGE].astype(str)}))
        events = pd.concat(ev, ignore_index=True) if ev else pd.DataFrame({"id": [], "at": pd.Series(dtype="datetime64[ns]"), "stage": []})
        events = events.dropna(subset=["at"])
        events["stage_key"] = _stage_keys(events["stage"])
        closed_keys = {k for k, r in S.DEFAULT_STAGE_RULES.items() if r.status != S.OPEN}
        events = events[~events["stage_key"].isin(closed_keys)].reset_index(drop=True)
        if data_end is None:
            closed = d.loc[d[S.STATUS] != S.OPEN, "_close"].dropna()
            cands = [closed.max() if not closed.empty else pd.NaT, d["_created"].max()]
            if dates:
                cands.append(pd.Timestamp(dates[-1]))
            cands = [c for c in cands if pd.notna(c)]
            data_end = max(cands) if cands else pd.Timestamp(date.today())
        return cls(d.reset_index(drop=True), snaps, events, [pd.Timestamp(x) for x in dates], _ts(data_end))

    # --- states as of a date -----------------------------------------------------------------
    def open_mask(self, t) -> np.ndarray:
        """Deals open at ``t`` by the current-table rule (created by then, not closed by then)."""
        td = _day(t)
        return (self.created <= td) & (self.is_open | (self.close > td))

    def stage_codes_at(self, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The stage key each deal (by row number) was last seen in on or before its day."""
        out = np.full(len(codes), None, dtype=object)
        if len(self.ev_key) == 0 or len(codes) == 0:
            return out
        q = codes.astype(np.int64) * 1_000_000 + days
        pos = np.searchsorted(self.ev_key, q, side="right") - 1
        ok = (pos >= 0)
        ok[ok] = self.ev_code[pos[ok]] == codes[ok]
        out[ok] = self.ev_stage[pos[ok]]
        return out

    def open_at(self, t) -> tuple[pd.DataFrame, str]:
        """Deals open at ``t`` (id, owner, amount, created, age_days, stage_key, expected_close)
        and a sentence saying which rule was used."""
        t = _ts(t)
        cols, rule = self.open_columns(t)
        return self.open_frame(cols, open_ages(t, cols["created"])), rule

    def open_frame(self, cols: dict, ages: np.ndarray) -> pd.DataFrame:
        """:meth:`open_columns`' deals as :meth:`open_at`'s frame, with their stage labels and ``ages``."""
        out = pd.DataFrame(cols)
        out["stage"] = pd.Series(out["stage_key"], dtype=object).map(self.stage_label).to_numpy(dtype=object)
        out["age_days"] = ages
        return out

    def open_columns(self, t) -> tuple[dict, str]:
        """:meth:`open_at`'s deals as arrays (id, owner, amount, created, stage_key,
        expected_close; no ages, no stage labels) and its rule: what calibration reads at each
        of its two dozen earlier dates, without building a frame each time."""
        t = _ts(t)
        td = _day(t)
        snap_date = None
        if self.snapshots is not None:
            before = [s for s in self.snapshot_dates if s <= t]
            if before and (t - before[-1]).days <= SNAPSHOT_MAX_AGE_DAYS:
                snap_date = before[-1]
        if snap_date is None:
            cols = self._rebuilt(np.flatnonzero(self.open_mask(t)), t)
            return cols, "open deals rebuilt from the current data (created by then and not closed by then)"
        sn = self._snapshot_open(snap_date)
        c, known = sn["code"], sn["known"]
        keep = ~(known & ~self.is_open[c] & (self.close[c] <= td))  # less those closed since
        c, known = c[keep], known[keep]
        # the stage history may know a later stage than the snapshot (events hold both)
        fresher = self.stage_codes_at(c, np.full(len(c), td))
        stage = np.where(known & (fresher != None), fresher, sn["stage_key"][keep])  # noqa: E711 - elementwise
        cols = {"id": sn["id"][keep], S.OWNER: sn[S.OWNER][keep], "amount": sn["amount"][keep],
                "created": sn["created"][keep], "stage_key": stage, "expected_close": sn["expected_close"][keep]}
        in_snap = np.zeros(len(self.ids), dtype=bool)
        in_snap[c[known]] = True
        new = self.open_mask(t) & (self.created > _day(snap_date)) & ~in_snap
        rebuilt = self._rebuilt(np.flatnonzero(new), t)
        n_rebuilt = len(rebuilt["id"])
        if n_rebuilt and len(cols["id"]):
            cols = {k: np.concatenate([cols[k], rebuilt[k]]) for k in cols}
        elif n_rebuilt:
            cols = rebuilt
        return cols, (f"open deals from the snapshot of {snap_date:%d %b %Y}, less those closed since, plus "
                      f"{n_rebuilt} created since")

    def _snapshot_open(self, snap_date) -> dict:
        """The deals open in the snapshot of ``snap_date`` as arrays (id, owner, amount,
        created, expected close, stage key; ``code``: the deal's row in the current table where
        ``known``), prepared once per snapshot: calibration asks for the same few dozens of times."""
        cache = self.__dict__.setdefault("_snap_cache", {})
        if snap_date not in cache:
            if "_open_snaps" not in self.__dict__:  # the open rows of every snapshot, by date
                op = self.snapshots[self.snapshots[S.STATUS] == S.OPEN]
                self._open_snaps = op.iloc[np.argsort(op[S.AS_OF].to_numpy(), kind="stable")]
            sn = self._open_snaps
            at, day = sn[S.AS_OF].to_numpy(), pd.Timestamp(snap_date).to_datetime64()
            sn = sn.iloc[np.searchsorted(at, day, side="left"):np.searchsorted(at, day, side="right")]
            ids = sn[S.OPPORTUNITY_ID].astype(str)
            codes = self.codes_of(ids.to_numpy(dtype=object))
            cache[snap_date] = {
                "id": ids.to_numpy(), S.OWNER: sn[S.OWNER].to_numpy(), "amount": sn[S.AMOUNT].astype(float).to_numpy(),
                "created": as_dates(sn[S.CREATED_DATE]).to_numpy(),
                "expected_close": datetimes(sn[S.CLOSE_DATE]).to_numpy(), "stage_key": _stage_keys(sn[S.STAGE]),
                "known": codes >= 0, "code": np.where(codes >= 0, codes, 0).astype(np.int64)}
        return cache[snap_date]

    def codes_of(self, ids: np.ndarray) -> np.ndarray:
        """Each id's row in the current table (:attr:`index_of`), -1 where it is not there: one
        index look-up (mapping a Series through the dict builds a Series of the whole dict first)."""
        if self._id_index.is_unique:
            return self._id_index.get_indexer(ids)
        return pd.Series(ids, dtype=object).map(self.index_of).fillna(-1).astype(np.int64).to_numpy()

    def monthly_won(self, t) -> pd.Series:
        """Won amount per calendar month (month index = year * 12 + month - 1) of deals closed
        by ``t``, for complete months before the month containing ``t``."""
        td = _day(t)
        ok = self.is_won & (self.close <= td) & (self.close > -_FAR)
        months = self.close_month[ok]
        tt = _ts(t)
        limit = tt.year * 12 + tt.month - 1
        keep = months < limit
        if not keep.any():
            return pd.Series(dtype=float)
        lo = int(months[keep].min())
        counts = np.bincount(months[keep] - lo, weights=self.won_amount[ok][keep])
        return pd.Series(counts, index=np.arange(lo, lo + len(counts)))

    def _rebuilt(self, rows: np.ndarray, t: pd.Timestamp) -> dict:
        stage = self.stage_codes_at(rows, np.full(len(rows), _day(t)))
        if t >= self.data_end:  # today: the current stage of deals still open is as-of knowledge
            take = (stage == None) & self.is_open[rows]  # noqa: E711 - elementwise
            stage[take] = self.stage_now[rows][take]
        d = self.deals
        expected = d["_close"].to_numpy()[rows].copy()
        expected[~self.is_open[rows]] = np.datetime64("NaT")  # a later actual close is not as-of knowledge
        return {"id": self.ids[rows], S.OWNER: self.owner[rows], "amount": self.amount_at(rows, _day(t)),
                "created": d["_created"].to_numpy()[rows], "stage_key": stage, "expected_close": expected}

    def amount_at(self, rows: np.ndarray, days) -> np.ndarray:
        """Each deal's amount (by row number) as it was known on its day (``days``: one day
        number or one per row), rebuilt from the current table: today's amount, except that a
        deal lost after that day with a zero or blank amount is of unknown amount then (NaN):
        the 0 is what it closed at (Maven's lost deals carry 0), not what it was worth while it
        was open, and counting it as 0 would tell the past which deals were going to lose."""
        a = self.amount[rows].copy()
        lost_later = ~self.is_open[rows] & ~self.is_won[rows] & (self.close[rows] > days)
        a[lost_later & ~(a > 0)] = np.nan
        return a

    def won_between(self, start, end) -> float:
        """Won amount with close date in [start, end] (inclusive)."""
        m = (self.close >= _day(start)) & (self.close <= _day(end))
        return float(self.won_amount[m].sum())

    # --- learned win probabilities -----------------------------------------------------------
    def observations(self, refs: list, d1: int, d2: int) -> pd.DataFrame:
        """Pseudo-observations for the window (ref + d1, ref + d2]: one row per deal open at a
        reference date, with its stage key, age band, amount (as known then: :meth:`amount_at`,
        NaN when unknown) and whether it was won inside the window. A reference date whose
        window ends before any deal of the data had closed is left out: the history of outcomes
        had not begun, so its "none won" says nothing about win rates."""
        first_close = self.first_close
        parts = []
        for r in refs:
            if isinstance(r, tuple):  # (ref, d1, d2): the window of the ref's own period
                r, r_d1, r_d2 = r
            else:
                r_d1, r_d2 = d1, d2
            rd = _day(r)
            if r_d2 < 0 or rd + r_d2 < first_close:
                continue
            m = (self.created <= rd) & (self.is_open | (self.close > rd))
            if not m.any():
                continue
            rows = np.flatnonzero(m)
            c = self.close[rows]
            y = self.is_won[rows] & (c > rd + r_d1) & (c <= rd + r_d2)
            parts.append((np.full(len(rows), rd), rows, rd - self.created[rows], y, np.full(len(rows), rd + r_d2)))
        if not parts:
            return pd.DataFrame({"ref": pd.Series(dtype="datetime64[ns]"), "stage_key": [], "band": [], "cell": [], "y": [], "amount": [],
                                 "end": pd.Series(dtype="datetime64[ns]")})
        ref = np.concatenate([p[0] for p in parts])
        rows = np.concatenate([p[1] for p in parts])
        age = np.concatenate([p[2] for p in parts]).astype(float)
        y = np.concatenate([p[3] for p in parts])
        end = np.concatenate([p[4] for p in parts])
        return pd.DataFrame({"ref": ref.astype("datetime64[D]").astype("datetime64[ns]"),
                             "stage_key": self.stage_codes_at(rows, ref), "band": age_band(age), "cell": age_cell(age), "y": y,
                             "amount": self.amount_at(rows, ref), "end": end.astype("datetime64[D]").astype("datetime64[ns]")})


def reference_dates(cal: FiscalCalendar, period: Period, t: pd.Timestamp, k: int = REF_PERIODS) -> list:
    """Dates at the same point of the ``k`` earlier periods as ``t`` is of ``period`` (and a
    week either side): quarter-end rushes make "the last 40 days of a quarter" unlike any 40 days."""
    offset = (_ts(t) - _ts(period.start)).days
    out, p = [], period
    for _ in range(k):
        p = cal.shift(p, -1)
        base = _ts(p.start) + pd.Timedelta(days=offset)
        out.extend(base + pd.Timedelta(days=j) for j in REF_OFFSETS)
    return sorted(out)


def reference_windows(cal: FiscalCalendar, period: Period, t: pd.Timestamp, k: int = REF_PERIODS) -> list:
    """(date, d1, d2) for each of :func:`reference_dates`: the window (date + d1, date + d2]
    ends where that date's own period ends (and starts where it starts, for a date before
    it), so a reference date a week either side of the same point still counts the same
    quarter-end rush: a fixed-length window from a week earlier would stop a week short of it."""
    offset = (_ts(t) - _ts(period.start)).days
    out, p = [], period
    for _ in range(k):
        p = cal.shift(p, -1)
        base = _ts(p.start) + pd.Timedelta(days=offset)
        for j in REF_OFFSETS:
            r = base + pd.Timedelta(days=j)
            out.append((r, *_window(p, r)))
    return sorted(out, key=lambda x: x[0])


def learned_rates(obs: pd.DataFrame, t: pd.Timestamp, d2: int, since: pd.Timestamp | None = None,
                  fill: float | None = None) -> dict:
    """Shrunk win-in-window rates from the observations whose window was over by ``t`` (and
    whose reference date is after ``since``): keys "all", ("band", b), ("age cell", c) (with a
    ``cell`` column: :data:`AGE_CELLS`) and (stage_key, b); plus "n" (observations used).

    The rates are **by value**: the share of the open amount that was won inside the window
    (each observation weighs its amount; an unknown amount weighs ``fill``, the amount the
    open deals without one are counted at; without an ``amount`` column or ``fill`` every deal
    weighs the same). What the landing zone forecasts is amount, and a rate by count
    misstates it when big and small deals win at different rates. Each cell is shrunk toward
    its parent with SHRINK pseudo-deals of the mean weight: a stage's rate in a band toward the
    band's, an age cell's toward the band it lies in, a band's toward the overall rate."""
    if "end" in obs.columns:  # each observation's own window end
        m = obs["end"].to_numpy(dtype="datetime64[ns]") <= _ts(t).to_datetime64()
    else:
        m = obs["ref"].to_numpy(dtype="datetime64[ns]") <= (_ts(t) - pd.Timedelta(days=d2)).to_datetime64()
    ref = obs["ref"].to_numpy(dtype="datetime64[ns]")
    if since is not None:
        m &= ref > pd.Timestamp(since).to_datetime64()
    if not m.any():
        return {"all": np.nan, "n": 0}
    y = obs["y"].to_numpy(dtype=float)[m]
    band = obs["band"].to_numpy(dtype=np.int64)[m]
    w = np.ones(len(y))
    if "amount" in obs.columns and fill is not None:
        w = np.maximum(np.nan_to_num(obs["amount"].to_numpy(dtype=float)[m], nan=float(fill)), 0.0)
        if not w.sum() > 0:
            w = np.ones(len(y))
    wy = w * y
    wbar = float(w.mean())
    p0 = float(wy.sum() / w.sum())
    out = {"all": p0, "n": int(m.sum())}
    won, seen = np.bincount(band, weights=wy), np.bincount(band, weights=w)
    for b in np.flatnonzero(np.bincount(band)):
        out[("band", int(b))] = (won[b] + SHRINK * wbar * p0) / (seen[b] + SHRINK * wbar)
    if "cell" in obs.columns:
        cells = obs["cell"].to_numpy(dtype=np.int64)[m]
        won, seen = np.bincount(cells, weights=wy), np.bincount(cells, weights=w)
        for c in np.flatnonzero(np.bincount(cells)):
            pb = out.get(("band", int(age_band(AGE_CELLS[c]))), p0)  # the band the cell lies in
            out[("age cell", int(c))] = (won[c] + SHRINK * wbar * pb) / (seen[c] + SHRINK * wbar)
    codes, stages = pd.factorize(obs["stage_key"].to_numpy(dtype=object)[m])  # a missing stage is -1
    staged = codes >= 0
    if staged.any():
        width = int(band.max()) + 1
        cell = codes[staged] * width + band[staged]
        won, seen = np.bincount(cell, weights=wy[staged]), np.bincount(cell, weights=w[staged])
        for k in np.flatnonzero(np.bincount(cell)):
            b = int(k % width)
            pb = out.get(("band", b), p0)
            out[(stages[k // width], b)] = (won[k] + SHRINK * wbar * pb) / (seen[k] + SHRINK * wbar)
    return out


def history_rates(book: Book, obs: pd.DataFrame, t: pd.Timestamp, d2: int, since, fill: float | None) -> dict:
    """:func:`learned_rates` from the reference dates on or after the data's first close, or,
    when none of those is usable yet, from all of them. Before its first close the table holds
    no deal that closed then: the pipeline rebuilt at such a date lacks every deal that closed
    between it and the first close, and its open deals had never been cleared out (Maven, whose
    closes begin on 1 March 2017 though deals were engaged from October 2016: of the deals 3-4
    months old in mid-February, 67-85% were won by the end of March, against 23-41% of deals that
    age at the same point of later quarters)."""
    if book.first_close < _FAR:
        fc = pd.Timestamp(np.datetime64(book.first_close, "D")) - pd.Timedelta(days=1)  # a reference date > this
        if since is None or fc > since:
            later = learned_rates(obs, t, d2, since=fc, fill=fill)
            if later["n"]:
                return later
    return learned_rates(obs, t, d2, since=since, fill=fill)


def apply_rates(rates: dict, open_deals: pd.DataFrame) -> np.ndarray:
    """Each open deal's probability of being won inside the window: its age cell's rate (or its
    band's, or the overall rate, where the history has none); with a known stage, the stage's
    rate in the band, times the age cell's rate over the band's (the age effect inside the
    band, taken as the same for every stage)."""
    return rates_for(rates, open_deals["stage_key"].to_numpy(dtype=object), open_deals["age_days"].to_numpy())


def rates_for(rates: dict, stage_keys: np.ndarray, age: np.ndarray) -> np.ndarray:
    """:func:`apply_rates` on arrays: each deal's stage key and age in days."""
    if not np.isfinite(rates.get("all", np.nan)):
        return np.zeros(len(age))
    bands, cells = age_band(age), age_cell(age)
    out = np.empty(len(age))
    for i, (s, b, c) in enumerate(zip(stage_keys, bands, cells)):
        b = int(b)
        pb = rates.get(("band", b))
        pc = rates.get(("age cell", int(c)))
        p = rates.get((s, b)) if s is not None else None
        if p is None:
            p = pc if pc is not None else (pb if pb is not None else rates["all"])
        elif pc is not None and pb:
            p = p * pc / pb
        out[i] = p
    return np.clip(out, 0.0, 1.0)


# --- the other views ------------------------------------------------------------------------------
def _comparable(cal: FiscalCalendar, period: Period, t: pd.Timestamp, k: int) -> list[tuple[Period, pd.Timestamp]]:
    """The ``k`` previous periods of the same kind that were over by ``t``, each with the date
    at the same offset from its start as ``t`` is from ``period``'s start."""
    offset = (t - _ts(period.start)).days
    out, p = [], period
    for _ in range(k + 8):
        p = cal.shift(p, -1)
        if _ts(p.end) <= t:
            out.append((p, _ts(p.start) + pd.Timedelta(days=offset)))
        if len(out) >= k:
            break
    return out


def new_business(book: Book, cal: FiscalCalendar, period: Period, t: pd.Timestamp, k: int = 4) -> tuple[float, float, list]:
    """(mean, log-scale spread, values): amount won from deals created after the same point of
    each of the last ``k`` comparable periods."""
    vals = []
    for p, tt in _comparable(cal, period, t, k):
        if _day(p.start) < book.first_day:  # before the history begins: not a period with no new business
            continue
        m = (book.created > _day(tt)) & (book.close >= _day(p.start)) & (book.close <= _day(p.end))
        vals.append(float(book.won_amount[m].sum()))
    if not vals:
        return 0.0, 0.0, []
    v = np.array(vals)
    mean = float(v.mean())
    spread = float(np.std(np.log(np.maximum(v, 1.0)), ddof=1)) if len(v) > 1 and (v > 0).all() else 0.5
    return mean, min(max(spread, 0.1), 1.0), vals


#: The time-series view is the Forecast page's forecast with its defaults (auto, Prophet included,
#: this many periods ahead) at the period's frequency: the same number as the page and
#: ``forecast --json --freq Q`` show for the running quarter.
TS_HORIZON = 6
_TS_FREQ = {"quarter": "Q", "month": "M", "week": "W"}


#: Time-series fits kept across calls, keyed by the won deals' content: a fit depends only on
#: them, the frequency, the training end and the calendar (calibration refits every earlier
#: quarter, and the page, the goals and a backtest of landing zones ask for the same ones).
_TS_CACHE = Kept(1024)  # a fit is about 8 KB; one slice's calibration asks for about 9


def _ts_forecast(book: Book, cal: FiscalCalendar, freq: str, t: pd.Timestamp):
    """:func:`run_forecast` trained on the complete periods before ``t`` (the fit is the same
    for every day of a period), or None when there is nothing to forecast from."""
    from .backtest import run_forecast

    p = cal.period_of(t.date(), freq)
    last_end = t if _ts(p.end) == t else _ts(p.start) - pd.Timedelta(days=1)
    seen = book.__dict__.setdefault("_ts_inputs", {})  # per book: calibration asks for a few training ends many times
    if (freq, last_end) not in seen:
        won = book.won_deals[book.won_deals[S.CLOSE_DATE] <= last_end]
        digest = hashlib.sha1(pd.util.hash_pandas_object(won[[S.CLOSE_DATE, S.AMOUNT]], index=False).to_numpy().tobytes()).hexdigest()
        seen[(freq, last_end)] = (won, digest)
    won, digest = seen[(freq, last_end)]
    key = (digest, freq, last_end, cal.start_month)

    def fit():
        try:
            return run_forecast(won, freq=freq, horizon=TS_HORIZON, train_until=last_end, calendar=cal, n_jobs=1)
        except InputError:
            return None

    return _TS_CACHE.get(key, fit)


def time_series_view(book: Book, cal: FiscalCalendar, period: Period, t: pd.Timestamp) -> float | None:
    """The time-series view of ``period``'s bookings as of ``t``: booked to date + the forecast
    of the rest (:func:`series.split_running`, as :func:`run_forecast` reports a started
    period), at the period's frequency (months summed for a year or a range). None when the
    series holds less than a season plus one period, or the period is beyond the horizon."""
    from .series import SEASON_LENGTH, booked_between, share_booked, split_running

    t = _ts(t)
    freq = _TS_FREQ.get(period.kind, "M")
    res = _ts_forecast(book, cal, freq, t)
    if res is None or res.series.frame.empty or len(res.series.frame) < SEASON_LENGTH[freq] + 1:
        return None
    fc = res.forecast.set_index("period_start")
    won = book.won_values
    total = 0.0
    for sp in cal.periods_between(period.start, period.end, freq):
        if sp.start < period.start or sp.end > period.end:
            return None  # a range that does not follow the calendar's periods
        start = _ts(sp.start)
        if _ts(sp.end) <= t:   # over by then: what it booked
            total += float(booked_between(book.won_deals, start, sp.end, won=won).sum())
            continue
        if start not in fc.index:
            return None
        row = fc.loc[start]
        if start <= t:         # the running period: booked to date + the forecast of its rest
            booked = float(booked_between(book.won_deals, start, t, won=won).sum())
            share, _ = share_booked(book.won_deals, cal, freq, start, t, won=won)
            total += float(split_running(np.float64(row["yhat"]), np.float64(row["yhat_lower"]),
                                         np.float64(row["yhat_upper"]), booked, share)[0])
        else:
            total += float(row["yhat"])
    return total


# --- components, simulation, calibration ----------------------------------------------------------
def _window(period: Period, t: pd.Timestamp) -> tuple[int, int]:
    d1 = max((_ts(period.start) - t).days - 1, 0)
    d2 = (_ts(period.end) - t).days
    return d1, d2


def components(book: Book, cal: FiscalCalendar, period: Period, t, obs: pd.DataFrame | None = None,
               deals: bool = True) -> dict:
    """The pieces of the landing zone at ``t``: closed-won to date, each open deal's learned
    probability and amount, new-business run rate, the time-series view and the blend weight.
    ``deals=False`` (calibration, at earlier dates): the same numbers without the frame of open
    deals (``open_deals`` is None)."""
    t = _ts(t)
    d1, d2 = _window(period, t)
    if d2 < 0:
        raise InputError(f"{period.label} ended before {t.date()}; nothing is left to forecast")
    closed = book.won_between(period.start, t) if t >= _ts(period.start) else 0.0
    cols, rule = book.open_columns(t)
    ages = open_ages(t, cols["created"])
    amounts = np.asarray(cols["amount"], dtype=float)
    if obs is None:
        obs = book.observations(reference_windows(cal, period, t), d1, d2)
    since = t - pd.Timedelta(days=period.days * (REF_PERIODS + 1))
    fill = fill_amount(book, t, since)
    rates = history_rates(book, obs, t, d2, since, fill)
    p = rates_for(rates, np.asarray(cols["stage_key"], dtype=object), ages)
    missing = int(np.isnan(amounts).sum())
    amounts = np.where(np.isnan(amounts), fill, amounts)
    open_deals = book.open_frame(cols, ages).assign(amount_used=amounts, p_win=p) if deals else None
    new_mean, new_spread, new_vals = new_business(book, cal, period, t)
    ts_total = time_series_view(book, cal, period, t)
    ts_rem = None if ts_total is None else max(ts_total - closed, 0.0)
    elapsed = min(max(((t - _ts(period.start)).days + 1) / period.days, 0.0), 1.0)
    w = 0.5 + 0.5 * elapsed if ts_rem is not None else 1.0
    return {"t": t, "closed_won": closed, "p": p, "amounts": amounts, "open_deals": open_deals, "rule": rule,
            "rates_n": rates.get("n", 0), "new_mean": new_mean, "new_spread": new_spread, "new_values": new_vals,
            "ts_remaining": ts_rem, "ts_total": ts_total, "w": w, "missing_amounts": missing, "fill_amount": fill}


def fill_amount(book: Book, t, since) -> float:
    """What an open deal without an amount counts at (and weighs in the rates): the median won
    deal among those closed after ``since`` and by ``t``, the history the win rates are learned
    from (all deals won by ``t`` when none closed in it; 0 when none has been won). The median of
    the last 500 won deals, used before, jumped between price points where a few products make
    most deals (Maven: 1,223 on 21 October 2017, 2,732 on 15 November, 1,124 on 10 December)."""
    ok = book.is_won & (book.close <= _day(t)) & np.isfinite(book.amount)
    pool = ok & (book.close > _day(since))
    pool = pool if pool.any() else ok
    return float(np.median(book.amount[pool])) if pool.any() else 0.0


def _pipeline_draws(comp: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of what the pipeline view says is still to be booked: each open deal's win
    (Bernoulli) plus new business (log-normal around its run rate)."""
    p, a = comp["p"], comp["amounts"]
    open_part = np.zeros(n)
    chunk = max(1, 2_000_000 // max(len(p), 1))
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        if len(p):
            open_part[s:e] = (rng.random((e - s, len(p))) < p) @ a
    sp = comp["new_spread"]
    new_part = comp["new_mean"] * np.exp(rng.normal(-sp * sp / 2, sp, n)) if comp["new_mean"] > 0 else np.zeros(n)
    return open_part + new_part


def _blend(pipe: np.ndarray, ts_remaining: float | None, w: float) -> np.ndarray:
    """The remaining bookings before the model-error shock: the pipeline draws blended with the
    time-series view (weight ``w`` on the pipeline)."""
    return pipe if ts_remaining is None else w * pipe + (1 - w) * ts_remaining


def _base_draws(comp: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws of the remaining bookings before the model-error shock (blend of both views)."""
    return _blend(_pipeline_draws(comp, n, rng), comp["ts_remaining"], comp["w"])


def _fit_weight(points: list, default: float) -> tuple[float, str]:
    """The pipeline view's weight in the blend: inverse to each view's mean squared log error
    at the same point of earlier periods (Bates and Granger's combination), when at least
    MIN_CALIBRATION_POINTS of them had both views; else ``default``."""
    ep, et = [], []
    for closed, pipe, ts_rem, _, actual, *_ in points:
        rem, med = actual - closed, float(np.median(pipe))
        if ts_rem is None or rem <= 0 or med <= 0 or ts_rem <= 0:
            continue
        ep.append(np.log(rem / med) ** 2)
        et.append(np.log(rem / ts_rem) ** 2)
    if len(ep) < MIN_CALIBRATION_POINTS:
        return default, "too few earlier forecasts with both views to weigh them"
    ip, it = 1 / max(float(np.mean(ep)), 1e-6), 1 / max(float(np.mean(et)), 1e-6)
    return ip / (ip + it), f"inverse to each view's squared error in {len(ep)} earlier forecasts"


def _shock(kappa: float, z: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """A log-normal factor: the model's own error on what remains, centred on ``exp(bias)``
    (the location correction learned from earlier periods; 0 keeps the median)."""
    return np.exp(bias + kappa * z)


def _log_errors(points: list) -> tuple[np.ndarray, np.ndarray]:
    """Each past point's log error e = log(actual remaining / the base draws' median) and the
    base draws' own log-variance (points with nothing remaining or no draws are left out)."""
    e, s2 = [], []
    for closed, base, _, actual, *_ in points:
        med = float(np.median(base))
        rem = actual - closed
        if med <= 0 or rem <= 0:
            continue
        pos = base[base > 0]
        e.append(np.log(rem / med))
        s2.append(float(np.var(np.log(pos))) if len(pos) > 1 else 0.0)
    return np.array(e), np.array(s2)


def _fit_bias(points: list) -> float:
    """The location correction: the mean log error of the past points, shrunk toward 0 with
    PRIOR_POINTS pseudo-points (thin history: little correction); 0 with fewer than
    MIN_CALIBRATION_POINTS points."""
    e, _ = _log_errors(points)
    if len(e) < MIN_CALIBRATION_POINTS:
        return 0.0
    return float(e.sum() / (len(e) + PRIOR_POINTS))


def _fit_kappa(points: list, bias: float = 0.0) -> float:
    """The model-error scale ``kappa`` from past points (closed, base draws, z, actual, ...).

    Each point's log error e = log(actual remaining / the base draws' median), less ``bias``
    (the location correction, when one is applied); kappa**2 is their mean square less the
    base draws' own log-variance, shrunk toward DEFAULT_KAPPA**2 with PRIOR_POINTS
    pseudo-points (the floor for thin history), then widened by the Student t quantile for
    that many points (few points: a wider range) and, with a location correction, by its own
    uncertainty (1 + 1/(n + PRIOR_POINTS)); never below KAPPA_FLOOR."""
    e, s2 = _log_errors(points)
    n = len(e)
    if n == 0:
        return DEFAULT_KAPPA
    e = e - bias
    own = float(s2.mean())
    k2 = max(float(np.mean(e ** 2)) - own, 0.0)
    k2 = (n * k2 + PRIOR_POINTS * DEFAULT_KAPPA ** 2) / (n + PRIOR_POINTS)
    if bias:
        k2 *= 1 + 1 / (n + PRIOR_POINTS)
    from scipy.stats import t as student_t

    widen = float(student_t.ppf(0.9, n) / student_t.ppf(0.9, 1e9))
    return max(float(np.sqrt(max(widen ** 2 * (k2 + own) - own, 0.0))), KAPPA_FLOOR)


def calibrate(book: Book, cal: FiscalCalendar, period: Period, t: pd.Timestamp, *, seed: int = 0,
              n_samples: int = 600, periods: int = CALIBRATION_PERIODS, default_w: float = 1.0) -> dict:
    """The blend weight (:func:`_fit_weight`) and the model-error scale ``kappa``
    (:func:`_fit_kappa`) from earlier periods at the same point (and four weeks either side),
    each forecast made with only its own day's data; and their honest check: each earlier period's range rebuilt with a kappa fitted on the *other*
    periods (leave one period out), reporting how often those ranges held the actual, how wide
    they were and how far their P50 was, over the points at the same point of the period and
    over all of them."""
    offset = (t - _ts(period.start)).days
    points = []
    rng = np.random.default_rng(seed + 7919)
    for shift_days in (0, -28, 28):
        off = offset + shift_days
        if off < -92 or off > period.days - 5:
            continue
        obs = None
        for p, _ in _comparable(cal, period, t, periods):
            tt = _ts(p.start) + pd.Timedelta(days=off)
            if tt > t:
                continue
            d1, d2 = _window(p, tt)
            if d2 < 0:
                continue
            if obs is None:  # the same reference dates for every earlier period at this offset
                obs = book.observations(reference_windows(cal, period, t + pd.Timedelta(days=shift_days),
                                                          periods + REF_PERIODS), d1, d2)
            comp = components(book, cal, p, tt, obs=obs, deals=False)
            # a forecast made before the history held one full earlier period (no new-business
            # run rate yet, win rates from a few weeks of brand-new deals) is not like this one
            if comp["rates_n"] < 50 or not comp["new_values"]:
                continue
            actual = book.won_between(p.start, p.end)
            pipe = _pipeline_draws(comp, n_samples, rng)
            z = rng.standard_normal(n_samples)
            points.append((comp["closed_won"], pipe, comp["ts_remaining"], z, actual, p.label, tt, shift_days))
    if len(points) < MIN_CALIBRATION_POINTS:
        return {"kappa": DEFAULT_KAPPA, "bias": 0.0, "points": len(points), "coverage": None, "width": None,
                "p50_error": None, "same_point": None, "calibrated": False, "pipeline_weight": None}

    def fit(pts):
        w, why = _fit_weight(pts, default_w)
        blended = [(c, _blend(pp, ts, w), z, a) for c, pp, ts, z, a, *_ in pts]
        bias = _fit_bias(blended) if LOCATION_CORRECTION else 0.0
        return w, why, _fit_kappa(blended, bias), bias

    w, why, kappa, bias = fit(points)
    checks = []
    for label in dict.fromkeys(pt[5] for pt in points):
        others = [pt for pt in points if pt[5] != label]
        if not others:
            continue
        w_i, _, k_i, b_i = fit(others)
        for closed, pipe, ts_rem, z, actual, _, tt, shift in (pt for pt in points if pt[5] == label):
            smp = closed + _blend(pipe, ts_rem, w_i) * _shock(k_i, z, b_i)
            lo, mid, hi = np.quantile(smp, [0.1, 0.5, 0.9])
            checks.append({"period": label, "as_of": tt.date(), "same_point": shift == 0, "inside": bool(lo <= actual <= hi),
                           "width": float((hi - lo) / mid) if mid > 0 else float("nan"),
                           "p50_error": float(mid / actual - 1) if actual else float("nan")})
    ck = pd.DataFrame(checks)
    same = ck[ck["same_point"]] if not ck.empty else ck

    def _summary(frame):
        if frame.empty:
            return None
        return {"points": int(len(frame)), "coverage": float(frame["inside"].mean()),
                "width": float(frame["width"].mean()), "p50_error": float(frame["p50_error"].abs().mean())}

    allpts = _summary(ck)
    return {"kappa": kappa, "bias": bias, "pipeline_weight": w, "weight_rule": why, "points": len(points), "coverage": allpts["coverage"] if allpts else None,
            "width": allpts["width"] if allpts else None, "p50_error": allpts["p50_error"] if allpts else None,
            "same_point": _summary(same), "method": "leave one period out", "calibrated": True,
            "checks": checks}


def calibration_words(cal: dict, kind: str = "quarter") -> str:
    """The landing zone's calibration in one honest sentence (page and CLI)."""
    kind = kind if kind in ("quarter", "month", "week", "year") else "period"
    same = cal.get("same_point") or None
    if not cal.get("calibrated"):
        return (f"Too few earlier {kind}s to check the range at this point of the {kind}: it uses a default model "
                "error, so treat it as a rough guide.")
    part = same if same else {"points": cal["points"], "coverage": cal["coverage"], "width": cal["width"],
                              "p50_error": cal["p50_error"]}
    where = f"at this point of the {kind}" if same else f"around this point of the {kind}"
    inside = int(round(part["coverage"] * part["points"]))
    return (f"Checked on {part['points']} earlier {kind}s {where}, each range rebuilt without its own {kind}: it held the "
            f"actual in {inside} of {part['points']} ({part['coverage']:.0%}), was {part['width']:.0%} of its P50 wide "
            f"on average, and its P50 was off by {part['p50_error']:.1%} on average.")


def _target(targets: pd.DataFrame | None, period: Period, owners: list | None) -> float | None:
    """The company target (or, for a list of reps, the sum of their targets); callers with a
    slice pass the target of the one rule (salesops.outlook) instead."""
    from ..targets import TargetBook

    book = TargetBook(targets, period.start, period.end)
    view = book.view(("all", ()) if owners is None else None, owners)
    return view.amount


def landing(deals: pd.DataFrame, snapshots: pd.DataFrame | None, period, as_of, targets: pd.DataFrame | None = None,
            calendar: FiscalCalendar | None = None, n_samples: int = 4000, seed: int = 0,
            stage_history: pd.DataFrame | None = None, calibrate_interval: bool = True,
            owners: list | None = None) -> dict:
    """Where ``period`` will land, from the data as of ``as_of`` only.

    ``deals``: the opportunities (store.load_deals); ``snapshots``: store.load_snapshots() or
    None; ``period``: a :class:`Period` or text ("2026Q4"); ``targets``: store.load_targets();
    ``owners``: restrict the target to these reps (when ``deals`` is filtered).
    Returns {period, as_of, closed_won, open_expected, new_expected, p10, p50, p90, target,
    samples (numpy array of simulated period bookings), pipeline_view, time_series_view,
    pipeline_weight, kappa, calibration, open_deals (DataFrame with p_win), rule, notes}.
    Random draws use ``np.random.default_rng(seed)`` only."""
    calendar = calendar or FiscalCalendar()
    if isinstance(period, str):
        period = calendar.parse(period)
    t = _ts(as_of)
    if S.CREATED_DATE in deals.columns:  # a deal created after the as-of date did not exist then
        deals = deals[~(datetimes(deals[S.CREATED_DATE]) > t).to_numpy()]
    book = Book.build(deals, snapshots, stage_history)
    notes = []
    if t > book.data_end:
        notes.append(f"the data ends on {book.data_end:%d %b %Y}; anything after that is not in it yet")
    closed_days = book.close[~book.is_open & (book.close > -_FAR) & (book.close <= _day(t))]
    if len(closed_days) == 0 or _day(t) - int(closed_days.max()) > 90:
        last = "no deal closed" if len(closed_days) == 0 else \
            f"the newest closed deal is from {pd.Timestamp(np.datetime64(int(closed_days.max()), 'D')):%d %b %Y}"
        notes.append(f"{last}, long before {t:%d %b %Y}: the history is stale for this date; choose an as-of date "
                     "inside the data")
    comp = components(book, calendar, period, t)
    # until the time-series view's accuracy can be measured on earlier periods, it is shown but
    # blended in only when there is no open pipeline to go by
    unproven_w = 1.0 if len(comp["p"]) else comp["w"]
    cal_info = (calibrate(book, calendar, period, t, seed=seed, default_w=unproven_w) if calibrate_interval
                else {"kappa": DEFAULT_KAPPA, "bias": 0.0, "points": 0, "coverage": None, "width": None,
                      "p50_error": None, "same_point": None, "calibrated": False, "pipeline_weight": None})
    if cal_info.get("pipeline_weight") is not None and comp["ts_remaining"] is not None:
        comp["w"] = float(cal_info["pipeline_weight"])
    if not cal_info["calibrated"]:
        notes.append(f"too few earlier {period.kind}s to calibrate the range; using a default model error ({DEFAULT_KAPPA})")
    rng = np.random.default_rng(seed)
    base = _base_draws(comp, n_samples, rng)
    samples = comp["closed_won"] + base * _shock(cal_info["kappa"], rng.standard_normal(n_samples),
                                                   cal_info.get("bias", 0.0))
    p10, p50, p90 = (float(x) for x in np.quantile(samples, [0.1, 0.5, 0.9]))
    open_expected = float(np.sum(comp["p"] * comp["amounts"]))
    pipeline_view = comp["closed_won"] + open_expected + comp["new_mean"]
    ts_view = comp["ts_total"]
    if comp["missing_amounts"]:
        notes.append(f"{comp['missing_amounts']} open deal(s) without an amount counted at the median won deal "
                     f"({comp['fill_amount']:,.0f})")
    if comp["rates_n"] < 50:
        notes.append("little closed history before this date: win probabilities are rough")
    return {
        "period": period.label, "period_start": period.start, "period_end": period.end, "as_of": t.date(),
        "closed_won": comp["closed_won"], "open_expected": open_expected, "new_expected": comp["new_mean"],
        "p10": p10, "p50": p50, "p90": p90, "target": _target(targets, period, owners),
        "pipeline_view": pipeline_view, "time_series_view": ts_view, "pipeline_weight": comp["w"],
        "open_count": int(len(comp["p"])), "kappa": cal_info["kappa"], "calibration": cal_info,
        "samples": samples, "open_deals": comp["open_deals"], "rule": comp["rule"], "notes": notes,
    }


def landing_doc(result: dict) -> dict:
    """The CLI contract's JSON document of a :func:`landing` result (no samples, no deals)."""
    keys = ("period", "as_of", "closed_won", "open_expected", "new_expected", "p10", "p50", "p90", "target",
            "pipeline_view", "time_series_view", "pipeline_weight", "open_count", "kappa", "calibration", "rule", "notes")
    doc = {k: result[k] for k in keys}
    doc["period_start"] = result["period_start"]
    return doc


def landing_backtest(deals: pd.DataFrame, snapshots: pd.DataFrame | None, *, calendar: FiscalCalendar | None = None,
                     stage_history: pd.DataFrame | None = None, periods: int = 6, offset_days: int = 0,
                     kind: str = "Q", as_of=None, n_samples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Landing zones for the last ``periods`` complete periods, each made ``offset_days`` after
    the period start with only the data of that day, beside the actual. For calibration checks."""
    calendar = calendar or FiscalCalendar()
    book = Book.build(deals, snapshots, stage_history)
    end = _ts(as_of) if as_of is not None else book.data_end
    p = calendar.period_of(end.date(), kind)
    rows = []
    while len(rows) < periods:
        p = calendar.shift(p, -1)
        if _ts(p.start) < book.deals["_created"].min() + pd.Timedelta(days=400):
            break
        t = _ts(p.start) + pd.Timedelta(days=offset_days)
        res = landing(deals, snapshots, p, t, calendar=calendar, n_samples=n_samples, seed=seed, stage_history=stage_history)
        actual = book.won_between(p.start, p.end)
        rows.append({"period": p.label, "as_of": t.date(), "p10": res["p10"], "p50": res["p50"], "p90": res["p90"],
                     "actual": actual, "inside": res["p10"] <= actual <= res["p90"], "kappa": res["kappa"]})
    return pd.DataFrame(rows[::-1])


def deals_as_of(deals: pd.DataFrame, snapshots: pd.DataFrame | None, as_of,
                stage_history: pd.DataFrame | None = None) -> pd.DataFrame:
    """The deals open on ``as_of`` by the as-of rule of this module (id, owner, amount,
    created, age_days, stage_key, expected_close); ``.attrs["rule"]`` says which rule applied."""
    frame, rule = Book.build(deals, snapshots, stage_history).open_at(as_of)
    frame.attrs["rule"] = rule
    return frame
