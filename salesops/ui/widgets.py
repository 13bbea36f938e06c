"""Shared widgets: KPI tiles (from the KPI registry), the empty state, errors, downloads,
money columns, and :func:`plain` for any text that came from a user's file."""
from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from .. import auth, demo, formats, metrics, reports, store, workspace
from ..errors import PermissionDenied, SalesopsError
from .context import PageContext, freshness_text

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def plain(text) -> str:
    """Text from a file (a deal, rep, account or file name) made safe inside Markdown: every
    Markdown and HTML character is escaped, so ``![x](http://host/x.png)`` shows as written
    and loads nothing, and ``<b>`` is not markup."""
    return _MARKDOWN.sub(r"\\\1", str(text)).replace("\n", " ")


_MESSAGE = re.compile(r"([\\`*_\[\]()!<>|~$])")
_LINE_START = re.compile(r"^(\s*)(?:([#>+\-=])|(\d+)([.)]))")


def plain_message(text) -> str:
    """A whole message that may quote a file's text (an error, a "wrote 60 rows" flash) made
    safe inside Markdown, more lightly than :func:`plain`: every character that can make an
    image, a link, HTML, emphasis, code, a table or math is escaped, and a leading heading,
    quote or list marker; ordinary punctuation (. - = : # ' ,) stays as written."""
    out = _MESSAGE.sub(r"\\\1", str(text)).replace("\n", " ")

    def start(m):
        return m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4))

    return _LINE_START.sub(start, out, count=1)


def kpi(ctx: PageContext, name: str, current: dict, previous: dict | None = None, *, label: str | None = None,
        help: str | None = None, container=None, note: str | None = None) -> None:
    """A tile for KPI ``name`` from the registry: its label, its value formatted by its
    kind, and its change against ``previous`` (rates in points), coloured by which way is
    better. ``note`` replaces the change with a grey note."""
    k = metrics.KPIS[name]
    value = k.format(current.get(name), ctx.currency)
    text = help or k.definition
    if note is not None:
        note_tile(label or k.label, value, note, help=text, container=container)
        return
    delta = k.delta(current.get(name), previous.get(name), ctx.currency) if previous is not None else None
    kpi_tile(label or k.label, value, delta, help=text, delta_color=k.delta_color, container=container)


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


def load_demo_button(ctx_db: str, key: str = "load_demo", *, confirm: bool = True) -> None:
    """The "Load the demo workspace" button. It replaces everything (deals, imports with their
    undo data, roster, targets, stage map, settings, remembered mappings), so with ``confirm``
    it is enabled only after a "Yes, replace" checkbox; a backup is written first either way
    (workspace.load_demo)."""
    sure = True
    if confirm:
        sure = st.checkbox("Yes, replace everything with the demo", key=f"{key}_confirm",
                           help="A backup of the current workspace is written first (Settings → Backups).")
    if st.button("Load the demo workspace", type="primary", key=key, icon=":material/rocket_launch:", disabled=not sure):
        with st.spinner("Building the demo workspace…"):
            try:
                written = workspace.load_demo(ctx_db)
            except SalesopsError as exc:
                show_error(exc)
                return
        if written is not None:
            st.toast(plain(f"Demo loaded; the previous workspace is in the backup {written.name}."),
                     icon=":material/rocket_launch:")
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
        load_demo_button(ctx.db, key=f"load_demo_{what}", confirm=False)  # no deals to lose; a backup is still written
    return True


def show_error(exc: Exception) -> None:
    """Show the package's own error to the user (never a traceback)."""
    st.error(plain_message(str(exc)), icon=":material/error:")


def require(action: str) -> None:
    """Stop the page with the domain's own refusal when the signed-in user's role may not do
    ``action`` (salesops.auth.require: the same check every write makes)."""
    try:
        auth.require(action)
    except PermissionDenied as exc:
        st.warning(plain(str(exc)), icon=":material/lock:")
        st.stop()


def freshness(ctx: PageContext) -> None:
    """How old the data is, and what the page is looking at (plain text: names come from files)."""
    st.caption(plain(f"{freshness_text(ctx.workspace)} · {ctx.period.label} ({ctx.period.start:%d %b %Y} – "
                     f"{ctx.period.end:%d %b %Y}) · as of {ctx.as_of:%d %b %Y} · {ctx.filter_text}"))


def filter_problem(ctx: PageContext) -> bool:
    """Say so when the filters exclude each other (nothing inside); True if shown."""
    problem = ctx.filters.problem(ctx.ws)
    if problem:
        st.warning(plain(problem), icon=":material/filter_alt_off:")
        return True
    return False


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


