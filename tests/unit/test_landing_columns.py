"""The landing zone reads a few columns of every deal row (workspace.OUTCOME_COLUMNS), never
every full row, and lands exactly where the full rows land: on the demo (snapshots and stage
history) and on the hand-made company (fiscal year from April, a deal tagged to another region
than its rep's), unfiltered and by region, team and rep, from the end of the data and from
inside the quarter, and in a manager's scope."""
import numpy as np
import pandas as pd
import pytest

from salesops import outlook, workspace
from salesops import schema as S
from salesops.auth import MANAGER, Scope
from salesops.filters import Filters
from salesops.forecasting import landing
from salesops.memo import Kept
from tests import company

DRAWS = 500


def _from_full_rows(ws, f):
    """The landing zone as outlook.landing_zone computed it from full rows: the slice's full
    deal rows, and the snapshot and stage-history rows of those deals (a deal no longer in the
    workspace following its owner)."""
    deals, every = f.deals(ws), ws.deals

    def restrict(frame):
        if not f.filtered or frame.empty:
            return frame
        keep = frame[S.OPPORTUNITY_ID].isin(deals[S.OPPORTUNITY_ID])
        if S.OWNER in frame.columns:
            gone = ~frame[S.OPPORTUNITY_ID].isin(every[S.OPPORTUNITY_ID])
            keep |= gone & frame[S.OWNER].isin(deals[S.OWNER].dropna().unique())
        return frame[keep]

    return landing(deals, restrict(ws.snapshots()), f.period, f.as_of, calendar=ws.settings.calendar,
                   n_samples=DRAWS, seed=0, stage_history=restrict(ws.stage_history()))


def _assert_same(got, want):
    for key in ("closed_won", "open_expected", "new_expected", "p10", "p50", "p90", "pipeline_view",
                "time_series_view", "pipeline_weight", "kappa", "rule", "notes"):
        assert got[key] == want[key], key
    assert np.array_equal(got["samples"], want["samples"])
    pd.testing.assert_frame_equal(got["open_deals"].reset_index(drop=True), want["open_deals"].reset_index(drop=True))


@pytest.fixture
def own_cache(monkeypatch):
    """A landing-zone cache of the test's own: every landing zone below is computed here."""
    monkeypatch.setattr(outlook, "_LANDINGS", Kept(64))


def _cases(ws, period, as_ofs, region, team, rep):
    for as_of in as_ofs:
        for fields in ({}, {"region": [region]}, {"team": [team]}, {"rep": [rep]}):
            yield Filters.make(ws, period, as_of, **fields)


def test_demo_lands_where_its_full_rows_land(demo_db, own_cache):
    ws = workspace.load(demo_db)
    assert not ws.snapshots().empty and not ws.stage_history().empty
    team = ws.values(S.TEAM)[0]
    rep = str(ws.reps.loc[ws.reps[S.TEAM] == team, S.NAME].iloc[0])
    cases = list(_cases(ws, "2026Q4", ("2026-11-20",), ws.values(S.REGION)[0], team, rep))
    cases += [Filters.make(ws, "2026Q4", "2026-10-25"), Filters.make(ws, "2026Q4", "2026-10-25", team=[team])]
    got = [outlook.landing_zone(ws, f, n_samples=DRAWS) for f in cases]
    assert ws._deals is None  # six landing zones and not one full deal row read
    for f, res in zip(cases, got):
        _assert_same(res, _from_full_rows(ws, f))
    assert len({res["p50"] for res in got}) == len(got)  # the slices differ


def test_company_lands_where_its_full_rows_land_also_in_a_managers_scope(tmp_path, own_cache):
    ws = workspace.load(company.write(tmp_path / "company.db"))
    for f in _cases(ws, "2027Q3", (company.AS_OF, "2026-10-20"), "East", "East Enterprise", "Dee Fox"):
        _assert_same(outlook.landing_zone(ws, f, n_samples=DRAWS), _from_full_rows(ws, f))
    scope = Scope(MANAGER, teams=("West Commercial",))
    sw = ws.scoped(scope)
    for fields in ({}, {"region": ["East"]}):  # Dee's deal tagged East is inside the West team's scope
        f = Filters.make(sw, "2027Q3", company.AS_OF, scope=scope, **fields)
        res = outlook.landing_zone(sw, f, n_samples=DRAWS)
        assert set(res["open_deals"]["owner"]) <= {"Dee Fox", "Eve Moss", "Fay Cole"}
        _assert_same(res, _from_full_rows(sw, f))


def test_the_outcome_columns_are_the_full_rows_columns(demo_db):
    """deal_columns gives what deals has, column for column, value for value (read alone, or
    taken from the full rows once they are loaded)."""
    read = workspace.load(demo_db).deal_columns()
    ws = workspace.load(demo_db)
    full = ws.deals[list(workspace.OUTCOME_COLUMNS)]
    pd.testing.assert_frame_equal(read, full)
    pd.testing.assert_frame_equal(ws.deal_columns(), full)
