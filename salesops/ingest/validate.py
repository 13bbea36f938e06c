"""A read table + a mapping -> canonical deal rows and every problem, before anything is written.

Rules (DESIGN.md sections 2-3, issue #3):

* required: an id or a name, an owner, a stage or a status, an amount column;
* errors (the row cannot be imported): unparseable or non-finite numbers and dates, a status
  that is not open/won/lost, a closed deal without a close date, an id repeated in the file,
  a ragged row;
* warnings: blank/zero/negative amounts, blank owners, dates outside 1970-2080, close before
  created, cleaned control characters, unknown stages (they count as open), undecidable
  day/month order, derived ids;
* status: an explicit status column decides (Pipedrive, Dynamics, Close, canonical); otherwise
  the stage map (the user's edits win), and won/closed flags only for stages it does not know;
  every deal records which (``status_source``: 'file' or 'stage_map'), so that a stage-map
  change later re-derives only the statuses that came from the map;
* closed deals take their won/lost/actual close date and actual amount where the export has one.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import schema as S
from ..errors import Problem
from . import normalise as N
from .mapping import Mapping
from .headers import header_key
from .reader import RawTable
from .vendors import IGNORE

#: A warning about several rows is one line naming this many of them and the count.
WARNING_ROWS_SHOWN = 5
#: At most this many error rows are listed one by one per (column, problem).
ERROR_DETAIL_LIMIT = 200
DATE_FIELDS = (S.CREATED_DATE, S.CLOSE_DATE, "won_date", "lost_date", "closed_on", "actual_close_date", S.ENTERED_AT)
TEXT_FIELDS = (S.NAME, S.ACCOUNT, S.OWNER, S.STAGE, S.CURRENCY, S.TYPE, S.LEAD_SOURCE, S.REGION, S.SEGMENT,
               S.INDUSTRY, S.PRODUCT, S.PIPELINE, S.LOSS_REASON)
_GERMAN_HINTS = {header_key(h) for h in ("Betrag", "Phase", "Schlusstermin", "Erstelldatum", "Opportunity-Inhaber",
                                          "Wahrscheinlichkeit (%)", "Währung", "Abschlussdatum", "Umsatz", "Kunde")}


@dataclass
class Prepared:
    """The outcome of validation: canonical rows (all rows of the file), which are valid, and
    every problem. ``deals`` has the columns of ``opportunities`` (minus import_id) for
    opportunity files, or opportunity_id/stage/entered_at for stage history."""

    kind: str
    deals: pd.DataFrame
    row_numbers: np.ndarray
    valid: np.ndarray
    problems: list[Problem]
    unknown_stages: list[str]
    rows_read: int
    rejected_rows: list[dict] = field(default_factory=list)
    date_order: str | None = None
    decimal: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def file_errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error" and p.row is None]

    @property
    def rows_valid(self) -> int:
        return int(self.valid.sum())

    @property
    def rows_rejected(self) -> int:
        return self.rows_read - self.rows_valid


class _Collector:
    """Gathers problems, row by row for errors (capped), summarised for frequent warnings."""

    def __init__(self, file_name: str, row_numbers: np.ndarray):
        self.file = file_name
        self.rows = row_numbers
        self.problems: list[Problem] = []
        self.error_rows = np.zeros(len(row_numbers), dtype=bool)

    def file_problem(self, problem: str, *, column=None, value=None, severity="error", row=None):
        self.problems.append(Problem(problem, row=row, column=column, value=value, file=self.file, severity=severity))

    def rows_problem(self, mask: np.ndarray, column: str | None, problem: str, values=None, *, severity="error"):
        """Rows with one problem: errors one per row (each row is rejected; capped), warnings
        as one line with the count and the first rows ("2,089 rows: no amount")."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        if severity == "warning":
            if len(idx) == 1:
                i = idx[0]
                self.problems.append(Problem(problem, row=int(self.rows[i]), column=column,
                                             value=None if values is None else values[i], file=self.file,
                                             severity=severity))
                return
            shown = ", ".join(str(int(self.rows[i])) for i in idx[:WARNING_ROWS_SHOWN])
            more = f" and {len(idx) - WARNING_ROWS_SHOWN:,} more" if len(idx) > WARNING_ROWS_SHOWN else ""
            self.problems.append(Problem(f"{len(idx):,} rows: {problem}; rows {shown}{more}", column=column,
                                         file=self.file, severity=severity))
            return
        self.error_rows[idx] = True
        for i in idx[:ERROR_DETAIL_LIMIT]:
            v = None if values is None else values[i]
            self.problems.append(Problem(problem, row=int(self.rows[i]), column=column, value=v, file=self.file,
                                         severity=severity))
        if len(idx) > ERROR_DETAIL_LIMIT:
            self.problems.append(Problem(f"... and {len(idx) - ERROR_DETAIL_LIMIT:,} more rows with the same problem",
                                         column=column, file=self.file, severity=severity,
                                         row=int(self.rows[idx[ERROR_DETAIL_LIMIT]])))


