"""The Team page under AppTest: on the demo workspace (numbers checked against the database
independently) and on an empty database; every chart titled, with business-word axes, money
in the workspace currency and a one-line caption."""
import json


from salesops import formats, store
from salesops import schema as S

from .conftest import no_exceptions

RAW_FIELDS = {"value", "amount", "won_amount", "period", "owner", "group", "win_rate", "avg_deal_size", "month", "k",
              "mean_won_amount", "ramp_factor", "name", "step", "deals", "date", "day", "x", "y", "attainment"}


def _children(block):
    kids = getattr(block, "children", None)
    if isinstance(kids, dict):
        return [kids[k] for k in sorted(kids)]
    return []


def chart_specs_with_next(at):
    """(spec, the element right after the chart in its container) for every chart on the page."""
    out = []

    def walk(block):
        kids = _children(block)
        for i, node in enumerate(kids):
            if getattr(node, "type", "") in ("vega_lite_chart", "arrow_vega_lite_chart"):
                out.append((json.loads(node.proto.spec), kids[i + 1] if i + 1 < len(kids) else None))
            walk(node)

    walk(at.main)
    return out


def _encodings(spec):
    encs = []
    if "encoding" in spec:
        encs.append(spec["encoding"])
    for layer in spec.get("layer", []):
        encs.extend(_encodings(layer))
    return encs


def check_charts(at, currency_symbol="$", min_charts=1):
    """Every chart: a title, axis titles in words (not raw field names), money axes in the
    currency, and a caption right under it."""
    charts = chart_specs_with_next(at)
    assert len(charts) >= min_charts
    for spec, nxt in charts:
        title = spec.get("title")
        text = title.get("text") if isinstance(title, dict) else title
        assert text and len(text) > 5, spec.get("title")
        assert nxt is not None and getattr(nxt, "type", "") == "caption", f"no caption under {text!r}"
        assert nxt.value.strip() and "\n" not in nxt.value.strip(), text
        titled_axes = 0
        for enc in _encodings(spec):
            for ch in ("x", "y"):
                e = enc.get(ch)
                if not e or "field" not in e:
                    continue
                axis = e.get("axis") or {}
                t = e.get("title") or axis.get("title")
                if t is None:
                    continue  # a secondary layer sharing the first layer's axis
                titled_axes += 1
                assert t not in RAW_FIELDS and t.strip(), (text, ch, t)
                if "labelExpr" in axis:  # a money axis
                    assert currency_symbol in axis["labelExpr"], text
                    assert "(" in t, (text, t)  # e.g. "Bookings (USD)"
        assert titled_axes >= 2, f"{text!r}: both axes need a title"


def demo_frames(db):
    with store.connect(db) as conn:
        return store.load_deals(conn), store.load_reps(conn), store.load_targets(conn)


def test_team_page_on_demo(app_at, demo_db):
    at = app_at("views/team.py", demo_db)
    no_exceptions(at)
    assert at.title[0].value == "Team · 2026Q4"
    deals, reps, targets = demo_frames(demo_db)
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between("2026-10-01", "2026-11-20")]
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Bookings"] == formats.money(won[S.AMOUNT].sum())
    closed = deals[(deals[S.STATUS] != S.OPEN) & deals[S.CLOSE_DATE].between("2026-10-01", "2026-11-20")]
    assert tiles["Win rate"] == formats.pct(len(won) / len(closed))
    for label in ("Average deal size", "Sales cycle", "Open pipeline", "Pipeline coverage", "Velocity per day", "Pipeline created"):
        assert label in tiles, label
    # pacing sentence: booked to date against the target
    target = targets[(targets[S.SCOPE] == "owner") & (targets[S.PERIOD_START] == "2026-10-01")][S.AMOUNT].sum()
    assert any(f"Booked {formats.money(won[S.AMOUNT].sum())} by day 51 of 92" in m.value and formats.money(target) in m.value
               for m in at.markdown)
    check_charts(at, min_charts=3)
    # deals behind the default bar (the month holding the as-of date, bookings)
    nov = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between("2026-11-01", "2026-11-30")]
    assert any(c.value.startswith(f"{len(nov):,} deals behind bookings in 2026-11") for c in at.caption)


