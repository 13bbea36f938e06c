"""Overview: where do we stand this period? Bookings against target and the pace needed, where
the period will land, win rate, deal size, cycle, pipeline, coverage and velocity, each against
the comparison period; the bookings trend and the largest open deals."""
import streamlit as st

from salesops import formats, outlook, overview
from salesops.charts import overview as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui.context import compute

ctx = context.page_context()
st.title(f"Overview · {ctx.period.label}")
if widgets.empty_state(ctx, "the overview"):
    st.stop()
widgets.freshness(ctx)
if widgets.filter_problem(ctx):
    st.stop()

try:
    s = compute(overview.standing, ctx)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()

cur, prev, cc, t = s.current, s.previous, ctx.currency, s.target
team_view = context.team_totals(ctx)  # a rep: their team's totals beside their own numbers
if team_view and team_view["team"]:
    tt = team_view["team"]
    st.subheader(widgets.plain(f"Your team · {', '.join(team_view['teams'])} (totals only)"))
    c = st.columns(4)
    widgets.note_tile("Team bookings", widgets.money(ctx, tt["won_amount"]),
                      f"your share {formats.pct(team_view['share'])}" if team_view["share"] is not None else "no bookings yet",
                      container=c[0])
    widgets.note_tile("Team target", widgets.money(ctx, tt["target"]), f"{team_view['reps']} reps", container=c[1])
    widgets.note_tile("Team win rate", formats.pct(tt["win_rate"]), f"{tt['won_count']} won, {tt['lost_count']} lost",
                      container=c[2])
    widgets.note_tile("Team open pipeline", widgets.money(ctx, tt["open_pipeline"]), f"{tt['open_count']} deals",
                      container=c[3])
    st.subheader("Your numbers")
money = lambda x: widgets.money(ctx, x)  # noqa: E731
target_note = t.label if t.has_target else "no target set"
target_help = "The target of what the filters show, pro-rated to the period. " + (t.note(cc) or "") + \
    " See docs/kpis.md for the target rule."

landing_slot = None  # the landing zone's place on the page, in a running period
if s.state == "future":
    st.info(f"{ctx.period.label} has not started on {ctx.as_of:%d %b %Y}: here is its target and the pipeline "
            "already closing in it.", icon=":material/event_upcoming:")
    c = st.columns(4)
    widgets.note_tile("Target", money(t.amount), target_note, help=target_help, container=c[0])
    widgets.kpi(ctx, "open_pipeline", cur, container=c[1], note=f"{cur['open_count']:,} deals closing in {ctx.period.label}")
    widgets.kpi(ctx, "coverage", cur, container=c[2],
                note=f"needs {formats.ratio(cur['required_coverage'])} at the current win rate"
                if cur["required_coverage"] == cur["required_coverage"] else "no win rate yet")
    widgets.kpi(ctx, "weighted_pipeline", cur, container=c[3], note="CRM probability x amount")
