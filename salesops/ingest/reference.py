"""Imports of the reference tables: the rep roster, accounts and targets.

Same reader and the same rules as deal imports: validated before anything is written,
refused as a whole with every problem listed (or the valid rows only with ``skip_invalid``),
one transaction, idempotent by content hash, undoable.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd

from .. import audit, auth
from .. import schema as S
from .. import store
from ..errors import InputError, PeriodError, Problem
from ..periods import FiscalCalendar
from . import normalise as N
from . import writer
from .importer import ImportRefused
from .headers import header_key
from .reader import RawTable, read_table
from .validate import _Collector, _iso, check_headers, decimal_hint
from .writer import ImportResult

ROSTER_SYNONYMS = {
    S.NAME: ("name", "rep", "sales rep", "sales agent", "agent", "owner", "rep name", "salesperson", "sales person",
             "employee", "user", "full name", "mitarbeiter", "vertriebsmitarbeiter", "verkäufer", "opportunity owner",
             "deal owner"),
    S.MANAGER: ("manager", "sales manager", "reports to", "team lead", "lead", "vorgesetzter", "führungskraft",
                "teamleiter"),
    S.TEAM: ("team", "squad", "team name", "pod"),
    S.REGION: ("region", "regional office", "office", "territory", "area", "geo", "gebiet", "standort"),
    S.HIRE_DATE: ("hire date", "hired", "start date", "started", "hire_date", "eintrittsdatum", "eintritt"),
    S.END_DATE: ("end date", "termination date", "left", "leave date", "austrittsdatum", "austritt"),
    S.OTE: ("ote", "on target earnings", "on-target earnings", "zieleinkommen"),
    S.BASE_SALARY: ("base", "base salary", "salary", "grundgehalt", "fixum"),
    S.ACTIVE: ("active", "is active", "aktiv", "status"),
}
ACCOUNT_SYNONYMS = {
    S.NAME: ("account", "name", "account name", "company", "customer", "organization", "organisation", "firma",
             "kunde", "accountname"),
    S.INDUSTRY: ("industry", "sector", "vertical", "branche"),
    "employees": ("employees", "headcount", "number of employees", "size", "mitarbeiter", "mitarbeiterzahl"),
    "revenue": ("revenue", "annual revenue", "umsatz", "jahresumsatz"),
    S.REGION: ("region", "office location", "country", "location", "land", "office"),
    "territory": ("territory", "gebiet", "vertriebsgebiet"),
}
TARGET_SYNONYMS = {
    "owner": ("owner", "rep", "sales rep", "sales agent", "agent", "name", "mitarbeiter", "rep name"),
    "team": ("team", "manager", "team name"),
    "region": ("region", "regional office", "territory", "gebiet"),
    "period": ("period", "quarter", "month", "year", "fiscal period", "zeitraum", "quartal"),
    "start": ("start", "period start", "period_start", "from", "start date", "von"),
    "end": ("end", "period end", "period_end", "to", "end date", "bis"),
    S.AMOUNT: ("amount", "target", "quota", "goal", "ziel", "betrag", "zielwert", "plan"),
}


def _map(header: list[str], synonyms: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """field -> source header, exact synonym matches only (first column wins)."""
    keys = {}
    for fld, syns in synonyms.items():
        for s in syns:
            keys.setdefault(header_key(s), fld)
    out: dict[str, str] = {}
    for h in header:
        fld = keys.get(header_key(h))
        if fld and fld not in out:
            out[fld] = h
    return out


def _text(table, fields, f) -> np.ndarray:
    if f not in fields:
        return np.full(len(table.frame), None, dtype=object)
    return N.clean_text(table.column(fields[f])).values.to_numpy(dtype=object)


def _numbers(table, fields, f, col: _Collector, hint) -> np.ndarray:
    if f not in fields:
        return np.full(len(table.frame), np.nan)
    s = table.column(fields[f])
    res = N.parse_numbers(s, hint)
    col.rows_problem(res.bad, fields[f], "not a number", s.to_numpy(dtype=object))
    return res.values


def _dates(table, fields, f, col: _Collector) -> np.ndarray:
    if f not in fields:
        return np.full(len(table.frame), None, dtype=object)
    s = table.column(fields[f])
    res = N.parse_dates(s, "DMY" if decimal_hint(table) == "," else None)
    col.rows_problem(res.bad, fields[f], "not a date", s.to_numpy(dtype=object))
    if res.order and not res.order_decided:
        col.file_problem(f"the day/month order of {fields[f]!r} cannot be decided; read as "
                         f"{'day/month' if res.order == 'DMY' else 'month/day'}", column=fields[f], severity="warning")
    return _iso(res.values)


def _unique_keys(frame: pd.DataFrame, keys: list[str], table: RawTable, col: _Collector, column: str | None):
    dup = frame.duplicated(subset=keys, keep=False).to_numpy()
    col.rows_problem(dup, column, "appears more than once in the file",
                     frame[keys[-1]].to_numpy(dtype=object) if keys else None)


def build_roster(table: RawTable, col: _Collector) -> tuple[pd.DataFrame, dict]:
    fields = _map(table.header, ROSTER_SYNONYMS)
    if S.NAME not in fields:
        col.file_problem(f"no column with the rep's name; the file's columns are: {', '.join(table.header)}",
                         column="name")
        return pd.DataFrame(columns=list(S.REP_COLUMNS)), fields
    hint = decimal_hint(table)
    frame = pd.DataFrame({
        S.NAME: _text(table, fields, S.NAME), S.MANAGER: _text(table, fields, S.MANAGER),
        S.TEAM: _text(table, fields, S.TEAM), S.REGION: _text(table, fields, S.REGION),
        S.HIRE_DATE: _dates(table, fields, S.HIRE_DATE, col), S.END_DATE: _dates(table, fields, S.END_DATE, col),
        S.OTE: _numbers(table, fields, S.OTE, col, hint), S.BASE_SALARY: _numbers(table, fields, S.BASE_SALARY, col, hint),
    })
    if S.TEAM not in fields and S.MANAGER in fields:
        frame[S.TEAM] = frame[S.MANAGER]
        col.file_problem("no team column: each rep's team is named after their manager", column="team",
                         severity="warning")
    if S.ACTIVE in fields:
        v, bad = N.parse_bools(table.column(fields[S.ACTIVE]))
        col.rows_problem(bad, fields[S.ACTIVE], "not TRUE/FALSE", table.column(fields[S.ACTIVE]).to_numpy(dtype=object))
        frame[S.ACTIVE] = v
    else:
        frame[S.ACTIVE] = np.where(pd.isna(frame[S.END_DATE]), 1.0, 0.0)
    col.rows_problem(frame[S.NAME].isna().to_numpy(), fields[S.NAME], "no name")
    _unique_keys(frame, [S.NAME], table, col, fields[S.NAME])
    frame[S.ACTIVE] = frame[S.ACTIVE].astype(object).where(frame[S.ACTIVE].notna(), None)
    frame[S.ACTIVE] = [None if v is None else int(v) for v in frame[S.ACTIVE]]
    return frame, fields


def build_accounts(table: RawTable, col: _Collector) -> tuple[pd.DataFrame, dict]:
    fields = _map(table.header, ACCOUNT_SYNONYMS)
    if S.NAME not in fields:
        col.file_problem(f"no column with the account name; the file's columns are: {', '.join(table.header)}",
                         column="name")
        return pd.DataFrame(columns=list(S.ACCOUNT_COLUMNS)), fields
    hint = decimal_hint(table)
    emp = _numbers(table, fields, "employees", col, hint)
    frame = pd.DataFrame({
        S.NAME: _text(table, fields, S.NAME), S.INDUSTRY: _text(table, fields, S.INDUSTRY),
        "employees": [None if np.isnan(v) else int(round(v)) for v in emp],
        "revenue": _numbers(table, fields, "revenue", col, hint),
        S.REGION: _text(table, fields, S.REGION), "territory": _text(table, fields, "territory"),
    })
    col.rows_problem(frame[S.NAME].isna().to_numpy(), fields[S.NAME], "no account name")
    _unique_keys(frame, [S.NAME], table, col, fields[S.NAME])
    return frame, fields


def build_targets(table: RawTable, col: _Collector, calendar: FiscalCalendar) -> tuple[pd.DataFrame, dict]:
    fields = _map(table.header, TARGET_SYNONYMS)
    missing = []
    if S.AMOUNT not in fields:
        missing.append("amount (target)")
    if "period" not in fields and not ("start" in fields and "end" in fields):
        missing.append("period (like 2017Q2) or start and end dates")
    if missing:
        col.file_problem(f"no column for {' and '.join(missing)}; the file's columns are: {', '.join(table.header)}",
                         column=missing[0])
        return pd.DataFrame(columns=list(S.TARGET_COLUMNS)), fields
    n = len(table.frame)
    owner, team, region = (_text(table, fields, f) for f in ("owner", "team", "region"))
    scope = np.where(pd.notna(owner), "owner", np.where(pd.notna(team), "team", np.where(pd.notna(region), "region", "all")))
    scope_name = np.where(pd.notna(owner), owner, np.where(pd.notna(team), team, np.where(pd.notna(region), region, "all")))
    starts = np.full(n, None, dtype=object)
    ends = np.full(n, None, dtype=object)
    if "period" in fields:
        raw = table.column(fields["period"]).to_numpy(dtype=object)
        cache: dict[str, tuple | Exception] = {}
        for i, text in enumerate(raw):
            t = str(text).strip()
            if not t:
                continue
            if t not in cache:
                try:
                    p = calendar.parse(t)
                    cache[t] = (p.start.isoformat(), p.end.isoformat())
                except PeriodError as exc:
                    cache[t] = exc
            got = cache[t]
            if isinstance(got, Exception):
                col.rows_problem(np.eye(1, n, i, dtype=bool)[0], fields["period"], str(got), raw)
            else:
                starts[i], ends[i] = got
    if "start" in fields and "end" in fields:
        s = _dates(table, fields, "start", col)
        e = _dates(table, fields, "end", col)
        use = pd.isna(pd.Series(starts, dtype=object)).to_numpy()
        starts = np.where(use, s, starts)
        ends = np.where(use, e, ends)
    no_period = pd.isna(pd.Series(starts, dtype=object)).to_numpy() | pd.isna(pd.Series(ends, dtype=object)).to_numpy()
    col.rows_problem(no_period & ~col.error_rows, fields.get("period") or fields.get("start"), "no period")
    amount = _numbers(table, fields, S.AMOUNT, col, decimal_hint(table))
    col.rows_problem(np.isnan(amount) & ~col.error_rows, fields[S.AMOUNT], "no target amount")
    col.rows_problem(amount < 0, fields[S.AMOUNT], "a negative target", amount.astype(object))
    frame = pd.DataFrame({S.SCOPE: scope, S.SCOPE_NAME: scope_name, S.PERIOD_START: starts, S.PERIOD_END: ends,
                          S.AMOUNT: amount})
    _unique_keys(frame, [S.SCOPE, S.SCOPE_NAME, S.PERIOD_START, S.PERIOD_END], table, col,
                 fields.get("period") or fields.get("start"))
    return frame, fields


def run_reference_import(db, data: bytes, file_name: str, kind: str, *, skip_invalid: bool = False,
                         dry_run: bool = False, sheet: str | None = None) -> ImportResult:
    """Import a roster ("roster"), accounts ("accounts") or targets ("targets") file (admins
    only, audited)."""
    if not dry_run:
        auth.require("import")
    file_name = os.path.basename(str(file_name)) or "upload"
    table = read_table(data, file_name, sheet=sheet)
    header_problems = check_headers(table)
    col = _Collector(file_name, table.row_numbers)
    col.problems.extend(table.problems)
    col.problems.extend(header_problems)
    with store.connect(db) as conn:
        settings = store.get_settings(conn)
    if kind == "roster":
        frame, fields = build_roster(table, col)
        target_table = "reps"
    elif kind == "accounts":
        frame, fields = build_accounts(table, col)
        target_table = "accounts"
    elif kind == "targets":
        frame, fields = build_targets(table, col, FiscalCalendar(int(settings.get("fiscal_year_start_month", 1))))
        target_table = "targets"
    else:
        raise ValueError(kind)
    unused = [h for h in table.header if h not in fields.values()]
    if unused:
        col.file_problem(f"columns not kept (the {target_table} table has no place for them): {', '.join(unused)}",
                         severity="warning")
    ragged = [p for p in table.problems if p.row is not None and p.severity == "error"]
    errors = [p for p in col.problems if p.severity == "error"]
    file_errors = [p for p in errors if p.row is None]
    valid = ~col.error_rows
    rows_read = len(table.frame) + len(ragged)
    if file_errors or (errors and not skip_invalid) or not valid.any():
        errors = errors or [Problem("no valid rows to import", file=file_name)]
        if len(errors) == 1:
            raise ImportRefused(errors[0].describe(), [], errors)
        raise ImportRefused(f"{file_name}: {len(errors)} problems; nothing was imported"
                            + ("" if file_errors else " (fix them, or use --skip-invalid to import the valid rows)"),
                            errors, errors)
    frame = frame.loc[valid].reset_index(drop=True)
    result = ImportResult(import_id=None, kind=kind, file_name=file_name, vendor=kind, as_of=None, rows_read=rows_read,
                          rows_imported=len(frame), rows_rejected=rows_read - len(frame),
                          mapping={src: f for f, src in fields.items()}, problems=col.problems, dry_run=dry_run)
    sha = hashlib.sha256(data).hexdigest()
    with store.connect(db) as conn:
        earlier = writer.find_applied(conn, sha, kind)
    if earlier is not None:
        result.import_id, result.already_imported = int(earlier["id"]), True
        result.rows_unchanged = result.rows_imported
        result.notes.append(f"this file was already imported as import {earlier['id']}; nothing changed")
        return result
    if dry_run:
        result.notes.append("dry run: nothing was written")
        return result
    rejected = [{"row": int(table.row_numbers[i]), "values": {h: table.frame.iat[i, j] for j, h in enumerate(table.header)}}
                for i in np.flatnonzero(~valid)]
    with audit.action("import", f"{file_name} ({kind})") as entry, store.connect(db, write=True) as conn:
        writer.write_reference(conn, kind, target_table, frame, file_name=file_name, sha256=sha,
                               mapping=result.mapping, result=result, rejected_rows=rejected,
                               details={"encoding": table.encoding, "delimiter": table.delimiter, "sheet": table.sheet})
        entry.summary = f"{file_name}: import {result.import_id} ({kind}), {result.rows_imported:,} rows"
        entry.after = {"import_id": result.import_id, "file_name": file_name, "kind": kind,
                       "rows_imported": result.rows_imported, "rows_rejected": result.rows_rejected}
    return result


__all__ = ["run_reference_import", "build_roster", "build_accounts", "build_targets", "InputError"]