def decimal_hint(table: RawTable) -> str | None:
    """',' when the file looks European (';' delimiter or German headers), else None."""
    if table.delimiter == ";":
        return ","
    if any(header_key(h) in _GERMAN_HINTS for h in table.header):
        return ","
    return None


def check_headers(table: RawTable) -> list[Problem]:
    """Duplicate headers (errors) and blank or very long ones (warnings); blank headers are
    renamed "(column C)" in place."""
    problems = []
    seen: dict[str, int] = {}
    for i, h in enumerate(table.header):
        letter = column_letter(i)
        if not h:
            table.header[i] = f"(column {letter})"
            problems.append(Problem(f"column {letter} has no header; its values are kept in extra as "
                                    f"{table.header[i]!r}", row=table.header_row, column=table.header[i],
                                    file=table.source, severity="warning"))
            continue
        key = h.casefold().strip()
        if key in seen:
            problems.append(Problem(f"the header {h!r} appears twice (columns {column_letter(seen[key])} and {letter}); "
                                    "rename one so it is clear which to use", row=table.header_row, column=h,
                                    file=table.source))
        else:
            seen[key] = i
        if len(h) > 200:
            problems.append(Problem("a very long header (over 200 characters)", row=table.header_row, column=h[:60],
                                    file=table.source, severity="warning"))
    return problems


