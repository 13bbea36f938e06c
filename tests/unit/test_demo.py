"""The demo workspace looks like a real company and its tables agree with each other."""
import pandas as pd
import pytest

from salesops import demo, store
from salesops import schema as S


@pytest.fixture(scope="module")
def ws():
    return demo.generate()


def test_deterministic():
    a, b = demo.generate(), demo.generate()
    pd.testing.assert_frame_equal(a.opportunities, b.opportunities)
    pd.testing.assert_frame_equal(a.targets, b.targets)
    assert len(a.snapshots) == len(b.snapshots)


def test_company_shape(ws):
    reps = ws.reps
    assert reps["region"].nunique() == 3
    assert reps["manager"].nunique() == 6
    assert 28 <= len(reps) <= 32
    recent = pd.to_datetime(reps["hire_date"]) > pd.Timestamp(demo.DEMO_AS_OF) - pd.DateOffset(months=6)
    assert recent.sum() >= 2
    assert (reps["active"] == 0).sum() == 1 and reps["end_date"].notna().sum() == 1
    o = ws.opportunities
    assert 7_000 <= len(o) <= 14_000
    assert set(o[S.STATUS]) == {"open", "won", "lost"}
    created = pd.to_datetime(o[S.CREATED_DATE])
    assert (created.max() - created.min()).days > 3 * 365
    # win rates and deal sizes differ by segment and by rep
    closed = o[o[S.STATUS] != S.OPEN]
    wr_seg = closed.groupby(S.SEGMENT)[S.STATUS].apply(lambda s: (s == S.WON).mean())
    assert wr_seg.max() - wr_seg.min() > 0.05
    size_seg = o[o[S.STATUS] == S.WON].groupby(S.SEGMENT)[S.AMOUNT].mean()
    assert size_seg["Enterprise"] > 3 * size_seg["SMB"]
    wr_rep = closed.groupby(S.OWNER)[S.STATUS].apply(lambda s: (s == S.WON).mean())
    assert wr_rep.max() - wr_rep.min() > 0.15


def test_seasonality_q4_peak_and_quarter_end_spike(ws):
    o = ws.opportunities
    won = o[(o[S.STATUS] == S.WON)].copy()
    won["cd"] = pd.to_datetime(won[S.CLOSE_DATE])
    for year in (2024, 2025):
        by_q = won[won["cd"].dt.year == year].groupby(won["cd"].dt.quarter)[S.AMOUNT].sum()
        assert by_q[4] == by_q.max()
    # the last ten days of a quarter hold far more than their 11% share of bookings
    q_end = won["cd"] + pd.offsets.QuarterEnd(0)
    last10 = (q_end - won["cd"]).dt.days < 10
    assert won.loc[last10, S.AMOUNT].sum() / won[S.AMOUNT].sum() > 0.25


def test_snapshots_agree_with_current_state(ws):
    snaps = ws.snapshots
    dates = sorted(snaps[S.AS_OF].unique())
    assert len(dates) >= 6 and dates[-1] == demo.DEMO_AS_OF.isoformat()
    last = snaps[snaps[S.AS_OF] == dates[-1]].set_index(S.OPPORTUNITY_ID).sort_index()
    cur = ws.opportunities.set_index(S.OPPORTUNITY_ID).sort_index()
    assert list(last.index) == list(cur.index)
    assert (last[S.STATUS] == cur[S.STATUS]).all()
    pd.testing.assert_series_equal(last[S.AMOUNT], cur[S.AMOUNT], check_names=False)
    # deals move: some close dates were pushed between snapshots, some deals were removed
    first = snaps[snaps[S.AS_OF] == dates[0]].set_index(S.OPPORTUNITY_ID)
    both = first.index.intersection(last.index)
    open_then = first.loc[both][first.loc[both, S.STATUS] == S.OPEN].index
    pushed = (pd.to_datetime(last.loc[open_then, S.CLOSE_DATE]) > pd.to_datetime(first.loc[open_then, S.CLOSE_DATE])).sum()
    assert pushed > 50
    assert len(first.index.difference(last.index)) > 0


def test_stage_history_is_ordered_and_ends_in_the_current_stage(ws):
    h = ws.stage_history
    last_stage = h.groupby(S.OPPORTUNITY_ID)[S.STAGE].last()
    cur = ws.opportunities.set_index(S.OPPORTUNITY_ID)[S.STAGE]
    common = last_stage.index.intersection(cur.index)
    assert (last_stage[common] == cur[common]).mean() > 0.99


def test_targets_cover_every_rep_quarter_and_attainment_is_realistic(ws, tmp_path):
    path = tmp_path / "d.db"
    demo.load_demo(path)
    from salesops import metrics
    with store.connect(path) as conn:
        deals, targets = store.load_deals(conn), store.load_targets(conn)
    k = metrics.period_kpis(deals, "2026-07-01", "2026-09-30", by=S.OWNER, targets=targets)
    k = k[k["target"].notna()]
    assert len(k) >= 25
    hit = (k["attainment"] >= 1).mean()
    assert 0.25 <= hit <= 0.8
    team = metrics.team_kpis(deals, "2026-07-01", "2026-09-30", targets=targets)
    assert 0.7 <= team["attainment"] <= 1.3
