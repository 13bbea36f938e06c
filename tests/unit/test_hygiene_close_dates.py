"""Open deals without a close date are counted where a user sees them (issue #11): they fall
outside every period, so no pipeline figure would otherwise show them."""
import pandas as pd

from salesops import hygiene, store
from salesops import schema as S
from salesops.ingest import run_import


def _deals():
    return pd.DataFrame({
        S.OPPORTUNITY_ID: ["1", "2", "3", "4", "5"], S.OWNER: ["A", "A", "B", "B", "B"],
        S.STAGE: ["Prospecting", "Prospecting", "Closed Won", "Qualification", "Qualification"],
        S.STATUS: [S.OPEN, S.OPEN, S.WON, S.OPEN, S.OPEN], S.AMOUNT: [1.0, 2.0, 3.0, 4.0, 5.0],
        S.CLOSE_DATE: pd.to_datetime([None, None, None, "2024-07-01", None]), S.PROBABILITY: [0.1] * 5})


def test_count_and_line_from_deals_and_from_issues():
    deals = _deals()
    # by hand: deals 1, 2 and 5 are open without a close date; 3 is won (not open), 4 has one
    assert hygiene.open_without_close_date(deals) == 3
    issues = hygiene.deal_issues(deals, S.DEFAULT_STAGE_RULES, "2024-06-30")
    assert hygiene.open_without_close_date(issues) == 3
    assert hygiene.no_close_date_line(issues) == ("3 open deals have no close date: they fall outside every period, "
                                                  "so no pipeline figure counts them.")
    assert hygiene.no_close_date_line(deals.iloc[[0]]).startswith("1 open deal has no close date: it falls")
    assert hygiene.no_close_date_line(deals.iloc[[2, 3]]) is None
    assert hygiene.open_without_close_date(None) == 0


def test_maven_open_deals_without_close_date(datasets_dir, empty_db):
    path = datasets_dir / "maven_crm" / "sales_pipeline.csv"
    r = run_import(empty_db, path.read_bytes(), path.name)
    src = pd.read_csv(path)
    expected = int((src["deal_stage"].isin(["Engaging", "Prospecting"]) & src["close_date"].isna()).sum())
    assert expected == 2089
    with store.connect(empty_db) as conn:
        deals = store.load_deals(conn)
    assert hygiene.open_without_close_date(deals) == expected
    assert hygiene.no_close_date_line(deals).startswith("2,089 open deals have no close date")
    assert any(n.startswith("2,089 open deals have no close date") for n in r.notes)
