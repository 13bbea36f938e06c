"""The house chart helpers (salesops/charts/base.py)."""
import json

import altair as alt
import pandas as pd

from salesops.charts.base import layer


def _spec(chart) -> str:
    return json.dumps(chart.to_dict(), sort_keys=True)


def test_layer_gives_shared_data_once_with_the_same_spec_as_altair():
    data = pd.DataFrame({"rep": ["Ann", "Bo", "Cy"], "quota": [1.0, 2.0, 3.0], "p50": [1.5, 1.0, 2.5]})
    bars = alt.Chart(data).mark_bar().encode(x="quota:Q", y="rep:N")
    dots = alt.Chart(data).mark_point().encode(x="p50:Q", y="rep:N")
    ours = layer(bars, dots)
    assert _spec(ours) == _spec(alt.layer(bars, dots))
    assert ours.data is data and all(c.data is alt.Undefined for c in ours.layer)
    assert bars.data is data  # the layers given are not changed


def test_layer_of_charts_with_their_own_data_is_altairs():
    a = alt.Chart(pd.DataFrame({"x": [1]})).mark_bar().encode(x="x:Q")
    b = alt.Chart(pd.DataFrame({"x": [2]})).mark_rule().encode(x="x:Q")
    assert _spec(layer(a, b)) == _spec(alt.layer(a, b))