def column_letter(i: int) -> str:
    """The spreadsheet letters of the ``i``-th column (0 -> A, 26 -> AA), without a column limit."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def required_problems(mapping: Mapping, file_name: str) -> list[Problem]:
    """One file problem per required field no column fills (never one per row). When the only
    candidate is a column qualified as a lookup ("Opportunity Owner: Manager", "Created By",
    "Amount Tier"), the problem says why it was not taken and how to take it anyway."""
    from .mapping import _fuzzy_field, lookup_qualifier

    have = set(mapping.fields())
    cols = ", ".join(mapping.columns)
    if mapping.kind == "stage_history":
        need = ((S.OPPORTUNITY_ID,), (S.STAGE,), (S.ENTERED_AT,))
    else:
        need = ((S.OPPORTUNITY_ID, S.NAME), (S.OWNER,), (S.STAGE, S.STATUS), (S.AMOUNT, "actual_amount"))
    out = []
    for group in need:
        if have & set(group):
            continue
        what = " or ".join(group)
        near = [h for h, f in mapping.columns.items() if f == IGNORE and lookup_qualifier(h)
                and _fuzzy_field(h)[0] in group]
        if near:
            h = near[0]
            out.append(Problem(f"no column for {what}: {h!r} is {lookup_qualifier(h)}, so it was not taken as the "
                               f"{group[0]}. Export the file with the {group[0]} column, or if {h!r} is what you mean, "
                               f"map it: --map '{h}={group[0]}'", column=what, file=file_name))
            continue
        out.append(Problem(f"no column for {what}; the file's columns are: {cols}. Map one with "
                           f"--map COLUMN={group[0]}", column=what, file=file_name))
    return out


def build(table: RawTable, mapping: Mapping, *, rules: dict[str, S.StageRule] | None = None,
          workspace_currency: str = "USD") -> Prepared:
    """Validate and normalise every row; see the module docstring."""
    rules = S.DEFAULT_STAGE_RULES if rules is None else rules
    n = len(table.frame)
    col = _Collector(table.source, table.row_numbers)
    col.problems.extend(table.problems)
    col.problems.extend(required_problems(mapping, table.source))
    fields = mapping.fields()
    hint = decimal_hint(table)
    raw = {f: table.column(src) for f, src in fields.items()}
    raw_vals = raw  # Series with a 0..n-1 index: problems look values up by position

    out: dict[str, object] = {}
    blanks: dict = {}  # the all-None columns made here
    # --- text ------------------------------------------------------------------------------
    for f in (S.OPPORTUNITY_ID, *TEXT_FIELDS):
        if f in raw:
            res = N.clean_text(raw[f])
            out[f] = res.values.to_numpy(dtype=object)
            col.rows_problem(res.cleaned, fields[f], "invisible control characters or direction marks were removed",
                             raw_vals[f], severity="warning")
        else:
            out[f] = _blank(n, blanks)

    # --- dates ----------------------------------------------------------------------------------
    date_fields = [f for f in DATE_FIELDS if f in raw]
    dmy = mdy = 0
    for f in date_fields:
        a, b = N.date_order_evidence(raw[f])
        dmy, mdy = dmy + a, mdy + b
    file_order = "DMY" if dmy > mdy else "MDY" if mdy > dmy else ("DMY" if hint == "," else None)
    used_order = None
    dates: dict[str, pd.Series] = {}
    for f in date_fields:
        res = N.parse_dates(raw[f], order_hint=file_order)
        dates[f] = res.values
        src = fields[f]
        col.rows_problem(res.bad, src, "not a date this import can read (use YYYY-MM-DD, D/M/YYYY, M/D/YYYY or "
                                       "DD.MM.YYYY)", raw_vals[f])
        col.rows_problem(res.implausible, src, "an unlikely date (before 1970 or after 2080); check it is not a "
                                               "placeholder", raw_vals[f], severity="warning")
        if res.order:
            used_order = used_order or res.order
            if not res.order_decided:
                col.file_problem(f"the day/month order of {src!r} cannot be decided from the file (no day above 12); "
                                 f"read as {'day/month' if res.order == 'DMY' else 'month/day'}. Check a few dates",
                                 column=src, severity="warning")
        if res.two_digit_years:
            col.file_problem(f"{src!r} has two-digit years; read 00-69 as 2000-2069 and 70-99 as 1970-1999",
                             column=src, severity="warning")
        if res.serials:
            col.file_problem(f"{src!r} holds Excel serial numbers; read as dates", column=src, severity="warning")

    if mapping.kind == "stage_history":
        return _finish_history(table, mapping, col, out, dates, raw_vals, used_order, hint)

    # --- numbers -----------------------------------------------------------------------------
    amounts: dict[str, N.NumberResult] = {}
    for f in (S.AMOUNT, "actual_amount"):
        if f in raw:
            res = N.parse_numbers(raw[f], hint)
            amounts[f] = res
            col.rows_problem(res.bad, fields[f], "not a number (or not finite)", raw_vals[f])
            if res.ambiguous:
                col.file_problem(f"{fields[f]!r}: values like 1,000 or 1.000 could use either separator; read "
                                 f"'{res.decimal}' as the decimal separator", column=fields[f], severity="warning")
    probability = np.full(n, np.nan)
    if S.PROBABILITY in raw:
        res = N.parse_numbers(raw[S.PROBABILITY], hint)
        p = res.values
        col.rows_problem(res.bad, fields[S.PROBABILITY], "not a number", raw_vals[S.PROBABILITY], severity="warning")
        if res.percent or np.nanmax(np.append(p, 0)) > 1:
            p = p / 100.0
        outside = (p < 0) | (p > 1)
        col.rows_problem(outside, fields[S.PROBABILITY], "a probability outside 0-100%; left blank",
                         raw_vals[S.PROBABILITY], severity="warning")
        probability = np.where(outside, np.nan, p)

    # --- status --------------------------------------------------------------------------------
    # ``have`` marks the rows whose status is decided so far (instead of testing status for blanks
    # again after each rule: a million-row object array each time)
    stage = out[S.STAGE]
    status = np.full(n, None, dtype=object)
    have = np.zeros(n, dtype=bool)
    from_file = np.zeros(n, dtype=bool)  # the status came from the file (a status column or flags), not the map
    unknown_stage_mask = np.zeros(n, dtype=bool)
    stage_blank = np.ones(n, dtype=bool)
    if S.STAGE in raw:
        codes, uniq = pd.factorize(pd.Series(stage, dtype=object), use_na_sentinel=True)
        st_u = np.full(len(uniq), None, dtype=object)
        known_u = np.zeros(len(uniq), dtype=bool)
        for i, text in enumerate(uniq):
            rule = rules.get(S.stage_key(text))
            if rule is not None:
                st_u[i], known_u[i] = rule.status, True
        st_rows = N.expand(codes, st_u, None)
        known = N.expand(codes, known_u, False).astype(bool)
        status = np.where(known, st_rows, None)
        have = known.copy()
        stage_blank = codes < 0
        unknown_stage_mask = ~known & ~stage_blank
    explicit = None
    if S.STATUS in raw:
        st, blank, bad = N.parse_statuses(raw[S.STATUS])
        col.rows_problem(bad, fields[S.STATUS], "a status must be open, won or lost", raw_vals[S.STATUS])
        explicit = st
        use = ~blank & ~bad
        if not (mapping.status_decides or not (S.STAGE in raw)):
            use &= ~have
        status = np.where(use, st, status)
        have |= use
        from_file |= use
    flags = {}
    for f in ("is_won", "is_closed", "is_lost"):
        if f in raw:
            v, bad = N.parse_bools(raw[f])
            col.rows_problem(bad, fields[f], "not TRUE/FALSE; ignored", raw_vals[f], severity="warning")
            flags[f] = v
    if flags and not have.all():
        won = flags.get("is_won", np.full(n, np.nan))
        closed = flags.get("is_closed", np.full(n, np.nan))
        lost = flags.get("is_lost", np.full(n, np.nan))
        from_flags = np.where(won == 1, S.WON, np.where(lost == 1, S.LOST,
                              np.where((closed == 1) & (won == 0), S.LOST,
                                       np.where((closed == 0) | (won == 0) & np.isnan(closed), S.OPEN, None))))
        use = ~have & pd.notna(from_flags)
        status = np.where(use, from_flags, status)
        have |= use
        from_file |= use
    if "status_check" in raw:
        # a second opinion on the status (Zoho's Forecast Type: Open / Won / Lost): decides where
        # the stage map does not know the stage, and is reported where it disagrees
        chk, chk_blank, chk_bad = N.parse_statuses(raw["status_check"])
        ok = ~chk_blank & ~chk_bad
        disagree = have & ok & (status.astype(object) != chk.astype(object))
        status = np.where(~have & ok, chk, status)
        from_file |= ~have & ok
        have |= ok
        col.rows_problem(disagree, fields["status_check"], f"the stage and {fields['status_check']!r} disagree about "
                         "open/won/lost; the stage decides", raw_vals["status_check"], severity="warning")
        col.rows_problem(chk_bad, fields["status_check"], "not open, won or lost; ignored", raw_vals["status_check"],
                         severity="warning")
        if explicit is None:
            explicit = np.where(chk_bad, None, chk)
    need = ~have
    blank_both = need & stage_blank
    if (S.STAGE in raw or S.STATUS in raw):
        col.rows_problem(blank_both, fields.get(S.STAGE) or fields.get(S.STATUS),
                         "no stage and no status; counted as open", severity="warning")
    status = np.where(need, S.OPEN, status)
    unknown_stages = sorted({str(s) for s in pd.unique(pd.Series(stage[unknown_stage_mask], dtype=object)) if s})
    if unknown_stages:
        src = fields.get(S.STATUS) or fields.get("status_check")
        decided = f"their status comes from {src!r}" if explicit is not None and src else "counted as open"
        col.file_problem(f"stages not in the stage map: {', '.join(unknown_stages[:20])}"
                         f"{' ...' if len(unknown_stages) > 20 else ''}; {decided}. Map them in Settings or on "
                         "the Import page", column=fields.get(S.STAGE), severity="warning")
    if S.STAGE not in raw and S.STATUS in raw:
        out[S.STAGE] = np.where(pd.notna(pd.Series(explicit, dtype=object)), raw[S.STATUS].to_numpy(dtype=object), None)
    closed = status != S.OPEN
    if "status_reason" in raw:
        # Dynamics' Status Reason (Won, In Progress, Canceled, Out-Sold, ...) is a loss reason only
        # for lost deals; a loss reason column of the file wins where it has a value
        reason = N.clean_text(raw["status_reason"]).values.to_numpy(dtype=object)
        lost_reason = np.where(status == S.LOST, reason, None)
        out[S.LOSS_REASON] = np.where(pd.isna(pd.Series(out[S.LOSS_REASON], dtype=object)).to_numpy(), lost_reason,
                                      out[S.LOSS_REASON])

    # --- amount: closed deals use the actual amount where there is one ----------------------------
    amount = amounts[S.AMOUNT].values.copy() if S.AMOUNT in amounts else np.full(n, np.nan)
    amount_src = np.full(n, fields.get(S.AMOUNT), dtype=object)
    if "actual_amount" in amounts:
        act = amounts["actual_amount"].values
        use = closed & ~np.isnan(act)
        amount = np.where(use, act, amount)
        amount_src[use] = fields["actual_amount"]
    amount = _close_cents(table, mapping, amount, col)
    amount_any = amounts.get(S.AMOUNT) or amounts.get("actual_amount")
    bad_amount = np.zeros(n, dtype=bool)
    for res in amounts.values():
        bad_amount |= res.bad
    blank_amount = np.isnan(amount) & ~bad_amount
    any_src = fields.get(S.AMOUNT) or fields.get("actual_amount")
    col.rows_problem(blank_amount, any_src, "no amount (stored blank)", severity="warning")
    col.rows_problem(amount == 0, any_src, "an amount of zero", severity="warning")
    col.rows_problem(amount < 0, any_src, "a negative amount", amount.astype(object), severity="warning")

    # --- currency -------------------------------------------------------------------------------
    currency = out[S.CURRENCY]
    if amount_any is not None and amount_any.currencies is not None:
        found = amount_any.currencies.to_numpy(dtype=object)
        currency = np.where(pd.isna(pd.Series(currency, dtype=object)).to_numpy(), found, currency)
    currency = _currency_codes(currency)
    present = [c for c in pd.unique(pd.Series(currency, dtype=object).dropna())]
    if len(present) > 1 or (len(present) == 1 and present[0] != workspace_currency):
        col.file_problem(f"amounts are in {', '.join(sorted(map(str, present)))} while the workspace currency is "
                         f"{workspace_currency}; they were not converted (the file gives no rate)",
                         column=fields.get(S.CURRENCY), severity="warning")
    out[S.CURRENCY] = currency

    # --- close dates: closed deals use their won/lost/actual close date -----------------------------
    close = dates.get(S.CLOSE_DATE, pd.Series(pd.NaT, index=table.frame.index, dtype="datetime64[ns]")).copy()
    fallback_used = np.zeros(n, dtype=bool)
    for f, which in (("actual_close_date", closed), ("closed_on", closed), ("won_date", status == S.WON),
                     ("lost_date", status == S.LOST)):
        if f in dates:
            v = dates[f]
            use = which & v.notna().to_numpy()
            close = close.where(~use, v)
            fallback_used |= use
    if "won_date" in dates and S.CLOSE_DATE not in dates:
        # Close: date_won is the expected close date of an active opportunity
        use = ~closed & close.isna().to_numpy() & dates["won_date"].notna().to_numpy()
        close = close.where(~use, dates["won_date"])
    special = [f for f in ("actual_close_date", "closed_on", "won_date", "lost_date") if f in dates]
    if special:
        col.rows_problem(closed & ~fallback_used & close.notna().to_numpy(), fields.get(S.CLOSE_DATE),
                         f"a closed deal without {' / '.join(fields[f] for f in special)}; its expected close date "
                         "was used", severity="warning")
    date_cols = [fields[f] for f in (S.CLOSE_DATE, *special) if f in fields]
    no_close = closed & close.isna().to_numpy()
    col.rows_problem(no_close & ~col.error_rows, " / ".join(date_cols) or S.CLOSE_DATE,
                     "a closed (won or lost) deal needs a close date", severity="error")
    created = dates.get(S.CREATED_DATE, pd.Series(pd.NaT, index=table.frame.index, dtype="datetime64[ns]"))
    before = (close < created).to_numpy()
    col.rows_problem(before, fields.get(S.CLOSE_DATE), "the close date is before the created date", severity="warning")

    # --- forecast category ----------------------------------------------------------------------------
    if S.FORECAST_CATEGORY in raw:
        fc, unknown = N.parse_forecast_categories(raw[S.FORECAST_CATEGORY])
        col.rows_problem(unknown, fields[S.FORECAST_CATEGORY], "not a known forecast category (pipeline, best case, "
                                                               "commit, closed, omitted); kept as written",
                         raw_vals[S.FORECAST_CATEGORY], severity="warning")
        out[S.FORECAST_CATEGORY] = fc
    else:
        out[S.FORECAST_CATEGORY] = _blank(n, blanks)

    # --- owner and ids ----------------------------------------------------------------------------------
    owner = out[S.OWNER]
    col.rows_problem(pd.isna(pd.Series(owner, dtype=object)).to_numpy() & (S.OWNER in raw), fields.get(S.OWNER),
                     "no owner", severity="warning")
    ids = out[S.OPPORTUNITY_ID]
    missing_id = pd.isna(pd.Series(ids, dtype=object)).to_numpy()
    if missing_id.any():
        if S.NAME in raw or S.ACCOUNT in raw:
            ids = _derive_ids(ids, missing_id, out[S.NAME], out[S.ACCOUNT], created)
            what = "the file has no id column" if S.OPPORTUNITY_ID not in raw else f"{int(missing_id.sum())} rows have no id"
            col.file_problem(f"{what}; ids were derived from name + account + created date (stable across "
                             "re-imports of the same rows)", column=fields.get(S.OPPORTUNITY_ID), severity="warning")
            name_missing = missing_id & pd.isna(pd.Series(out[S.NAME], dtype=object)).to_numpy()
            col.rows_problem(name_missing, fields.get(S.NAME), "no id and no name: the deal cannot be identified")
        elif S.OPPORTUNITY_ID in raw:  # without an id and a name column, one file problem says so
            col.rows_problem(missing_id, fields.get(S.OPPORTUNITY_ID), "no id: the deal cannot be identified")
    ids_s = pd.Series(ids, dtype=object)
    dup = ids_s.duplicated(keep=False).to_numpy() & ids_s.notna().to_numpy()
    if dup.any():
        first = {}
        for i in np.flatnonzero(dup):
            first.setdefault(ids[i], int(table.row_numbers[i]))
        later = ids_s.duplicated(keep="first").to_numpy() & dup
        msgs = np.array([f"the id appears more than once in the file (first on row {first[v]})" if later[i] else ""
                         for i, v in enumerate(ids)], dtype=object) if n < 50_000 else None
        if msgs is not None:
            for i in np.flatnonzero(later)[:ERROR_DETAIL_LIMIT]:
                col.problems.append(Problem(msgs[i], row=int(table.row_numbers[i]), column=fields.get(S.OPPORTUNITY_ID),
                                            value=ids[i], file=table.source))
            col.error_rows[later] = True
            if later.sum() > ERROR_DETAIL_LIMIT:
                col.problems.append(Problem(f"... and {int(later.sum()) - ERROR_DETAIL_LIMIT} more repeated ids",
                                            column=fields.get(S.OPPORTUNITY_ID), file=table.source))
        else:
            col.rows_problem(later, fields.get(S.OPPORTUNITY_ID), "the id appears more than once in the file", ids)
        col.error_rows[dup & ~later] = True  # the first copy is not imported either: which one is right?
        for i in np.flatnonzero(dup & ~later)[:ERROR_DETAIL_LIMIT]:
            col.problems.append(Problem("the id appears more than once in the file", row=int(table.row_numbers[i]),
                                        column=fields.get(S.OPPORTUNITY_ID), value=ids[i], file=table.source))

    # --- assemble ---------------------------------------------------------------------------------------
    deals = _frame({
        S.OPPORTUNITY_ID: ids,
        S.NAME: out[S.NAME], S.ACCOUNT: out[S.ACCOUNT], S.OWNER: owner, S.STAGE: out[S.STAGE],
        S.STATUS: status.astype(object), S.AMOUNT: amount, S.CURRENCY: out[S.CURRENCY],
        S.CREATED_DATE: _iso(created), S.CLOSE_DATE: _iso(close), S.PROBABILITY: probability,
        S.FORECAST_CATEGORY: out[S.FORECAST_CATEGORY],
        S.STATUS_SOURCE: np.where(from_file, S.STATUS_FROM_FILE, S.STATUS_FROM_MAP).astype(object),
        **{f: out[f] for f in (S.TYPE, S.LEAD_SOURCE, S.REGION, S.SEGMENT, S.INDUSTRY, S.PRODUCT, S.PIPELINE,
                                S.LOSS_REASON)},
    }, len(table.frame), blanks)
    extra = extra_json(table, mapping, blanks)
    deals[S.EXTRA] = _frame({S.EXTRA: extra}, len(deals), blanks)[S.EXTRA] if len(deals) else extra
    prepared = _finalise(table, mapping, col, deals, unknown_stages, used_order or file_order, hint)
    no_close = int(((status == S.OPEN) & close.isna().to_numpy() & prepared.valid).sum())
    if no_close:
        prepared.notes.append(open_without_close_note(no_close))
    return prepared


def open_without_close_note(count: int) -> str:
    """The import's note about open deals without a close date (outside every period)."""
    if count == 1:
        return "1 open deal has no close date: it falls outside every period's pipeline (Pipeline > CRM hygiene lists it)"
    return (f"{count:,} open deals have no close date: they fall outside every period's pipeline (Pipeline > CRM "
            "hygiene lists them)")


