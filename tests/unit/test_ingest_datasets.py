"""The real datasets in ../shared/datasets import, and the KPIs after import equal the ones
computed directly from the source files with plain pandas."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from salesops import store
from salesops.cli import main

pytestmark = pytest.mark.datasets


def _deals(db):
    with store.connect(db) as conn:
        return store.load_deals(conn)


def test_maven_sales_pipeline(datasets_dir, empty_db, capsys):
    path = datasets_dir / "maven_crm" / "sales_pipeline.csv"
    rc = main(["--db", str(empty_db), "import", str(path), "--map", "engage_date=created_date", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["rows_imported"] == 8800 and doc["rows_rejected"] == 0
    assert doc["mapping"]["engage_date"] == "created_date" and doc["mapping"]["sales_agent"] == "owner"
    src = pd.read_csv(path, dtype={"opportunity_id": str})
    got = _deals(empty_db).set_index("opportunity_id")
    won = src[src.deal_stage == "Won"]
    assert (got.status == "won").sum() == len(won) == 4238
    assert (got.status == "lost").sum() == (src.deal_stage == "Lost").sum()
    assert got.loc[got.status == "won", "amount"].sum() == pytest.approx(won.close_value.sum())
    # Q1 2017 by close date, independently
    q = won[(won.close_date >= "2017-01-01") & (won.close_date <= "2017-03-31")]
    mine = got[(got.status == "won") & got.close_date.between("2017-01-01", "2017-03-31")]
    assert mine.amount.sum() == pytest.approx(q.close_value.sum()) and len(mine) == len(q)
    cycle = (pd.to_datetime(won.close_date) - pd.to_datetime(won.engage_date)).dt.days.mean()
    mine_cycle = (got.loc[got.status == "won", "close_date"] - got.loc[got.status == "won", "created_date"]).dt.days.mean()
    assert mine_cycle == pytest.approx(cycle)
    assert got.loc["1C1I7A6R", "owner"] == "Moses Frase"


def test_maven_mapper_guesses_engage_date(datasets_dir, empty_db, capsys):
    rc = main(["--db", str(empty_db), "import", str(datasets_dir / "maven_crm" / "sales_pipeline.csv"), "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["mapping"]["engage_date"] == "created_date"


def test_salesforce_preppin_opportunity(datasets_dir, empty_db, capsys):
    rc = main(["--db", str(empty_db), "import", str(datasets_dir / "salesforce_preppin" / "Opportunity.csv"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["vendor"] == "salesforce_api" and doc["rows_imported"] == 219
    got = _deals(empty_db).set_index("opportunity_id")
    assert (got.status == "won").sum() == 89 and (got.status == "lost").sum() == 57
    # UK dates: 24/03/2022 is 24 March; TRUE/FALSE flags did not override StageName
    assert got.loc["0068d000002OrZqAAK", "close_date"] == pd.Timestamp("2022-03-24")
    assert got.loc["0068d000002OrZqAAK", "created_date"] == pd.Timestamp("2022-03-14")
    assert got.loc["0068d000002OrZrAAK", "status"] == "won"  # IsWon FALSE, StageName Closed Won
    src = pd.read_csv(datasets_dir / "salesforce_preppin" / "Opportunity.csv", dtype=str)
    won_sum = pd.to_numeric(src.loc[src.StageName == "Closed Won", "Amount"]).sum()
    assert got.loc[got.status == "won", "amount"].sum() == pytest.approx(won_sum)
    assert got.probability.max() <= 1.0


def test_salesforce_preppin_history_roster_accounts(datasets_dir, empty_db, capsys):
    base = datasets_dir / "salesforce_preppin"
    assert main(["--db", str(empty_db), "import", str(base / "Opportunity History.csv")]) == 0
    with store.connect(empty_db) as conn:
        hist = store.load_stage_history(conn)
    assert len(hist) == 584 and hist.entered_at.notna().all()
    maven = datasets_dir / "maven_crm"
    assert main(["--db", str(empty_db), "roster", str(maven / "sales_teams.csv")]) == 0
    assert main(["--db", str(empty_db), "accounts", str(maven / "accounts.csv")]) == 0
    with store.connect(empty_db) as conn:
        reps, accounts = store.load_reps(conn), store.load_accounts(conn)
    assert len(reps) == 35 and reps.set_index("name").loc["Anna Snelling", "region"] == "Central"
    assert len(accounts) == 85 and accounts.set_index("name").loc["Acme Corporation", "industry"] == "technolgy"
