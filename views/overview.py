"""Overview: where do we stand this period? Bookings vs target and pace, win rate, deal size,
cycle, pipeline and coverage, each against the comparison period; the bookings trend."""
import streamlit as st

from salesops import formats
from salesops.charts import overview as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui import overview as cached

ctx = context.page_context()
st.title(f"Overview · {ctx.period.label}")
if widgets.empty_state(ctx, "the overview"):
    st.stop()
widgets.freshness(ctx)

try:
    s = cached.standing(ctx)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()

cur, prev, cc = s.current, s.previous, ctx.currency
d = widgets.signed_delta
compare_end = min(s.compare.start + (ctx.as_of - ctx.period.start), s.compare.end) if s.in_progress else s.compare.end
st.caption(f"Changes compare with {s.compare.label} ({s.compare.start:%d %b} – {compare_end:%d %b %Y})"
           + (", up to the same day of the period, because this one is still running." if s.in_progress else "."))

st.subheader("Bookings against target")
c = st.columns(4)
att = formats.pct(cur["attainment"]) + " of target" if cur["target"] and cur["target"] > 0 else "no target set"
widgets.kpi_tile("Bookings", widgets.money(ctx, cur["won_amount"]), d(cur["won_amount"] - prev["won_amount"], "money", cc),
                 help=f"Won amount with a close date in {ctx.period.label}" + (f", up to {ctx.as_of:%d %b}" if s.in_progress else "") + f". {att}.", container=c[0])
widgets.note_tile("Target", widgets.money(ctx, cur["target"]), att if cur["target"] else None,
                 help="The sum of the reps' targets for the period (pro-rated where a target spans a longer period).", container=c[1])
if s.in_progress and s.pace["needed_per_day"] is not None:
    widgets.note_tile("Needed per day to hit target", widgets.money(ctx, s.pace["needed_per_day"]),
                      f"{s.pace['days_left']} days left",
                      help=f"{widgets.money(ctx, s.pace['remaining'])} still to book.", container=c[2])
    gap = s.pace["gap"]
    widgets.kpi_tile("Ahead / behind pace", widgets.money(ctx, abs(gap)), "ahead of pace" if gap >= 0 else "behind pace",
                     delta_arrow="up" if gap >= 0 else "down", delta_color="normal" if gap >= 0 else "inverse",
                     help=f"Booked to date minus an even pace to target ({widgets.money(ctx, s.pace['expected_by_now'])} expected by {ctx.as_of:%d %b}).", container=c[3])
else:
    widgets.kpi_tile("Deals won", formats.number(cur["won_count"]), d(cur["won_count"] - prev["won_count"], "count", cc), container=c[2])
    widgets.kpi_tile("Attainment", formats.pct(cur["attainment"]), d((cur["attainment"] or 0) - (prev["attainment"] or 0), "pts", cc) if cur["attainment"] == cur["attainment"] and prev["attainment"] == prev["attainment"] else None, container=c[3])

st.subheader("How we win")
c = st.columns(4)
wr_hint = ""
if cur["won_count"] + cur["lost_count"] > 0:
    wr_hint = f"{cur['won_count']} won of {cur['won_count'] + cur['lost_count']} closed; 80% interval {formats.pct(cur['win_rate_low'])}–{formats.pct(cur['win_rate_high'])}."
widgets.kpi_tile("Win rate", formats.pct(cur["win_rate"]), d(_x - _y if (_x := cur["win_rate"]) == _x and (_y := prev["win_rate"]) == _y else None, "pts", cc),
                 help="Won / (won + lost), deals closed in the period. " + wr_hint, container=c[0])
widgets.kpi_tile("Average deal size", widgets.money(ctx, cur["avg_deal_size"]), d(cur["avg_deal_size"] - prev["avg_deal_size"], "money", cc),
                 help="Won amount / deals won.", container=c[1])
widgets.kpi_tile("Sales cycle", formats.days(cur["avg_cycle_days"]), d(cur["avg_cycle_days"] - prev["avg_cycle_days"], "days", cc),
                 delta_color="inverse", help="Mean days from created to close, over deals won.", container=c[2])
widgets.kpi_tile("Pipeline created", widgets.money(ctx, cur["pipeline_created_amount"]),
                 d(cur["pipeline_created_amount"] - prev["pipeline_created_amount"], "money", cc),
                 help=f"{cur['pipeline_created_count']:,} deals created in the period (by created date).", container=c[3])

st.subheader("Open pipeline for the period")
c = st.columns(4)
widgets.note_tile("Open pipeline", widgets.money(ctx, cur["open_pipeline"]), f"{cur['open_count']:,} deals",
                  help="Open deals with a close date in the period.", container=c[0])
widgets.kpi_tile("Weighted pipeline", widgets.money(ctx, cur["weighted_pipeline"]), None,
                 help="Open amount x the CRM's probability. The Forecast page learns its own probabilities from history.", container=c[1])
cov = cur["coverage"]
enough = cov == cov and cur["required_coverage"] == cur["required_coverage"] and cov >= cur["required_coverage"]
widgets.kpi_tile("Coverage", formats.ratio(cov), f"needs {formats.ratio(cur['required_coverage'])} at this win rate" if cur["required_coverage"] == cur["required_coverage"] else None,
                 delta_arrow="up" if enough else "down", delta_color="normal" if enough else "inverse",
                 help="Open pipeline (forecast category 'omitted' excluded) / what is left to book to reach target. Required coverage = 1 / win rate.", container=c[2])
widgets.kpi_tile("Velocity", widgets.money(ctx, cur["velocity"]) + "/day" if cur["velocity"] == cur["velocity"] else "–", None,
                 help="Open deals x win rate x average deal size / sales cycle: money the pipeline turns into bookings per day.", container=c[3])

left, right = st.columns(2)
with left:
    st.altair_chart(charts.bookings_vs_target(s.trend, cc), width="stretch")
    st.caption("The last eight fiscal quarters; the current one shows bookings to date.")
with right:
    st.altair_chart(charts.pace_chart(s.cumulative, cc, ctx.period.label), width="stretch")
    st.caption("Where the period stands day by day; the dashed line is an even pace to target.")

st.subheader("Largest open deals closing this period")
if s.top_open.empty:
    st.caption("No open deals have a close date in this period.")
else:
    st.dataframe(s.top_open, hide_index=True, width="stretch", column_config={
        "name": "Deal", "account": "Account", "owner": "Rep", "stage": "Stage",
        "amount": widgets.money_column(ctx, "Amount"), "probability": widgets.percent_column("Probability"),
        "close_date": st.column_config.DateColumn("Close date", format="DD MMM YYYY")})
