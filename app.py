"""salesops: the Streamlit entry point. Page config, quiet logging, the shared sidebar and
navigation over pages/. Run with ``streamlit run app.py``."""
import logging

import streamlit as st

for noisy in ("prophet", "cmdstanpy", "prophet.plot"):
    logging.getLogger(noisy).setLevel(logging.ERROR)

from salesops.ui import context, widgets  # noqa: E402

st.set_page_config(page_title="salesops", page_icon=":material/insights:", layout="wide")

widgets.ensure_database(context.db_path())

pages = {
    "Performance": [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/team.py", title="Team", icon=":material/groups:"),
        st.Page("pages/reps.py", title="Reps", icon=":material/person:"),
        st.Page("pages/pipeline.py", title="Pipeline", icon=":material/filter_alt:"),
    ],
    "Planning": [
        st.Page("pages/forecast.py", title="Forecast", icon=":material/trending_up:"),
        st.Page("pages/goals.py", title="Goals", icon=":material/flag:"),
        st.Page("pages/compensation.py", title="Compensation", icon=":material/payments:"),
    ],
    "Data": [
        st.Page("pages/import.py", title="Import", icon=":material/upload_file:"),
        st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
    ],
}
page = st.navigation(pages)
context.sidebar()
page.run()
