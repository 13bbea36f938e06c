"""The user's scope in Filters and in the workspace: a manager sees their teams' deals and
targets only, a rep their own deals beside their team's totals; other teams' numbers are
absent (not hidden). Expected numbers are computed independently with pandas from Acme's rows."""
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from salesops import auth, leaderboard, metrics, overview, workspace
from salesops import schema as S
from salesops.filters import Filters
from tests.fixtures import DEALS, REPS, TARGETS, write_acme

AS_OF = date(2026, 12, 1)
Q3 = (pd.Timestamp("2026-10-01"), pd.Timestamp("2026-12-31"))
MIA = auth.User("mia@example.com", auth.MANAGER, person="Mia Ross")        # East Enterprise
MAX_LOU = auth.User("x@example.com", auth.MANAGER, teams=("East Commercial", "West Commercial"))
ANN = auth.User("ann@example.com", auth.REP, person="Ann Lee")             # East Enterprise


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return workspace.load(write_acme(tmp_path_factory.mktemp("scope") / "acme.db"))


def _expected(owners: set[str]) -> dict:
    """Won, lost and open of ``owners``' deals closing in fiscal 2027Q3 as known on 1 Dec 2026."""
    d = DEALS.assign(close=pd.to_datetime(DEALS[S.CLOSE_DATE]), created=pd.to_datetime(DEALS[S.CREATED_DATE]))
    d = d[d[S.OWNER].isin(owners) & (d["created"] <= pd.Timestamp(AS_OF))]
    inq = d["close"].between(*Q3)
    known = d["close"] <= pd.Timestamp(AS_OF)
    won = d[inq & known & (d[S.STATUS] == "won")]
    lost = d[inq & known & (d[S.STATUS] == "lost")]
    still_open = d[inq & ((d[S.STATUS] == "open") | ~known)]
    return {"won_amount": float(won[S.AMOUNT].sum()), "won_count": len(won), "lost_count": len(lost),
            "open_pipeline": float(still_open[S.AMOUNT].sum()), "open_count": len(still_open)}


def _team_of(teams) -> set[str]:
    return set(REPS.loc[REPS[S.TEAM].isin(teams), S.NAME])


def _rep_targets(owners) -> float:
    t = TARGETS[(TARGETS[S.SCOPE] == "owner") & TARGETS[S.SCOPE_NAME].isin(owners) & (TARGETS[S.PERIOD_START] == "2026-10-01")]
    return float(t[S.AMOUNT].sum())


def _filters(ws, user, **cuts):
    return Filters.make(ws, "2027Q3", AS_OF, scope=user.scope(ws.reps), **cuts)


def test_manager_sees_only_their_teams_deals_numbers_and_targets(ws):
    f = _filters(ws, MIA)
    owners = _team_of(["East Enterprise"])
    assert set(f.facts(ws)[S.OWNER].astype(str)) == owners
    assert set(f.deals(ws)[S.OPPORTUNITY_ID]) == set(DEALS.loc[DEALS[S.OWNER].isin(owners), S.OPPORTUNITY_ID])
    got = metrics.team(ws, f)
    for k, v in _expected(owners).items():
        assert got[k] == pytest.approx(v), k
    t = f.target(ws)
    assert t.own == 150_000 and t.rep_sum == _rep_targets(owners)  # the team's target, and its reps' targets
    assert f.reps(ws) == sorted(owners)
    opts = f.options(ws)
    assert opts["team"] == ["East Enterprise"] and opts["rep"] == sorted(owners)
    assert set(opts["region"]) <= {"East", "West"}


def test_manager_of_two_teams_and_a_filter_outside_the_scope(ws):
    f = _filters(ws, MAX_LOU)
    owners = _team_of(["East Commercial", "West Commercial"])
    got = metrics.team(ws, f)
    for k, v in _expected(owners).items():
        assert got[k] == pytest.approx(v), k
    outside = replace(f, team=("East Enterprise",))      # a link naming another team: nothing inside
    assert outside.facts(ws).empty and outside.deals(ws).empty and outside.reps(ws) == []
    assert metrics.team(ws, outside)["won_amount"] == 0
    narrowed = replace(f, rep=("Dan Cho", "Ann Lee"))    # a rep of another team is not added
    assert set(narrowed.facts(ws)[S.OWNER].astype(str)) == {"Dan Cho"}


def test_scoped_workspace_holds_nothing_of_other_teams(ws):
    scope = MIA.scope(ws.reps)
    sw = ws.scoped(scope)
    owners = _team_of(["East Enterprise"])
    assert set(sw.facts[S.OWNER].astype(str)) == owners
    assert set(sw.deals[S.OWNER]) == owners
    assert set(sw.reps[S.NAME]) == owners
    assert set(sw.targets[S.SCOPE_NAME]) == owners | {"East Enterprise"}  # no region or company target
    assert sw.summary["deals"] == 6
    assert ws.scoped(scope) is sw  # kept: one per scope
    board = leaderboard.leaderboard(sw, _filters(ws, MIA))  # the Reps page's domain call
    assert set(board.reps[S.OWNER]) == owners
    assert board.team["won_amount"] == _expected(owners)["won_amount"]


def test_rep_sees_own_deals_beside_team_totals(ws):
    f = _filters(ws, ANN)
    assert set(f.deals(ws)[S.OWNER]) == {"Ann Lee"}
    own = metrics.team(ws, f)
    for k, v in _expected({"Ann Lee"}).items():
        assert own[k] == pytest.approx(v), k
    assert f.target(ws).amount == _rep_targets({"Ann Lee"}) == 100_000
    totals = overview.team_totals(ws, f)
    team = _expected(_team_of(["East Enterprise"]))
    assert totals["teams"] == ("East Enterprise",) and totals["reps"] == 2
    for k, v in team.items():
        assert totals["team"][k] == pytest.approx(v), k
    assert totals["team"]["target"] == 150_000
    assert totals["share"] == pytest.approx(own["won_amount"] / team["won_amount"])
    assert set(totals) == {"teams", "reps", "team", "own", "share"}  # aggregates only, no deal rows
    assert overview.team_totals(ws, _filters(ws, MIA)) is None


def test_scope_is_part_of_the_cache_key(ws):
    a, b = _filters(ws, MIA), _filters(ws, MAX_LOU)
    assert a != b and hash(a) != hash(b) and a == _filters(ws, MIA)
    assert Filters.make(ws, "2027Q3", AS_OF) != a
