"""Territory plans: rule assignment (every account in exactly one territory, precedence,
conflicts, unassigned), plan files and their problems, the balance metrics (by hand and
against pandas on the Maven accounts and pipeline), what-if moves and quotas by potential,
saved versions with one active, and the `territories` command."""
import json

import numpy as np
import pandas as pd
import pytest

from salesops import ingest, metrics, workspace
from salesops import schema as S
from salesops import territories as T
from salesops.cli import main
from salesops.errors import InputError
from salesops.filters import Filters

BIG, MID, SMALL = "5,000+ employees", "100–999 employees", "1–99 employees"

UNI = pd.DataFrame([
    # name, account region, industry, size band
    ("Acme", "EMEA", "Software", BIG),
    ("Bolt", "EMEA", "Retail", BIG),
    ("Crux", "EMEA", "Retail", SMALL),
    ("Dyna", "APAC", "Software", MID),
    ("Echo", "APAC", "Retail", None),
    ("Flux", None, None, None),
], columns=[S.NAME, "account_region", S.INDUSTRY, "size_band"])

PLAN = {
    "name": "Test plan",
    "territories": [{"name": "Key", "rep": "Ann"}, {"name": "EMEA Big", "reps": {"Bob": 0.6, "Cat": 0.4}},
                    {"name": "EMEA", "rep": "Cat"}, {"name": "Software", "rep": "Dan"}, {"name": "House"}],
    "rules": [
        {"territory": "EMEA", "region": ["EMEA"]},                                   # 1 criterion
        {"territory": "EMEA Big", "region": ["EMEA"], "size_band": [BIG]},            # 2 criteria: beats rule 1
        {"territory": "Key", "accounts": ["Bolt"]},                                  # named: beats everything
        {"territory": "Software", "industry": ["Software"]},                         # 1 criterion
    ],
}


def territory_of(asg):
    return dict(zip(asg.accounts[S.NAME], asg.accounts["territory"]))


def test_every_account_in_exactly_one_territory_by_precedence():
    asg = T.assign(T.parse_plan(PLAN), UNI)
    assert len(asg.accounts) == len(UNI) and asg.accounts[S.NAME].is_unique
    assert territory_of(asg) == {"Acme": "EMEA Big",   # EMEA+big (2 criteria) beats Software (1)
                                 "Bolt": "Key",        # named beats EMEA+big
                                 "Crux": "EMEA", "Dyna": "Software", "Echo": None, "Flux": None}
    assert asg.unassigned == ["Echo", "Flux"]
    assert asg.conflicts.empty
    how = dict(zip(asg.accounts[S.NAME], asg.accounts["how"]))
    assert how["Bolt"] == "named account" and how["Acme"].startswith("rule 2:") and how["Echo"] == "no rule matches"


def test_a_default_territory_takes_what_no_rule_matches():
    asg = T.assign(T.parse_plan({**PLAN, "default": "House"}), UNI)
    t = territory_of(asg)
    assert t["Echo"] == "House" and t["Flux"] == "House" and asg.unassigned == []
    assert asg.accounts["territory"].notna().all()


def test_equal_rank_is_a_conflict_won_by_the_first_rule():
    plan = T.parse_plan({**PLAN, "rules": [{"territory": "EMEA", "region": ["EMEA"]},
                                           {"territory": "Software", "industry": ["Software"]},
                                           {"territory": "EMEA", "industry": ["Retail"]}]})
    asg = T.assign(plan, UNI)
    t = territory_of(asg)
    assert t["Acme"] == "EMEA"   # rule 1 (EMEA) and rule 2 (Software) both rank 1: first wins
    c = asg.conflicts.set_index("account")
    assert list(c.index) == ["Acme"]  # Bolt and Crux: rules 1 and 3 agree (same territory): no conflict
    assert c.loc["Acme", "territories"] == ["EMEA", "Software"] and c.loc["Acme", "rules"] == [1, 2]
    assert bool(asg.accounts.set_index(S.NAME).loc["Acme", "conflict"])


