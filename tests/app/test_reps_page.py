"""The Reps page under AppTest: leaderboard numbers against an independent computation, the
filters, every view, and the empty database."""
import numpy as np
import pandas as pd

from salesops import formats
from salesops import schema as S

from .conftest import no_exceptions
from .test_team_page import chart_specs_with_next, check_charts, demo_frames


def leaderboard_table(at):
    for df in at.dataframe:
        if "Rank" in df.value.columns:
            return df.value
    raise AssertionError("no leaderboard table")


def test_leaderboard_on_demo_matches_the_database(app_at, demo_db):
    at = app_at("views/reps.py", demo_db)
    no_exceptions(at)
    assert at.title[0].value == "Reps · 2026Q4"
    deals, reps, targets = demo_frames(demo_db)
    q = deals[deals[S.CLOSE_DATE].between("2026-10-01", "2026-12-31")]
    won = q[q[S.STATUS] == S.WON].groupby(S.OWNER)[S.AMOUNT].sum()
    closed = q[q[S.STATUS] != S.OPEN].groupby(S.OWNER).size()
    tgt = targets[(targets[S.SCOPE] == "owner") & (targets[S.PERIOD_START] == "2026-10-01")].set_index(S.SCOPE_NAME)[S.AMOUNT]
    table = leaderboard_table(at).set_index("Rep")
    for owner, amount in won.items():
        assert table.loc[owner, "Bookings"] == amount
        assert table.loc[owner, "Attainment"] == amount / tgt[owner]
    # win rate text shows the rate and its interval; fewer than 10 closed deals are flagged
    for owner, n in closed.items():
        text = table.loc[owner, "Win rate (80% interval)"]
        wins = int((q[(q[S.OWNER] == owner)][S.STATUS] == S.WON).sum())
        assert text.startswith(formats.pct(wins / n))
        assert text.endswith("few deals") == (n < 10)
    # ranked by attainment
    att = leaderboard_table(at)["Attainment"].fillna(-1).to_numpy()
    assert np.all(np.diff(att) <= 1e-12)
    # a rep hired this quarter with no deals is still listed (rostered and on the team)
    active = reps[(reps[S.HIRE_DATE] <= "2026-12-31") & (reps[S.END_DATE].isna() | (reps[S.END_DATE] >= "2026-10-01"))]
    assert set(active[S.NAME]) <= set(table.index)
    assert any(s.value == "Who needs coaching" for s in at.subheader)
    check_charts(at, min_charts=2)


def test_region_filter_limits_the_leaderboard(app_at, demo_db):
    at = app_at("views/reps.py", demo_db)
    at.sidebar.multiselect(key="region").set_value(["EMEA"]).run()
    no_exceptions(at)
    deals, reps, _ = demo_frames(demo_db)
    table = leaderboard_table(at).set_index("Rep")
    emea_reps = set(reps.loc[reps[S.REGION] == "EMEA", S.NAME])
    assert set(table.index) <= emea_reps | set(deals.loc[deals[S.REGION] == "EMEA", S.OWNER])
    assert set(table["Region"].dropna()) == {"EMEA"}
    q = deals[deals[S.CLOSE_DATE].between("2026-10-01", "2026-12-31") & (deals[S.REGION] == "EMEA") & (deals[S.STATUS] == S.WON)]
    assert table["Bookings"].sum() == q[S.AMOUNT].sum()
    at.sidebar.selectbox(key="period").set_value("2026Q2").run()
    no_exceptions(at)
    q2 = deals[deals[S.CLOSE_DATE].between("2026-04-01", "2026-06-30") & (deals[S.REGION] == "EMEA") & (deals[S.STATUS] == S.WON)]
    assert leaderboard_table(at)["Bookings"].sum() == q2[S.AMOUNT].sum()


def test_compare_profile_and_ramp_views(app_at, demo_db):
    at = app_at("views/reps.py", demo_db)
    table = leaderboard_table(at)
    first_two = list(table["Rep"][:2])
    at.button_group(key="reps_view").set_value("Win rate vs deal size").run()
    no_exceptions(at)
    quad = at.dataframe[0].value.set_index("owner")
    with_both = table[table["Win rate (80% interval)"] != "–"]
    assert set(quad.index) <= set(with_both["Rep"])
    assert set(quad["quadrant"]) <= {"Wins often, wins big", "Wins often, small deals", "Big deals, low win rate", "Small deals, low win rate"}
    check_charts(at, min_charts=1)
    at.button_group(key="reps_view").set_value("Compare reps").run()
    no_exceptions(at)
    side = at.dataframe[0].value
    assert list(side.columns) == ["KPI", *first_two, "Team"]
    check_charts(at)
    at.button_group(key="reps_view").set_value("Rep profile").run()
    no_exceptions(at)
    owner = at.selectbox(key="reps_profile").value
    deals, reps, _ = demo_frames(demo_db)
    won = deals[(deals[S.OWNER] == owner) & (deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between("2026-10-01", "2026-12-31")]
    assert {m.label: m.value for m in at.metric}["Bookings"] == formats.money(won[S.AMOUNT].sum())
    check_charts(at, min_charts=2)
    at.button_group(key="reps_view").set_value("New-hire ramp").run()
    no_exceptions(at)
    tiles = {m.label: m for m in at.metric}
    assert "Ramped-rep equivalents" in tiles
    active = reps[reps[S.ACTIVE].astype(bool) & (reps[S.HIRE_DATE] <= "2026-11-20") & reps[S.END_DATE].isna()]
    assert f"of {len(active)} reps" in tiles["Ramped-rep equivalents"].delta
    check_charts(at, min_charts=1)


def test_reps_page_on_an_empty_database(app_at, empty_db):
    at = app_at("views/reps.py", empty_db)
    no_exceptions(at)
    assert any("no deals" in i.value for i in at.info)
    assert not chart_specs_with_next(at)
    at.button(key="load_demo_the reps page").click().run()
    no_exceptions(at)
    assert "Rank" in leaderboard_table(at).columns


def test_both_pages_on_maven_without_targets_or_hire_dates(app_at, datasets_dir, tmp_path):
    from salesops import store

    from tests.unit.test_metrics_maven import salesops_deals, salesops_reps

    pipe = pd.read_csv(datasets_dir / "maven_crm" / "sales_pipeline.csv", dtype={"opportunity_id": str})
    teams = pd.read_csv(datasets_dir / "maven_crm" / "sales_teams.csv")
    db = tmp_path / "maven.db"
    with store.connect(db, write=True) as conn:
        store.insert_frame(conn, "opportunities", salesops_deals(pipe))
        store.insert_frame(conn, "reps", salesops_reps(teams))
    at = app_at("views/reps.py", db)
    no_exceptions(at)
    assert at.title[0].value == "Reps · 2017Q4"
    table = leaderboard_table(at).set_index("Rep")
    q4 = pipe[(pipe["close_date"] >= "2017-10-01") & (pipe["close_date"] <= "2017-12-31") & (pipe["deal_stage"] == "Won")]
    won = q4.groupby("sales_agent")["close_value"].sum()
    for agent, amount in won.items():
        assert table.loc[agent, "Bookings"] == amount
    assert table["Target"].isna().all()
    assert list(table["Bookings"]) == sorted(table["Bookings"], reverse=True)  # no targets: ranked by bookings
    check_charts(at, min_charts=2)
    at.button_group(key="reps_view").set_value("New-hire ramp").run()
    no_exceptions(at)
    assert any("no hire dates" in i.value for i in at.info)
    at.switch_page("views/team.py").run()
    no_exceptions(at)
    check_charts(at, min_charts=3)