#: Business names of deal columns in tables.
DEAL_LABELS = {"opportunity_id": "Deal id", "name": "Deal", "account": "Account", "owner": "Rep", "stage": "Stage",
               "status": "Status", "amount": "Amount", "probability": "Probability", "created_date": "Created",
               "close_date": "Close date", "region": "Region", "segment": "Segment", "product": "Product",
               "type": "Deal type", "lead_source": "Lead source", "industry": "Industry", "manager": "Manager",
               "team": "Team", "forecast_category": "Forecast category", "loss_reason": "Loss reason",
               "pipeline": "Pipeline", "currency": "Currency"}


def deals_table(ctx: PageContext, deals: pd.DataFrame, *, key: str | None = None, download: str | None = None,
                columns: list[str] | None = None) -> None:
    """A table of deals under business names (the deal columns it has, in a sensible order)."""
    order = columns or [c for c in DEAL_LABELS if c in deals.columns]
    table(ctx, deals, {c: DEAL_LABELS.get(c, c) for c in order}, key=key, download=download)


def percent_column(label: str, help: str | None = None):
    """A column of fractions (0.31) shown as a percentage. :func:`table` shows them with one
    decimal instead (it scales the values itself)."""
    return st.column_config.NumberColumn(label, help=help, format="percent")


#: How a column of each kind is shown in a table.
def column_for(ctx: PageContext, kind: str, label: str, help: str | None = None):
    if kind in ("money", "money_per_day"):
        return money_column(ctx, label + (" per day" if kind == "money_per_day" else ""), help)
    if kind == "pct":  # display_frame has scaled the fractions to percent
        return st.column_config.NumberColumn(label, help=help, format="%.1f%%")
    if kind == "days":
        return st.column_config.NumberColumn(label, help=help, format="%.0f days")
    if kind == "ratio":
        return st.column_config.NumberColumn(label, help=help, format="%.1fx")
    if kind == "count":
        return st.column_config.NumberColumn(label, help=help, format="%,d")
    if kind == "date":
        return st.column_config.DateColumn(label, help=help, format="DD MMM YYYY")
    if kind == "number":
        return st.column_config.NumberColumn(label, help=help, format="%,.2f")
    if kind == "spark":  # a list of numbers per row, drawn as a small line
        return st.column_config.LineChartColumn(label, help=help)
    if kind == "number_text":  # numbers already formatted as text (see fill_missing): aligned like numbers
        return st.column_config.TextColumn(label, help=help, alignment="right")
    return st.column_config.TextColumn(label, help=help)


def table(ctx: PageContext, frame: pd.DataFrame, columns: dict, *, key: str | None = None, height=None,
          download: str | None = None, missing: str | None = None) -> None:
    """Show ``frame`` with only ``columns`` ({column: label} for KPI or deal columns, whose
    kind the registry knows, or {column: (label, kind)}), in that order, under business names;
    percentages with one decimal, money in the currency. ``download`` adds CSV/XLSX buttons
    (the file stem) of the same table under the same names. ``missing`` (e.g. "–") is shown in
    number cells that have no value, instead of the grid's "None" (such a column is shown as
    formatted text)."""
    shown, config = display_frame(frame, columns)
    if missing is not None:
        shown, config = fill_missing(shown, config, missing, ctx.currency)
    st.dataframe(shown, hide_index=True, width="stretch", key=key, height=height or "auto", placeholder=formats.MISSING,
                 column_config={label: column_for(ctx, kind, label) for label, kind in config.items()})
    if download:
        download_buttons(export_frame(frame, columns), download, key=f"{key or download}_dl")


def _kind_label(col: str, spec) -> tuple[str, str]:
    if isinstance(spec, tuple):
        return spec[0], spec[1]
    k = metrics.KPIS.get(col)
    if k is not None:
        return spec or k.label, k.kind
    if col in ("amount",):
        return spec or "Amount", "money"
    if col in ("probability",):
        return spec or "Probability", "pct"
    if col.endswith("_date") or col in ("date", "day", "as_of", "first_win_date", "hire_date", "end_date"):
        return spec or DEAL_LABELS.get(col, col), "date"
    return spec or DEAL_LABELS.get(col, col), "text"


