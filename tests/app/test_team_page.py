"""The Team page under AppTest. Every number is checked against what `python -m salesops kpis
--json` prints for the same period, as-of date and filters (the CLI is the truth), on the demo
and on a small hand-made company (tests/company.py: fiscal year from April, rep, team, region
and company targets, a deal in another region than its rep, a new hire on a zero quota); and
each defect of issue 10 that the page had has its own test."""
import datetime as dt
import json
import shutil

import pandas as pd
import pytest

from salesops import formats, metrics, store, workspace
from salesops import schema as S
from salesops.cli import main
from tests import company

from .pagecheck import captions, chart_specs_with_next, check_charts, check_clean, held_open, tiles, truth

K = metrics.KPIS
COMPARE_TILES = ("won_amount", "win_rate", "avg_deal_size", "avg_cycle_days", "open_pipeline", "coverage", "velocity",
                 "pipeline_created_amount")


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _company_template(tmp_path_factory):
    return company.write(tmp_path_factory.mktemp("company") / "company.db")


@pytest.fixture
def company_db(_company_template, tmp_path):
    path = tmp_path / "company.db"
    shutil.copyfile(_company_template, path)
    with held_open(path):
        yield path


@pytest.fixture
def demo(demo_db):
    with held_open(demo_db):
        yield demo_db