def test_an_explicit_priority_overrides_the_criteria_count():
    rules = [dict(r) for r in PLAN["rules"]]
    rules[3]["priority"] = 5   # Software now beats EMEA+big (rank 2), not named accounts
    t = territory_of(T.assign(T.parse_plan({**PLAN, "rules": rules}), UNI))
    assert t["Acme"] == "Software" and t["Bolt"] == "Key"


def test_two_named_rules_for_one_account_conflict():
    plan = T.parse_plan({**PLAN, "rules": [*PLAN["rules"], {"territory": "Software", "accounts": ["Bolt"]}]})
    asg = T.assign(plan, UNI)
    assert territory_of(asg)["Bolt"] == "Key" and list(asg.conflicts["account"]) == ["Bolt"]


@pytest.mark.parametrize("change, words", [
    ({"territories": [{"name": "A", "reps": {"Ann": 0.5, "Bob": 0.3}}]}, "add up to 80%"),
    ({"rules": [{"territory": "Nowhere", "region": ["EMEA"]}]}, "not one of the plan's territories"),
    ({"territories": [{"name": "A"}, {"name": "A"}]}, "listed twice"),
    ({"rules": [{"territory": "Key", "colour": ["red"]}]}, "colour is not a criterion"),
    ({"rules": [{"territory": "Key", "priority": "high"}]}, "whole number"),
    ({"default": "Mars"}, "default territory 'Mars'"),
])
def test_plan_problems_are_named(change, words):
    with pytest.raises(InputError) as e:
        T.parse_plan({**PLAN, **change})
    assert words in str(e.value) or any(words in p.problem for p in e.value.problems)


def test_edited_tables_with_problems_name_the_row():
    t, r = T.plan_tables(T.parse_plan(PLAN))
    r.loc[len(r)] = {"territory": "Atlantis", "region": "EMEA", "industry": "", "size_band": "", "accounts": "", "priority": None}
    t.loc[1, "reps"] = "Bob 60%; Cat 30%"
    with pytest.raises(InputError) as e:
        T.plan_from_tables("Edited", t, r)
    problems = {(p.row, p.problem) for p in e.value.problems}
    assert (5, "rule 5: territory 'Atlantis' is not one of the plan's territories") in problems
    assert (2, "territory 'EMEA Big': the reps' shares add up to 90%, not 100%") in problems
    blank = pd.concat([r.iloc[:4], pd.DataFrame([{c: None for c in r.columns}])], ignore_index=True)
    assert T.plan_from_tables("Edited", T.plan_tables(T.parse_plan(PLAN))[0], blank).rules == T.parse_plan(PLAN).rules


def test_plan_text_round_trip_and_reps_text():
    plan = T.parse_plan(PLAN)
    assert T.parse_plan(json.dumps(plan.as_doc())) == plan
    t, r = T.plan_tables(plan)
    assert T.plan_from_tables(plan.name, t, r) == plan
    assert T.parse_reps("Ann Lee 60%; Bob Park 40%") == {"Ann Lee": 0.6, "Bob Park": 0.4}
    assert T.parse_reps("Ann, Bob") == {"Ann": 0.5, "Bob": 0.5}
    with pytest.raises(InputError, match="not valid JSON"):
        T.parse_plan("{nope")


# --- balance metrics ---------------------------------------------------------------------------------
def test_gini_and_cv_by_hand():
    assert T.gini([1, 2, 3, 4]) == pytest.approx(20 / (2 * 16 * 2.5))  # sum |xi - xj| / (2 n^2 mean)
    assert T.gini([5, 5, 5]) == pytest.approx(0) and T.gini([0, 0, 0, 1]) == pytest.approx(0.75)
    assert T.cv([1, 2, 3, 4]) == pytest.approx(np.sqrt(1.25) / 2.5)
    assert np.isnan(T.gini([0, 0])) and np.isnan(T.cv([]))


