"""Reps: a fair comparison of every rep within the team. The leaderboard (attainment, win rate
with its uncertainty, consistency, trend), who needs coaching and why, reps side by side, one
rep's profile against the team median, and the ramp of new hires."""
import pandas as pd
import streamlit as st

from salesops import formats
from salesops import performance as P
from salesops import schema as S
from salesops.charts import performance as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui import performance as data

ctx = context.page_context()
st.title(f"Reps · {ctx.period.label}")
if widgets.empty_state(ctx, "the reps page"):
    st.stop()
widgets.freshness(ctx)

cc = ctx.currency
fk = data.filters_key(ctx)
fs = ctx.calendar.start_month
p = ctx.period
in_progress = p.start <= ctx.as_of < p.end
elapsed = ((ctx.as_of - p.start).days + 1) / p.days if in_progress else None
try:
    lb, lb_attrs = data.leaderboard(ctx.db, ctx.version, fk, p.start, p.end, ctx.as_of, fs)
    team = lb_attrs.get("team", {})
    flags = data.coaching(ctx.db, ctx.version, fk, p.start, p.end, ctx.as_of, fs, elapsed, cc, p.label)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()

VIEWS = ["Leaderboard", "Win rate vs deal size", "Compare reps", "Rep profile", "New-hire ramp"]
view = st.segmented_control("View", VIEWS, default="Leaderboard", key="reps_view") or "Leaderboard"
trend_end = min(ctx.as_of, p.end)
trend_start = (pd.Timestamp(trend_end) - pd.DateOffset(months=12)).to_period("M").start_time.date()


def win_rate_text(r) -> str:
    if pd.isna(r["win_rate"]):
        return "–"
    text = f"{formats.pct(r['win_rate'])} ({formats.pct(r['win_rate_low'])}–{formats.pct(r['win_rate_high'])})"
    return text + " · few deals" if r["small_sample"] else text


if lb.empty:
    st.info("No reps have deals or targets in this period with these filters.")
    st.stop()

