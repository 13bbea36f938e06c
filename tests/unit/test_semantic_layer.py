"""The semantic layer on Acme (tests/fixtures.py), every number computed by hand: the
workspace door, the filters, the one target rule, the as-of cut, the Overview's standing and
the kpis command, which must all say the same."""
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesops import metrics, outlook, overview, workspace
from salesops import schema as S
from salesops.cli import main
from salesops.errors import InputError
from salesops.filters import Filters
from tests import fixtures as acme

END = date(2026, 12, 1)     # the data's as-of date
MID = date(2026, 11, 25)    # inside fiscal 2027Q3 (Oct-Dec 2026)


@pytest.fixture(scope="module")
def acme_db(tmp_path_factory):
    return acme.write_acme(tmp_path_factory.mktemp("acme") / "acme.db")


@pytest.fixture(scope="module")
def ws(acme_db):
    return workspace.load(acme_db)


def cli_json(capsys, *args):
    code = main([*args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_the_workspace_door(ws):
    assert ws.settings.calendar.start_month == 4 and ws.settings.currency == "USD"
    assert ws.as_of == END
    assert len(ws.facts) == len(acme.DEALS) and ws.summary["deals"] == len(acme.DEALS)
    # the facts carry the roster: Gus is not on it; his deal has no region of its own or of a rep
    gus = ws.facts[ws.facts[S.OWNER] == "Gus Hale"].iloc[0]
    assert gus[S.TEAM] == workspace.NOT_ON_ROSTER and pd.isna(gus[S.REGION])
    # deal 2 keeps its own region (West) although Ann is in the East
    two = ws.deal_rows(ws.facts.index[ws.facts[S.AMOUNT] == 20_000], [S.OPPORTUNITY_ID, S.REGION, S.OWNER])
    assert two.iloc[0].to_dict() == {S.OPPORTUNITY_ID: "2", S.REGION: "West", S.OWNER: "Ann Lee"}
    # the full rows carry the same rowid index as the facts
    assert set(ws.deals.index) == set(ws.facts.index)
    # the same workspace built from frames gives the same KPIs
    mem = workspace.from_frames(acme.DEALS, reps=acme.REPS, targets=acme.TARGETS, settings=acme.SETTINGS)
    f1, f2 = Filters.make(ws, "2027Q3"), Filters.make(mem, "2027Q3", as_of=END)
    a, b = metrics.kpis(ws, f1, S.TEAM), metrics.kpis(mem, f2, S.TEAM)
    pd.testing.assert_frame_equal(a, b)


def test_fiscal_year_in_april_names_the_quarter(ws):
    f = Filters.make(ws, "2027Q3")
    assert (f.period.start, f.period.end) == (date(2026, 10, 1), date(2026, 12, 31))
    assert Filters.make(ws).period.label == "2027Q3"  # the quarter of the as-of date


def test_company_quarter_at_the_end_of_the_data(ws):
    k = metrics.team(ws, Filters.make(ws, "2027Q3"))
    # won: deals 1, 2, 5, 6, 8; lost: 3; open on 1 Dec: 4, 7, 9
    assert (k["won_amount"], k["won_count"], k["lost_count"]) == (100_000, 5, 1)
    assert k["win_rate"] == pytest.approx(5 / 6)
    assert k["avg_deal_size"] == 20_000
    assert k["avg_cycle_days"] == pytest.approx((70 + 80 + 35 + 183 + 20) / 5)
    assert (k["open_pipeline"], k["open_count"]) == (73_000, 3)
    assert k["weighted_pipeline"] == pytest.approx(50_000 * 0.5 + 15_000 * 0.2 + 8_000 * 0.1)
    # the company target, not the 330K the rep targets add up to
    assert k["target"] == 300_000 and k["target_source"] == "all" and k["rep_target_sum"] == 330_000
    assert k["attainment"] == pytest.approx(100 / 300)
    # coverage leaves out the 'omitted' deal 7: (50K + 8K) / (300K - 100K)
    assert k["coverage"] == pytest.approx(58_000 / 200_000)
    assert k["required_coverage"] == pytest.approx(6 / 5)
    assert k["velocity"] == pytest.approx(3 * (5 / 6) * 20_000 / ((70 + 80 + 35 + 183 + 20) / 5))
    # created Oct 1 - Dec 1: deals 5, 7, 8, 9, 13
    assert (k["pipeline_created_amount"], k["pipeline_created_count"]) == (108_000, 5)


def test_as_of_inside_the_quarter_cuts_every_kpi_together(ws):
    f = Filters.make(ws, "2027Q3", as_of=MID)
    k = metrics.team(ws, f)
    # deal 6 closes on 1 Dec: open on 25 Nov; deal 9 was created on 28 Nov: not there yet
    assert (k["won_amount"], k["won_count"], k["lost_count"]) == (75_000, 4, 1)
    assert k["win_rate"] == pytest.approx(4 / 5)
    assert (k["open_pipeline"], k["open_count"]) == (50_000 + 15_000 + 25_000, 3)
    # deal 6 has no CRM probability for 25 Nov (it is won now): counted at none, and said so
    assert k["weighted_pipeline"] == pytest.approx(25_000 + 3_000) and k["weighted_unknown"] == 1
    assert k["coverage"] == pytest.approx((50_000 + 25_000) / (300_000 - 75_000))
    assert (k["pipeline_created_amount"], k["pipeline_created_count"]) == (100_000, 4)
    cycle = (70 + 80 + 35 + 20) / 4
    assert k["velocity"] == pytest.approx(3 * (4 / 5) * (75_000 / 4) / cycle)
    s = overview.standing(ws, f)
    assert s.state == "running" and s.compare.label == "2027Q2"
    # 55 days into the quarter; the same point of 2027Q2 (1 Jul) is 25 Aug: deals 10 and 11 won, 12 lost
    assert s.compare_as_of == date(2026, 8, 25)
    assert (s.previous["won_amount"], s.previous["lost_count"]) == (42_000, 1)
    assert s.pace["expected_by_now"] == pytest.approx(300_000 * 56 / 92)
    assert s.pace["needed_per_day"] == pytest.approx((300_000 - 75_000) / (92 - 56))
    # the cumulative line stops at the as-of date and the largest deal open then is deal 4
    cum = s.cumulative.set_index("day")
    assert cum.loc["2026-11-25", "won_to_date"] == 75_000 and np.isnan(cum.loc["2026-11-26", "won_to_date"])
    assert s.top_open[S.NAME].tolist() == ["Deal 4", "Deal 6", "Deal 7"]


def test_a_region_filter_takes_its_reps_by_the_roster_and_its_own_target(ws):
    east = metrics.team(ws, Filters.make(ws, "2027Q3", region=["East"]))
    # East deals: 1, 3, 4, 5 (deal 2 is a West deal of an East rep)
    assert east["won_amount"] == 50_000
    # the East region target; East reps by the roster (Ann, Bob, Cat) add up to 230K
    assert (east["target"], east["target_source"], east["rep_target_sum"]) == (200_000, "region", 230_000)
    assert east["attainment"] == pytest.approx(0.25)
    west = Filters.make(ws, "2027Q3", region=["West"])
    k = metrics.team(ws, west)
    # West deals 2 and 6 are won; West has no region target: its reps by the roster are Dan,
    # Eve and Fay (100K). Ann owns a West deal but is not a West rep: her 100K does not count
    assert k["won_amount"] == 45_000 and k["target"] == 100_000 and k["target_source"] == "reps"
    assert sorted(west.reps(ws)) == ["Dan Cho", "Eve Moss", "Fay Ito"]
    assert k["attainment"] == pytest.approx(0.45)


def test_team_rep_and_group_targets(ws):
    ent = metrics.team(ws, Filters.make(ws, "2027Q3", team=["East Enterprise"]))
    assert ent["won_amount"] == 60_000 and ent["target"] == 150_000 and ent["rep_target_sum"] == 180_000
    com = metrics.team(ws, Filters.make(ws, "2027Q3", team=["East Commercial"]))
    assert com["won_amount"] == 10_000 and com["target"] == 90_000 and com["target_source"] == "reps"
    ann = metrics.team(ws, Filters.make(ws, "2027Q3", rep=["Ann Lee"]))
    assert ann["won_amount"] == 60_000 and ann["target"] == 100_000
    by_team = metrics.kpis(ws, Filters.make(ws, "2027Q3"), S.TEAM).set_index("group")
    assert by_team["target"].to_dict() == pytest.approx(
        {"East Enterprise": 150_000, "East Commercial": 90_000, "West Commercial": 60_000,
         workspace.NOT_ON_ROSTER: np.nan}, nan_ok=True)
    by_rep = metrics.kpis(ws, Filters.make(ws, "2027Q3"), S.OWNER).set_index("group")
    # Fay (hired 15 Oct) is listed with her zero quota: no attainment, not 0% and not "hit"
    assert by_rep.loc["Fay Ito", "target"] == 0 and np.isnan(by_rep.loc["Fay Ito", "attainment"])
    # the reps' rows add up to the company's sums
    assert by_rep["won_amount"].sum() == 100_000


@pytest.mark.parametrize("kind, expected, source", [("reps", 330_000, "reps"), ("teams", 300_000, "team"),
                                                    ("all", 300_000, "all")])
def test_a_company_target_from_whatever_level_is_set(tmp_path, kind, expected, source):
    ws = workspace.load(acme.write_acme(tmp_path / "t.db", targets=acme.target_variant(kind)))
    k = metrics.team(ws, Filters.make(ws, "2027Q3"))
    assert (k["target"], k["target_source"]) == (expected, source)
    if kind == "teams":
        assert k["target_label"] == "sum of 3 team targets"
        assert metrics.team(ws, Filters.make(ws, "2027Q3", team=["West Commercial"]))["target"] == 60_000


def test_a_month_gets_its_days_of_a_quarterly_target(ws):
    k = metrics.team(ws, Filters.make(ws, "2026-10"))
    assert k["target"] == pytest.approx(300_000 * 31 / 92)
    assert k["won_amount"] == 40_000 + 5_000  # deals 1 and 8


def test_future_and_closed_quarters(ws):
    fut = overview.standing(ws, Filters.make(ws, "2027Q4"))
    assert fut.state == "future" and fut.target.amount == 320_000
    assert (fut.current["open_pipeline"], fut.current["won_amount"]) == (70_000, 0)
    closed = overview.standing(ws, Filters.make(ws, "2027Q2"))
    assert closed.state == "closed" and closed.current["won_amount"] == 42_000 and not closed.target.has_target
    assert closed.compare_label == "vs last quarter"


def test_filters_narrow_each_other_and_say_when_they_exclude_each_other(ws):
    opts = Filters.make(ws, region=["West"]).options(ws)
    # West: the teams of West deals and of West reps (East Commercial has Eve in the West)
    assert opts["team"] == ["East Commercial", "East Enterprise", "West Commercial"]
    assert "Cat Diaz" not in opts["rep"] and {"Dan Cho", "Fay Ito", "Eve Moss"} <= set(opts["rep"])
    assert Filters.make(ws, team=["East Enterprise"]).options(ws)["region"] == ["East", "West"]
    f = Filters.make(ws, region=["West"], rep=["Cat Diaz"])
    assert "exclude each other" in f.problem(ws)
    assert Filters.make(ws, region=["East"]).problem(ws) is None
    with pytest.raises(InputError, match="--region 'Mars'"):
        Filters.make(ws, region=["Mars"]).check(ws)


def test_filters_are_a_cache_key(ws):
    a = Filters.make(ws, "2027Q3", region="East, West")
    b = Filters.make(ws, "2027Q3", region=["West", "East"])
    assert a == b and hash(a) == hash(b)
    assert a != Filters.make(ws, "2027Q3", region=["East"])


def test_the_registry_formats_and_changes_in_points():
    k = metrics.KPIS
    assert k["win_rate"].delta(0.38, 0.32) == "+6 pts" and k["win_rate"].relative(0.38, 0.32) is None
    assert k["won_amount"].delta(1_200_000, 1_000_000) == "+$200K"
    assert k["avg_cycle_days"].delta(50, 53) == "-3 days" and k["avg_cycle_days"].delta_color == "inverse"
    assert k["coverage"].format(2.44) == "2.4x" and k["velocity"].format(1234.5) == "$1.2K/day"
    assert k["attainment"].format(0.4412) == "44%" and k["attainment"].format(float("nan")) == "–"


def test_docs_define_every_kpi_from_the_registry():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "kpis.md").read_text(encoding="utf-8")
    assert doc == metrics.definitions_markdown().rstrip("\n") + "\n"
    for kpi in metrics.KPIS.values():
        assert f"`{kpi.name}`" in doc


@pytest.mark.parametrize("args", [(), ("--region", "East"), ("--team", "East Enterprise"), ("--rep", "Ann Lee"),
                                  ("--as-of", "2026-11-25"), ("--region", "West", "--as-of", "2026-11-25")])
def test_the_kpis_command_says_what_the_engine_says(acme_db, ws, capsys, args):
    doc = cli_json(capsys, "--db", acme_db, "kpis", "--period", "2027Q3", *args)
    opts = dict(zip(args[::2], args[1::2]))
    f = Filters.make(ws, "2027Q3", as_of=opts.get("--as-of"), region=opts.get("--region"), team=opts.get("--team"),
                     rep=opts.get("--rep"))
    expected = metrics.team(ws, f)
    row = doc["rows"][0]
    for name in metrics.KPIS:
        assert row[name] == pytest.approx(expected[name], nan_ok=True) if expected[name] == expected[name] \
            else row[name] is None, name
    s = overview.standing(ws, f)
    assert doc["compare"]["rows"][0]["won_amount"] == s.previous["won_amount"]
    assert doc["target"]["amount"] == s.target.amount and doc["target"]["label"] == s.target.label
    assert doc["state"] == s.state


def test_the_landing_zone_takes_the_target_of_the_rule(ws):
    res = outlook.landing_zone(ws, Filters.make(ws, "2027Q3", region=["East"], as_of=MID), n_samples=200)
    assert res["target"] == 200_000 and res["target_view"]["source"] == "region"
    assert res["closed_won"] == 50_000  # East deals 1 and 5 were won by 25 Nov
    assert res["p10"] <= res["p50"] <= res["p90"]
    with pytest.raises(InputError, match="ended before"):
        outlook.landing_zone(ws, Filters.make(ws, "2027Q2"))


def test_the_landing_zone_is_kept_by_the_facts_and_takes_todays_target(tmp_path, monkeypatch):
    """A landing zone is computed once per (facts, filters): a copy of the file, or the same
    file after a target change, reuses it, with the target of the moment; a deal change
    computes it again."""
    from salesops import forecasting, store

    calls = []
    real = forecasting.landing
    monkeypatch.setattr(forecasting, "landing", lambda *a, **k: calls.append(1) or real(*a, **k))
    db = acme.write_acme(tmp_path / "a.db")
    f = lambda w: Filters.make(w, "2027Q3", region=["East"], as_of=MID)  # noqa: E731
    first = outlook.landing_zone(workspace.load(db), f(workspace.load(db)), n_samples=200, seed=7)
    first["samples"][:] = 0  # what a caller does to its copy does not reach the kept one
    copy = tmp_path / "copy.db"
    copy.write_bytes(Path(db).read_bytes())
    again = outlook.landing_zone(workspace.load(copy), f(workspace.load(copy)), n_samples=200, seed=7)
    assert len(calls) == 1 and again["p50"] == first["p50"] and again["samples"].max() > 0
    with store.connect(db, write=True) as conn:
        conn.execute("UPDATE targets SET amount = 250000 WHERE scope = 'region' AND scope_name = 'East'")
    ws = workspace.load(db)
    moved = outlook.landing_zone(ws, f(ws), n_samples=200, seed=7)
    assert len(calls) == 1 and moved["target"] == 250_000 and moved["p50"] == first["p50"]
    with store.connect(db, write=True) as conn:
        conn.execute("UPDATE opportunities SET amount = 2 * amount WHERE status = 'won'")
    ws = workspace.load(db)
    changed = outlook.landing_zone(ws, f(ws), n_samples=200, seed=7)
    assert len(calls) == 2 and changed["closed_won"] == 2 * first["closed_won"] == 100_000
