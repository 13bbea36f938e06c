"""Team: how the team performs this period against the previous one and last year, its pace
inside the period, every KPI over time split by any dimension (click a bar for its deals),
and the team -> manager -> rep roll-up."""
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
st.title(f"Team · {ctx.period.label}")
if widgets.empty_state(ctx, "the team page"):
    st.stop()
widgets.freshness(ctx)

cc = ctx.currency
fk = data.filters_key(ctx)
fs = ctx.calendar.start_month
period_t = data.period_tuple(ctx.period)
SPLITS = {"No split": None, "Region": S.REGION, "Team": S.TEAM, "Manager": S.MANAGER, "Segment": S.SEGMENT,
          "Product": S.PRODUCT, "Lead source": S.LEAD_SOURCE, "Deal type": S.TYPE}
FREQS = {"Week": ("W", 13), "Month": ("M", 12), "Quarter": ("Q", 8)}


def fmt(kind: str, x) -> str:
    if kind == "money":
        return formats.money(x, cc)
    if kind == "pct":
        return formats.pct(x)
    if kind == "days":
        return formats.days(x)
    if kind == "ratio":
        return formats.ratio(x)
    return formats.number(x)


def change(x) -> str:
    return "–" if x is None or pd.isna(x) else f"{x:+.0%}"


try:
    cmp_, cmp_attrs = data.compare(ctx.db, ctx.version, fk, fs, period_t, ctx.as_of)
    pace_frame, pace_info = data.pacing(ctx.db, ctx.version, fk, fs, period_t, ctx.as_of)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()

# --- this period vs the previous one and last year -----------------------------------------
st.subheader("This period against the last one and last year")
to_date = cmp_attrs.get("to_date_days")
rows = cmp_.set_index("kpi")
st.caption(f"Changes against {cmp_attrs['previous']}" + (f", both counted to day {to_date}" if to_date else "")
           + f"; hover a tile for {cmp_attrs['last_year']}.")
tiles = ["won_amount", "win_rate", "avg_deal_size", "avg_cycle_days", "open_pipeline", "coverage", "velocity", "pipeline_created_amount"]
cols = st.columns(4)
for i, k in enumerate(tiles):
    r = rows.loc[k]
    value = fmt(r["kind"], r["current"])
    delta = None if pd.isna(r["vs_previous"]) else f"{r['vs_previous']:+.0%}"
    label = "Velocity per day" if k == "velocity" else ("Sales cycle" if k == "avg_cycle_days" else r["name"])
    widgets.kpi_tile(label, value, delta, delta_color="inverse" if k == "avg_cycle_days" else "normal",
                     help=f"{cmp_attrs['previous']}: {fmt(r['kind'], r['previous'])}; {cmp_attrs['last_year']}: "
                          f"{fmt(r['kind'], r['last_year'])} ({change(r['vs_last_year'])}).", container=cols[i % 4])
table = pd.DataFrame({
    "KPI": cmp_["name"],
    cmp_attrs["current"]: [fmt(k, x) for k, x in zip(cmp_["kind"], cmp_["current"])],
    cmp_attrs["previous"]: [fmt(k, x) for k, x in zip(cmp_["kind"], cmp_["previous"])],
    "Change": [change(x) for x in cmp_["vs_previous"]],
    cmp_attrs["last_year"]: [fmt(k, x) for k, x in zip(cmp_["kind"], cmp_["last_year"])],
    "Change vs last year": [change(x) for x in cmp_["vs_last_year"]],
})
with st.expander("All KPIs side by side"):
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(f"Closed-deal KPIs count the first {to_date} days of each period, up to {ctx.as_of:%d %b %Y}." if to_date
               else "Whole periods; deals by close date (pipeline created by created date).")

# --- pacing ---------------------------------------------------------------------------------
st.subheader("Pacing")
tgt = pace_info.get("target")
won = pace_info["won_to_date"]
line = f"Booked {formats.money(won, cc)} by day {pace_info['day']} of {pace_info['days']}"
if tgt is not None and pd.notna(tgt):
    gap = won - pace_info["expected_by_target_line"]
    line += f": {formats.money(abs(gap), cc)} {'ahead of' if gap >= 0 else 'behind'} an even pace to the {formats.money(tgt, cc)} target"
    ly_gap = won - pace_info["expected_by_last_year_curve"] if pd.notna(pace_info["expected_by_last_year_curve"]) else None
    if ly_gap is not None:
        line += f", {formats.money(abs(ly_gap), cc)} {'ahead of' if ly_gap >= 0 else 'behind'} last year's curve"
else:
    line += " (no target for this period)"
ly_same = pace_info["last_year_same_day"]
line += f"; {pace_info.get('last_year', 'last year')} had {formats.money(ly_same, cc)} by the same day."
st.markdown(line)
st.altair_chart(charts.pacing_chart(pace_frame, cc, ctx.period.label, pace_info.get("last_year", "last year")), width="stretch")
st.caption("Cumulative won amount by close date; the orange dotted line bends the target along last year's shape.")

