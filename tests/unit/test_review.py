"""The review's slides read the semantic layer: the numbers on a slide are those of the pages'
functions (and of `kpis --json`), checked against pandas over the deal rows."""
import json

import pandas as pd
import pytest

from salesops import metrics, overview, review, workspace
from salesops.cli import main
from salesops.filters import Filters

K = metrics.KPIS


@pytest.fixture(scope="module")
def ws(_demo_template):
    return workspace.load(_demo_template)


def won_in(d, start, end, **cuts):
    m = (d["status"] == "won") & d["close_date"].between(start, end)
    for col, v in cuts.items():
        m &= d[col] == v
    return d.loc[m, "amount"]


def test_bookings_slide_equals_kpis_and_pandas(ws, _demo_template, capsys):
    f = Filters.make(ws, "2026Q3")
    s = review.slide(ws, f, "bookings")
    assert main(["--db", str(_demo_template), "kpis", "--period", "2026Q3", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert s.figures["won_amount"] == pytest.approx(row["won_amount"])
    assert s.figures["won_amount"] == pytest.approx(won_in(ws.deals, "2026-07-01", "2026-09-30").sum())
    assert s.figures["attainment"] == pytest.approx(row["attainment"])
    tiles = {t.label: t for t in s.tiles}
    assert tiles["Bookings"].value == K["won_amount"].format(row["won_amount"], "USD", compact=False)
    assert tiles["Attainment"].value == K["attainment"].format(row["attainment"])
    assert K["won_amount"].format(row["won_amount"]) in s.sentence
    assert K["won_amount"].definition in s.notes and K["attainment"].definition in s.notes  # the definitions
    assert {"Bookings", "Target", "Attainment"} <= {label for label, _ in s.columns.values()}


def test_the_headline_names_the_region_that_carried_the_quarter(ws):
    f = Filters.make(ws, "2026Q3")
    d = ws.deals
    by_region = d[(d["status"] == "won") & d["close_date"].between("2026-07-01", "2026-09-30")].groupby("region")["amount"].sum()
    top = by_region.idxmax()
    last_year = won_in(d, "2025-07-01", "2025-09-30").sum()
    now = won_in(d, "2026-07-01", "2026-09-30").sum()
    sentence = review.headline(ws, f)
    assert sentence.startswith(f"Bookings {K['won_amount'].format(now)}")
    assert f"{'up' if now >= last_year else 'down'} {abs(now / last_year - 1):.0%} on last year" in sentence
    assert f"{top} carried the quarter" in sentence
    story = review.slide(ws, f, "story")
    got = {r["group"]: r["won_amount"] for r in story.figures["rows"]}
    assert got == pytest.approx(by_region.to_dict())


def test_a_running_quarter_speaks_of_to_date_and_a_future_one_of_not_started(ws):
    running = review.headline(ws, Filters.make(ws, "2026Q4"))
    assert "to 20 Nov" in running and "the same point last year" in running and "so far" in running
    future = review.slide(ws, Filters.make(ws, "2027Q1"), "bookings")
    assert "has not started" in future.sentence
    assert review.slide(ws, Filters.make(ws, "2027Q1"), "forecast").table is None


def test_wins_slide_and_movers_follow_the_comparison_of_the_overview(ws):
    f = Filters.make(ws, "2026Q3", region=["EMEA"])
    s = review.slide(ws, f, "wins")
    cur = metrics.team(ws, f)
    d = ws.deals
    q = d[d["close_date"].between("2026-07-01", "2026-09-30") & (d["region"] == "EMEA")]
    assert s.figures["won_count"] == cur["won_count"] == int((q["status"] == "won").sum())
    assert s.figures["lost_count"] == int((q["status"] == "lost").sum())
    assert f"{cur['won_count']:,} deals won and {cur['lost_count']:,} lost" in s.sentence
    movers = review.rep_movers(ws, f)
    st = overview.standing(ws, f)
    prev = metrics.kpis(ws, f, "owner", period=st.compare, as_of=st.compare_as_of).set_index("group")["won_amount"]
    top = movers.iloc[0]
    assert top["change"] == pytest.approx(top["won_amount"] - prev.get(top["owner"], 0.0))
    assert top["won_amount"] == pytest.approx(won_in(q, "2026-07-01", "2026-09-30", owner=top["owner"]).sum())


def test_next_period_slide_uses_the_target_rule_and_the_landing_zone(ws):
    f = Filters.make(ws, "2026Q3")
    s = review.slide(ws, f, "next")
    nxt = ws.settings.calendar.parse("2026Q4")
    assert s.figures["period"] == "2026Q4"
    assert s.figures["target"] == pytest.approx(f.with_period(nxt).target(ws).amount)
    assert s.figures["open_pipeline"] == pytest.approx(metrics.team(ws, f.with_period(nxt))["open_pipeline"])
    lz = s.figures["landing"]
    assert lz["p10"] <= lz["p50"] <= lz["p90"]
    assert K["won_amount"].format(lz["p50"]) in s.sentence
    goals = s.table.set_index("group")["target"]
    assert goals.sum() == pytest.approx(f.with_period(nxt).target(ws).rep_sum)


def test_an_unknown_slide_is_refused_and_an_empty_workspace_has_no_review(ws, empty_db):
    from salesops.errors import InputError

    with pytest.raises(InputError, match="no slide"):
        review.slide(ws, Filters.make(ws, "2026Q3"), "nope")
    empty = workspace.load(empty_db)
    with pytest.raises(InputError, match="no deals"):
        review.build(empty, Filters.make(empty))
