"""Customer segments: the size bands, the fields deals take from their accounts, the segment
KPIs with shrinkage (by hand on a tiny company, and against pandas on the Maven CRM data),
parity with `kpis` under the new filters, the profile and white space, extra columns, and
the `segments` command."""
import json

import numpy as np
import pandas as pd
import pytest

from salesops import accounts as A
from salesops import ingest, metrics, segments, workspace
from salesops import schema as S
from salesops.cli import main
from salesops.errors import InputError
from salesops.filters import Filters

ACCOUNTS = pd.DataFrame([
    ("A1", "Retail", 50, 4e6, "East"), ("A2", "Retail", 500, 5e7, "East"), ("A3", "Software", 6000, 2e9, "West"),
    ("A5", None, None, None, "West"), ("A6", "Software", 7000, 3e9, "East"),   # A6 has no deal: white space
], columns=[S.NAME, S.INDUSTRY, "employees", "revenue", S.REGION])

DEALS = pd.DataFrame([
    # id, account, status, amount, created, close, own industry
    ("1", "A1", "won", 10_000, "2026-01-01", "2026-01-31", None),       # cycle 30
    ("2", "A1", "lost", 5_000, "2026-01-10", "2026-02-10", None),
    ("3", "A2", "won", 20_000, "2025-12-01", "2026-02-28", None),       # cycle 89
    ("4", "A3", "won", 60_000, "2025-11-01", "2026-03-01", None),       # cycle 120
    ("5", "A3", "lost", 30_000, "2026-01-05", "2026-03-20", None),
    ("6", "A3", "open", 40_000, "2026-02-01", "2026-03-25", None),
    ("7", "A4", "won", 8_000, "2026-01-01", "2026-01-21", "Healthcare"),  # cycle 20; A4 only in deals
    ("8", "A5", "lost", 7_000, "2026-01-01", "2026-02-01", "Software"),   # A5's industry from its deal
    ("9", "A1", "won", 4_000, "2025-11-15", "2025-12-15", None),        # before the quarter
], columns=[S.OPPORTUNITY_ID, S.ACCOUNT, S.STATUS, S.AMOUNT, S.CREATED_DATE, S.CLOSE_DATE, S.INDUSTRY])
DEALS[S.OWNER] = ["Ann", "Ann", "Bob", "Bob", "Bob", "Bob", "Cat", "Cat", "Ann"]
DEALS[S.NAME] = "Deal " + DEALS[S.OPPORTUNITY_ID]
AS_OF = "2026-04-15"


@pytest.fixture
def tiny():
    return workspace.from_frames(DEALS, accounts=ACCOUNTS, as_of=pd.Timestamp(AS_OF).date())


def rows_by(t, col):
    return t.rows.set_index(col)


# --- size bands ------------------------------------------------------------------------------------
def test_size_band_labels_and_edges():
    b = A.SizeBands()
    assert b.labels() == ["1–99 employees", "100–999 employees", "1,000–4,999 employees", "5,000+ employees"]
    assert list(b.codes([1, 99, 100, 999, 1000, 4999, 5000, 60000, None, np.nan, -3, 0, "x"])) == \
        [0, 0, 1, 1, 2, 2, 3, 3, -1, -1, -1, -1, -1]
    r = A.SizeBands.make("revenue", ["1e7", 1e8, 1e9])
    assert r.labels("EUR")[0].startswith("Under €10") and r.labels("EUR")[-1].endswith("+")
    assert list(r.codes([9.99e6, 1e7, 5e8, 2e9])) == [0, 1, 2, 3]


@pytest.mark.parametrize("basis, cuts, words", [("employees", [100, 50], "must increase"), ("employees", [], "at least one"),
                                               ("employees", ["ten"], "must be numbers"), ("size", [1], "basis"),
                                               ("employees", [0, 10], "above 0")])
def test_size_band_validation(basis, cuts, words):
    with pytest.raises(InputError, match=words):
        A.SizeBands.make(basis, cuts)


def test_a_bad_stored_setting_falls_back_to_the_defaults():
    assert A.SizeBands.from_setting({"basis": "employees", "cuts": [5, 1]}) == A.SizeBands()
    assert A.SizeBands.from_setting("not json") == A.SizeBands()
    assert A.SizeBands.from_setting({"basis": "revenue"}).cuts == A.DEFAULT_CUTS["revenue"]