def _blank(n: int, blanks: dict | None = None) -> np.ndarray:
    """A column the file does not fill (all None), remembered in ``blanks`` (id -> the array
    itself, so the id cannot be reused) so that :func:`_frame` need not scan it."""
    arr = np.full(n, None, dtype=object)
    if blanks is not None:
        blanks[id(arr)] = arr
    return arr


def _frame(columns: dict, n: int, blanks: dict | None = None) -> pd.DataFrame:
    """A DataFrame of the given arrays without pandas scanning object columns for dates
    (which costs a full pass over every all-blank column)."""
    import pyarrow as pa

    out = {}
    for name, values in columns.items():
        arr = np.asarray(values)
        known_blank = blanks is not None and blanks.get(id(values)) is values
        if n and arr.dtype == object and (known_blank or (arr[0] is None and arr[-1] is None and pd.isna(arr).all())):
            # a column the file does not fill: pyarrow nulls cost nothing per row (an object column
            # would hold a million pointers to None)
            out[name] = pd.Series(pd.arrays.ArrowExtensionArray(pa.nulls(n, pa.string())))
            continue
        out[name] = pd.Series(arr, dtype=object if arr.dtype == object else arr.dtype, copy=False)
    return pd.DataFrame(out, copy=False) if n else pd.DataFrame(out)


