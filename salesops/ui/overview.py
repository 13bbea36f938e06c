"""Cached Overview results: computed once per (database, data version, period, as-of, filters)."""
from __future__ import annotations

from datetime import date

import streamlit as st

from .. import overview
from ..periods import Period
from .context import PageContext, _filtered, _filtered_targets, load_workspace


@st.cache_data(max_entries=32, show_spinner="Computing the overview…")
def _standing(db: str, version: int, filters: tuple, period: Period, as_of: date, fy_start: int) -> overview.Standing:
    from ..periods import FiscalCalendar

    ws = load_workspace(db, version)
    return overview.standing(_filtered(db, version, filters), _filtered_targets(db, version, filters), ws.reps,
                             period, as_of, FiscalCalendar(fy_start))


def standing(ctx: PageContext) -> overview.Standing:
    return _standing(ctx.db, ctx.version, ctx.filter_key, ctx.period, ctx.as_of, ctx.calendar.start_month)
