"""Streamlit glue of the Goals and Compensation pages (no numbers are computed here).

* :func:`kept_number_input`: a number input whose typed value survives the widget being
  hidden for a while (Streamlit forgets the state of a widget that is not drawn in a run: a
  typed target would be lost when the user switches the basis away and back);
* :func:`view_key`: a widget key tied to the period and the slice, so a new view starts from
  its own suggestion;
* :func:`overrides_editor`: the hand-typed quotas as (rep, text) pairs.
"""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from .context import PageContext


def view_key(prefix: str, ctx: PageContext) -> str:
    """``prefix`` + a short hash of the period and the filters' slice."""
    f = ctx.filters
    text = repr((f.period.label, f.period.start, f.period.end, f.cuts()))
    return f"{prefix}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def kept_number_input(container, label: str, *, key: str, default: float, **kwargs) -> float:
    """``container.number_input`` under ``key`` that starts at ``default`` and keeps what was
    typed even across runs in which it is not drawn."""
    kept = f"_kept_{key}"
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(kept, float(default))
    value = container.number_input(label, key=key, **kwargs)
    st.session_state[kept] = value
    return value


def overrides_editor(key: str, reps: list[str], label: str, help: str | None = None) -> list[tuple[str, str]]:
    """An editor of one optional quota per rep (typed as text, so an empty cell is blank, not
    "None"); returns the (rep, text) pairs typed, for salesops.goals.parse_overrides."""
    frame = pd.DataFrame({"rep": reps, "manual": [""] * len(reps)})
    edited = st.data_editor(frame, key=key, hide_index=True, width="stretch", disabled=["rep"],
                            column_config={"rep": st.column_config.TextColumn("Rep"),
                                           "manual": st.column_config.TextColumn(label, help=help)},
                            height=min(36 * (len(reps) + 1) + 3, 320))
    return [(str(r), str(v)) for r, v in zip(edited["rep"], edited["manual"]) if v is not None and str(v).strip()]