def cli(capsys, db, *args):
    """The `kpis --json` document, in-process (the truth the page must show)."""
    code = main(["--db", str(db), "kpis", *args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def sidebar(at, *, period=None, as_of=None, region=None, team=None, rep=None):
    """Set the shared sidebar like a user would, then rerun once."""
    if as_of is not None:
        at.sidebar.date_input(key="as_of").set_value(dt.date.fromisoformat(as_of))
    if period is not None:
        at.sidebar.selectbox(key="period").set_value(period)
    for key, value in (("region", region), ("team", team), ("rep", rep)):
        at.sidebar.multiselect(key=key).set_value(value or [])
    return at.run()


def cli_args(period, as_of=None, region=None, team=None, rep=None):
    args = ["--period", period] + (["--as-of", as_of] if as_of else [])
    for key, value in (("region", region), ("team", team), ("rep", rep)):
        for v in value or []:
            args += [f"--{key}", v]
    return args


def table(at, first_column):
    for df in at.dataframe:
        if len(df.value.columns) and df.value.columns[0] == first_column:
            return df.value
    raise AssertionError(f"no table starting with {first_column!r}")


def assert_team_matches_cli(at, doc, currency="USD"):
    """The page's tiles, pacing and roll-up equal the CLI document's numbers."""
    t = tiles(at)
    cur = doc["rows"][0]
    if doc["state"] == "future":
        assert t["Target"][0] == formats.money(doc["target"]["amount"], currency)
        assert t["Target"][1] == (doc["target"]["label"] if doc["target"]["amount"] else "no target set")
        assert t["Open pipeline"][0] == K["open_pipeline"].format(cur["open_pipeline"], currency)
        assert t["Pipeline coverage"][0] == K["coverage"].format(cur["coverage"], currency)
    else:
        prev = doc["compare"]["rows"][0]
        for name in COMPARE_TILES:
            value, delta = t[K[name].label]
            assert value == K[name].format(cur[name], currency), name
            assert delta == K[name].delta(cur[name], prev[name], currency), name
        pace = doc["pace"]
        if doc["target"]["amount"]:
            key = "Against an even pace to target" if doc["state"] == "running" else "Against target"
            gap = pace["gap"] if doc["state"] == "running" else cur["won_amount"] - doc["target"]["amount"]
            assert t[key][0] == formats.money(abs(gap), currency)
            assert doc["target"]["label"] in t[key][1]
        ly = doc["last_year"]
        label = f"{ly['period']} by the same day" if doc["state"] == "running" else \
            next(lab for lab in t if lab.startswith(f"{ly['period']}, the same"))
        assert t[label][0] == formats.money(ly["same_day"], currency)
    roll = table(at, "Team › manager › rep").set_index("Team › manager › rep")
    assert roll.loc["All", "Bookings"] == pytest.approx(cur["won_amount"])
    want_target = doc["target"]["amount"]
    assert (pd.isna(roll.loc["All", "Target"]) and want_target is None) or roll.loc["All", "Target"] == pytest.approx(want_target)


def assert_rollup_matches_cli(at, doc_by):
    """The roll-up rows of one level equal ``kpis --by team|manager|owner``."""
    roll = table(at, "Team › manager › rep")
    roll = roll.assign(name=roll["Team › manager › rep"].str.split(" › ").str[-1]).set_index("name")
    for r in doc_by["rows"]:
        row = roll.loc[r["group"]]
        assert row["Bookings"] == pytest.approx(r["won_amount"]), r["group"]
        assert (pd.isna(row["Target"]) and r["target"] is None) or row["Target"] == pytest.approx(r["target"]), r["group"]
        assert row["Target basis"] == r["target_label"]
    assert set(roll.index) - {"All"} == {r["group"] for r in doc_by["rows"]}


# --- parity with the CLI ------------------------------------------------------------------------
def test_team_page_on_demo_equals_the_cli(app_at, demo, capsys):
    """On the demo: every number against `kpis --json`; the win-rate change in points; the pace
    against the same target as the Overview's (the company target of 10.8M, not the reps' 11.9M;
    under a region filter the region's target, not the targets of every rep with a deal there);
    a quarter after the as-of date "not started" with its target and the pipeline closing in it."""
    at = app_at("views/team.py", demo)
    check_clean(at)
    assert at.title[0].value == "Team · 2026Q4"
    ws = workspace.load(demo)
    deals = ws.deals
    for region in (None, ["EMEA"]):
        if region:
            sidebar(at, region=region)
            check_clean(at)
        fields = {"region": region} if region else {}
        doc = truth(ws, "2026Q4", fields=fields)
        assert_team_matches_cli(at, doc)
        assert_rollup_matches_cli(at, truth(ws, "2026Q4", fields=fields, by="team"))
        target = doc["target"]
        assert target["source"] == ("region" if region else "all") and target["rep_sum"] > target["amount"]
        assert f"Attainment is against the {target['label']} ({formats.money(target['amount'])})" in " ".join(captions(at))
        # doc["pace"] is overview.standing's pace: the Overview's tile (tests/app/test_parity.py holds those equal)
        assert tiles(at)["Against an even pace to target"][0] == formats.money(abs(doc["pace"]["gap"]))
    sidebar(at, region=[])
    # the win-rate change is in points (the registry's), not a relative change
    doc = truth(ws, "2026Q4")
    cur, prev = doc["rows"][0]["win_rate"], doc["compare"]["rows"][0]["win_rate"]
    delta = tiles(at)["Win rate"][1]
    assert delta == K["win_rate"].delta(cur, prev) == f"{'+' if cur >= prev else '-'}{abs(cur - prev) * 100:.0f} pts"
    # the deals behind the default bar (the month holding the as-of date, bookings), independently
    nov = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between("2026-11-01", "2026-11-20")]
    assert f"{len(nov):,} deals behind bookings in 2026-11, {formats.money(nov[S.AMOUNT].sum())} in total." in captions(at)
    check_charts(at, min_charts=3)
    # a quarter after the as-of date
    sidebar(at, period="2027Q1")
    check_clean(at)
    assert any("has not started" in i.value for i in at.info)
    doc = truth(ws, "2027Q1")
    assert doc["state"] == "future" and doc["target"]["amount"] > 0
    assert_team_matches_cli(at, doc)
    open_q = deals[(deals[S.STATUS] == S.OPEN) & deals[S.CLOSE_DATE].between("2027-01-01", "2027-03-31")
                   & (deals[S.CREATED_DATE] <= "2026-11-20")]
    assert tiles(at)["Open pipeline"] == (formats.money(open_q[S.AMOUNT].sum()), f"{len(open_q):,} deals closing in 2027Q1")
    check_charts(at, min_charts=3)


# --- the defects of issue 10, each with a test that fails on the old page ------------------------
def test_velocity_on_team_equals_the_overview(app_at, company_db, capsys):
    at = app_at("views/overview.py", company_db)
    for as_of in (company.AS_OF, "2026-10-20"):
        sidebar(at, as_of=as_of, period="2027Q3")
        doc = cli(capsys, company_db, "--period", "2027Q3", "--as-of", as_of)
        want = K["velocity"].format(doc["rows"][0]["velocity"])
        shown = []
        for page in ("views/overview.py", "views/team.py"):
            at.switch_page(page).run()
            shown.append(tiles(at)["Sales velocity"][0])
        assert shown == [want, want], as_of


def test_team_says_what_last_years_curve_compares_with(app_at, company_db, capsys):
    at = app_at("views/team.py", company_db)
    doc = cli(capsys, company_db, "--period", "2027Q3")
    ly = doc["last_year"]
    (label, (value, note)), = [(k, v) for k, v in tiles(at).items() if "last year's shape" in k]
    assert label == "Against last year's shape of the quarter"
    assert note.endswith(f"{ly['period']}'s shape, scaled to this target") and note.split()[0] in ("ahead", "behind")
    expected = ly["share"] * doc["target"]["amount"]
    assert value == formats.money(abs(doc["rows"][0]["won_amount"] - expected))
    help_text = next(m.help for m in at.metric if m.label == label)
    assert formats.pct(ly["share"], 1) in help_text and formats.money(doc["target"]["amount"]) in help_text
    # last year's share by the same day, independently: won in 2026Q3 (Oct-Dec 2025) up to 30 Nov
    deals = company.deals()
    won = deals[(deals["status"] == "won") & deals["close_date"].between("2025-10-01", "2025-12-31")]
    assert ly["share"] == pytest.approx(won.loc[won["close_date"] <= "2025-11-30", "amount"].sum() / won["amount"].sum())


def test_a_workspace_without_targets_gives_valid_charts_and_no_target_words(app_at, company_db, capsys):
    with store.connect(company_db, write=True) as conn:
        conn.execute("DELETE FROM targets")
    at = app_at("views/team.py", company_db)
    check_clean(at)
    check_charts(at, min_charts=3)  # strict JSON: a NaN in a chart's data or its metadata fails here
    assert tiles(at)["Target"] == ("–", "no target set for this period")
    assert_team_matches_cli(at, cli(capsys, company_db, "--period", "2027Q3"))


def test_region_filter_target_is_the_target_of_what_is_inside(app_at, company_db, capsys):
    """East: the region target (520K) beside the targets of the reps whose roster places them
    in East (Ann, Bob, Cy: 460K), not also Dee's, though Dee owns a deal tagged East."""
    at = app_at("views/team.py", company_db)
    sidebar(at, region=["East"])
    text = " ".join(captions(at))
    assert "Attainment is against the region target of East ($520K); the 3 reps' own targets add up to $460K." in text
    doc = cli(capsys, company_db, "--period", "2027Q3", "--region", "East")
    assert doc["target"]["amount"] == 520_000 and doc["target"]["rep_sum"] == 460_000
    deals = company.deals()
    east = deals[(deals["region"] == "East") & (deals["status"] == "won") & deals["close_date"].between("2026-10-01", company.AS_OF)]
    assert "Dee Fox" in set(east["owner"])  # the deal in another region than its rep counts in East's bookings
    assert tiles(at)["Bookings"][0] == formats.money(east["amount"].sum())


# --- the page on every kind of workspace ---------------------------------------------------------
def test_team_page_splits_grains_and_roll_up_levels(app_at, company_db, capsys):
    at = app_at("views/team.py", company_db)
    for split in ("Manager", "Product", "Deal type"):  # a roster field, a deal field, a field the company leaves blank
        at.selectbox(key="team_split").set_value(split).run()
        check_clean(at)
    at.selectbox(key="team_split").set_value("Region").run()
    at.selectbox(key="team_kpi").set_value("win_rate").run()
    at.button_group(key="team_freq").set_value("Quarter").run()
    check_clean(at)
    trend = [s for s, _ in chart_specs_with_next(at) if s["title"]["text"] == "Win rate by fiscal quarter by region"]
    assert trend
    # the deals behind the running quarter's bar of the first region: closed (won or lost) by the as-of date
    deals = company.deals()
    q = deals[deals["close_date"].between("2026-10-01", company.AS_OF) & deals["status"].isin(["won", "lost"])]
    n = int((q["region"] == "East").sum())
    assert any(c.startswith(f"{n:,} deals behind win rate in 2027Q3 for East") for c in captions(at)), captions(at)
    for level in ("Manager", "Rep"):
        at.button_group(key="team_rollup_level").set_value(level).run()
        check_clean(at)
        assert_rollup_matches_cli(at, cli(capsys, company_db, "--period", "2027Q3", "--by", {"Manager": "manager", "Rep": "owner"}[level]))
    check_charts(at, min_charts=3)


def test_team_page_on_an_empty_database(app_at, empty_db):
    at = app_at("views/team.py", empty_db)
    check_clean(at)
    assert any("no deals" in i.value for i in at.info)
    assert not chart_specs_with_next(at)


def maven_db(datasets_dir, tmp_path):
    """The Maven CRM dataset imported through salesops.ingest (deals and roster)."""
    from salesops import ingest

    db = tmp_path / "maven.db"
    folder = datasets_dir / "maven_crm"
    ingest.run_import(db, (folder / "sales_pipeline.csv").read_bytes(), "sales_pipeline.csv")
    ingest.run_reference_import(db, (folder / "sales_teams.csv").read_bytes(), "sales_teams.csv", "roster")
    return db


def test_money_follows_the_workspace_currency(app_at, company_db):
    with store.connect(company_db, write=True) as conn:
        store.set_settings(conn, currency="EUR")
    at = app_at("views/team.py", company_db)
    check_clean(at)
    assert tiles(at)["Bookings"][0].startswith("€")
    check_charts(at, currency_symbol="€", min_charts=3)
