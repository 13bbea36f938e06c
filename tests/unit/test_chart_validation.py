"""altair's schema check runs once per distinct spec (salesops.charts.validation): the same
chart again is not re-checked, a changed chart is, and an invalid chart fails every time."""
from __future__ import annotations

import altair as alt
import jsonschema
import pandas as pd
import pytest
from altair.utils import schemapi

from salesops.charts import base, validation


@pytest.fixture
def counted(monkeypatch):
    """How many times altair's own checker (jsonschema, under validate_jsonschema) runs."""
    calls = []
    real = schemapi._get_errors_from_spec

    def count(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(schemapi, "_get_errors_from_spec", count)
    validation._CHECKED.clear()
    return calls


def _chart(values):
    data = pd.DataFrame({"month": ["Jan", "Feb", "Mar"], "won": values})
    bars = alt.Chart(data).mark_bar().encode(x=alt.X("month:N", title="Month"), y=alt.Y("won:Q", title="Bookings"))
    return base.titled(bars, "Bookings by month")


def test_the_charts_use_the_remembering_check():
    assert getattr(schemapi.validate_jsonschema, "remembers", False)


def test_the_same_chart_is_checked_once_and_a_changed_one_again(counted):
    first = _chart([1.0, 2.0, 3.0]).to_dict()
    assert counted, "the first conversion checks the spec"
    n = len(counted)
    again = _chart([1.0, 2.0, 3.0]).to_dict()
    assert again == first and len(counted) == n  # nothing checked twice
    _chart([1.0, 2.0, 4.0]).to_dict()  # other data: the top-level spec is new and is checked
    assert len(counted) > n


def test_an_invalid_chart_fails_every_time(counted):
    chart = alt.Chart(pd.DataFrame({"a": [1]})).mark_point().encode(x=alt.X("a:Q"))
    bad = chart.copy()
    bad.width = "wide"  # set without altair's property check: to_dict checks it
    for _ in range(2):
        with pytest.raises(schemapi.SchemaValidationError, match="wide"):
            bad.to_dict()
        with pytest.raises(jsonschema.ValidationError, match="wide"):  # and the property check itself
            chart.properties(width="wide")


def test_only_plain_json_is_remembered():
    seen = []

    def check(spec, schema, rootschema=None, *, raise_error=True):
        seen.append(spec)
        if spec.get("bad"):
            err = jsonschema.ValidationError("bad spec")
            if raise_error:
                raise err
            return err
        return None

    wrapped = validation.remembered(check)
    schema, root = {"type": "object"}, {}
    validation._CHECKED.clear()
    assert wrapped({"a": [1, 2.5, "x", None, True]}, schema, root) is None
    assert wrapped({"a": [1, 2.5, "x", None, True]}, schema, root) is None
    assert len(seen) == 1
    wrapped({"a": (1, 2)}, schema, root)  # a tuple: altair itself every time (JSON would call it a list)
    wrapped({"a": (1, 2)}, schema, root)
    assert len(seen) == 3
    assert wrapped({"a": 1}, {"type": "object"}, root) is None  # another schema object: checked again
    assert len(seen) == 4
    for _ in range(2):
        with pytest.raises(jsonschema.ValidationError, match="bad spec"):
            wrapped({"bad": 1}, schema, root)
    assert isinstance(wrapped({"bad": 1}, schema, root, raise_error=False), jsonschema.ValidationError)
    assert len(seen) == 5  # the failure was remembered too