if view == "Leaderboard":
    with_target = lb["attainment"].notna()
    c = st.columns(4)
    widgets.kpi_tile("Reps", formats.number(len(lb)), help="Reps with deals or a target in the period, and rostered reps on the team then.", container=c[0])
    widgets.kpi_tile("At or above target", f"{int((lb['attainment'] >= 1).sum())} of {int(with_target.sum())}" if with_target.any() else "no targets",
                     help="Reps whose bookings reached their target for the period.", container=c[1])
    widgets.kpi_tile("Team win rate", formats.pct(team.get("win_rate")),
                     f"{formats.pct(team.get('win_rate_low'))}–{formats.pct(team.get('win_rate_high'))} (80%)" if pd.notna(team.get("win_rate")) else None,
                     delta_color="off", help="Won / (won + lost) over every closed deal of the period.", container=c[2])
    widgets.kpi_tile("Median consistency", f"{team.get('cv_median'):.2f}" if pd.notna(team.get("cv_median")) else "–",
                     help="Median coefficient of variation of reps' monthly bookings over the last 12 months: lower is steadier.", container=c[3])

    msgs = flags.groupby(S.OWNER)["message"].agg("; ".join) if not flags.empty else pd.Series(dtype=object)
    table = pd.DataFrame({
        "Rank": lb["rank"], "Rep": lb[S.OWNER], "Manager": lb[S.MANAGER], "Region": lb[S.REGION],
        "Attainment": lb["attainment"], "Bookings": lb["won_amount"], "Target": lb["target"],
        "Win rate (80% interval)": [win_rate_text(r) for _, r in lb.iterrows()],
        "Win rate, shrunk to team": lb["win_rate_shrunk"], "Average deal": lb["avg_deal_size"],
        "Cycle (days)": lb["avg_cycle_days"], "Open pipeline": lb["open_pipeline"], "Coverage": lb["coverage"],
        "Monthly CV": lb["cv"], "Months above bar": [f"{a} of {n}" for a, n in zip(lb["months_above"], lb["months_observed"])],
        "Quarters at quota": lb["quarter_quota_share"], "Last 12 months": lb["spark"],
        "Coaching": lb[S.OWNER].map(msgs).fillna(""),
    })
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "Attainment": widgets.percent_column("Attainment", help="Bookings / target for the period."),
        "Bookings": widgets.money_column(ctx, "Bookings"), "Target": widgets.money_column(ctx, "Target"),
        "Win rate, shrunk to team": widgets.percent_column("Win rate, shrunk to team", help=f"As if {P.SHRINK_STRENGTH:.0f} more deals had closed at the team's rate: small samples move toward the team."),
        "Average deal": widgets.money_column(ctx, "Average deal"),
        "Cycle (days)": st.column_config.NumberColumn("Cycle (days)", format="%.0f"),
        "Open pipeline": widgets.money_column(ctx, "Open pipeline"),
        "Coverage": st.column_config.NumberColumn("Coverage", format="%.1fx", help="Open pipeline / the target still to book."),
        "Monthly CV": st.column_config.NumberColumn("Monthly CV", format="%.2f", help="Coefficient of variation of monthly bookings, last 12 months: lower is steadier."),
        "Quarters at quota": widgets.percent_column("Quarters at quota", help="Share of complete quarters in the last 12 months at or above 100% of target."),
        "Last 12 months": st.column_config.LineChartColumn("Last 12 months", help="Monthly bookings."),
    })
    st.caption(f"Ranked by {'attainment' if with_target.any() else 'bookings'}; 'few deals' marks fewer than {P.SMALL_SAMPLE} closed deals, "
               "whose win rate says little on its own.")
    widgets.download_buttons(lb.drop(columns=["spark"]), f"leaderboard_{p.label}", key="reps_lb_dl")

    st.subheader("Who needs coaching")
    if flags.empty:
        st.success("No rep stands out against the team on win rate, cycle, deal size, coverage, pace or consistency.")
    else:
        for owner, group in flags.groupby(S.OWNER, sort=False):
            st.markdown(f"- **{owner}**: " + "; ".join(group["message"]))
        st.caption("A win rate is flagged only when its whole 80% interval is below the team's; cycle and deal size against the team's averages.")

    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.attainment_bars(lb, cc, p.label), width="stretch")
        st.caption("Each rep's bookings against their own target for the period.")
    with right:
        st.altair_chart(charts.win_rate_intervals(lb, team.get("win_rate"), p.label), width="stretch")
        st.caption("Long lines mean few closed deals: compare reps by where their lines sit, not by the dots alone.")
    st.caption("Win rate against deal size, with quadrants, is under the view 'Win rate vs deal size'.")

elif view == "Win rate vs deal size":
    quad = P.quadrants(lb)
    if quad.empty:
        st.info("No rep has both a win rate and a won deal in this period.")
    else:
        st.altair_chart(charts.quadrant_scatter(quad, cc, p.label), width="stretch")
        st.caption("Top right wins often and big; bottom left is where coaching pays most.")
        st.dataframe(quad.sort_values(["quadrant", "won_amount"], ascending=[True, False]), hide_index=True, width="stretch",
                     column_config={S.OWNER: "Rep", "win_rate": widgets.percent_column("Win rate"),
                                    "avg_deal_size": widgets.money_column(ctx, "Average deal"),
                                    "closed": st.column_config.NumberColumn("Closed deals"),
                                    "won_amount": widgets.money_column(ctx, "Bookings"), "quadrant": "Quadrant"})