def _currency_codes(values: np.ndarray) -> np.ndarray:
    """ISO codes from currency cells: codes upper-cased, names ("US Dollar", "Euro", as
    Dynamics writes them) and symbols to their code; once per distinct value."""
    codes, uniq = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    up = np.array([N.currency_code(u) for u in uniq], dtype=object)
    return N.expand(codes, up, None)


def _close_cents(table: RawTable, mapping: Mapping, amount: np.ndarray, col: _Collector) -> np.ndarray:
    """Close exports give ``value`` in cents when ``value_formatted`` shows a hundredth of it."""
    if mapping.vendor != "close":
        return amount
    keys = {header_key(h): h for h in table.header}
    if "valueformatted" not in keys:
        return amount
    fmt = N.parse_numbers(table.column(keys["valueformatted"])).values
    both = ~np.isnan(fmt) & ~np.isnan(amount) & (amount != 0)
    if both.any() and np.allclose(amount[both] / 100.0, fmt[both], rtol=1e-6, atol=0.011):
        col.file_problem("'value' is in cents (value_formatted shows a hundredth of it); divided by 100",
                         column=mapping.fields().get(S.AMOUNT), severity="warning")
        return amount / 100.0
    return amount


def _iso(dates: pd.Series) -> np.ndarray:
    """datetime64 -> 'YYYY-MM-DD' text (None for NaT), via the distinct values."""
    codes, uniq = pd.factorize(dates, use_na_sentinel=True)
    txt = np.array([d.strftime("%Y-%m-%d") for d in pd.DatetimeIndex(uniq)], dtype=object)
    return N.expand(codes, txt, None)


