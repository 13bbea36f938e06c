"""Workspace administration behind the Settings page: settings, the rep roster, and clearing
the workspace. Validation raises InputError naming the row and column."""
from __future__ import annotations

import pandas as pd

from . import schema as S
from . import store
from .errors import InputError, Problem

CURRENCIES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY", "INR")


def validate_roster(frame: pd.DataFrame) -> pd.DataFrame:
    """Check an edited roster (name, manager, team, region, hire_date, end_date, ote,
    base_salary, active) and return it cleaned. Rows are numbered from 1 as shown."""
    problems = []
    out = frame.copy()
    out = out[~out[S.NAME].isna() | out.drop(columns=[S.NAME]).notna().any(axis=1)]
    out[S.NAME] = out[S.NAME].fillna("").astype(str).str.strip()
    for i, name in enumerate(out[S.NAME], start=1):
        if not name:
            problems.append(Problem("a rep needs a name", row=i, column="name"))
    dup = out[S.NAME][out[S.NAME].duplicated() & (out[S.NAME] != "")]
    for name in dup.unique():
        problems.append(Problem("the same rep is listed twice", column="name", value=name))
    for col in (S.HIRE_DATE, S.END_DATE):
        if col in out:
            parsed = pd.to_datetime(out[col], errors="coerce")
            bad = out[col].notna() & parsed.isna()
            for i in [k for k, b in enumerate(bad, start=1) if b]:
                problems.append(Problem("not a date", row=i, column=col, value=out[col].iloc[i - 1]))
            out[col] = parsed
    for col in (S.OTE, S.BASE_SALARY):
        if col in out:
            vals = pd.to_numeric(out[col], errors="coerce")
            neg = vals < 0
            for i in [k for k, b in enumerate(neg, start=1) if b]:
                problems.append(Problem("must not be negative", row=i, column=col, value=out[col].iloc[i - 1]))
            out[col] = vals
    if S.HIRE_DATE in out and S.END_DATE in out:
        before = out[S.END_DATE].notna() & out[S.HIRE_DATE].notna() & (out[S.END_DATE] < out[S.HIRE_DATE])
        for i in [k for k, b in enumerate(before, start=1) if b]:
            problems.append(Problem("the end date is before the hire date", row=i, column="end_date"))
    if problems:
        raise InputError(f"the roster has {len(problems)} problem(s); nothing was saved", problems)
    out[S.ACTIVE] = out.get(S.ACTIVE, True)
    out[S.ACTIVE] = out[S.ACTIVE].fillna(True).astype(bool) & out[S.END_DATE].isna() if S.END_DATE in out else out[S.ACTIVE]
    out[S.ACTIVE] = out[S.ACTIVE].astype(int)
    return out.reset_index(drop=True)


def save_roster(path, frame: pd.DataFrame) -> int:
    """Validate and replace the roster in one transaction; returns the number of reps."""
    clean = validate_roster(frame)
    with store.connect(path, write=True) as conn:
        return store.replace_table(conn, "reps", clean)


def save_settings(path, **values) -> None:
    if "currency" in values and values["currency"] not in CURRENCIES:
        raise InputError(f"currency {values['currency']!r} is not supported; choose one of {', '.join(CURRENCIES)}")
    with store.connect(path, write=True) as conn:
        store.set_settings(conn, **values)


def save_stage_map(path, frame: pd.DataFrame) -> None:
    with store.connect(path, write=True) as conn:
        store.save_stage_map(conn, frame[["stage", "status", "probability", "sort_order"]])


def clear_workspace(path) -> None:
    """Remove every deal, snapshot, import, roster, account and target (settings and saved
    plans stay). A backup is written first to PATH.bak."""
    store.backup(path)
    with store.connect(path, write=True) as conn:
        for table in store.WORKSPACE_DATA_TABLES:
            conn.execute(f"DELETE FROM {table}")
