"""One number everywhere, for Team and Reps: every tile, the pacing, the roll-up and every
leaderboard row equal what `kpis --json` prints (cli.core.kpis_doc, the document the command
prints) for the same period, as-of date and filters.

* Acme (tests/fixtures.py) for each kind of target a company sets (rep targets only, team
  targets only, a company target only): a closed, a running and a not-started quarter, each
  seen at the end of the data and from inside the quarter, with the filters (none, a region,
  a team, a rep) spread over those six so that each kind of target meets each filter.
* The hand-made company (tests/company.py): rep, team, region and company targets at once, a
  deal in another region than its rep, an as-of date inside the quarter.

Both pages are checked in one AppTest session per workspace (switching pages keeps each rerun
small)."""
import pytest

from salesops import workspace
from tests import company
from tests import fixtures as acme

from .pagecheck import check_clean, held_open, truth
from .test_reps_page import assert_reps_match_cli
from .test_team_page import (_company_template, assert_rollup_matches_cli, assert_team_matches_cli,  # noqa: F401
                             company_db, sidebar)

QUARTERS = [("2027Q2", "2026-08-15"), ("2027Q3", "2026-11-25"), ("2027Q4", "2027-02-01")]
FILTERS = [{}, {"region": ["West"]}, {"team": ["East Enterprise"]}, {"rep": ["Ann Lee"]}]


def check_both_pages(at, ws, period, as_of, fields, case, rollup=False):
    """Set the sidebar on the page shown, check it, switch to the other page and check that:
    the session ends on the other page, so the next case starts there."""
    sidebar(at, as_of=as_of, period=period, region=fields.get("region"), team=fields.get("team"), rep=fields.get("rep"))
    doc = truth(ws, period, as_of, fields)
    pages = ["views/team.py", "views/reps.py"]
    if at.title[0].value.startswith("Reps"):
        pages.reverse()
    try:
        for i, page in enumerate(pages):
            if i:
                at.switch_page(page).run()
            check_clean(at)
            if page == "views/team.py":
                assert_team_matches_cli(at, doc)
                if rollup:
                    assert_rollup_matches_cli(at, truth(ws, period, as_of, fields, "team"))
            else:
                assert_reps_match_cli(at, truth(ws, period, as_of, fields, "owner"), doc)
    except AssertionError as exc:
        raise AssertionError(f"{case} on {page}: {exc}") from exc


@pytest.mark.parametrize("shift,targets", [(0, "reps"), (1, "teams"), (2, "all")])
def test_team_and_reps_equal_the_cli_on_acme(app_at, tmp_path, shift, targets):
    db = acme.write_acme(tmp_path / f"acme_{targets}.db", targets=acme.target_variant(targets))
    with held_open(db):
        ws = workspace.load(db)
        at = app_at("views/team.py", db)
        i = shift
        for period, inside in QUARTERS:
            for as_of in (acme.DATA_AS_OF, inside):
                fields = FILTERS[i % len(FILTERS)]
                i += 1
                check_both_pages(at, ws, period, as_of, fields, (targets, period, as_of, fields))


def test_team_and_reps_equal_the_cli_on_the_company(app_at, company_db):
    ws = workspace.load(company_db)
    at = app_at("views/team.py", company_db)
    for period, as_of, fields in [("2027Q3", company.AS_OF, {"region": ["East"]}),
                                  ("2027Q3", company.AS_OF, {"rep": ["Dee Fox"]}),
                                  ("2027Q3", "2026-10-20", {"region": ["West"]}),
                                  ("2027Q2", "2026-10-20", {}),
                                  ("2027Q4", company.AS_OF, {})]:
        check_both_pages(at, ws, period, as_of, fields, (period, as_of, fields), rollup=True)
