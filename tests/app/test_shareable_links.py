"""The page, period, as-of date and filters live in the URL: a link opens the same view, an
invalid parameter falls back to the default with a note (never an exception)."""
from streamlit.testing.v1 import AppTest

from salesops import formats, metrics, workspace
from salesops.filters import Filters

from .conftest import APP, no_exceptions


def app(db, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("SALESOPS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


def test_a_link_opens_the_same_view(demo_db, monkeypatch):
    at = app(demo_db, monkeypatch, period="2026Q3", as_of="2026-08-15", region="EMEA")
    no_exceptions(at)
    assert at.title[0].value == "Overview · 2026Q3"
    ws = workspace.load(demo_db)
    k = metrics.team(ws, Filters.make(ws, "2026Q3", as_of="2026-08-15", region=["EMEA"]))
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Bookings"] == formats.money(k["won_amount"])
    assert at.sidebar.multiselect(key="region").value == ["EMEA"]
    # the view set by hand shows the same tiles
    by_hand = app(demo_db, monkeypatch)
    by_hand.sidebar.date_input(key="as_of").set_value("2026-08-15")
    by_hand.sidebar.selectbox(key="period").set_value("2026Q3")
    by_hand.sidebar.multiselect(key="region").set_value(["EMEA"])
    by_hand.run()
    assert {m.label: (m.value, m.delta) for m in by_hand.metric} == {m.label: (m.value, m.delta) for m in at.metric}
    # (that the URL follows the sidebar is the browser's work: tests/browser checks it)


def test_invalid_parameters_fall_back_with_a_note(demo_db, monkeypatch):
    at = app(demo_db, monkeypatch, period="2099Q9", as_of="yesterday", region="Mars")
    no_exceptions(at)
    notes = " ".join(w.value for w in at.sidebar.warning)
    assert "2099Q9" in notes and "yesterday" in notes and "Mars" in notes
    assert at.title[0].value == "Overview · 2026Q4"  # the current quarter of the data
    assert at.sidebar.multiselect(key="region").value == []
