"""Reps: a fair comparison of every rep within the team. The leaderboard (attainment, win rate
with its uncertainty, consistency, trend), who needs coaching and why, reps side by side, one
rep's profile against the median rep, and the ramp of new hires."""
import streamlit as st

from salesops import leaderboard as L
from salesops.charts import performance as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui.context import compute

ctx = context.page_context()
st.title(f"Reps · {ctx.period.label}")
if widgets.empty_state(ctx, "the reps page"):
    st.stop()
widgets.freshness(ctx)
if widgets.filter_problem(ctx):
    st.stop()
cc, p = ctx.currency, ctx.period

try:
    board = compute(L.leaderboard, ctx)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
if board.empty:
    st.info("No rep has deals or a target in this period with these filters.", icon=":material/person_off:")
    st.stop()
team, lb = board.team, board.reps

SHOWN_FLAGS = 6  # the other flagged reps sit in an expander
VIEWS = ["Leaderboard", "Win rate vs deal size", "Compare reps", "Rep profile", "New-hire ramp"]
view = st.segmented_control("View", VIEWS, default="Leaderboard", key="reps_view") or "Leaderboard"
LEADERBOARD = {
    "rank": ("Rank", "count"), "owner": ("Rep", "text"), "manager": ("Manager", "text"), "region": ("Region", "text"),
    "attainment": "Attainment", "won_amount": "Bookings", "target": "Target",
    "win_rate_text": ("Win rate (80% interval)", "text"), "win_rate_shrunk": ("Win rate, shrunk to team", "pct"),
    "avg_deal_size": "Average deal", "avg_cycle_days": "Sales cycle", "open_pipeline": "Open pipeline",
    "coverage": "Coverage", "cv": ("Monthly variation (CV)", "number"), "months_above_text": ("Months at the median rep or above", "text"),
    "quarter_quota_share": ("Quarters at quota", "pct"), "spark": ("Last 12 months", "spark"), "coaching": ("Coaching", "text"),
}

if view == "Leaderboard":
    c = st.columns(4)
    widgets.note_tile("Reps", board.count_text(), "listed", container=c[0],
                      help="Reps with deals or a target in the period inside the filters, and rostered reps on the team then.")
    widgets.note_tile("At or above target", *board.at_target_text(), container=c[1],
                      help="Reps whose bookings reached their own target for the period (a zero quota is not a target).")
    widgets.kpi(ctx, "attainment", team, container=c[2], label="Team attainment",
                note=f"of the {board.target.label}" if board.target.has_target else "no target set",
                help="Team bookings / the team's target: the Overview's number. " + (board.target.note(cc) or ""))
    widgets.kpi(ctx, "win_rate", team, container=c[3], label="Team win rate",
                note=board.win_rate_note())
    st.caption(board.target_words(cc))
    widgets.table(ctx, lb, LEADERBOARD, key="reps_leaderboard", download=f"leaderboard_{p.label}")
    st.caption(f"Ranked by {board.ranked_by}. 'Few deals' marks fewer than {L.SMALL_SAMPLE} closed deals, whose win "
               f"rate says little on its own; the shrunk rate counts {L.SHRINK_STRENGTH:.0f} more deals at the team's "
               "rate. Consistency is over the 12 complete months before the as-of date (or the period's end).")

    st.subheader("Who needs coaching")
    if board.flags.empty:
        st.success("No rep stands out against the team on win rate, cycle, deal size, coverage, pace or consistency.")
    else:
        flagged = board.coaching_list()
        shown, more = flagged[:SHOWN_FLAGS], flagged[SHOWN_FLAGS:]
        for owner, text in shown:
            st.markdown(f"- **{widgets.plain(owner)}**: {widgets.plain(text)}")
        if more:
            with st.expander(f"{len(more)} more reps flagged"):
                for owner, text in more:
                    st.markdown(f"- **{widgets.plain(owner)}**: {widgets.plain(text)}")
        st.caption("A win rate is flagged only when its whole 80% interval is below the team's; cycle and deal size "
                   "against the rep's own team when it has three or more reps.")
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.attainment_bars(lb, cc, p.label), width="stretch")
        st.caption("Each rep's bookings against their own target for the period.")
    with right:
        st.altair_chart(charts.win_rate_intervals(lb, team.get("win_rate"), p.label), width="stretch")
        st.caption("Long lines mean few closed deals: compare reps by where their lines sit, not by the dots alone.")

elif view == "Win rate vs deal size":
    quad = L.quadrants(board)
    if quad.reps.empty:
        st.info("No rep has both a win rate and a won deal in this period.")
    else:
        st.altair_chart(charts.quadrant_scatter(quad, cc, p.label), width="stretch")
        st.caption("Top right wins often and big; bottom left is where coaching pays most.")
        widgets.table(ctx, quad.reps, {"owner": ("Rep", "text"), "quadrant": ("Quadrant", "text"), "win_rate": "Win rate",
                                       "avg_deal_size": "Average deal", "closed": ("Closed deals", "count"),
                                       "won_amount": "Bookings"}, key="reps_quadrants")