def test_saved_bands_move_every_deal(demo_db):
    segments.save_size_bands(demo_db, "employees", "500; 5,000")
    ws = workspace.load(demo_db)
    assert ws.size_bands.cuts == (500.0, 5000.0)
    acc = ws.accounts.set_index("name")["employees"]
    emp = ws.facts[S.ACCOUNT].astype(object).map(acc)
    expect = np.where(emp.isna(), None, np.where(emp < 500, "1–499 employees", np.where(emp < 5000, "500–4,999 employees",
                                                                                        "5,000+ employees")))
    got = ws.facts["size_band"].astype(object).where(ws.facts["size_band"].notna(), None)
    assert list(got) == list(expect)
    with pytest.raises(InputError):
        segments.save_size_bands(demo_db, "employees", "5000, 500")


# --- the account fields of deals ------------------------------------------------------------------------
def test_deals_take_industry_size_and_region_from_their_account(tiny):
    f = tiny.facts.set_index(tiny.facts.index)
    by_id = tiny.deals.set_index(S.OPPORTUNITY_ID)
    ind = by_id[S.INDUSTRY].to_dict()
    assert ind == {"1": "Retail", "2": "Retail", "3": "Retail", "4": "Software", "5": "Software", "6": "Software",
                   "7": "Healthcare", "8": "Software", "9": "Retail"}
    assert by_id["size_band"].astype(object).where(by_id["size_band"].notna(), None).to_dict() == {
        "1": "1–99 employees", "2": "1–99 employees", "3": "100–999 employees", "4": "5,000+ employees",
        "5": "5,000+ employees", "6": "5,000+ employees", "7": None, "8": None, "9": "1–99 employees"}
    # the facts (what the engine counts) and the full rows agree deal by deal
    facts_ind = pd.Series(f[S.INDUSTRY].astype(object).to_numpy(), index=tiny.deals.loc[f.index, S.OPPORTUNITY_ID])
    assert facts_ind.to_dict() == ind
    uni = tiny.account_universe().set_index(S.NAME)
    assert uni.loc["A4", S.INDUSTRY] == "Healthcare" and not uni.loc["A4", "in_accounts"]
    assert uni.loc["A5", S.INDUSTRY] == "Software" and uni.loc["A6", "deals"] == 0


# --- segment KPIs by hand -------------------------------------------------------------------------------
def test_segment_kpis_by_hand(tiny):
    f = Filters.make(tiny, period="2026Q1")
    t = segments.segment_kpis(tiny, f, "industry")
    r = rows_by(t, S.INDUSTRY)
    assert list(t.rows[S.INDUSTRY]) == ["Software", "Retail", "Healthcare"]  # by bookings
    retail, soft, health = r.loc["Retail"], r.loc["Software"], r.loc["Healthcare"]
    assert (retail.won_amount, retail.won_count, retail.lost_count) == (30_000, 2, 1)
    assert retail.win_rate == pytest.approx(2 / 3) and retail.avg_deal_size == 15_000
    assert retail.avg_cycle_days == pytest.approx((30 + 89) / 2)
    assert retail.expected_value_per_day == pytest.approx(2 / 3 * 15_000 / 59.5)
    assert (soft.won_amount, soft.won_count, soft.lost_count, soft.open_pipeline) == (60_000, 1, 2, 40_000)
    assert soft.expected_value_per_day == pytest.approx(1 / 3 * 60_000 / 120)
    assert health.win_rate == 1 and health.expected_value_per_day == pytest.approx(8_000 / 20)
    # shrinkage toward the overall rates: 4 won of 7, $24,500 average, 64.75 days
    assert t.overall["win_rate"] == pytest.approx(4 / 7)
    assert t.overall["avg_deal_size"] == pytest.approx(98_000 / 4)
    assert t.overall["avg_cycle_days"] == pytest.approx((30 + 89 + 120 + 20) / 4)
    wr = (2 + 10 * 4 / 7) / (3 + 10)
    size = (30_000 + 10 * 24_500) / (2 + 10)
    cyc = (119 + 10 * 64.75) / (2 + 10)
    assert retail.win_rate_shrunk == pytest.approx(wr)
    assert retail.avg_deal_size_shrunk == pytest.approx(size)
    assert retail.avg_cycle_days_shrunk == pytest.approx(cyc)
    assert retail.expected_value_per_day_shrunk == pytest.approx(wr * size / cyc)
    assert r["small_sample"].all() and r.loc["Retail", "closed_count"] == 3
    lo, hi = metrics.win_rate_interval(2, 1)
    assert retail.win_rate_low == pytest.approx(float(lo)) and retail.win_rate_high == pytest.approx(float(hi))
    # with a lower bar, three closed deals are enough
    assert not segments.segment_kpis(tiny, f, "industry", min_deals=3).rows.set_index(S.INDUSTRY).loc["Retail", "small_sample"]


