"""One number everywhere: the Overview's tiles equal what `kpis --json` prints for the same
period, as-of date, filters and targets, over the matrix of the issue:

(closed, running, future quarter) x (as-of = end of data, as-of inside the quarter) x
(no filter, region, team, rep) x (rep targets only, team targets only, a company target).

AppTest reads the tiles; the CLI gives the truth, formatted by the KPI registry. Acme
(tests/fixtures.py) keeps each rerun fast: its fiscal year starts in April, so the quarters
are fiscal 2027Q2 (Jul-Sep 2026, closed), 2027Q3 (Oct-Dec, running on 1 Dec) and 2027Q4
(Jan-Mar 2027, not started)."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from salesops import formats, metrics
from salesops.cli import main
from tests import fixtures as acme

from .conftest import APP, no_exceptions

QUARTERS = {"closed": ("2027Q2", "2026-08-15"), "running": ("2027Q3", "2026-11-25"), "future": ("2027Q4", "2027-02-01")}
FILTERS = {"none": {}, "region": {"region": ["West"]}, "team": {"team": ["East Enterprise"]}, "rep": {"rep": ["Ann Lee"]}}
KPI = metrics.KPIS


def cli(capsys, db, period, as_of, fields):
    args = ["--db", db, "kpis", "--period", period, "--as-of", as_of, "--json"]
    for name, values in fields.items():
        for v in values:
            args += [f"--{name}", v]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def tiles(at):
    return {m.label: (m.value, m.delta or None) for m in at.metric}


def expected_tiles(doc) -> dict[str, tuple]:
    """What the Overview must show, from the CLI document."""
    cur, prev, t = doc["rows"][0], doc["compare"]["rows"][0], doc["target"]
    out = {"Target": formats.money(t["amount"])}
    if doc["state"] == "future":
        out["Open pipeline"] = KPI["open_pipeline"].format(cur["open_pipeline"])
        out["Pipeline coverage"] = KPI["coverage"].format(cur["coverage"])
        return out
    for name in ("won_amount", "win_rate", "avg_deal_size", "avg_cycle_days", "pipeline_created_amount", "velocity"):
        out[KPI[name].label] = (KPI[name].format(cur[name]), KPI[name].delta(cur[name], prev[name]))
    for name in ("open_pipeline", "weighted_pipeline", "coverage"):
        out[KPI[name].label] = KPI[name].format(cur[name])
    if doc["state"] == "closed":
        out["Attainment"] = (KPI["attainment"].format(cur["attainment"]), KPI["attainment"].delta(cur["attainment"], prev["attainment"]))
        out["Deals won"] = (KPI["won_count"].format(cur["won_count"]), KPI["won_count"].delta(cur["won_count"], prev["won_count"]))
    elif doc["pace"]["needed_per_day"] is not None:
        out["Needed per day to hit target"] = formats.money(doc["pace"]["needed_per_day"])
        out["Against an even pace to target"] = formats.money(abs(doc["pace"]["gap"]))
    return out


@pytest.mark.parametrize("targets", ["reps", "teams", "all"])
def test_overview_tiles_equal_the_cli_over_the_matrix(tmp_path, monkeypatch, capsys, targets):
    db = acme.write_acme(tmp_path / f"acme_{targets}.db", targets=acme.target_variant(targets))
    monkeypatch.setenv("SALESOPS_DB", db)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    no_exceptions(at)
    checked = 0
    for state, (period, inside) in QUARTERS.items():
        for as_of in (acme.DATA_AS_OF, inside):
            for fname, fields in FILTERS.items():
                at.sidebar.date_input(key="as_of").set_value(as_of)
                at.sidebar.selectbox(key="period").set_value(period)
                for name in ("region", "team", "rep"):
                    at.sidebar.multiselect(key=name).set_value(fields.get(name, []))
                at.run()
                no_exceptions(at)
                doc = cli(capsys, db, period, as_of, fields)
                got = tiles(at)
                where = (targets, state, as_of, fname)
                for label, want in expected_tiles(doc).items():
                    assert label in got, (where, label, sorted(got))
                    value, delta = got[label]
                    if isinstance(want, tuple):
                        assert (value, delta) == want, (where, label)
                    else:
                        assert value == want, (where, label)
                checked += 1
    assert checked == 24
