"""A small company that looks like a real one, for hand-computed tests of the semantic layer.

Acme Analytics: a fiscal year starting in April (FY2027 = 2026-04-01 .. 2027-03-31, so 2027Q3 is
Oct-Dec 2026); two regions and three teams, one of which (East Commercial) has a rep based in
the West; targets per rep (a new hire on a zero quota), for one team, for one region and for
the company; a deal booked in another region than its rep's; an owner who is not on the
roster; a deal that closes after a mid-quarter as-of date and one created after it; a deal
closing in the next (future) quarter.

Every expected number in the tests is computed by hand from the rows below (see the comments).
"""
from __future__ import annotations

import sqlite3

import pandas as pd

from salesops import schema as S
from salesops import store

REPS = pd.DataFrame([
    # name, manager, team, region, hire date
    ("Ann Lee", "Mia Ross", "East Enterprise", "East", "2021-03-01"),
    ("Bob Park", "Mia Ross", "East Enterprise", "East", "2022-06-15"),
    ("Cat Diaz", "Max Weber", "East Commercial", "East", "2023-01-09"),
    ("Eve Moss", "Max Weber", "East Commercial", "West", "2023-05-02"),    # based in the West
    ("Dan Cho", "Lou Tran", "West Commercial", "West", "2020-09-01"),
    ("Fay Ito", "Lou Tran", "West Commercial", "West", "2026-10-15"),      # new hire, zero quota
], columns=[S.NAME, S.MANAGER, S.TEAM, S.REGION, S.HIRE_DATE])
REPS[S.ACTIVE] = 1

DEALS = pd.DataFrame([
    # id, owner, status, amount, created, close, probability, forecast category, region
    ("1", "Ann Lee", "won", 40_000, "2026-08-01", "2026-10-10", 1.0, "closed", "East"),      # cycle 70
    ("2", "Ann Lee", "won", 20_000, "2026-09-01", "2026-11-20", 1.0, "closed", "West"),      # cycle 80, a West deal
    ("3", "Bob Park", "lost", 30_000, "2026-07-01", "2026-10-20", 0.0, "omitted", "East"),
    ("4", "Bob Park", "open", 50_000, "2026-09-15", "2026-12-15", 0.5, "best_case", "East"),
    ("5", "Cat Diaz", "won", 10_000, "2026-10-01", "2026-11-05", 1.0, "closed", "East"),     # cycle 35
    ("6", "Dan Cho", "won", 25_000, "2026-06-01", "2026-12-01", 1.0, "closed", "West"),      # cycle 183, closes after 25 Nov
    ("7", "Eve Moss", "open", 15_000, "2026-11-01", "2026-12-20", 0.2, "omitted", "West"),
    ("8", "Gus Hale", "won", 5_000, "2026-10-05", "2026-10-25", 1.0, "closed", None),        # cycle 20, not on the roster
    ("9", "Fay Ito", "open", 8_000, "2026-11-28", "2026-12-30", 0.1, "pipeline", "West"),    # created after 25 Nov
    ("10", "Dan Cho", "won", 12_000, "2026-05-01", "2026-07-15", 1.0, "closed", "West"),     # 2027Q2
    ("11", "Ann Lee", "won", 30_000, "2026-06-01", "2026-08-10", 1.0, "closed", "East"),     # 2027Q2
    ("12", "Cat Diaz", "lost", 5_000, "2026-06-01", "2026-08-20", 0.0, "omitted", "East"),   # 2027Q2
    ("13", "Bob Park", "open", 70_000, "2026-11-10", "2027-02-15", 0.3, "pipeline", "East"), # closes in 2027Q4
], columns=[S.OPPORTUNITY_ID, S.OWNER, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.PROBABILITY,
            S.FORECAST_CATEGORY, S.REGION])
DEALS[S.NAME] = "Deal " + DEALS[S.OPPORTUNITY_ID]
DEALS[S.ACCOUNT] = "Account " + DEALS[S.OPPORTUNITY_ID]
DEALS[S.STAGE] = DEALS[S.STATUS].map({"won": "Closed Won", "lost": "Closed Lost", "open": "Proposal"})
DEALS[S.SEGMENT] = ["Enterprise", "Enterprise", "Enterprise", "Enterprise", "SMB", "SMB", "SMB", "SMB", "SMB",
                    "SMB", "Enterprise", "SMB", "Enterprise"]

Q3 = ("2026-10-01", "2026-12-31")   # fiscal 2027Q3
Q4 = ("2027-01-01", "2027-03-31")   # fiscal 2027Q4
TARGET_ROWS = [
    ("owner", "Ann Lee", *Q3, 100_000), ("owner", "Bob Park", *Q3, 80_000), ("owner", "Cat Diaz", *Q3, 50_000),
    ("owner", "Eve Moss", *Q3, 40_000), ("owner", "Dan Cho", *Q3, 60_000), ("owner", "Fay Ito", *Q3, 0),
    ("team", "East Enterprise", *Q3, 150_000),
    ("region", "East", *Q3, 200_000),
    ("all", "all", *Q3, 300_000),
    ("all", "all", *Q4, 320_000),
]
TARGETS = pd.DataFrame(TARGET_ROWS, columns=[S.SCOPE, S.SCOPE_NAME, S.PERIOD_START, S.PERIOD_END, S.AMOUNT])
SETTINGS = {"fiscal_year_start_month": 4, "currency": "USD", "workspace_name": "Acme Analytics"}
#: The data's own as-of date: the last activity (deal 6 closed on 1 Dec 2026).
DATA_AS_OF = "2026-12-01"


def write_acme(path, *, targets: pd.DataFrame | None = None) -> str:
    """Acme in a database file at ``path`` (``targets`` replaces the target table)."""
    with store.connect(path, write=True) as conn:
        store.insert_frame(conn, "opportunities", DEALS)
        store.insert_frame(conn, "reps", REPS)
        store.insert_frame(conn, "targets", TARGETS if targets is None else targets)
        store.set_settings(conn, **SETTINGS)
    return str(path)


def write_acme_without_audit(path) -> str:
    """Acme with an empty audit trail (writing the fixture is itself recorded as a change)."""
    path = write_acme(path)
    con = sqlite3.connect(path)
    with con:
        con.execute("DELETE FROM audit_log")
    con.close()
    return path


def target_variant(kind: str) -> pd.DataFrame:
    """Acme's targets as a company sets only one kind: "reps" (rep targets only), "teams"
    (team targets only: East Enterprise 150K, East Commercial 90K, West Commercial 60K) or
    "all" (the company target only)."""
    if kind == "reps":
        return TARGETS[TARGETS[S.SCOPE] == "owner"].reset_index(drop=True)
    if kind == "teams":
        return pd.DataFrame([("team", "East Enterprise", *Q3, 150_000), ("team", "East Commercial", *Q3, 90_000),
                             ("team", "West Commercial", *Q3, 60_000)],
                            columns=[S.SCOPE, S.SCOPE_NAME, S.PERIOD_START, S.PERIOD_END, S.AMOUNT])
    if kind == "all":
        return TARGETS[TARGETS[S.SCOPE] == "all"].reset_index(drop=True)
    raise ValueError(kind)