def test_two_fields_and_blank_accounts(tiny):
    f = Filters.make(tiny, period="2026Q1")
    t = segments.segment_kpis(tiny, f, ("industry", "size_band"))
    got = {(a, b): (w, c) for a, b, w, c in t.rows[[S.INDUSTRY, "size_band", "won_amount", "closed_count"]].itertuples(index=False)}
    assert got == {("Retail", "1–99 employees"): (10_000, 2), ("Retail", "100–999 employees"): (20_000, 1),
                   ("Software", "5,000+ employees"): (60_000, 2), ("Healthcare", metrics.BLANK): (8_000, 1),
                   ("Software", metrics.BLANK): (0, 1)}


def test_segment_rows_equal_the_kpis_of_the_same_filter(tiny):
    """One number everywhere: each segment row is what the engine gives that slice."""
    f = Filters.make(tiny, period="2026Q1")
    for field, by in (("industry", "industry"), ("size_band", "size_band")):
        t = segments.segment_kpis(tiny, f, by)
        for r in t.rows.itertuples(index=False):
            value = getattr(r, by)
            if value == metrics.BLANK:
                continue
            k = metrics.team(tiny, Filters.make(tiny, period="2026Q1", **{field: [value]}))
            assert (k["won_amount"], k["won_count"], k["lost_count"], k["open_pipeline"]) == \
                (r.won_amount, r.won_count, r.lost_count, r.open_pipeline), (field, value)
            assert k["win_rate"] == pytest.approx(r.win_rate)


def test_unknown_or_too_many_fields(tiny):
    f = Filters.make(tiny, period="2026Q1")
    for by, words in (("colour", "not a field"), ("industry,size_band,region", "at most two"), ("region,region", "twice"), ("", "at least one")):
        with pytest.raises(InputError, match=words):
            segments.segment_kpis(tiny, f, by)


def test_profile_and_white_space(demo_db):
    ws = workspace.load(demo_db)
    f = segments.window(Filters.make(ws), "36m")
    p = segments.profile(ws, f, ("industry", "size_band"))
    trusted = p.cells[p.cells["trusted"]]
    assert (trusted["closed_count"] >= segments.MIN_DEALS).all() and len(p.best) == 3 and len(p.wins) == 3
    best = trusted.sort_values("expected_value_per_day_shrunk", ascending=False).head(3)
    assert list(p.best["expected_value_per_day_shrunk"]) == list(best["expected_value_per_day_shrunk"])
    assert p.worst["expected_value_per_day_shrunk"].max() <= p.best["expected_value_per_day_shrunk"].min()
    # the demo's industries matter: software beats manufacturing in the same size band
    cells = p.cells.set_index([S.INDUSTRY, "size_band"])
    assert cells.loc[("Software", "1,000–4,999 employees"), "win_rate"] > cells.loc[("Manufacturing", "1,000–4,999 employees"), "win_rate"]
    white = segments.white_space(ws, f, ("industry", "size_band"))
    book = segments.segment_accounts(ws, Filters.make(ws)).set_index(S.NAME)
    best_keys = {(a, b) for a, b in p.best[[S.INDUSTRY, "size_band"]].itertuples(index=False)}
    for r in white.itertuples(index=False):
        assert (r.industry, r.size_band) in best_keys and r.open_deals == 0
    # and every account of those segments without an open deal is listed
    all_acc = ws.account_universe()
    from salesops.territories import account_book
    ab = account_book(ws, f)
    expect = {n for n, a, b, o in ab[[S.NAME, S.INDUSTRY, "size_band", "open_deals"]].astype(object).itertuples(index=False)
              if (str(a), str(b)) in best_keys and o == 0}
    assert set(white[S.NAME]) == expect and len(all_acc) >= len(book)