def book():
    b = UNI.copy()
    b["potential"] = [100.0, 50.0, 10.0, 40.0, 5.0, 1.0]
    b["open_pipeline"] = [20.0, 0.0, 5.0, 8.0, 0.0, 0.0]
    b["bookings_12m"] = [70.0, 30.0, 0.0, 25.0, 2.0, 0.0]
    b["open_deals"] = [2, 0, 1, 1, 0, 0]
    return b


def test_balance_by_hand_with_shared_territories():
    b = T.balance(T.parse_plan({**PLAN, "default": "House"}), book())
    reps = b.reps.set_index("rep")
    # Acme (100) is in EMEA Big, shared Bob 60% / Cat 40%; Crux (10) in EMEA (Cat); Bolt (50) Key (Ann); Dyna (40) Dan
    assert reps.loc["Bob", "potential"] == pytest.approx(60) and reps.loc["Cat", "potential"] == pytest.approx(40 + 10)
    assert reps.loc["Ann", "potential"] == 50 and reps.loc["Dan", "potential"] == 40
    assert reps.loc["Cat", "accounts"] == pytest.approx(0.4 + 1) and reps.loc["Cat", "open_deals"] == pytest.approx(0.8 + 1)
    v = np.array([50, 60, 50, 40.0])  # Ann, Bob, Cat, Dan
    pot = b.spread.loc["potential"]
    assert pot["cv"] == pytest.approx(v.std() / v.mean()) and pot["gini"] == pytest.approx(T.gini(v))
    assert (pot["most_loaded"], pot["most"], pot["least_loaded"], pot["least"]) == ("Bob", 60, "Dan", 40)
    assert pot["total"] == pytest.approx(200)  # House (Echo 5, Flux 1) has no rep: not in any book
    unowned = b.unowned.set_index("group")
    assert unowned.loc["House", "accounts"] == 2 and unowned.loc["House", "potential"] == 6


def test_moves_before_after_and_quotas_by_potential():
    plan = T.parse_plan({**PLAN, "default": "House"})
    before = T.balance(plan, book())
    moved_plan = T.move_accounts(plan, {"Acme": "Dan", "Bolt": "Bob"})
    # Dan owns "Software" alone: Acme goes there; Bob owns no territory alone: a new one; Bolt leaves the named rule
    assert moved_plan.territory("Bob (named accounts)").reps == (("Bob", 1.0),)
    assert all("Bolt" not in r.accounts for r in moved_plan.rules if r.territory == "Key")
    after = T.balance(moved_plan, book())
    t = dict(zip(after.accounts[S.NAME], after.accounts["territory"]))
    assert t["Acme"] == "Software" and t["Bolt"] == "Bob (named accounts)" and t["Crux"] == "EMEA"
    w = T.compare(before, after, quota_total=1000.0)
    m = w.moved.set_index(S.NAME)
    assert set(m.index) == {"Acme", "Bolt"}
    assert m.loc["Acme", "from_reps"] == "Bob, Cat" and m.loc["Acme", "to_reps"] == "Dan"
    assert m.loc["Acme", "bookings_12m"] == 70 and m.loc["Acme", "open_pipeline"] == 20 and m.loc["Acme", "potential"] == 100
    r = w.reps.set_index("rep")
    assert r.loc["Dan", "potential_before"] == 40 and r.loc["Dan", "potential_after"] == 140
    assert r.loc["Ann", "potential_after"] == 0 and r.loc["Bob", "potential_after"] == pytest.approx(50)
    assert r["quota_after"].sum() == pytest.approx(1000) and r.loc["Dan", "quota_after"] == pytest.approx(1000 * 140 / 200)
    assert r.loc["Dan", "quota_before"] == pytest.approx(1000 * 40 / 200)