def _derive_ids(ids: np.ndarray, missing: np.ndarray, names, accounts, created: pd.Series) -> np.ndarray:
    """A stable id from name + account + created date, plus the row's position among rows with
    the same three values (so identical rows stay distinct and re-imports find them again)."""
    key = pd.Series([f"{a}\x1f{b}\x1f{c}" for a, b, c in zip(names, accounts, _iso(created))], dtype=object)
    pos = key.groupby(key).cumcount().to_numpy()
    out = ids.copy()
    for i in np.flatnonzero(missing):
        digest = hashlib.sha1(f"{key.iat[i]}\x1f{pos[i]}".encode("utf-8")).hexdigest()[:16]
        out[i] = f"h-{digest}"
    return out


def extra_json(table: RawTable, mapping: Mapping, blanks: dict | None = None) -> np.ndarray:
    """One JSON object per row with every column mapped to "extra" (blank cells left out)."""
    n = len(table.frame)
    if not any(fld == IGNORE for fld in mapping.columns.values()):
        return _blank(n, blanks)
    acc = np.full(n, "", dtype=object)
    for src, fld in mapping.columns.items():
        if fld != IGNORE:
            continue
        s = table.column(src)
        codes, uniq = N.factorize(s)
        u = uniq.astype(str).str.strip()
        blank_u = (u == "").to_numpy()
        enc = np.array([json.dumps(v, ensure_ascii=False) for v in u], dtype=object)
        piece_u = np.where(blank_u, "", json.dumps(src, ensure_ascii=False) + ": " + enc)
        piece = N.expand(codes, piece_u.astype(object), "")
        sep = np.where((acc != "") & (piece != ""), ", ", "")
        acc = acc + sep + piece
    return np.where(acc == "", None, "{" + acc + "}")