def display_frame(frame: pd.DataFrame, columns: dict) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame to show: the chosen columns renamed to their labels, fractions scaled to
    percent; and {label: kind}."""
    out, kinds = {}, {}
    for col, spec in columns.items():
        if col not in frame.columns:
            continue
        label, kind = _kind_label(col, spec)
        values = frame[col]
        if kind == "pct":
            values = pd.to_numeric(values, errors="coerce") * 100
        elif kind == "date":
            values = pd.to_datetime(values, errors="coerce")
        out[label], kinds[label] = values.reset_index(drop=True), kind
    return pd.DataFrame(out), kinds


_FORMAT = {"money": lambda v, c: formats.money(v, c, compact=False), "money_per_day": lambda v, c: formats.money(v, c, compact=False) + "/day",
           "pct": lambda v, c: f"{v:.1f}%", "days": lambda v, c: formats.days(v), "ratio": lambda v, c: formats.ratio(v),
           "count": lambda v, c: formats.number(v), "number": lambda v, c: f"{v:,.2f}"}


def fill_missing(shown: pd.DataFrame, kinds: dict[str, str], missing: str, currency: str) -> tuple[pd.DataFrame, dict]:
    """``display_frame``'s output with every number column that has an empty cell turned into
    formatted text (kind "number_text", right-aligned), ``missing`` in the empty cells
    (percent columns are already scaled)."""
    out, new_kinds = shown.copy(), dict(kinds)
    for label, kind in kinds.items():
        fmt = _FORMAT.get(kind)
        if fmt is None or not out[label].isna().any():
            continue
        out[label] = [missing if pd.isna(v) else fmt(float(v), currency) for v in out[label]]
        new_kinds[label] = "number_text"
    return out, new_kinds


def export_frame(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    """The same columns under the same business names for a download (fractions stay fractions;
    sparkline columns are left out)."""
    out = {}
    for col, spec in columns.items():
        if col in frame.columns and _kind_label(col, spec)[1] != "spark":
            out[_kind_label(col, spec)[0]] = frame[col].reset_index(drop=True)
    return pd.DataFrame(out)


def ensure_database(path: str) -> None:
    """First start on a machine: no database file yet -> create it with the demo workspace.
    A damaged file stops the app with a clear message (checked again whenever the file changes)."""
    from pathlib import Path

    if not Path(path).exists():
        demo.load_demo(path)
        st.toast("Opened the demo workspace. Import your own CRM export on the Import page.", icon=":material/rocket_launch:")
    try:
        stat = Path(path).stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    integrity = _integrity(path, stamp)
    if integrity:
        st.error(plain_message(store.damaged_message(path, integrity[0].splitlines()[-1][:120])), icon=":material/error:")
        st.stop()


@st.cache_resource(max_entries=4, show_spinner="Checking the database…")
def _integrity(path: str, stamp) -> list[str]:
    """``PRAGMA quick_check`` once per database file state (``stamp``: its modification time
    and size), not once per server process: damage after start-up is found on the next page."""
    return store.integrity_problems(path)


def stop_unless_workspace_opens() -> None:
    """Show why the workspace cannot be opened (damaged, read-only and too old to upgrade, from
    a newer salesops) and stop the script cleanly: no crash box beside the message."""
    from .context import current_workspace

    try:
        current_workspace()
    except SalesopsError as exc:
        st.error(plain_message(str(exc)), icon=":material/error:")
        st.stop()


def chart_with_downloads(ctx: PageContext, chart, data: pd.DataFrame | None, stem: str, *, columns: dict | None = None,
                         key: str | None = None, downloads: bool = True) -> None:
    """An Altair chart with CSV, XLSX (the numbers behind it, under business names when
    ``columns`` gives them, formula cells neutralised) and PNG (the same spec rendered
    offline) downloads. Every file is built only when its button is clicked."""
    st.altair_chart(chart, width="stretch")
    if not downloads:
        return
    k = key or stem
    frame = export_frame(data, columns) if (data is not None and columns) else data
    c1, c2, c3 = st.columns(3)
    if frame is not None:
        c1.download_button("Chart data (CSV)", lambda: reports.to_csv_bytes(frame), file_name=f"{stem}.csv", mime="text/csv",
                           key=f"{k}_chart_csv", icon=":material/download:")
        c2.download_button("Chart data (Excel)", lambda: reports.to_xlsx_bytes(frame), file_name=f"{stem}.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{k}_chart_xlsx",
                           icon=":material/download:")
    c3.download_button("Chart (PNG)", lambda: reports.chart_png(chart, width=1000), file_name=f"{stem}.png", mime="image/png",
                       key=f"{k}_chart_png", icon=":material/image:")
