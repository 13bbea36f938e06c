"""Audit: every change to the workspace, who made it and what changed (before/after where
small), newest first; filter by user, action and date, and download."""
from datetime import date, timedelta

import streamlit as st

from salesops import audit
from salesops.errors import SalesopsError
from salesops.ui import context, widgets

ctx = context.page_context()
st.title("Audit")
widgets.require("users")  # the trail shows every team's changes: admins only
st.caption("Imports and undo, settings, the stage map, the roster, published targets, plans and scenarios, the demo "
           "and clearing: each write records the signed-in user in the same transaction as the change.")

choices = audit.choices(ctx.db)
c1, c2, c3 = st.columns([2, 2, 2])
who = c1.multiselect("User", choices["user"], key="audit_user", placeholder="Everyone")
what = c2.multiselect("Action", choices["action"], key="audit_action", placeholder="Every action",
                      format_func=lambda a: audit.ACTION_LABELS.get(a, a))
today = date.today()
span = c3.date_input("Dates", value=(today - timedelta(days=90), today), key="audit_dates", format="DD.MM.YYYY")
since, until = (span if isinstance(span, (tuple, list)) and len(span) == 2 else (None, None))
try:
    trail = audit.for_people(audit.entries(ctx.db, user=who, action=what, since=since, until=until))
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
if trail.empty:
    st.info("No change matches these filters.", icon=":material/history:")
    st.stop()
st.caption(f"{len(trail):,} changes")
st.dataframe(trail, hide_index=True, width="stretch", column_config={
    "id": st.column_config.NumberColumn("#", width="small"), "at": "When (UTC)", "user": "User", "role": "Role",
    "action": "Action", "summary": "What changed", "before": "Before", "after": "After"})
widgets.download_buttons(trail, "audit", key="audit_download")

st.subheader("Undo a change")
undoable = audit.undoable(ctx.db)
if undoable.empty:
    st.caption("Loading the demo, clearing, restoring a backup and a stage-map change that moves statuses each write a "
               "backup first; none of those is in the trail yet with its backup still in place.")
else:
    labels = {int(r.id): f"#{r.id} · {r.at[:16].replace('T', ' ')} · {audit.ACTION_LABELS.get(r.action, r.action)} · "
                         f"{r.user}" for r in undoable.itertuples(index=False)}
    chosen = st.selectbox("Change", list(labels), format_func=lambda i: widgets.plain(labels[i]), key="audit_undo_pick")
    sure = st.checkbox("Replace the workspace with the state just before this change (the current state is backed up "
                       "first)", key="audit_undo_sure")
    if st.button("Undo this change", key="audit_undo", disabled=not sure, icon=":material/undo:"):
        try:
            kept = audit.undo(ctx.db, chosen)
        except SalesopsError as exc:
            widgets.show_error(exc)
        else:
            st.success(widgets.plain_message(f"Change #{chosen} undone. The state it replaced is in the backup {kept.name}."))
