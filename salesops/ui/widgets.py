"""Shared widgets: KPI tiles, the empty state, errors, downloads, money formatting."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from .. import demo, formats, reports, store
from ..errors import SalesopsError
from .context import PageContext, freshness_text


def money(ctx: PageContext, x, compact: bool = True) -> str:
    return formats.money(x, ctx.currency, compact=compact)


def kpi_tile(label: str, value: str, delta: str | None = None, *, help: str | None = None,
             delta_color: str = "normal", delta_arrow: str = "auto", container=None) -> None:
    """One KPI as a bordered metric tile. A ``delta`` starting with + or - gets an up or down
    arrow; informational notes (no change behind them) pass ``delta_arrow="off"`` and
    ``delta_color="off"`` so nothing suggests a direction that is not there. A grey delta
    that is not signed ("541 deals") is always such a note and never gets an arrow."""
    if delta_color == "off" and delta_arrow == "auto" and not str(delta or "").startswith(("+", "-")):
        delta_arrow = "off"
    (container or st).metric(label, value, delta=delta, help=help, delta_color=delta_color,
                             delta_arrow=delta_arrow, border=True)


def note_tile(label: str, value: str, note: str | None = None, *, help: str | None = None, container=None) -> None:
    """A tile whose small text is a plain note, not a change: grey, no arrow."""
    kpi_tile(label, value, note, help=help, delta_color="off", delta_arrow="off", container=container)


def signed_delta(change, kind: str = "money", currency: str = "USD", suffix: str = "") -> str | None:
    """Text for a tile's delta: "+$1.2M vs last quarter", "-3 pts", None when unknown."""
    if change is None or pd.isna(change):
        return None
    sign = "+" if change >= 0 else "-"
    if kind == "money":
        body = formats.money(abs(change), currency)
    elif kind == "pts":
        body = f"{abs(change) * 100:.0f} pts"
    elif kind == "days":
        body = f"{abs(change):.0f} days"
    elif kind == "ratio":
        body = f"{abs(change):.1f}x"
    else:
        body = f"{abs(change):,.0f}"
    return f"{sign}{body}{suffix}"


def load_demo_button(ctx_db: str, key: str = "load_demo") -> None:
    if st.button("Load the demo workspace", type="primary", key=key, icon=":material/rocket_launch:"):
        with st.spinner("Building the demo workspace…"):
            try:
                demo.load_demo(ctx_db)
            except SalesopsError as exc:
                st.error(str(exc))
                return
        st.rerun()


def empty_state(ctx: PageContext, what: str = "this page") -> bool:
    """Show the friendly empty state when the workspace has no deals; True if shown."""
    if not ctx.empty:
        return False
    st.info(f"There are no deals in this workspace yet, so {what} has nothing to show.", icon=":material/inbox:")
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Use your own data**  \nUpload the CRM export you already have (Salesforce, HubSpot, "
                    "Pipedrive, Zoho, Dynamics, Close, or any CSV/XLSX).")
        st.page_link("views/import.py", label="Go to Import", icon=":material/upload_file:")
    with c2:
        st.markdown("**Look around first**  \nA realistic demo company: 30 reps, three years of deals, "
                    "targets and pipeline snapshots.")
        load_demo_button(ctx.db, key=f"load_demo_{what}")
    return True


def show_error(exc: Exception) -> None:
    """Show the package's own error to the user (never a traceback)."""
    st.error(str(exc), icon=":material/error:")


def freshness(ctx: PageContext) -> None:
    st.caption(f"{freshness_text(ctx.workspace)} · {ctx.period.label} ({ctx.period.start:%d %b %Y} – {ctx.period.end:%d %b %Y}) · {ctx.filter_text}")


def download_buttons(frame: pd.DataFrame, stem: str, *, key: str | None = None) -> None:
    """CSV and XLSX downloads of ``frame`` with formula-looking cells neutralised. The files
    are built only when a button is clicked, not on every rerun."""
    c1, c2 = st.columns(2)
    c1.download_button("Download CSV", lambda: reports.to_csv_bytes(frame), file_name=f"{stem}.csv", mime="text/csv",
                       key=f"{key or stem}_csv", icon=":material/download:")
    c2.download_button("Download Excel", lambda: reports.to_xlsx_bytes(frame), file_name=f"{stem}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key=f"{key or stem}_xlsx", icon=":material/download:")


def money_column(ctx: PageContext, label: str, help: str | None = None):
    """A dataframe column config showing money in the workspace currency."""
    sym = formats.currency_symbol(ctx.currency).strip()
    return st.column_config.NumberColumn(label, help=help, format=f"{sym}%,.0f" if len(sym) == 1 else "%,.0f " + sym)


def percent_column(label: str, help: str | None = None):
    return st.column_config.NumberColumn(label, help=help, format="percent")


def ensure_database(path: str) -> None:
    """First start on a machine: no database file yet -> create it with the demo workspace."""
    from pathlib import Path

    if not Path(path).exists():
        demo.load_demo(path)
        st.toast("Opened the demo workspace. Import your own CRM export on the Import page.", icon=":material/rocket_launch:")
    integrity = _integrity_at_start(path)
    if integrity:
        st.error(f"The database {path} is damaged ({integrity[0]}). Restore {path}.bak if it exists, "
                 "or point SALESOPS_DB at another file.")
        st.stop()


@st.cache_resource(max_entries=4)
def _integrity_at_start(path: str) -> list[str]:
    """``PRAGMA quick_check`` once per database per server process (it reads the whole file)."""
    return store.integrity_problems(path)
