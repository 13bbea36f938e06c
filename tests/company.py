"""A small hand-made company that looks like a real one, for the Team and Reps tests.

* Fiscal year starting in April (FY2027 = 1 Apr 2026 – 31 Mar 2027): 2027Q3 (Oct – Dec 2026)
  is running on the data's as-of date (30 Nov 2026), 2027Q4 has not started, 2027Q2 is closed,
  2026Q3 (Oct – Dec 2025) is the same quarter last year.
* Six reps in three teams and two regions; Fay is a new hire (October 2026) on a zero quota.
* Targets: rep targets every quarter; for 2027Q3 also a team target (East Enterprise, below
  its reps' sum), region targets (East, West) and a company target (below the reps' sum);
  for 2027Q4 a company target only beside the rep targets.
* Dee (West) owns a deal tagged to the East region; a few deals closed after 20 Oct 2026
  and one created after it, so an as-of date inside the quarter sees less.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from salesops import store

AS_OF = "2026-11-30"
REPS = pd.DataFrame([
    ("Ann Lee", "Mia Park", "East Enterprise", "East", "2021-01-04"),
    ("Bob Stone", "Mia Park", "East Enterprise", "East", "2022-03-01"),
    ("Cy Young", "Max Roth", "East Commercial", "East", "2021-06-01"),
    ("Dee Fox", "Lou Hart", "West Commercial", "West", "2020-02-01"),
    ("Eve Moss", "Lou Hart", "West Commercial", "West", "2023-05-01"),
    ("Fay Cole", "Lou Hart", "West Commercial", "West", "2026-10-05"),
], columns=["name", "manager", "team", "region", "hire_date"]).assign(active=1)

QUOTA = {"Ann Lee": 200_000.0, "Bob Stone": 160_000.0, "Cy Young": 100_000.0, "Dee Fox": 120_000.0, "Eve Moss": 80_000.0}
#: Fiscal quarters (April start) with rep targets: label -> (start, end).
QUARTERS = {"2026Q3": ("2025-10-01", "2025-12-31"), "2026Q4": ("2026-01-01", "2026-03-31"),
            "2027Q1": ("2026-04-01", "2026-06-30"), "2027Q2": ("2026-07-01", "2026-09-30"),
            "2027Q3": ("2026-10-01", "2026-12-31"), "2027Q4": ("2027-01-01", "2027-03-31")}


def targets() -> pd.DataFrame:
    rows = []
    for label, (s, e) in QUARTERS.items():
        for rep, q in QUOTA.items():
            rows.append(("owner", rep, s, e, q))
        if label in ("2027Q3", "2027Q4"):
            rows.append(("owner", "Fay Cole", s, e, 0.0))
    s, e = QUARTERS["2027Q3"]
    rows += [("team", "East Enterprise", s, e, 340_000.0), ("region", "East", s, e, 520_000.0),
             ("region", "West", s, e, 180_000.0), ("all", "", s, e, 600_000.0)]
    s, e = QUARTERS["2027Q4"]
    rows.append(("all", "", s, e, 640_000.0))
    return pd.DataFrame(rows, columns=["scope", "scope_name", "period_start", "period_end", "amount"])


def deals() -> pd.DataFrame:
    """About 250 deals from September 2025 to March 2027, deterministic."""
    rng = np.random.default_rng(2027)
    rows = []
    months = pd.date_range("2025-06-01", "2026-11-01", freq="MS")
    for r, rep in enumerate(QUOTA):
        region = REPS.set_index("name").loc[rep, "region"]
        size = {"Ann Lee": 30_000, "Bob Stone": 22_000, "Cy Young": 9_000, "Dee Fox": 14_000, "Eve Moss": 8_000}[rep]
        for m, month in enumerate(months):
            for k in range(3):
                day = int(rng.integers(0, 27))
                close = month + pd.Timedelta(days=day)
                created = close - pd.Timedelta(days=int(rng.integers(20, 120)))
                status = rng.choice(["won", "lost"], p=[0.45, 0.55]) if (r + m + k) % 4 else "won"
                amount = float(round(size * rng.uniform(0.5, 1.6), -2))
                rows.append((rep, status, amount, created, close, region))
        # open pipeline closing in the running and the next (future) quarter
        for k in range(4):
            close = pd.Timestamp("2026-12-01") + pd.Timedelta(days=int(rng.integers(0, 30)))
            rows.append((rep, "open", float(round(size * rng.uniform(0.5, 2.0), -2)),
                         close - pd.Timedelta(days=int(rng.integers(40, 90))), close, region))
            close = pd.Timestamp("2027-01-05") + pd.Timedelta(days=int(rng.integers(0, 80)))
            rows.append((rep, "open", float(round(size * rng.uniform(0.5, 2.0), -2)),
                         pd.Timestamp("2026-09-01") + pd.Timedelta(days=int(rng.integers(0, 80))), close, region))
    rows += [
        ("Dee Fox", "won", 12_500.0, pd.Timestamp("2026-08-10"), pd.Timestamp("2026-10-12"), "East"),  # another region
        ("Dee Fox", "open", 18_000.0, pd.Timestamp("2026-09-15"), pd.Timestamp("2026-12-15"), "East"),
        ("Fay Cole", "open", 6_000.0, pd.Timestamp("2026-10-20"), pd.Timestamp("2026-12-20"), "West"),  # new hire
        ("Ann Lee", "won", 41_000.0, pd.Timestamp("2026-10-25"), pd.Timestamp("2026-11-28"), "East"),  # created after 20 Oct
        ("Eve Moss", "lost", 7_000.0, pd.Timestamp("2026-11-02"), pd.Timestamp("2026-11-30"), "West"),
    ]
    out = pd.DataFrame(rows, columns=["owner", "status", "amount", "created_date", "close_date", "region"])
    out = out[out["created_date"] <= pd.Timestamp(AS_OF)]
    out["opportunity_id"] = [f"NW-{i:04d}" for i in range(len(out))]
    out["name"] = [f"Deal {i}" for i in range(len(out))]
    out["account"] = [f"Account {i % 37}" for i in range(len(out))]
    out["stage"] = out["status"].map({"won": "Closed Won", "lost": "Closed Lost", "open": "Proposal"})
    out["probability"] = out["status"].map({"won": 1.0, "lost": 0.0, "open": 0.4})
    out["forecast_category"] = out["status"].map({"won": "closed", "lost": "omitted", "open": "pipeline"})
    out["segment"] = np.where(out["owner"].isin(["Ann Lee", "Bob Stone"]), "Enterprise", "SMB")
    out["product"] = np.where(out.index % 3 == 0, "Platform", "Add-on")
    for c in ("created_date", "close_date"):
        out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out.reset_index(drop=True)


def write(path: Path) -> Path:
    """The company in a new database at ``path`` (fiscal year starting in April)."""
    with store.connect(path, write=True) as conn:
        store.insert_frame(conn, "opportunities", deals())
        store.insert_frame(conn, "reps", REPS)
        store.insert_frame(conn, "targets", targets())
        store.set_settings(conn, fiscal_year_start_month=4)
    with store.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path
