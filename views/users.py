"""Users: who may sign in, with which role (admin, manager, rep), as which person on the
roster and for which teams. Admins only; every save is in the audit trail."""
import pandas as pd
import streamlit as st

from salesops import auth
from salesops.errors import SalesopsError
from salesops.ui import context, session, widgets

ctx = context.page_context()
st.title("Users")
widgets.require("users")

if not session.auth_configured():
    st.info("Sign-in is not configured, so this app runs in local single-user mode: whoever uses this computer is "
            "the admin, and the list below is not used. Configure sign-in with an [auth] section in "
            ".streamlit/secrets.toml (docs/access.md).", icon=":material/info:")
st.caption("Admins do everything (imports, settings, stage map, roster, plans, publishing targets, demo and clear, "
           "users). Managers see their teams' numbers and save plans for them: the teams listed, or else the teams the "
           "roster gives the person as manager. Reps see their own deals and numbers beside their team's totals. "
           "E-mail is what the identity provider reports; the first person to sign in to a new workspace became admin.")

frame = auth.users(ctx.db)[["email", "role", "person", "teams"]]
people = sorted(set(ctx.ws.reps["name"].astype(str)) | set(ctx.ws.reps["manager"].dropna().astype(str))) \
    if not ctx.ws.reps.empty else []
edited = st.data_editor(
    frame, key="users_editor", num_rows="dynamic", hide_index=True, width="stretch",
    column_config={
        "email": st.column_config.TextColumn("E-mail", required=True),
        "role": st.column_config.SelectboxColumn("Role", options=list(auth.ROLES), required=True),
        "person": st.column_config.TextColumn("Person on the roster", help="The rep's name, or the manager's name as "
                                              "the roster writes it (" + ", ".join(people[:6]) + (", ..." if len(people) > 6 else "") + ")"),
        "teams": st.column_config.TextColumn("Teams", help="Comma-separated; empty: the teams the roster gives the person"),
    })
if st.button("Save users", type="primary", key="save_users"):
    try:
        n = auth.save_users(ctx.db, pd.DataFrame(edited))
        st.toast(f"Users saved: {n}.", icon=":material/check:")
        st.rerun()
    except SalesopsError as exc:
        widgets.show_error(exc)
