"""KPIs by owner, manager and region on the real Maven CRM dataset (8,800 deals, 35 agents)
against an independent pandas computation straight from the CSVs; and the same through the
`kpis` CLI after loading the deals into a database with store.insert_frame."""
import json

import numpy as np
import pandas as pd
import pytest

from salesops import metrics, store, workspace
from salesops import schema as S
from salesops.cli import main

PERIODS = [("2017Q2", "2017-04-01", "2017-06-30"), ("2017", "2017-01-01", "2017-12-31"), ("2017-03", "2017-03-01", "2017-03-31")]


@pytest.fixture(scope="module")
def maven(request):
    from tests.conftest import DATASETS

    folder = DATASETS / "maven_crm"
    if not folder.is_dir():
        pytest.skip(f"the shared datasets folder {folder} is not here (it sits beside the project checkout)")
    pipe = pd.read_csv(folder / "sales_pipeline.csv", dtype={"opportunity_id": str})
    teams = pd.read_csv(folder / "sales_teams.csv")
    return pipe, teams


def independent(pipe: pd.DataFrame, teams: pd.DataFrame, start: str, end: str, by: str) -> pd.DataFrame:
    """The KPIs computed from the raw CSV columns with plain pandas, no salesops code."""
    p = pipe.merge(teams.rename(columns={"regional_office": "region"}), on="sales_agent", how="left")
    p["engage_date"] = pd.to_datetime(p["engage_date"])
    p["close_date"] = pd.to_datetime(p["close_date"])
    key = {"owner": "sales_agent", "manager": "manager", "region": "region"}[by]
    closed = p[(p["close_date"] >= start) & (p["close_date"] <= end)]
    won = closed[closed["deal_stage"] == "Won"]
    lost = closed[closed["deal_stage"] == "Lost"]
    created = p[(p["engage_date"] >= start) & (p["engage_date"] <= end)]
    out = pd.DataFrame({
        "won_amount": won.groupby(key)["close_value"].sum(),
        "won_count": won.groupby(key).size(),
        "lost_count": lost.groupby(key).size(),
        "cycle": (won["close_date"] - won["engage_date"]).dt.days.groupby(won[key]).mean(),
        "created_count": created.groupby(key).size(),
    }).fillna({"won_amount": 0.0, "won_count": 0, "lost_count": 0, "created_count": 0})
    out["win_rate"] = out["won_count"] / (out["won_count"] + out["lost_count"])
    out["avg_deal_size"] = out["won_amount"] / out["won_count"].replace(0, np.nan)
    return out.sort_index()


def salesops_deals(pipe: pd.DataFrame) -> pd.DataFrame:
    """The CSV mapped onto the opportunities table (what an import of it would write)."""
    status = pipe["deal_stage"].map({"Won": S.WON, "Lost": S.LOST, "Engaging": S.OPEN, "Prospecting": S.OPEN})
    return pd.DataFrame({
        S.OPPORTUNITY_ID: pipe["opportunity_id"], S.NAME: pipe["opportunity_id"], S.ACCOUNT: pipe["account"],
        S.OWNER: pipe["sales_agent"], S.STAGE: pipe["deal_stage"], S.STATUS: status,
        S.AMOUNT: pipe["close_value"].astype(float), S.CREATED_DATE: pipe["engage_date"], S.CLOSE_DATE: pipe["close_date"],
        S.PRODUCT: pipe["product"],
    })


def salesops_reps(teams: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({S.NAME: teams["sales_agent"], S.MANAGER: teams["manager"], S.REGION: teams["regional_office"],
                         S.ACTIVE: 1})


def loaded_frames(pipe, teams):
    deals = salesops_deals(pipe)
    for c in S.DATE_FIELDS:
        deals[c] = pd.to_datetime(deals[c])
    reps = salesops_reps(teams)
    return workspace.attach_roster(deals, reps), reps


def check(got: pd.DataFrame, want: pd.DataFrame):
    got = got.set_index("group").sort_index()
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got["won_amount"], want["won_amount"])
    np.testing.assert_array_equal(got["won_count"], want["won_count"])
    np.testing.assert_array_equal(got["lost_count"], want["lost_count"])
    np.testing.assert_allclose(got["win_rate"], want["win_rate"])
    np.testing.assert_allclose(got["avg_deal_size"], want["avg_deal_size"])
    np.testing.assert_allclose(got["avg_cycle_days"], want["cycle"])
    np.testing.assert_array_equal(got["pipeline_created_count"], want["created_count"])


@pytest.mark.parametrize("label,start,end", PERIODS)
@pytest.mark.parametrize("by", ["owner", "manager", "region"])
def test_period_kpis_equal_an_independent_computation(maven, by, label, start, end):
    pipe, teams = maven
    deals, reps = loaded_frames(pipe, teams)
    want = independent(pipe, teams, start, end, by)
    got = metrics.period_kpis(deals, start, end, by=by, reps=reps)
    check(got, want)


@pytest.fixture(scope="module")
def maven_db(maven, tmp_path_factory):
    pipe, teams = maven
    db = tmp_path_factory.mktemp("maven") / "maven.db"
    with store.connect(db, write=True) as conn:
        store.insert_frame(conn, "opportunities", salesops_deals(pipe))
        store.insert_frame(conn, "reps", salesops_reps(teams))
    return db


@pytest.mark.parametrize("by", ["owner", "manager", "region"])
def test_kpis_cli_end_to_end_on_maven(maven, maven_db, capsys, by):
    pipe, teams = maven
    db = maven_db
    assert main(["--db", str(db), "kpis", "--period", "2017Q2", "--by", by, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["period"] == "2017Q2" and (doc["start"], doc["end"]) == ("2017-04-01", "2017-06-30")
    got = pd.DataFrame(doc["rows"])
    want = independent(pipe, teams, "2017-04-01", "2017-06-30", by)
    got = got.set_index("group").sort_index()
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got["won_amount"], want["won_amount"])
    np.testing.assert_array_equal(got["won_count"], want["won_count"])
    np.testing.assert_array_equal(got["lost_count"], want["lost_count"])
    np.testing.assert_allclose(got["win_rate"], want["win_rate"])
    np.testing.assert_allclose(got["avg_deal_size"], want["avg_deal_size"])
    np.testing.assert_allclose(got["avg_cycle_days"], want["cycle"])
    assert got["target"].isna().all() and got["attainment"].isna().all()  # no targets loaded


@pytest.mark.parametrize("by", ["owner", "manager", "region", None])
def test_the_workspace_facts_give_what_the_deal_rows_give(maven, maven_db, by):
    """The compact facts read column-wise from the database and the full deal frame in memory
    go through the same engine to the same numbers."""
    from salesops.filters import Filters

    pipe, teams = maven
    deals, reps = loaded_frames(pipe, teams)
    ws = workspace.load(maven_db)
    for label, start, end in PERIODS:
        f = Filters.make(ws, label, as_of=metrics.NO_CUT)
        a = metrics.kpis(ws, f, by)
        b = metrics.period_kpis(deals, start, end, by=by, reps=reps)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)
