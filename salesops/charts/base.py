"""Shared chart conventions: palette, money axes, titles. Every chart has a title, axis titles
in business words and money in the workspace currency."""
from __future__ import annotations

import altair as alt

from ..formats import currency_symbol
from . import validation

validation.install()  # each distinct spec checked against the Vega-Lite schema once per process

#: Consistent colours: won is always green, lost red, open pipeline blue, target grey.
STATUS_COLORS = {"won": "#2E7D32", "lost": "#C62828", "open": "#1565C0"}
TARGET_COLOR = "#6D6D6D"
ACCENT = "#1565C0"
SECONDARY = "#F9A825"
CATEGORY_SCHEME = "tableau10"
HEIGHT = 320
#: The house style of every chart's axes and view (:func:`titled`).
AXIS_STYLE = {"labelFontSize": 12, "titleFontSize": 12, "grid": True, "gridOpacity": 0.4}
VIEW_STYLE = {"strokeWidth": 0}


def money_label_expr(currency: str) -> str:
    """A Vega label expression that prints axis values as compact money: $1.2M, $350K."""
    sym = currency_symbol(currency).replace("'", "\\'")
    return (f"(datum.value < 0 ? '-' : '') + '{sym}' + "
            "(abs(datum.value) >= 1e9 ? format(abs(datum.value) / 1e9, '.3~') + 'B' : "
            "abs(datum.value) >= 1e6 ? format(abs(datum.value) / 1e6, '.3~') + 'M' : "
            "abs(datum.value) >= 1e3 ? format(abs(datum.value) / 1e3, '.3~') + 'K' : "
            "format(abs(datum.value), ',.0f'))")


def money_axis(currency: str, title: str) -> alt.Axis:
    """A quantitative axis showing compact money in ``currency``."""
    return alt.Axis(title=title, labelExpr=money_label_expr(currency))


def money_tooltip(field: str, title: str, currency: str) -> alt.Tooltip:
    return alt.Tooltip(field, title=f"{title} ({currency})", format=",.0f")


def titled(chart: alt.Chart, title: str, subtitle: str | None = None) -> alt.Chart:
    """Apply a title (and an optional subtitle) and the house style."""
    params = {"text": title, "anchor": "start", "fontSize": 15}
    if subtitle:
        params["subtitle"] = subtitle
    if chart.config is not alt.Undefined:  # a chart configured already: merge into its config
        return chart.properties(title=alt.TitleParams(**params)).configure_axis(**AXIS_STYLE).configure_view(**VIEW_STYLE)
    # the same spec as .properties(title=...).configure_axis(...).configure_view(...), in one
    # copy of the chart instead of three (each copy of a layered chart deep-copies its layers)
    return chart.properties(title=alt.TitleParams(**params),
                            config=alt.Config(axis=alt.AxisConfig(**AXIS_STYLE), view=alt.ViewConfig(**VIEW_STYLE)))


def layer(*charts: alt.Chart) -> alt.LayerChart:
    """``alt.layer(*charts)``, with the data the layers share given once, at the top. (Given
    in each layer, altair lifts it itself, but first writes the whole frame out as text once
    per layer to name the view, a tenth of a second for a few hundred rows.) The spec is the
    same."""
    data = charts[0].data if charts else alt.Undefined
    if data is alt.Undefined or any(c.data is not data for c in charts):
        return alt.layer(*charts)
    bare = []
    for c in charts:
        c = c.copy(deep=False)
        c.data = alt.Undefined
        bare.append(c)
    return alt.layer(*bare, data=data)