else:
    st.caption(s.compare_text())
    st.subheader("Bookings against target")
    c = st.columns(4)
    widgets.kpi(ctx, "won_amount", cur, prev, container=c[0],
                help=f"Won amount with a close date in {ctx.period.label}"
                     + (f", up to {ctx.as_of:%d %b %Y}" if s.in_progress else "") + ".")
    widgets.note_tile("Target", money(t.amount), target_note, help=target_help, container=c[1])
    if s.in_progress and s.pace["needed_per_day"] is not None:
        widgets.note_tile("Needed per day to hit target", money(s.pace["needed_per_day"]), f"{s.pace['days_left']} days left",
                          help=f"{money(s.pace['remaining'])} still to book.", container=c[2])
        gap = s.pace["gap"]
        widgets.kpi_tile("Against an even pace to target", money(abs(gap)),
                         "ahead of an even pace" if gap >= 0 else "behind an even pace",
                         delta_arrow="up" if gap >= 0 else "down", delta_color="normal" if gap >= 0 else "inverse",
                         help=f"Booked to date minus a straight line to the target: {money(s.pace['expected_by_now'])} "
                              f"by {ctx.as_of:%d %b}, day {s.pace['elapsed_days']} of {ctx.period.days}.", container=c[3])
    else:
        widgets.kpi(ctx, "won_count", cur, prev, container=c[2])
        widgets.kpi(ctx, "attainment", cur, prev, container=c[3])

    if s.in_progress:
        st.subheader("Where the period will land")
        # filled at the end of the script: the rest of the page shows while the estimate runs
        landing_slot = st.container()

    st.subheader("How we win")
    c = st.columns(4)
    closed = cur["won_count"] + cur["lost_count"]
    wr_hint = (f" {cur['won_count']} won of {closed} closed; 80% interval {formats.pct(cur['win_rate_low'])}–"
               f"{formats.pct(cur['win_rate_high'])}." if closed else "")
    widgets.kpi(ctx, "win_rate", cur, prev, container=c[0], help=None if not wr_hint else
                "Won / (won + lost), deals closed in the period." + wr_hint)
    widgets.kpi(ctx, "avg_deal_size", cur, prev, container=c[1])
    widgets.kpi(ctx, "avg_cycle_days", cur, prev, container=c[2])
    widgets.kpi(ctx, "pipeline_created_amount", cur, prev, container=c[3],
                help=f"{cur['pipeline_created_count']:,} deals created in the period (by created date).")

    st.subheader("Open pipeline for the period")
    c = st.columns(4)
    widgets.kpi(ctx, "open_pipeline", cur, container=c[0], note=f"{cur['open_count']:,} deals open on {ctx.as_of:%d %b}")
    widgets.kpi(ctx, "weighted_pipeline", cur, container=c[1],
                note=(f"{cur['weighted_unknown']:,} deals closed since count at none" if cur["weighted_unknown"] else
                      "CRM probability x amount"))
    need = cur["required_coverage"]
    widgets.kpi(ctx, "coverage", cur, container=c[2],
                note=f"needs {formats.ratio(need)} at this win rate" if need == need else "no win rate yet")
    widgets.kpi(ctx, "velocity", cur, prev, container=c[3])

left, right = st.columns(2)
with left:
    st.altair_chart(charts.bookings_vs_target(s.trend, cc), width="stretch")
    st.caption("The last eight fiscal quarters as known on the as-of date; the running one shows bookings to date. "
               "Ticks: each quarter's target by the same rule as the tile.")
with right:
    st.altair_chart(charts.pace_chart(s.cumulative, cc, ctx.period.label), width="stretch")
    st.caption("Where the period stands day by day; the dashed line is an even pace to target.")

st.subheader("Largest open deals closing this period")
if s.top_open.empty:
    st.caption("No open deals have a close date in this period.")
else:
    widgets.deals_table(ctx, s.top_open, key="ov_top_open")


def landing_zone() -> None:
    """The landing-zone tiles (booked to date + the forecast of the rest), or the button that
    asks for them on a workspace too big to estimate at every first load."""
    deals = ctx.ws.summary["deals"]
    if deals > outlook.AUTO_MAX_DEALS and not st.button("Estimate the landing zone", key="ov_landing",
                                                        icon=":material/insights:"):
        st.caption(f"This workspace has {deals:,} deals: the landing zone reads every deal, its snapshots and stage "
                   "history, so it is estimated on request.")
        return
    try:
        with st.spinner("Estimating where the period will land…"):
            lz = outlook.summary(compute(outlook.landing_zone, ctx))
    except SalesopsError as exc:
        st.caption(str(exc))
        return
    c = st.columns(4)
    widgets.note_tile("Likely landing", money(lz["p50"]), f"80% range {money(lz['p10'])} – {money(lz['p90'])}",
                      help="Booked to date + open pipeline at learned win odds + new business still to come "
                           "(the Forecast page explains it). The same number on Forecast and Goals.",
                      container=c[0])
    widgets.note_tile("Booked to date", money(lz["closed_won"]), f"up to {ctx.as_of:%d %b}", container=c[1])
    widgets.note_tile("Still to come", money(lz["p50"] - lz["closed_won"]),
                      f"pipeline {money(lz['open_expected'])} + new {money(lz['new_expected'])}",
                      help="The median landing minus what is booked: the expected rest of the period.", container=c[2])
    if t.has_target:
        widgets.note_tile("Likely attainment", formats.pct(lz["p50"] / t.amount), f"of the {t.label}", container=c[3])


if landing_slot is not None:  # last, in its place on the page: the estimate is the slowest part
    with landing_slot:
        landing_zone()