def test_segment_accounts_have_their_history(tiny):
    f = Filters.make(tiny, period="2026Q1")
    acc = segments.segment_accounts(tiny, f, (("industry", "Retail"),)).set_index(S.NAME)
    assert list(acc.index) == ["A2", "A1"]  # by bookings over three years: 20,000 then 14,000
    a1 = acc.loc["A1"]
    assert a1.bookings_3y == 14_000 and a1.first_deal == pd.Timestamp("2025-11-15") and a1.last_activity == pd.Timestamp("2026-02-10")
    assert a1.open_deals == 0 and a1.open_pipeline == 0
    soft = segments.segment_accounts(tiny, f, (("industry", "Software"),)).set_index(S.NAME)
    assert set(soft.index) == {"A3", "A5", "A6"} and soft.loc["A3", "open_pipeline"] == 40_000


def test_account_detail_lists_every_deal(tiny):
    d = segments.account_detail(tiny, Filters.make(tiny, period="2026Q1", industry=["Software"]), "A1")
    assert sorted(d["deals"][S.NAME]) == ["Deal 1", "Deal 2", "Deal 9"] and d["account"]["bookings_3y"] == 14_000
    with pytest.raises(InputError, match="no account"):
        segments.account_detail(tiny, Filters.make(tiny), "Nobody")


# --- an extra column --------------------------------------------------------------------------------------
def test_a_categorical_column_kept_in_extra_is_a_dimension(tmp_path):
    db = tmp_path / "x.db"
    rows = ["Opportunity ID,Opportunity Name,Account Name,Opportunity Owner,Stage,Amount,Created Date,Close Date,Deal Tier"]
    tiers = ["Gold", "Silver", "Gold", "Bronze", "Silver", "Gold"]
    stages = ["Closed Won", "Closed Lost", "Closed Won", "Closed Won", "Closed Won", "Closed Lost"]
    for i, (t, s) in enumerate(zip(tiers, stages), start=1):
        rows.append(f"{i:03d},D{i},Acc{i},Ann Lee,{s},{1000 * i},2026-01-0{i},2026-02-0{i},{t}")
    ingest.run_import(db, ("\n".join(rows) + "\n").encode(), "deals.csv")
    ws = workspace.load(db)
    assert "extra.Deal Tier" in segments.available(ws)
    t = segments.segment_kpis(ws, Filters.make(ws, period="2026Q1"), "Deal Tier").rows.set_index("extra.Deal Tier")
    assert t.loc["Gold", "won_amount"] == 1000 + 3000 and t.loc["Gold", "lost_count"] == 1
    assert t.loc["Silver", "won_amount"] == 5000 and t.loc["Bronze", "won_count"] == 1


# --- Maven: against pandas ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def maven_db(tmp_path_factory):
    from tests.conftest import DATASETS

    folder = DATASETS / "maven_crm"
    if not folder.is_dir():
        pytest.skip(f"the shared datasets folder {folder} is not here")
    db = tmp_path_factory.mktemp("maven") / "maven.db"
    ingest.run_import(db, (folder / "sales_pipeline.csv").read_bytes(), "sales_pipeline.csv")
    ingest.run_reference_import(db, (folder / "sales_teams.csv").read_bytes(), "sales_teams.csv", "roster")
    ingest.run_reference_import(db, (folder / "accounts.csv").read_bytes(), "accounts.csv", "accounts")
    return db, folder


def maven_frame(folder) -> pd.DataFrame:
    pipe = pd.read_csv(folder / "sales_pipeline.csv", dtype={"opportunity_id": str})
    acc = pd.read_csv(folder / "accounts.csv")
    p = pipe.merge(acc, on="account", how="left")
    p["engage_date"] = pd.to_datetime(p["engage_date"])
    p["close_date"] = pd.to_datetime(p["close_date"])
    p["band"] = pd.cut(p["employees"], [0, 100, 1000, 5000, np.inf], right=False,
                       labels=["1–99 employees", "100–999 employees", "1,000–4,999 employees", "5,000+ employees"])
    return p


