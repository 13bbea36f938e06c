"""The Reps page under AppTest: the leaderboard table and the team tiles equal what `python -m
salesops kpis --json` prints (``--by owner`` for the reps, with its ``leaderboard`` extras;
without ``--by`` for the team row) for the same period, as-of date and filters, on the demo
and on the hand-made company; every view renders clean on every kind of workspace."""
import pandas as pd
import pytest

from salesops import formats, metrics, store, workspace
from salesops import schema as S
from tests import company

from .pagecheck import captions, chart_specs_with_next, check_charts, check_clean, held_open, tiles, truth
from .test_team_page import _company_template, cli, company_db, demo, maven_db, sidebar  # noqa: F401 - fixtures

K = metrics.KPIS
VIEWS = ["Win rate vs deal size", "Compare reps", "Rep profile", "New-hire ramp"]


def leaderboard_table(at):
    for df in at.dataframe:
        if "Rank" in df.value.columns:
            return df.value
    raise AssertionError("no leaderboard table")


def same(a, b) -> bool:
    if a is None or (isinstance(a, float) and pd.isna(a)):
        return b is None or pd.isna(b)
    return b is not None and not pd.isna(b) and a == pytest.approx(b)


def assert_reps_match_cli(at, rows_doc, team_doc, currency="USD"):
    """Every leaderboard row and the team tiles equal the CLI documents."""
    table = leaderboard_table(at).set_index("Rep")
    extras = {r["owner"]: r for r in rows_doc["leaderboard"]}
    assert list(table.index) == [r["owner"] for r in rows_doc["leaderboard"]]
    rows = {r["group"]: r for r in rows_doc["rows"]}
    assert set(rows) <= set(table.index)
    for rep, row in table.iterrows():
        r, x = rows.get(rep), extras[rep]
        if r is None:  # listed from the roster without a KPI row: nothing booked, no target
            assert row["Bookings"] == 0 and pd.isna(row["Target"]), rep
            continue
        checks = {"Bookings": r["won_amount"], "Target": r["target"], "Average deal": r["avg_deal_size"],
                  "Sales cycle": r["avg_cycle_days"], "Open pipeline": r["open_pipeline"], "Coverage": r["coverage"],
                  "Attainment": None if r["attainment"] is None else r["attainment"] * 100,
                  "Rank": x["rank"], "Monthly variation (CV)": x["cv"],
                  "Win rate, shrunk to team": None if x["win_rate_shrunk"] is None else x["win_rate_shrunk"] * 100,
                  "Quarters at quota": None if x["quarter_quota_share"] is None else x["quarter_quota_share"] * 100}
        for col, want in checks.items():
            assert same(want, row[col]), (rep, col, want, row[col])
        text = row["Win rate (80% interval)"]
        if r["win_rate"] is None:
            assert text == "–", rep
        else:
            assert text.startswith(K["win_rate"].format(r["win_rate"]) + " (") and text.endswith("few deals") == x["small_sample"], rep
        assert row["Manager"] == x["manager"] and (row["Region"] == x["region"] or (pd.isna(row["Region"]) and x["region"] is None))
    team = team_doc["rows"][0]
    t = tiles(at)
    assert t["Team attainment"][0] == K["attainment"].format(team["attainment"])
    assert t["Team win rate"][0] == K["win_rate"].format(team["win_rate"])
    target = team_doc["target"]
    if target["amount"]:
        assert t["Team attainment"][1] == f"of the {target['label']}"
        assert formats.money(target["amount"], currency) in " ".join(captions(at))


# --- parity with the CLI ---------------------------------------------------------------------------
def test_reps_page_on_demo_equals_the_cli(app_at, demo, capsys):
    """The team row uses the Overview's target (the company's 10.8M, named, beside the reps'
    11.9M), not the sum of the rows; under a region filter the region's target."""
    at = app_at("views/reps.py", demo)
    check_clean(at)
    assert at.title[0].value == "Reps · 2026Q4"
    # the long charts name every rep of the leaderboard: a row each (the height grows with them)
    specs = [spec for spec, _ in chart_specs_with_next(at) if "by rep" in spec["title"]["text"]]
    assert len(specs) == 2 and all(spec["height"] == {"step": 22} for spec in specs)
    with store.connect(demo) as conn:
        reps = store.load_reps(conn)
    on_team = reps[reps[S.END_DATE].isna() | (reps[S.END_DATE] >= "2026-10-01")]
    assert set(on_team[S.NAME]) <= set(leaderboard_table(at)["Rep"])
    ws = workspace.load(demo)
    for region in (None, ["EMEA"]):
        if region:
            sidebar(at, region=region)
            check_clean(at)
        fields = {"region": region} if region else {}
        team_doc = truth(ws, "2026Q4", fields=fields)
        assert_reps_match_cli(at, truth(ws, "2026Q4", fields=fields, by="owner"), team_doc)
        t = team_doc["target"]
        assert t["source"] == ("region" if region else "all") and t["rep_sum"] > t["amount"]
        assert (f"Team row: attainment is against the {t['label']} ({formats.money(t['amount'])}); the {t['reps']} reps' "
                f"own targets add up to {formats.money(t['rep_sum'])}. The Overview uses the same target.") in captions(at)
    check_charts(at, min_charts=2)