# --- the account numbers on a workspace ----------------------------------------------------------------
def test_account_book_by_hand():
    deals = pd.DataFrame([
        ("1", "A", "won", 300.0, "2023-06-01", "2023-06-30"),   # outside the 3 years to 2026-06-30
        ("2", "A", "won", 1200.0, "2025-01-01", "2025-03-01"),  # in 3 years, not in 12 months
        ("3", "A", "won", 600.0, "2025-08-01", "2025-09-01"),   # in 12 months
        ("4", "A", "lost", 100.0, "2025-10-01", "2025-11-01"),
        ("5", "A", "open", 900.0, "2026-05-01", "2026-09-30"),  # open on the as-of date
        ("6", "B", "won", 50.0, "2026-02-01", "2026-07-15"),    # closes after the as-of: open then
    ], columns=[S.OPPORTUNITY_ID, S.ACCOUNT, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE])
    deals[S.OWNER] = ["Ann", "Ann", "Bob", "Bob", "Bob", "Ann"]
    accounts = pd.DataFrame({S.NAME: ["A", "B", "C"], "employees": [200, 300, 50]})
    ws = workspace.from_frames(deals, accounts=accounts, as_of=pd.Timestamp("2026-06-30").date())
    b = T.account_book(ws).set_index(S.NAME)
    a = b.loc["A"]
    assert (a.bookings_12m, a.bookings_3y, a.closed_3y, a.open_pipeline, a.open_deals) == (600, 1800, 3, 900, 1)
    assert a.current_owner == "Bob" and a.first_deal == pd.Timestamp("2023-06-01")
    assert b.loc["B", "open_pipeline"] == 50 and b.loc["B", "bookings_12m"] == 0 and b.loc["C", "deals_to_date"] == 0
    # potential: the yearly bookings of the 3 years 2023-07-01 .. 2026-06-30
    years = ((pd.Timestamp("2026-06-30") - pd.Timestamp("2023-07-01")).days + 1) / 365.25
    yearly_a, yearly_b = 1800 / years, 0.0
    band_avg = (yearly_a + yearly_b) / 2          # A and B are both 100–999 employees
    w = 3 / (3 + T.HISTORY_WEIGHT_DEALS)
    assert a.potential == pytest.approx(w * yearly_a + (1 - w) * band_avg)
    assert b.loc["B", "potential"] == pytest.approx(band_avg)           # no closed deal: its band's average
    assert b.loc["C", "potential"] == pytest.approx(0)                  # the only 1–99 account, no history


# --- Maven: against pandas ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def maven(tmp_path_factory):
    from tests.conftest import DATASETS

    folder = DATASETS / "maven_crm"
    if not folder.is_dir():
        pytest.skip(f"the shared datasets folder {folder} is not here")
    db = tmp_path_factory.mktemp("maven_t") / "maven.db"
    ingest.run_import(db, (folder / "sales_pipeline.csv").read_bytes(), "sales_pipeline.csv")
    ingest.run_reference_import(db, (folder / "sales_teams.csv").read_bytes(), "sales_teams.csv", "roster")
    ingest.run_reference_import(db, (folder / "accounts.csv").read_bytes(), "accounts.csv", "accounts")
    return db, folder


MAVEN_PLAN = {"name": "Maven sectors",
              "territories": [{"name": "Retail", "rep": "Darcel Schlecht"}, {"name": "Tech", "reps": {"Moses Frase": 0.5, "Anna Snelling": 0.5}},
                              {"name": "Abroad", "rep": "Vicki Laflamme"}, {"name": "Rest", "rep": "Versie Hillebrand"}],
              "rules": [{"territory": "Retail", "industry": ["retail"]},
                        {"territory": "Tech", "industry": ["technolgy", "software"]},
                        {"territory": "Abroad", "region": ["Kenya", "Japan", "Italy", "Philipines", "Norway", "Germany",
                                                           "Korea", "Jordan", "Panama", "Brazil", "China", "Belgium", "Poland"],
                         "priority": 5}],
              "default": "Rest"}