def _finalise(table, mapping, col: _Collector, deals: pd.DataFrame, unknown_stages, order, hint) -> Prepared:
    ragged = [p for p in table.problems if p.row is not None and p.severity == "error"]
    valid = ~col.error_rows
    if col.problems and any(p.severity == "error" and p.row is None for p in col.problems):
        valid = np.zeros(len(deals), dtype=bool)
    rejected = []
    bad_idx = np.flatnonzero(~valid)
    for i in bad_idx[:10_000]:
        rejected.append({"row": int(table.row_numbers[i]),
                         "values": {h: table.frame.iat[i, j] for j, h in enumerate(table.header)}})
    for p in ragged:
        rejected.append({"row": p.row, "values": None})
    return Prepared(kind=mapping.kind, deals=deals, row_numbers=table.row_numbers, valid=valid,
                    problems=col.problems, unknown_stages=unknown_stages, rows_read=len(deals) + len(ragged),
                    rejected_rows=rejected, date_order=order, decimal=hint)


def _finish_history(table, mapping, col, out, dates, raw_vals, order, hint) -> Prepared:
    n = len(table.frame)
    fields = mapping.fields()
    ids = out[S.OPPORTUNITY_ID]
    # a missing column is one file problem (required_problems), not one per row
    if S.OPPORTUNITY_ID in fields:
        col.rows_problem(pd.isna(pd.Series(ids, dtype=object)).to_numpy(), fields.get(S.OPPORTUNITY_ID),
                         "no opportunity id")
    if S.STAGE in fields:
        col.rows_problem(pd.isna(pd.Series(out[S.STAGE], dtype=object)).to_numpy(), fields.get(S.STAGE), "no stage")
    entered = dates.get(S.ENTERED_AT, pd.Series(pd.NaT, index=table.frame.index, dtype="datetime64[ns]"))
    if S.ENTERED_AT in fields:
        col.rows_problem(entered.isna().to_numpy() & ~col.error_rows, fields.get(S.ENTERED_AT), "no date")
    deals = pd.DataFrame({S.OPPORTUNITY_ID: ids, S.STAGE: out[S.STAGE], S.ENTERED_AT: _iso(entered)})
    del n, raw_vals
    return _finalise(table, mapping, col, deals, [], order, hint)