# --- what a real company has ----------------------------------------------------------------------
def test_a_new_hire_on_a_zero_quota_and_a_deal_in_another_region(app_at, company_db, capsys):
    at = app_at("views/reps.py", company_db)
    table = leaderboard_table(at).set_index("Rep")
    fay = table.loc["Fay Cole"]
    assert fay["Target"] == 0 and pd.isna(fay["Attainment"]) and fay["Bookings"] == 0
    doc = cli(capsys, company_db, "--period", "2027Q3", "--by", "owner")
    with_target = sum(1 for r in doc["rows"] if r["target"])
    at_target = sum(1 for r in doc["rows"] if r["attainment"] is not None and r["attainment"] >= 1)
    assert tiles(at)["At or above target"] == (f"{at_target} of {with_target}", "reps with a target")
    assert with_target == 5  # Fay's zero quota is not a target to reach
    # under East, Dee (a West rep) is listed for her East deals, without her West target
    sidebar(at, region=["East"])
    table = leaderboard_table(at).set_index("Rep")
    deals = company.deals()
    dee = deals[(deals["owner"] == "Dee Fox") & (deals["region"] == "East") & (deals["status"] == "won")
                & deals["close_date"].between("2026-10-01", company.AS_OF)]
    assert table.loc["Dee Fox", "Bookings"] == dee["amount"].sum() > 0 and pd.isna(table.loc["Dee Fox", "Target"])
    assert table.loc["Dee Fox", "Region"] == "West"


def test_every_view_on_the_company_a_future_quarter_and_a_rep_filter(app_at, company_db, capsys):
    at = app_at("views/reps.py", company_db)
    for period, rep, views in (("2027Q3", None, VIEWS), ("2027Q4", None, VIEWS), ("2027Q3", ["Ann Lee"], VIEWS[2:3])):
        sidebar(at, period=period, rep=rep)
        for view in views:
            at.button_group(key="reps_view").set_value(view).run()
            check_clean(at)
            # a quarter not started has no win rates to plot; one rep alone has no one to compare with
            check_charts(at, min_charts=0 if period == "2027Q4" or rep else 1)
        at.button_group(key="reps_view").set_value("Leaderboard").run()
        check_clean(at)
    # the profile of the rep in the filter equals their CLI row
    sidebar(at, period="2027Q3", rep=["Ann Lee"])
    at.button_group(key="reps_view").set_value("Rep profile").run()
    assert at.selectbox(key="reps_profile").value == "Ann Lee"
    (row,) = cli(capsys, company_db, "--period", "2027Q3", "--rep", "Ann Lee", "--by", "owner")["rows"]
    t = tiles(at)
    for name in ("attainment", "won_amount", "win_rate", "avg_deal_size"):
        assert t[K[name].label][0] == K[name].format(row[name]), name
    deals = company.deals()
    mine = deals[(deals["owner"] == "Ann Lee") & (deals["close_date"].between("2026-10-01", "2026-12-31")
                                                  | deals["created_date"].between("2026-10-01", company.AS_OF))]
    assert any(m.value == f"**Deals closing or created in 2027Q3 \\({len(mine):,}\\)**" for m in at.markdown), \
        [m.value for m in at.markdown]
    # compare reps: the team column is the slice's, with the Overview's target
    sidebar(at, rep=[])
    at.button_group(key="reps_view").set_value("Compare reps").run()
    side = at.dataframe[0].value.set_index("KPI")
    assert side.loc["Target", "Team"] == formats.money(600_000)


def test_team_and_reps_on_maven_without_targets(app_at, datasets_dir, tmp_path, capsys):
    from .test_team_page import assert_team_matches_cli

    db = maven_db(datasets_dir, tmp_path)
    with held_open(db):
        at = app_at("views/reps.py", db)
        check_clean(at)
        assert at.title[0].value == "Reps · 2017Q4"
        team_doc = cli(capsys, db, "--period", "2017Q4")
        assert_reps_match_cli(at, cli(capsys, db, "--period", "2017Q4", "--by", "owner"), team_doc)
        table = leaderboard_table(at)
        assert table["Target"].isna().all() and list(table["Bookings"]) == sorted(table["Bookings"], reverse=True)
        assert tiles(at)["At or above target"][0] == "no targets"
        check_charts(at, min_charts=2)
        for view in VIEWS:
            at.button_group(key="reps_view").set_value(view).run()
            check_clean(at)
        assert any("no hire dates" in i.value for i in at.info)
        at.switch_page("views/team.py").run()
        check_clean(at)
        assert_team_matches_cli(at, team_doc)
        at.selectbox(key="team_split").set_value("Product").run()
        check_clean(at)
        check_charts(at, min_charts=3)


def test_reps_page_on_an_empty_database(app_at, empty_db):
    at = app_at("views/reps.py", empty_db)
    check_clean(at)
    assert any("no deals" in i.value for i in at.info)
    assert not chart_specs_with_next(at)
