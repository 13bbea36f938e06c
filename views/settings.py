"""Settings: fiscal calendar and currency, the stage map, the rep roster, the workspace."""
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from salesops import backup, workspace
from salesops import schema as S
from salesops.errors import SalesopsError
from salesops.ui import context, widgets

ctx = context.page_context()
st.title("Settings")
widgets.require("settings")
if not ctx.empty:
    widgets.freshness(ctx)

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

st.subheader("Workspace")
with st.form("settings_form", border=True):
    c1, c2, c3 = st.columns(3)
    name = c1.text_input("Workspace name", value=ctx.settings.workspace_name, max_chars=80)
    start = c2.selectbox("Fiscal year starts in", MONTHS, index=ctx.settings.fiscal_year_start_month - 1,
                         help="Quarters are three-month blocks from this month. A fiscal year is named by the calendar year in which it ends.")
    cur = c3.selectbox("Currency", workspace.CURRENCIES, index=workspace.CURRENCIES.index(ctx.currency) if ctx.currency in workspace.CURRENCIES else 0,
                       help="The currency every amount is shown in. Amounts are not converted.")
    country = c1.text_input("Holiday country (ISO code)", value=ctx.settings.holiday_country or "US", max_chars=3,
                            help="Public holidays the forecast can take into account, e.g. US, DE, GB.")
    if st.form_submit_button("Save settings", type="primary"):
        try:
            workspace.save_settings(ctx.db, workspace_name=name.strip(), fiscal_year_start_month=MONTHS.index(start) + 1,
                                    currency=cur, holiday_country=country.strip().upper())
            st.toast("Settings saved.", icon=":material/check:")
            st.rerun()
        except SalesopsError as exc:
            widgets.show_error(exc)

st.subheader("Stage map")
st.caption("Every stage text maps to open, won or lost, a default probability and its place in the funnel. "
           "Stages from your imports appear here; 'known' means a built-in default matched.")
stage_map = workspace.stage_map(ctx.db)
edited = st.data_editor(
    stage_map, key="stage_map_editor", num_rows="dynamic", hide_index=True, width="stretch",
    column_config={
        "stage": st.column_config.TextColumn("Stage", required=True),
        "status": st.column_config.SelectboxColumn("Status", options=list(S.STATUSES), required=True),
        "probability": st.column_config.NumberColumn("Default probability", min_value=0.0, max_value=1.0, step=0.05, format="percent"),
        "sort_order": st.column_config.NumberColumn("Order", min_value=0, step=1),
        "known": st.column_config.CheckboxColumn("Known", disabled=True),
    })
K_PENDING_MAP = "stage_map_pending"
if st.button("Save stage map", key="save_stage_map"):
    st.session_state[K_PENDING_MAP] = edited.dropna(subset=["stage"]).fillna({"probability": 0.0, "sort_order": 0, "status": "open"})
pending = st.session_state.get(K_PENDING_MAP)
if pending is not None:
    try:
        preview = workspace.stage_map_preview(ctx.db, pending)
        if not preview.map_changed:
            st.session_state.pop(K_PENDING_MAP, None)
            st.info(preview.describe(), icon=":material/info:")
        elif not preview.deals_changed:
            workspace.save_stage_map(ctx.db, pending)
            st.session_state.pop(K_PENDING_MAP, None)
            st.toast(widgets.plain(f"Stage map saved. {preview.describe()}"), icon=":material/check:")
            st.rerun()
        else:
            with st.container(border=True):
                st.warning(widgets.plain(preview.describe()), icon=":material/warning:")
                widgets.table(ctx, preview.changes, {"stage": "Stage", "status": "Status now", "new_status": "Status after",
                                                      "deals": ("Deals", "count")}, key="stage_map_preview")
                st.caption("Only deals whose status came from the stage map change; statuses from a file's status "
                           "column are kept. A backup is written first.")
                c1, c2 = st.columns(2)
                if c1.button("Save and change these statuses", type="primary", key="confirm_stage_map"):
                    n = workspace.save_stage_map(ctx.db, pending)
                    st.session_state.pop(K_PENDING_MAP, None)
                    st.toast(f"Stage map saved; {n:,} deal statuses updated. A backup was written first.",
                             icon=":material/check:")
                    st.rerun()
                if c2.button("Cancel", key="cancel_stage_map"):
                    st.session_state.pop(K_PENDING_MAP, None)
                    st.rerun()
    except SalesopsError as exc:
        st.session_state.pop(K_PENDING_MAP, None)
        widgets.show_error(exc)