# --- KPIs over time -------------------------------------------------------------------------
st.subheader("KPIs over time")
c1, c2, c3 = st.columns([1, 1, 1])
freq_name = c1.segmented_control("Grain", list(FREQS), default="Month", key="team_freq") or "Month"
kpi_labels = {v[0]: k for k, v in P.TREND_KPIS.items()}
kpi_name = c2.selectbox("KPI", list(kpi_labels), key="team_kpi")
split_name = c3.selectbox("Split by", list(SPLITS), key="team_split")
kpi = kpi_labels[kpi_name]
freq, n_periods = FREQS[freq_name]
by = SPLITS[split_name]
last = ctx.calendar.period_of(ctx.period.end, freq)
first = ctx.calendar.shift(last, -(n_periods - 1))
try:
    series = data.kpi_series(ctx.db, ctx.version, fk, fs, freq, first.start, last.end, by)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
if series.empty:
    st.info("No deals in these periods.")
else:
    if by is not None:  # keep the chart readable: the eight largest groups by bookings
        top = series.groupby("group")["won_amount"].sum().sort_values(ascending=False).head(8).index
        series = series[series["group"].isin(top)]
    chart = charts.kpi_trend(series, kpi, kpi_name, P.TREND_KPIS[kpi][1], cc, freq, split_name if by else None)
    event = st.altair_chart(chart, width="stretch", on_select="rerun", key="team_trend_chart")
    st.caption(f"{kpi_name} per {freq_name.lower()} from {first.label} to {last.label}"
               + (f", split by {split_name.lower()} (largest eight groups)" if by else "") + f"; {ctx.filter_text}.")

    # --- the deals behind a bar: the clicked bar, or the pickers below -----------------
    picked = None
    try:
        sel = (event.selection or {}).get(charts.BAR_SELECTION) or []
    except AttributeError:
        sel = []
    if sel:
        first_sel = sel[0]
        ps = first_sel.get("period_start")
        ps = pd.Timestamp(ps, unit="ms") if isinstance(ps, (int, float)) else pd.Timestamp(ps)
        picked = (ps.tz_localize(None) if ps.tzinfo else ps, first_sel.get("group"))
    periods = series.drop_duplicates("period_start").sort_values("period_start")
    labels = list(periods["period"])
    with st.container(border=True):
        st.markdown("**Deals behind a bar**")
        p1, p2 = st.columns(2)
        started = [i for i, ps_ in enumerate(periods["period_start"]) if ps_.date() <= ctx.as_of]
        default_i = started[-1] if started else 0
        if picked is not None:
            match = periods.index[periods["period_start"] == picked[0]]
            if len(match):
                default_i = labels.index(periods.loc[match[0], "period"])
        which = p1.selectbox(freq_name, labels, index=default_i, key=f"team_drill_period_{picked}")
        group = None
        if by is not None:
            groups = sorted(series["group"].unique())
            gi = groups.index(picked[1]) if picked is not None and picked[1] in groups else 0
            group = p2.selectbox(split_name, groups, index=gi, key=f"team_drill_group_{picked}")
        ps = periods.loc[periods["period"] == which, "period_start"].iloc[0]
        behind = data.deals_behind(ctx.db, ctx.version, fk, fs, freq, ps, kpi, by, group)
        st.caption(f"{len(behind):,} deals behind {kpi_name.lower()} in {which}" + (f" for {group}" if group else "")
                   + f", {formats.money(behind[S.AMOUNT].sum(), cc)} in total.")
        st.dataframe(behind.head(500), hide_index=True, width="stretch", column_config={
            S.AMOUNT: widgets.money_column(ctx, "Amount"),
            S.CREATED_DATE: st.column_config.DateColumn("Created", format="DD MMM YYYY"),
            S.CLOSE_DATE: st.column_config.DateColumn("Close date", format="DD MMM YYYY")})
        widgets.download_buttons(behind, f"deals_{kpi}_{which}", key="team_drill_dl")

# --- roll-up --------------------------------------------------------------------------------
st.subheader("Roll-up: team → manager → rep")
try:
    h = data.hierarchy(ctx.db, ctx.version, fk, ctx.period.start, ctx.period.end)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
level_name = st.segmented_control("Level", ["Team", "Manager", "Rep"], default="Team", key="team_rollup_level") or "Team"
level = level_name.lower()
if (h["level"] == level).any():
    st.altair_chart(charts.hierarchy_bars(h, cc, level, ctx.period.label), width="stretch")
    st.caption(f"Won amount per {level} in {ctx.period.label} against the sum of its reps' targets.")
view = h[h["level"].isin(["all", level])].copy()
view["name"] = [" › ".join(p) for p in view["path"]]
st.dataframe(view[["name", "won_amount", "target", "attainment", "won_count", "win_rate", "avg_deal_size",
                   "avg_cycle_days", "open_pipeline", "coverage"]], hide_index=True, width="stretch", column_config={
    "name": "Team › manager › rep", "won_amount": widgets.money_column(ctx, "Bookings"),
    "target": widgets.money_column(ctx, "Target"), "attainment": widgets.percent_column("Attainment"),
    "won_count": st.column_config.NumberColumn("Deals won"), "win_rate": widgets.percent_column("Win rate"),
    "avg_deal_size": widgets.money_column(ctx, "Average deal"),
    "avg_cycle_days": st.column_config.NumberColumn("Cycle (days)", format="%.0f"),
    "open_pipeline": widgets.money_column(ctx, "Open pipeline"),
    "coverage": st.column_config.NumberColumn("Coverage", format="%.1fx")})
widgets.download_buttons(h.drop(columns=["path"]), f"rollup_{ctx.period.label}", key="team_rollup_dl")