elif view == "Compare reps":
    names = list(lb["owner"])
    chosen = st.multiselect("Reps to compare (two to five)", names, default=names[:2], max_selections=5, key="reps_compare")
    if len(chosen) < 2:
        st.info("Pick at least two reps.")
        st.stop()
    st.dataframe(L.compare_reps(board, chosen, cc), hide_index=True, width="stretch")
    st.caption(f"{p.label} as known on {ctx.as_of:%d %b %Y}; the team column is the whole slice (the Overview's numbers).")
    metric = st.segmented_control("Trend", list(L.TREND_SERIES), default="won_amount", key="reps_compare_metric",
                                  format_func=lambda m: L.TREND_SERIES[m][0]) or "won_amount"
    title, kind = L.TREND_SERIES[metric]
    trends = compute(L.rep_trends, ctx, tuple(chosen))
    start, end = L.trend_window(ctx.filters)
    st.altair_chart(charts.rep_trend_chart(trends, metric, title, kind, cc, L.MEDIAN), width="stretch")
    st.caption(f"Monthly {title.lower()} from {start:%b %Y} to {end:%b %Y}; the dashed line is the median rep.")

elif view == "Rep profile":
    names = list(lb["owner"])
    default = ctx.filters.rep[0] if ctx.filters.rep and ctx.filters.rep[0] in names else names[0]
    owner = st.selectbox("Rep", names, index=names.index(default), key="reps_profile")
    prof = L.profile(board, owner)
    detail = compute(L.rep_detail, ctx, owner)
    st.text(prof.line())
    c = st.columns(4)
    for col, name in zip(c, ("attainment", "won_amount", "win_rate", "avg_deal_size")):
        widgets.kpi(ctx, name, prof.row, container=col, note=prof.median_note(name, cc))
    if not prof.flags:
        st.success(f"{widgets.plain(owner)} does not stand out against the team this period.")
    else:
        st.warning("Coaching: " + widgets.plain("; ".join(prof.flags)))
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.funnel_chart(detail.funnel, owner, p.label), width="stretch")
        st.caption("Deals created in the period, how many have closed, and how many were won so far.")
    with right:
        st.altair_chart(charts.rep_trend_chart(detail.trend, "won_amount", "Bookings", "money", cc, L.MEDIAN),
                        width="stretch")
        st.caption(f"{widgets.plain(owner)}'s monthly bookings against the median rep's.")
    st.markdown(f"**{widgets.plain(detail.deals_title(p.label))}**")
    widgets.deals_table(ctx, detail.deals, key="reps_profile_deals", download=f"deals_{owner}_{p.label}")

else:  # New-hire ramp
    rp = compute(L.ramp_view, ctx)
    c = st.columns(3)
    widgets.note_tile("Ramped-rep equivalents", rp.equivalents_text, f"of {rp.headcount} reps on the team",
                      help="Each rep counts by the share of a tenured rep's productivity expected at their tenure.",
                      container=c[0])
    widgets.note_tile("Bookings per ramped rep", widgets.money(ctx, rp.productivity), "per quarter, last 12 months",
                      help="Won amount of the last 12 months / (average ramped-rep equivalents x 4 quarters).",
                      container=c[1])
    widgets.note_tile("Ramp curve", "learned" if rp.method == "learned" else "linear", None,
                      help=f"The ramp is {rp.method_words()}.", container=c[2])
    st.caption(f"The ramp is {rp.method_words()}.")
    left, right = st.columns(2)
    with left:
        if rp.cohort.empty:
            st.info("No rep on the roster was hired inside the data, so there is no cohort to show.")
        else:
            st.altair_chart(charts.cohort_chart(rp.cohort, cc), width="stretch")
            st.caption("Average bookings of reps hired inside the data, by month since hire (months fully observed).")
    with right:
        st.altair_chart(charts.ramp_curve_chart(rp.curve), width="stretch")
        st.caption("The share of a tenured rep's productivity expected at each month of tenure (goal setting uses it).")
    if rp.reps.empty:
        st.info("The roster has no hire dates, so time to first deal and time to ramp cannot be measured.")
    else:
        widgets.table(ctx, rp.reps, {"owner": ("Rep", "text"), "hire_date": "Hired", "tenure_months": ("Tenure (months)", "number"),
                                     "first_win_date": ("First win", "date"), "days_to_first_win": ("Days to first win", "days"),
                                     "months_to_ramp": ("Months to ramp", "count"), "ramp_factor": ("Ramp factor", "pct")},
                      key="reps_ramp")
        st.caption("Time to first win and to ramp are measured only for reps hired after the data begins.")
