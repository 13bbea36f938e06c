"""Real exports nobody here wrote (../shared/datasets/public_exports, and the Maven set) import
as a new user would, with no hints: no --vendor, no --map. The KPIs after import (the `kpis`
command) equal an independent pandas computation straight from the CSV, in total, by quarter
and by owner. A file without an owner or a stage is refused with one clear line."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from salesops import store
from salesops.cli import main

pytestmark = pytest.mark.datasets

WHOLE = "2000-01-01..2030-12-31"


def _money(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.astype(str).str.replace(r"[$,\s]", "", regex=True).replace({"nan": None, "": None}))


def _dates(s: pd.Series, *formats: str) -> pd.Series:
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    for fmt in formats:
        out = out.fillna(pd.to_datetime(s, format=fmt, errors="coerce"))
    return out.dt.normalize()


def _by_stage(stage: pd.Series, won: str, lost: str) -> pd.Series:
    return np.where(stage == won, "won", np.where(stage == lost, "lost", "open"))


# Each file read with plain pandas by what its columns say, no salesops code: status, amount,
# created and close date, owner.
def zoho(path):
    f = pd.read_csv(path)
    fmt = "%d %b, %Y %H:%M:%S"
    assert (f["Forecast Type"].str.lower() == pd.Series(_by_stage(f["Stage"], "Closed Won", "Closed Lost"))).all()
    return pd.DataFrame({"status": _by_stage(f["Stage"], "Closed Won", "Closed Lost"), "amount": _money(f["Amount"]),
                         "created": _dates(f["Created Time"], fmt), "close": _dates(f["Closing Date"], fmt),
                         "owner": f["Potential Owner"]})


def dynamics(path):
    f = pd.read_csv(path, encoding="utf-8-sig")
    status = f["Status"].str.lower()
    closed = status != "open"
    fmts = ("%m/%d/%Y %H:%M", "%m/%d/%Y")
    actual_close = _dates(f["Actual Close Date"], *fmts)
    return pd.DataFrame({
        "status": status,
        # closed deals: what they closed at (Actual Revenue / Actual Close Date) where the file has it
        "amount": np.where(closed & f["Actual Revenue"].notna(), f["Actual Revenue"], f["Est. revenue"]),
        "created": _dates(f["Created On"], *fmts),
        "close": actual_close.where(closed & actual_close.notna(), _dates(f["Est. close date"], *fmts)),
        "owner": f["Owner"]})


def wave(path):
    f = pd.read_csv(path)
    return pd.DataFrame({"status": _by_stage(f["StageName"], "Closed Won", "Closed Lost"), "amount": f["Amount"],
                         "created": _dates(f["DateTimeCreated__c"], "%Y-%m-%d %H:%M:%S"),
                         "close": _dates(f["CloseDate"], "%Y-%m-%d"), "owner": f["Owner.External_Id__c"]})


def sfdc_api(path):
    f = pd.read_csv(path, encoding="utf-8-sig")
    return pd.DataFrame({"status": _by_stage(f["StageName"], "Closed Won", "Closed Lost"), "amount": f["Amount"],
                         "created": _dates(f["CreatedDate"].str[:10], "%Y-%m-%d"),
                         "close": _dates(f["CloseDate"], "%Y-%m-%d"), "owner": f["OwnerId"]})


def maven(path):
    f = pd.read_csv(path)
    status = f["deal_stage"].map({"Won": "won", "Lost": "lost"}).fillna("open")
    return pd.DataFrame({"status": status, "amount": f["close_value"], "created": _dates(f["engage_date"], "%Y-%m-%d"),
                         "close": _dates(f["close_date"], "%Y-%m-%d"), "owner": f["sales_agent"]})


FILES = {
    "zoho_potentials_rahulanilnair.csv": (zoho, "zoho", 3632),
    "dynamics_view_d365-demo-generator.csv": (dynamics, "dynamics", 5229),
    "salesforce_wave_oktana-wave-tooling.csv": (wave, "salesforce_api", 5197),
    "salesforce_api_sfdc-data-cloud-workshop.csv": (sfdc_api, "salesforce_api", 50),
    "salesforce_api_sfdc-gen-ai-demo.csv": (sfdc_api, "salesforce_api", 58),
    "../maven_crm/sales_pipeline.csv": (maven, "generic", 8800),
}


def independent(deals: pd.DataFrame, start, end, by: str | None) -> pd.DataFrame:
    """won_amount, won_count, lost_count, open_pipeline, open_count, avg_cycle_days by close date."""
    d = deals[(deals["close"] >= pd.Timestamp(start)) & (deals["close"] <= pd.Timestamp(end))].copy()
    d["group"] = d["owner"] if by else "all"
    won, lost, open_ = (d[d["status"] == s] for s in ("won", "lost", "open"))
    out = pd.DataFrame({
        "won_amount": won.groupby("group")["amount"].sum(),
        "won_count": won.groupby("group").size(),
        "lost_count": lost.groupby("group").size(),
        "open_pipeline": open_.groupby("group")["amount"].sum(),
        "open_count": open_.groupby("group").size(),
        "avg_cycle_days": (won["close"] - won["created"]).dt.days.groupby(won["group"]).mean(),
    })
    return out.fillna({c: 0 for c in ("won_amount", "won_count", "lost_count", "open_pipeline", "open_count")})


def kpis(db, capsys, period: str, by: str | None = None) -> pd.DataFrame:
    args = ["--db", str(db), "kpis", "--period", period, "--json"] + (["--by", by] if by else [])
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    return pd.DataFrame(rows).set_index("group")


def compare(got: pd.DataFrame, want: pd.DataFrame) -> None:
    want = want[(want[["won_count", "lost_count", "open_count"]].sum(axis=1) > 0)]
    got = got[(got[["won_count", "lost_count", "open_count"]].sum(axis=1) > 0)]
    assert sorted(got.index) == sorted(want.index)
    for c in ("won_amount", "won_count", "lost_count", "open_pipeline", "open_count"):
        assert got.loc[want.index, c].astype(float).to_numpy() == pytest.approx(want[c].astype(float).to_numpy()), c
    cyc = want["avg_cycle_days"].notna()
    assert got.loc[want.index[cyc], "avg_cycle_days"].astype(float).to_numpy() == pytest.approx(
        want.loc[cyc, "avg_cycle_days"].to_numpy())


@pytest.mark.parametrize("name", list(FILES))
def test_public_export_imports_without_hints_and_kpis_equal_pandas(name, datasets_dir, tmp_path, capsys):
    reader, vendor, rows = FILES[name]
    path = datasets_dir / "public_exports" / name
    db = tmp_path / "w.db"
    assert main(["--db", str(db), "import", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["vendor"], doc["rows_read"], doc["rows_imported"], doc["rows_rejected"]) == (vendor, rows, rows, 0)
    assert not [p for p in doc["problems"] if p["severity"] == "error"]
    want = reader(path)
    with store.connect(db) as conn:
        stored = store.load_deals(conn)
    assert len(stored) == rows and stored["opportunity_id"].is_unique
    # in total, by owner, and by quarter of the close date
    compare(kpis(db, capsys, WHOLE), independent(want, "2000-01-01", "2030-12-31", None))
    compare(kpis(db, capsys, WHOLE, "owner"), independent(want, "2000-01-01", "2030-12-31", "owner"))
    quarters = want["close"].dropna().dt.to_period("Q").unique()
    for q in sorted(quarters)[:: max(1, len(quarters) // 4)]:  # about 4 quarters per file, spread over its years
        compare(kpis(db, capsys, f"{q.year}Q{q.quarter}"), independent(want, q.start_time, q.end_time.normalize(), None))


def test_no_hint_needed_even_with_the_vendor_named(datasets_dir, tmp_path, capsys):
    """`--vendor zoho` alone is enough for the Potentials export, and gives the same import."""
    path = datasets_dir / "public_exports" / "zoho_potentials_rahulanilnair.csv"
    assert main(["--db", str(tmp_path / "a.db"), "import", str(path), "--vendor", "zoho", "--json"]) == 0
    named = json.loads(capsys.readouterr().out)
    assert main(["--db", str(tmp_path / "b.db"), "import", str(path), "--json"]) == 0
    detected = json.loads(capsys.readouterr().out)
    assert named["mapping"] == detected["mapping"]
    assert named["mapping"]["Potential Owner"] == "owner" and named["mapping"]["Potential Name"] == "name"
    assert named["mapping"]["Forecast Type"] == "status_check"  # the status check, not the forecast category
    assert named["mapping"]["LEADID"] == "opportunity_id"  # unique in every row: the id, not a hash


@pytest.mark.parametrize("name,missing", [("salesforce_api_earthfink-powerbi.csv", "owner"),
                                          ("generic_marketstar-opportunities.csv", "stage or status")])
def test_file_without_owner_or_stage_is_refused_with_one_line(name, missing, datasets_dir, empty_db, capsys):
    rc = main(["--db", str(empty_db), "import", str(datasets_dir / "public_exports" / name)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith(f"error: {name}, column '{missing}': no column for {missing}")
    with store.connect(empty_db) as conn:
        assert store.is_empty(conn) and store.load_imports(conn).empty


def test_dynamics_currency_names_and_status_reason(datasets_dir, empty_db, capsys):
    path = datasets_dir / "public_exports" / "dynamics_view_d365-demo-generator.csv"
    assert main(["--db", str(empty_db), "import", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert not [p for p in doc["problems"] if "workspace currency" in p["problem"]]  # "US Dollar" is USD
    with store.connect(empty_db) as conn:
        deals = store.load_deals(conn)
    assert set(deals["currency"]) == {"USD"}
    src = pd.read_csv(path, encoding="utf-8-sig")
    lost_reasons = src.loc[src["Status"] == "Lost", "Status Reason"].value_counts().sort_index()
    got = deals.loc[deals["status"] == "lost", "loss_reason"].value_counts().sort_index()
    assert got.to_dict() == lost_reasons.to_dict() == {"Canceled": 2379, "Lost": 45, "Out-Sold": 370}
    assert deals.loc[deals["status"] != "lost", "loss_reason"].isna().all()  # "Won", "In Progress" are not reasons