def test_maven_balance_equals_pandas(maven, tmp_path, capsys):
    db, folder = maven
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(MAVEN_PLAN))
    assert main(["--db", str(db), "territories", "--plan", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    acc = pd.read_csv(folder / "accounts.csv")
    pipe = pd.read_csv(folder / "sales_pipeline.csv")
    pipe["close_date"] = pd.to_datetime(pipe["close_date"])
    as_of = pd.Timestamp(doc["as_of"])
    abroad = set(MAVEN_PLAN["rules"][2]["region"])
    terr = np.where(acc["office_location"].isin(abroad), "Abroad",
                    np.where(acc["sector"] == "retail", "Retail",
                             np.where(acc["sector"].isin(["technolgy", "software"]), "Tech", "Rest")))
    acc["territory"] = terr
    got = {a["account"]: a["territory"] for a in doc["assignment"]}
    assert got == dict(zip(acc["account"], acc["territory"]))  # 85 accounts, each exactly once
    won12 = pipe[(pipe["deal_stage"] == "Won") & (pipe["close_date"] > as_of - pd.DateOffset(years=1)) & (pipe["close_date"] <= as_of)]
    open_ = pipe[pipe["deal_stage"].isin(["Engaging", "Prospecting"])]
    per = acc.set_index("account")
    exp = pd.DataFrame({"accounts": per.groupby("territory").size(),
                        "bookings_12m": won12.groupby(won12["account"].map(per["territory"]))["close_value"].sum(),
                        "open_deals": open_.groupby(open_["account"].map(per["territory"])).size()}).fillna(0)
    t = {r["territory"]: r for r in doc["territories"]}
    for name, e in exp.iterrows():
        assert t[name]["accounts"] == e["accounts"] and t[name]["bookings_12m"] == pytest.approx(e["bookings_12m"])
        assert t[name]["open_deals"] == e["open_deals"]
    reps = {r["rep"]: r for r in doc["reps"]}
    assert reps["Moses Frase"]["bookings_12m"] == pytest.approx(exp.loc["Tech", "bookings_12m"] / 2)
    v = np.array([r["bookings_12m"] for r in doc["reps"]])
    assert doc["balance"]["bookings_12m"]["cv"] == pytest.approx(v.std() / v.mean())
    assert doc["balance"]["bookings_12m"]["gini"] == pytest.approx(T.gini(v))
    assert doc["conflicts"] == [] and doc["unassigned"] == []


def test_maven_what_if_move(maven, tmp_path, capsys):
    db, _ = maven
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(MAVEN_PLAN))
    assert main(["--db", str(db), "territories", "--plan", str(path), "--move", "Betasoloin=Darcel Schlecht", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    moved = {m["name"]: m for m in doc["moved"]}
    assert list(moved) == ["Betasoloin"] and moved["Betasoloin"]["to_reps"] == "Darcel Schlecht"
    before = {r["rep"]: r for r in doc["reps"]}
    after = {r["rep"]: r for r in doc["after"]["reps"]}
    gain = after["Darcel Schlecht"]["bookings_12m"] - before["Darcel Schlecht"]["bookings_12m"]
    assert gain == pytest.approx(moved["Betasoloin"]["bookings_12m"])
    # errors name the value at fault and write nothing
    for args, words in ((["--move", "Nowhere Inc=Darcel Schlecht"], "'Nowhere Inc' is not an account"),
                        (["--move", "Betasoloin=Nobody"], "'Nobody' is not a rep"), (["--move", "Betasoloin"], "write ACCOUNT=REP")):
        assert main(["--db", str(db), "territories", "--plan", str(path), *args]) == 2
        assert words in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"territories": [{"name": "A", "reps": {"X": 0.5}}]}')
    assert main(["--db", str(db), "territories", "--plan", str(bad)]) == 2
    assert "add up to 50%" in capsys.readouterr().err
    assert main(["--db", str(db), "territories"]) == 2
    assert "no active territory plan" in capsys.readouterr().err


# --- saved plans, the active plan as a filter ------------------------------------------------------------
def test_saved_versions_and_the_active_plan_filter(demo_db, capsys, tmp_path):
    ws = workspace.load(demo_db)
    plan = T.active_plan(ws)
    assert ws.active_plan_ref["name"] == plan.name
    v1 = T.saved_plans(ws)
    start = int(v1["version"].max())
    acct = "Acme Group"
    rep = "Ben Hansen"
    moved = T.move_accounts(plan, {acct: rep})
    version = T.save_plan(demo_db, moved, activate=True)
    assert version == start + 1
    ws2 = workspace.load(demo_db)
    saved = T.saved_plans(ws2).set_index("version")
    assert saved.loc[version, "active"] and not saved.loc[start, "active"]
    assert "1 named account(s) moved: Acme Group -> North America Enterprise 1" in saved.loc[version, "changes"]
    assert saved.loc[version, "saved_by"]
    # the territory filter follows the active plan: Acme Group's deals are in Ben's territory now
    terr = "North America Enterprise 1"
    f = Filters.make(ws2, period="2026", territory=[terr])
    deals = f.deals(ws2)
    assert acct in set(deals[S.ACCOUNT])
    book = T.account_book(ws2)
    mine = set(book.loc[book["territory"] == terr, S.NAME])
    assert set(deals[S.ACCOUNT]) == mine & set(ws2.deals[S.ACCOUNT])
    k = metrics.team(ws2, f)
    full = ws2.deals[ws2.deals[S.ACCOUNT].isin(mine)]
    won = full[(full[S.STATUS] == S.WON) & (full[S.CLOSE_DATE] >= "2026-01-01") & (full[S.CLOSE_DATE] <= "2026-11-20")]
    assert k["won_amount"] == pytest.approx(won[S.AMOUNT].sum())
    assert k["target_source"] == "none"  # a territory cut holds no reps by the roster: no target (docs/territories.md)
    # back to the first version, then no active plan
    T.set_active(demo_db, plan.name, start)
    assert workspace.load(demo_db).active_plan_ref["version"] == start
    T.set_active(demo_db, None)
    ws3 = workspace.load(demo_db)
    assert ws3.active_plan_doc is None and ws3.facts["territory"].isna().all()
    with pytest.raises(InputError, match="no saved territory plan"):
        T.set_active(demo_db, "Nope")


def test_territories_command_saves_and_activates(demo_db, tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"name": "Two", "territories": [{"name": "West", "rep": "Ben Hansen"}, {"name": "Rest", "rep": "Olga Chen"}],
                                "rules": [{"territory": "West", "region": ["North America"]}], "default": "Rest"}))
    assert main(["--db", str(demo_db), "territories", "--plan", str(path), "--save", "--activate", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["saved_version"] == 1
    ws = workspace.load(demo_db)
    assert ws.active_plan_ref == {"name": "Two", "version": 1}
    assert set(ws.values("territory")) == {"West", "Rest"}
    assert main(["--db", str(demo_db), "kpis", "--territory", "West", "--period", "2026", "--json"]) == 0
    k = json.loads(capsys.readouterr().out)["rows"][0]
    na = ws.account_universe()
    west = set(na.loc[na["account_region"] == "North America", S.NAME])
    d = ws.deals
    won = d[d[S.ACCOUNT].isin(west) & (d[S.STATUS] == S.WON) & (d[S.CLOSE_DATE] >= "2026-01-01")]
    assert k["won_amount"] == pytest.approx(won[S.AMOUNT].sum())
    assert main(["--db", str(demo_db), "territories", "--plan", str(path), "--activate"]) == 2
    assert "--activate needs --save" in capsys.readouterr().err