# --- totals rows ---------------------------------------------------------------------------------------
#: A totals label, in the languages a user's Excel speaks: at the start of the first filled cell
#: ("Total", "Grand Total", "Summe", "Gesamtsumme", "Somme", "Totale", "Totaal", ...) or at its end
#: (Excel's subtotals: "East Total", "Ost Ergebnis").
TOTALS_START = (r"^\s*(grand\s+totals?|sub\s*-?\s*totals?|totals?|summe|zwischensumme|gesamtsumme|gesamtergebnis"
                r"|gesamt|somme(\s+totale)?|sous-total|total\s+g[ée]n[ée]ral|totale(\s+complessivo|\s+generale)?"
                r"|subtotale|totaal|eindtotaal|subtotaal|totalt|suma(\s+total)?|totales?)\b")
TOTALS_END = r"\b(total|totals|summe|ergebnis|gesamtergebnis|somme|totale|totaal|totalt)\s*:?\s*$"
_TOTALS_RE = re.compile(f"{TOTALS_START}|{TOTALS_END}", re.I)


def _first_filled(table: RawTable) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the position of its first filled cell (-1 if none) and whether that cell reads
    like a totals label. Vectorised (pyarrow) so a million rows cost a few hundred ms."""
    import pyarrow.compute as pc

    n = len(table.frame)
    first = np.full(n, -1, dtype=np.int64)
    label = np.zeros(n, dtype=bool)
    todo = np.ones(n, dtype=bool)
    pattern = f"(?i)({TOTALS_START}|{TOTALS_END})".replace(r"[ée]", "(?:é|e)")
    for j in range(len(table.header)):
        if not todo.any():
            break
        arr = pc.utf8_trim_whitespace(N.to_arrow(table.frame[j]))
        filled = np.asarray(pc.fill_null(pc.not_equal(arr, ""), False).to_numpy(zero_copy_only=False), dtype=bool)
        here = todo & filled
        if here.any():
            hit = np.asarray(pc.fill_null(pc.match_substring_regex(arr, pattern), False).to_numpy(zero_copy_only=False),
                             dtype=bool)
            first[here] = j
            label[here] = hit[here]
        todo &= ~filled
    return first, label


def drop_totals_rows(table: RawTable, mapping: Mapping) -> list[str]:
    """Drop the rows that are totals, not deals, and say so: a totals label in the first filled
    cell, and either the amount column holding the sum of the rows above (since the previous
    totals row, or all of them) or every other cell blank. A deal whose name begins with
    "Total" ("Total Wine & More - store rollout") has its own amount, owner and stage: kept.
    Modifies ``table`` (frame, row numbers); returns one note per dropped row."""
    if mapping.kind != "opportunities" or not len(table.frame):
        return []
    first, label = _first_filled(table)
    cand = np.flatnonzero(label)
    if not len(cand):
        return []
    fields = mapping.fields()
    amount_src = fields.get(S.AMOUNT) or fields.get("actual_amount")
    amounts = None
    if amount_src is not None:
        amounts = N.parse_numbers(table.column(amount_src), decimal_hint(table)).values
        amount_pos = table.header.index(amount_src)
    drop = np.zeros(len(table.frame), dtype=bool)
    notes = []
    since = 0  # the data rows after the previous totals row start here
    dropped_sum, dropped_n = 0.0, 0
    values = np.nan_to_num(amounts) if amounts is not None else None
    csum = np.concatenate([[0.0], np.cumsum(values)]) if values is not None else None
    for i in cand:
        j = int(first[i])
        text = str(table.frame.iat[i, j]).strip()
        others = [str(table.frame.iat[i, k]).strip() for k in range(len(table.header)) if k != j]
        reason = None
        if amounts is not None and not np.isnan(amounts[i]) and j != amount_pos:
            group = (float(csum[i] - csum[since]), int(i - since))
            everything = (float(csum[i] - dropped_sum), int(i - dropped_n))
            for total, count in (group, everything):
                if count and abs(amounts[i] - total) <= max(0.51, 1e-9 * abs(total)):
                    reason = f"its amount {table.frame.iat[i, amount_pos]} is the sum of the {count:,} rows above"
                    break
        if reason is None and not any(others):
            reason = "its other cells are blank"
        if reason is None:
            continue
        drop[i] = True
        since = i + 1
        dropped_sum += float(values[i]) if values is not None else 0.0
        dropped_n += 1
        notes.append(f"row {int(table.row_numbers[i])}: a totals row ({text!r}) was not imported: {reason}")
    if drop.any():
        keep = ~drop
        table.frame = table.frame.loc[keep].reset_index(drop=True)
        table.row_numbers = table.row_numbers[keep]
    return notes
