"""Altair's schema check, done once per distinct spec.

altair checks every chart against the Vega-Lite JSON schema each time the chart becomes a spec
(``to_dict``, which Streamlit calls on every page run), and checks each channel again while the
chart is built. A page rerun draws the same charts with the same data (Streamlit names each
dataset by a hash of its content), and the check took about a third of a rerun: the Overview's
charts cost 40 ms of checks per run.

The check's answer depends only on the spec and the schema, so a spec already checked against
the same schema gets the same answer from memory: valid stays valid, and an invalid spec raises
the same error again. Only plain JSON values are remembered (dict with text keys, list, str,
int, float, bool, None); a spec holding anything else (a tuple, a numpy number, an object) is
checked by altair itself every time, as before.
"""
from __future__ import annotations

import json
from typing import Any

from ..memo import Kept

#: The distinct (spec, schema) checks remembered per process.
SIZE = 4096

_CHECKED = Kept(SIZE)
_PLAIN = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    """True when ``value`` is built of plain JSON values only (exact types, no subclasses
    beyond bool, so that two values with the same JSON text are checked alike)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            for k, item in v.items():
                if type(k) is not str:
                    return False
                stack.append(item)
        elif t is list:
            stack.extend(v)
        elif t not in _PLAIN:
            return False
    return True


def remembered(check):
    """``check`` (altair's ``validate_jsonschema(spec, schema, rootschema=None, *,
    raise_error=True)``) with its answers remembered by spec text and schema. The schemas are
    kept alive with the answer, so the identity that keys them cannot be reused by another."""

    def validate_jsonschema(spec, schema, rootschema=None, *, raise_error: bool = True):
        if not _plain(spec):
            return check(spec, schema, rootschema, raise_error=raise_error)
        key = (json.dumps(spec, sort_keys=True), id(schema), id(rootschema))

        def make():
            return schema, rootschema, check(spec, schema, rootschema, raise_error=False)

        _, _, error = _CHECKED.get(key, make)
        if error is not None and raise_error:
            raise error.with_traceback(None)
        return error

    validate_jsonschema.remembers = True
    return validate_jsonschema


def install() -> None:
    """Use the remembering check inside altair (once per process). altair's schema module
    calls its ``validate_jsonschema`` by name for charts, channels and properties."""
    from altair.utils import schemapi

    current = getattr(schemapi, "validate_jsonschema", None)
    if current is None or getattr(current, "remembers", False):
        return
    schemapi.validate_jsonschema = remembered(current)