def test_team_page_split_kpi_and_grain(app_at, demo_db):
    at = app_at("views/team.py", demo_db)
    at.selectbox(key="team_split").set_value("Region").run()
    at.selectbox(key="team_kpi").set_value("Win rate").run()
    no_exceptions(at)
    charts = chart_specs_with_next(at)
    trend = [s for s, _ in charts if "Win rate by month by region" in str(s.get("title"))]
    assert trend, [s.get("title") for s, _ in charts]
    # the drill-down offers the regions and lists only closed deals of the chosen one
    group_boxes = [s for s in at.selectbox if s.label == "Split by" or s.label == "Region"]
    assert any(s.label == "Region" for s in group_boxes)
    at.button_group(key="team_freq").set_value("Quarter").run()
    no_exceptions(at)
    deals, _, _ = demo_frames(demo_db)
    q = deals[deals[S.CLOSE_DATE].between("2026-10-01", "2026-12-31") & deals[S.STATUS].isin([S.WON, S.LOST])]
    region = sorted(q[S.REGION].dropna().unique())[0]
    n = int((q[S.REGION] == region).sum())
    assert any(c.value.startswith(f"{n:,} deals behind win rate in 2026Q4 for {region}") for c in at.caption), [c.value for c in at.caption]
    check_charts(at, min_charts=3)


def test_team_page_roll_up_levels(app_at, demo_db):
    at = app_at("views/team.py", demo_db)
    deals, reps, targets = demo_frames(demo_db)
    at.button_group(key="team_rollup_level").set_value("Manager").run()
    no_exceptions(at)
    table = at.dataframe[-1].value
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between("2026-10-01", "2026-12-31")]
    by_mgr = won.merge(reps[[S.NAME, S.MANAGER]], left_on=S.OWNER, right_on=S.NAME).groupby(S.MANAGER)[S.AMOUNT].sum()
    rows = table.set_index("name")
    assert rows.loc["All", "won_amount"] == won[S.AMOUNT].sum()
    for mgr, amount in by_mgr.items():
        match = [i for i in rows.index if i.endswith(f" › {mgr}")]
        assert match and rows.loc[match[0], "won_amount"] == amount
    check_charts(at, min_charts=3)


def test_team_page_with_a_region_filter(app_at, demo_db):
    at = app_at("views/team.py", demo_db)
    at.sidebar.multiselect(key="region").set_value(["EMEA"]).run()
    no_exceptions(at)
    deals, _, _ = demo_frames(demo_db)
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between("2026-10-01", "2026-11-20") & (deals[S.REGION] == "EMEA")]
    assert {m.label: m.value for m in at.metric}["Bookings"] == formats.money(won[S.AMOUNT].sum())


def test_team_page_on_an_empty_database(app_at, empty_db):
    at = app_at("views/team.py", empty_db)
    no_exceptions(at)
    assert any("no deals" in i.value for i in at.info)
    assert not chart_specs_with_next(at)
    at.button(key="load_demo_the team page").click().run()
    no_exceptions(at)
    assert "Bookings" in {m.label for m in at.metric}
    check_charts(at, min_charts=3)


def test_money_follows_the_workspace_currency(app_at, demo_db):
    with store.connect(demo_db, write=True) as conn:
        store.set_settings(conn, currency="EUR")
    at = app_at("views/team.py", demo_db)
    no_exceptions(at)
    deals, _, _ = demo_frames(demo_db)
    won = deals[(deals[S.STATUS] == S.WON) & deals[S.CLOSE_DATE].between("2026-10-01", "2026-11-20")]
    assert {m.label: m.value for m in at.metric}["Bookings"] == formats.money(won[S.AMOUNT].sum(), "EUR")
    assert formats.money(won[S.AMOUNT].sum(), "EUR").startswith("€")
    check_charts(at, currency_symbol="€", min_charts=3)
    assert any("(EUR)" in str(enc) for spec, _ in chart_specs_with_next(at) for enc in _encodings(spec))