elif view == "Compare reps":
    reps = list(lb[S.OWNER])
    chosen = st.multiselect("Reps to compare (two to five)", reps, default=reps[:2], max_selections=5, key="reps_compare")
    if len(chosen) < 2:
        st.info("Pick at least two reps.")
        st.stop()
    sub = lb.set_index(S.OWNER).loc[chosen]
    rows = [("Attainment", "pct", "attainment"), ("Bookings", "money", "won_amount"), ("Target", "money", "target"),
            ("Deals won", "count", "won_count"), ("Win rate", "pct", "win_rate"), ("Win rate, shrunk to team", "pct", "win_rate_shrunk"),
            ("Average deal", "money", "avg_deal_size"), ("Cycle", "days", "avg_cycle_days"), ("Open pipeline", "money", "open_pipeline"),
            ("Coverage", "ratio", "coverage"), ("Pipeline created", "money", "pipeline_created_amount"), ("Monthly CV", "cv", "cv"),
            ("Quarters at quota", "pct", "quarter_quota_share")]

    def show(kind, x):
        if kind == "money":
            return formats.money(x, cc)
        if kind == "pct":
            return formats.pct(x)
        if kind == "days":
            return formats.days(x)
        if kind == "ratio":
            return formats.ratio(x)
        if kind == "cv":
            return "–" if pd.isna(x) else f"{x:.2f}"
        return formats.number(x)

    side = pd.DataFrame({"KPI": [r[0] for r in rows]})
    for rep in chosen:
        side[rep] = [show(kind, sub.loc[rep, col]) for _, kind, col in rows]
    side["Team"] = [show(kind, team.get(col)) if col in team else "–" for _, kind, col in rows]
    st.dataframe(side, hide_index=True, width="stretch")
    st.caption(f"{p.label}; the team column is the whole team pooled (bookings and pipeline are totals).")
    metric_name = st.segmented_control("Trend", ["Bookings", "Win rate", "Pipeline created"], default="Bookings", key="reps_compare_metric") or "Bookings"
    metric, kind = {"Bookings": ("won_amount", "money"), "Win rate": ("win_rate", "pct"), "Pipeline created": ("pipeline_created_amount", "money")}[metric_name]
    trends = data.rep_trends(ctx.db, ctx.version, fk, tuple(chosen), trend_start, trend_end)
    st.altair_chart(charts.rep_trend_chart(trends, metric, metric_name, kind, cc), width="stretch")
    st.caption(f"Monthly {metric_name.lower()} from {trend_start:%b %Y} to {trend_end:%b %Y}; the dashed line is the median rep.")

elif view == "Rep profile":
    reps = list(lb[S.OWNER])
    default = ctx.filters.get(S.OWNER) or []
    owner = st.selectbox("Rep", reps, index=reps.index(default[0]) if default and default[0] in reps else 0, key="reps_profile")
    r = lb.set_index(S.OWNER).loc[owner]
    st.markdown(f"**{owner}** · manager {r[S.MANAGER]} · {r[S.TEAM]} · rank {int(r['rank'])} of {len(lb)}")
    c = st.columns(4)
    med = lb.median(numeric_only=True)
    widgets.kpi_tile("Attainment", formats.pct(r["attainment"]), help=f"Team median rep: {formats.pct(med['attainment'])}.", container=c[0])
    widgets.kpi_tile("Bookings", formats.money(r["won_amount"], cc), help=f"Team median rep: {formats.money(med['won_amount'], cc)}.", container=c[1])
    widgets.kpi_tile("Win rate", formats.pct(r["win_rate"]), f"80%: {formats.pct(r['win_rate_low'])}–{formats.pct(r['win_rate_high'])}" if pd.notna(r["win_rate"]) else None,
                     delta_color="off", help=f"Team: {formats.pct(team.get('win_rate'))}. Shrunk toward the team: {formats.pct(r['win_rate_shrunk'])}.", container=c[2])
    widgets.kpi_tile("Average deal", formats.money(r["avg_deal_size"], cc), help=f"Team median rep: {formats.money(med['avg_deal_size'], cc)}.", container=c[3])
    st.caption(f"Team median rep: attainment {formats.pct(med['attainment'])} · bookings {formats.money(med['won_amount'], cc)} · "
               f"win rate {formats.pct(med['win_rate'])} · average deal {formats.money(med['avg_deal_size'], cc)}.")
    mine = flags[flags[S.OWNER] == owner]
    if mine.empty:
        st.success(f"{owner} does not stand out against the team this period.")
    else:
        st.warning("Coaching: " + "; ".join(mine["message"]))
    left, right = st.columns(2)
    with left:
        funnel = data.rep_funnel(ctx.db, ctx.version, owner, p.start, p.end)
        st.altair_chart(charts.funnel_chart(funnel, owner, p.label), width="stretch")
        st.caption("Deals created in the period, how many have closed, and how many were won so far.")
    with right:
        trends = data.rep_trends(ctx.db, ctx.version, fk, (owner,), trend_start, trend_end)
        st.altair_chart(charts.rep_trend_chart(trends, "won_amount", "Bookings", "money", cc), width="stretch")
        st.caption(f"{owner}'s monthly bookings against the median rep's.")
    deals = data.rep_deals(ctx.db, ctx.version, owner, p.start, p.end)
    st.markdown(f"**Deals closing or created in {p.label}** ({len(deals):,})")
    st.dataframe(deals.head(300), hide_index=True, width="stretch", column_config={
        S.AMOUNT: widgets.money_column(ctx, "Amount"),
        S.CREATED_DATE: st.column_config.DateColumn("Created", format="DD MMM YYYY"),
        S.CLOSE_DATE: st.column_config.DateColumn("Close date", format="DD MMM YYYY")})
    widgets.download_buttons(deals, f"deals_{owner}_{p.label}", key="reps_profile_dl")

