"""salesops: the Streamlit entry point. Page config, quiet logging, sign-in (or the local
single-user mode), the shared sidebar and navigation over views/. Run with ``streamlit run app.py``."""
import logging
from pathlib import Path

import streamlit as st

for noisy in ("prophet", "cmdstanpy", "prophet.plot"):
    logging.getLogger(noisy).setLevel(logging.ERROR)

from salesops import auth  # noqa: E402
from salesops.errors import SalesopsError  # noqa: E402
from salesops.ui import context, session, widgets  # noqa: E402

# the icon ships with the app: no font or emoji CDN is asked for it (the app makes no network request)
st.set_page_config(page_title="salesops", page_icon=str(Path(__file__).parent / "assets" / "icon.png"), layout="wide")

with auth.acting(auth.User("first start", auth.ADMIN, local=True)):  # the app itself creates a missing database
    widgets.ensure_database(context.db_path())
    widgets.stop_unless_workspace_opens()  # a newer, damaged or unreadable database: the message, then stop
user = session.start(context.db_path())  # the sign-in screen stops the run until someone is signed in

pages = {
    "Performance": [
        st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("views/team.py", title="Team", icon=":material/groups:"),
        st.Page("views/reps.py", title="Reps", icon=":material/person:"),
        st.Page("views/pipeline.py", title="Pipeline", icon=":material/filter_alt:"),
        st.Page("views/review.py", title="Review", icon=":material/slideshow:"),
    ],
    "Planning": [
        st.Page("views/forecast.py", title="Forecast", icon=":material/trending_up:"),
        st.Page("views/goals.py", title="Goals", icon=":material/flag:"),
        st.Page("views/compensation.py", title="Compensation", icon=":material/payments:"),
    ],
    "Customers": [
        st.Page("views/segments.py", title="Segments", icon=":material/donut_small:"),
        st.Page("views/territories.py", title="Territories", icon=":material/map:"),
    ],
    "Data": [
        st.Page("views/import.py", title="Import", icon=":material/upload_file:"),
        st.Page("views/settings.py", title="Settings", icon=":material/settings:"),
        st.Page("views/users.py", title="Users", icon=":material/manage_accounts:"),
        st.Page("views/audit.py", title="Audit", icon=":material/history:"),
    ],
}
page = st.navigation(pages)
session.sidebar_note(user)
context.sidebar()
try:
    page.run()
except SalesopsError as exc:  # e.g. damage met in the middle of a page: the message, never a crash box
    widgets.show_error(exc)