@pytest.mark.parametrize("period, start, end", [("2017", "2017-01-01", "2017-12-31"), ("2017Q3", "2017-07-01", "2017-09-30")])
@pytest.mark.parametrize("by, col", [("industry", "sector"), ("size_band", "band")])
def test_maven_segments_equal_pandas(maven_db, capsys, period, start, end, by, col):
    db, folder = maven_db
    p = maven_frame(folder)
    closed = p[(p["close_date"] >= start) & (p["close_date"] <= end)]
    won, lost = closed[closed["deal_stage"] == "Won"], closed[closed["deal_stage"] == "Lost"]
    exp = pd.DataFrame({"won_amount": won.groupby(col, observed=True)["close_value"].sum(),
                        "won_count": won.groupby(col, observed=True).size(),
                        "lost_count": lost.groupby(col, observed=True).size(),
                        "cycle": (won["close_date"] - won["engage_date"]).dt.days.groupby(won[col], observed=True).mean()})
    exp = exp.fillna({"won_amount": 0.0, "won_count": 0, "lost_count": 0})
    exp["win_rate"] = exp["won_count"] / (exp["won_count"] + exp["lost_count"])
    exp["ev"] = exp["win_rate"] * (exp["won_amount"] / exp["won_count"]) / exp["cycle"]
    assert main(["--db", str(db), "segments", "--by", by, "--period", period, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["by"] == [by] and doc["period"] == period
    got = {r[by]: r for r in doc["rows"] if r[by] is not None}
    assert set(got) == set(exp.index.astype(str))
    for name, e in exp.iterrows():
        r = got[str(name)]
        assert r["won_amount"] == pytest.approx(e["won_amount"]) and r["won_count"] == e["won_count"]
        assert r["lost_count"] == e["lost_count"] and r["win_rate"] == pytest.approx(e["win_rate"])
        assert r["avg_cycle_days"] == pytest.approx(e["cycle"]) and r["expected_value_per_day"] == pytest.approx(e["ev"])
    # the deals without an account are their own (blank) segment
    blank = [r for r in doc["rows"] if r[by] is None]
    no_acc = closed[closed[col].isna()]
    assert (blank[0]["won_count"] if blank else 0) == int((no_acc["deal_stage"] == "Won").sum())
    for key in ("won_amount", "won_count", "lost_count", "win_rate", "win_rate_low", "win_rate_high", "avg_deal_size",
                "avg_cycle_days", "expected_value_per_day", "win_rate_shrunk", "small_sample"):
        assert key in doc["rows"][0]


def test_maven_industry_filter_equals_the_segment(maven_db, capsys):
    db, _ = maven_db
    assert main(["--db", str(db), "segments", "--by", "industry", "--period", "2017", "--json"]) == 0
    seg = {r["industry"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    for sector in ("retail", "medical"):
        assert main(["--db", str(db), "kpis", "--period", "2017", "--industry", sector, "--json"]) == 0
        k = json.loads(capsys.readouterr().out)["rows"][0]
        assert (k["won_amount"], k["won_count"], k["lost_count"]) == (seg[sector]["won_amount"], seg[sector]["won_count"],
                                                                       seg[sector]["lost_count"])
    assert main(["--db", str(db), "kpis", "--industry", "astrology"]) == 2
    assert "--industry 'astrology' is not a industry" in capsys.readouterr().err


def test_segments_command_errors(maven_db, capsys):
    db, _ = maven_db
    assert main(["--db", str(db), "segments", "--by", "shoe_size"]) == 2
    assert capsys.readouterr().err.startswith("error: --by 'shoe_size' is not a field")
    assert main(["--db", str(db), "segments", "--by", "industry", "--size-band", "1–99 employees", "--period", "2017"]) == 0
    out = capsys.readouterr().out
    assert "Segments by Industry" in out and "small sample" in out


def test_kpis_by_industry_and_size_band_equal_the_segments(maven_db, capsys):
    db, _ = maven_db
    for by in ("industry", "size_band"):
        assert main(["--db", str(db), "kpis", "--period", "2017", "--by", by, "--json"]) == 0
        k = {r["group"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
        assert main(["--db", str(db), "segments", "--period", "2017", "--by", by, "--json"]) == 0
        seg = {r[by] if r[by] is not None else metrics.BLANK: r for r in json.loads(capsys.readouterr().out)["rows"]}
        assert set(k) == set(seg)
        for g, r in seg.items():
            assert (k[g]["won_amount"], k[g]["won_count"], k[g]["lost_count"]) == (r["won_amount"], r["won_count"], r["lost_count"])