else:  # New-hire ramp
    history_start = (pd.Timestamp(ctx.as_of) - pd.DateOffset(years=1)).date()
    rp = data.ramp(ctx.db, ctx.version, ctx.as_of, history_start)
    c = st.columns(3)
    widgets.kpi_tile("Ramped-rep equivalents", f"{rp['equivalents']:.1f}", f"of {rp['headcount']} reps on the team", delta_color="off",
                     help="Each rep counts by the share of a tenured rep's productivity expected at their tenure.", container=c[0])
    widgets.kpi_tile("Bookings per ramped rep", formats.money(rp["productivity"], cc), "per quarter, last 12 months", delta_color="off",
                     help="Won amount of the last 12 months / (average ramped-rep equivalents x 4 quarters).", container=c[1])
    method = "learned from this workspace's new hires" if rp["method"] == "learned" else f"a straight line over {P.DEFAULT_RAMP_MONTHS} months ({rp['reason']})"
    widgets.kpi_tile("Ramp curve", "learned" if rp["method"] == "learned" else "linear", None, help=f"The ramp is {method}.", container=c[2])
    st.caption(f"The ramp is {method}.")
    left, right = st.columns(2)
    with left:
        if rp["cohort"].empty:
            st.info("No rep on the roster was hired inside the data, so there is no cohort to show.")
        else:
            st.altair_chart(charts.cohort_chart(rp["cohort"], cc), width="stretch")
            st.caption("Average bookings of reps hired inside the data, by month since hire (months fully observed).")
    with right:
        st.altair_chart(charts.ramp_curve_chart(rp["curve"]), width="stretch")
        st.caption("The share of a tenured rep's productivity expected at each month of tenure (goal setting uses it).")
    table = rp["reps"]
    if table.empty:
        st.info("The roster has no hire dates, so time to first deal and time to ramp cannot be measured.")
    else:
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            S.OWNER: "Rep", S.HIRE_DATE: st.column_config.DateColumn("Hired", format="DD MMM YYYY"),
            "tenure_months": st.column_config.NumberColumn("Tenure (months)", format="%.1f"),
            "hired_in_data": st.column_config.CheckboxColumn("Hired inside the data"),
            "first_win_date": st.column_config.DateColumn("First win", format="DD MMM YYYY"),
            "days_to_first_win": st.column_config.NumberColumn("Days to first win", format="%.0f"),
            "months_to_ramp": st.column_config.NumberColumn("Months to ramp", format="%.0f",
                                                            help=f"First month whose trailing 3-month bookings reached {P.RAMPED_SHARE:.0%} of a tenured rep's average month."),
            "ramp_factor": widgets.percent_column("Ramp factor")})
        st.caption("Time to first win and to ramp are measured only for reps hired after the data begins.")
