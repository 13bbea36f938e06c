"""Pipeline charts: the waterfall's bar geometry and that every chart is titled."""
from __future__ import annotations

import pandas as pd
import pytest

from salesops import pipeline as P
from salesops.charts import pipeline as charts

WF = pd.DataFrame({"step": P.STEPS, "label": [P.STEP_LABELS[s] for s in P.STEPS],
                   "amount": [1075.0, 130, 150, 410, 60, 335, 310, 50, 310],
                   "count": [8, 2, 3, 2, 4, 3, 2, 1, 5]})


def test_waterfall_bars_run_from_start_to_end():
    bars = charts.waterfall_bars(WF, "USD").set_index("step")
    assert list(bars["label"]) == ["Start of period", "Created", "Pulled in", "Pushed out", "Amount changed",
                                   "Won", "Lost", "Removed", "End"]
    assert (bars.loc["start", "y0"], bars.loc["start", "y1"]) == (0, 1075)
    assert (bars.loc["created", "y0"], bars.loc["created", "y1"]) == (1075, 1205)
    assert (bars.loc["pulled_in", "y1"], bars.loc["pushed_out", "y1"]) == (1355, 945)
    assert bars.loc["pushed_out", "kind"] == "Takes away" and bars.loc["pushed_out", "amount"] == -410
    assert bars.loc["amount_changed", "kind"] == "Adds" and bars.loc["amount_changed", "y1"] == 1005
    # the running total after removed lands exactly on the End bar
    assert bars.loc["removed", "y1"] == pytest.approx(bars.loc["end", "y1"]) == 310
    assert bars.loc["won", "text"] == "-$335" and bars.loc["start", "text"] == "$1.1K"


def test_negative_amount_change_takes_away():
    wf = WF.copy()
    wf.loc[wf["step"] == "amount_changed", "amount"] = -60
    bars = charts.waterfall_bars(wf, "EUR").set_index("step")
    assert bars.loc["amount_changed", "kind"] == "Takes away" and bars.loc["amount_changed", "text"] == "-€60"


def test_charts_have_titles():
    funnel = pd.DataFrame({"stage": ["Prospecting", "Won"], "reached": [10, 4], "conversion": [0.4, None],
                           "median_days": [5.0, None]})
    curve = pd.DataFrame({"group": ["all", "all"], "days": [0, 10], "share_open": [1.0, 0.5], "at_risk": [2, 2], "closed": [0, 1]})
    trend = pd.DataFrame({"as_of": ["2024-01-31"], "score": [0.8], "open_count": [5], "dirty_share": [0.1]})
    checks = pd.DataFrame({"check": ["stale"], "label": ["No recent change"], "count": [3], "amount": [10.0]})
    push = pd.DataFrame({"opportunity_id": ["a", "b"], "push_count": [0, 2]})
    built = [charts.waterfall_chart(WF, "USD", "How it moved"), charts.funnel_chart(funnel),
             charts.time_to_close_chart(curve), charts.hygiene_trend_chart(trend), charts.hygiene_checks_chart(checks),
             charts.push_histogram(push),
             charts.current_stages_chart(pd.DataFrame({"stage": ["Won"], "status": ["won"], "deals": [1], "amount": [5.0]}), "USD")]
    for chart in built:
        spec = chart.to_dict()
        assert spec["title"]["text"], spec