st.subheader("Rep roster")
st.caption("Managers, teams and regions here drive every roll-up; hire dates drive ramp. Reps with an end date are inactive.")
roster = ctx.workspace.reps.copy()
roster_edit = st.data_editor(
    roster, key="roster_editor", num_rows="dynamic", hide_index=True, width="stretch",
    column_config={
        "name": st.column_config.TextColumn("Rep", required=True),
        "manager": "Manager", "team": "Team", "region": "Region",
        "hire_date": st.column_config.DateColumn("Hire date", format="YYYY-MM-DD"),
        "end_date": st.column_config.DateColumn("End date", format="YYYY-MM-DD"),
        "ote": widgets.money_column(ctx, "OTE"),
        "base_salary": widgets.money_column(ctx, "Base salary"),
        "active": st.column_config.CheckboxColumn("Active"),
    })
if st.button("Save roster", key="save_roster"):
    try:
        n = workspace.save_roster(ctx.db, pd.DataFrame(roster_edit))
        st.toast(f"Roster saved: {n} reps.", icon=":material/check:")
        st.rerun()
    except SalesopsError as exc:
        widgets.show_error(exc)
        if getattr(exc, "problems", None):
            st.dataframe(pd.DataFrame([p.as_dict() for p in exc.problems]), hide_index=True)

st.subheader("Data")
c1, c2 = st.columns(2)
with c1:
    st.markdown("**Demo workspace**  \nReplace everything with the demo company (your saved plans stay). "
                "A backup is written first.")
    widgets.load_demo_button(ctx.db, key="settings_load_demo")
with c2:
    st.markdown("**Start empty**  \nRemove all deals, snapshots, imports, roster and targets. A backup is written first.")
    confirm = st.checkbox("Yes, remove the data", key="confirm_clear")
    if st.button("Clear the workspace", disabled=not confirm, key="clear_ws"):
        try:
            written = workspace.clear_workspace(ctx.db)
            st.toast(widgets.plain(f"Workspace cleared; the backup {written.name} holds what was there."),
                     icon=":material/delete:")
            st.rerun()
        except SalesopsError as exc:
            widgets.show_error(exc)

st.subheader("Backups")
st.caption("Every destructive action (load demo, clear, restore, a stage-map change) writes a backup first, "
           "into the backups folder beside the database. Restoring backs up the current state first.")
c1, c2 = st.columns(2)
with c1:
    st.download_button("Download a backup of the workspace", lambda: backup.backup_bytes(ctx.db),
                       file_name=f"{Path(ctx.db).stem}-backup.db", mime="application/vnd.sqlite3",
                       key="download_backup", icon=":material/download:")
    listed = backup.list_backups(ctx.db)
    choice = st.selectbox("Restore a backup from the list", [b.path.name for b in listed], index=None,
                          placeholder="No backups yet" if not listed else "Choose a backup", key="restore_choice",
                          format_func=lambda name: next((b.label for b in listed if b.path.name == name), name))
with c2:
    upload = st.file_uploader("…or restore an uploaded backup (.db)", type=["db", "sqlite", "sqlite3"], key="restore_upload")
sure = st.checkbox("Yes, replace the workspace with this backup", key="confirm_restore")
if st.button("Restore", key="restore_backup", disabled=not (sure and (choice or upload))):
    try:
        if upload is not None:
            with tempfile.TemporaryDirectory() as tmp:
                f = Path(tmp) / "upload.db"
                f.write_bytes(upload.getvalue())
                safety = backup.restore(ctx.db, f)
        else:
            safety = backup.restore(ctx.db, next(b.path for b in listed if b.path.name == choice))
        st.toast(widgets.plain(f"Backup restored; the state before it is in {safety.name}."), icon=":material/restore:")
        st.rerun()
    except SalesopsError as exc:
        widgets.show_error(exc)
st.caption(widgets.plain(f"Database: {ctx.db}"))
