"""Team: how the team performs this period against the previous one and last year, how it paces
inside the period, every KPI over time split by any dimension (click a bar for its deals), and
the team -> manager -> rep roll-up."""
import streamlit as st

from salesops import leaderboard, metrics, trends
from salesops.charts import performance as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui.context import compute

ctx = context.page_context()
st.title(f"Team · {ctx.period.label}")
if widgets.empty_state(ctx, "the team page"):
    st.stop()
widgets.freshness(ctx)
if widgets.filter_problem(ctx):
    st.stop()
cc = ctx.currency


def show_tiles(tiles, per_row: int = 4) -> None:
    cols = []
    for i in range(0, len(tiles), per_row):
        cols += st.columns(per_row)
    for col, t in zip(cols, tiles):
        if t.good is None:
            widgets.note_tile(t.label, t.value, t.note, help=t.help, container=col)
        else:
            widgets.kpi_tile(t.label, t.value, t.note, help=t.help, delta_arrow="up" if t.good else "down",
                             delta_color="normal" if t.good else "inverse", container=col)


try:
    cmp_ = compute(trends.compare, ctx)
    pace = compute(trends.pacing, ctx)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
cur, prev = cmp_.current, cmp_.prev

# --- this period against the last one and last year ---------------------------------------
if cmp_.state == "future":
    st.info(f"{ctx.period.label} has not started on {ctx.as_of:%d %b %Y}: here is its target and the pipeline "
            "already closing in it.", icon=":material/event_upcoming:")
    c = st.columns(4)
    target_tile = pace.tiles[0]  # a future period's pacing tiles start with its target
    widgets.note_tile(target_tile.label, target_tile.value, target_tile.note, help=target_tile.help, container=c[0])
    widgets.kpi(ctx, "open_pipeline", cur, container=c[1], note=cmp_.open_note())
    widgets.kpi(ctx, "coverage", cur, container=c[2], note=cmp_.coverage_note())
    widgets.kpi(ctx, "weighted_pipeline", cur, container=c[3], note="CRM probability x amount")
else:
    st.subheader("This period against the last one and last year")
    st.caption(cmp_.text())
    c = st.columns(4)
    for i, name in enumerate(("won_amount", "win_rate", "avg_deal_size", "avg_cycle_days", "open_pipeline", "coverage",
                              "velocity", "pipeline_created_amount")):
        widgets.kpi(ctx, name, cur, prev, help=cmp_.help(name, cc), container=c[i % 4])
    with st.expander("All KPIs side by side"):
        st.dataframe(cmp_.table(cc), hide_index=True, width="stretch")
        st.caption("Rates change in points; amounts by their difference and the relative change.")

# --- pacing -------------------------------------------------------------------------------
st.subheader("Pacing")
if cmp_.state != "future":
    show_tiles(pace.tiles, per_row=2)  # two a row: each says in words what it compares with
elif len(pace.tiles) > 1:
    show_tiles(pace.tiles[1:], per_row=2)
if pace.target.note(cc):
    st.caption(pace.target.note(cc))
st.altair_chart(charts.pacing_chart(pace, cc), width="stretch")
st.caption(f"Cumulative won amount by close date as known on {ctx.as_of:%d %b %Y}; the dotted line bends the target "
           f"along {pace.last_year.label}'s shape, the dashed line is an even pace to the target.")

# --- KPIs over time -----------------------------------------------------------------------
st.subheader("KPIs over time")
FREQS = {"Week": ("W", 13), "Month": ("M", 12), "Quarter": ("Q", 8)}
SPLITS = {"No split": None, **{label: col for col, label in trends.SPLITS.items()}}
c1, c2, c3 = st.columns(3)
freq_name = c1.segmented_control("Grain", list(FREQS), default="Month", key="team_freq") or "Month"
kpi = c2.selectbox("KPI", list(trends.TREND_KPIS), format_func=lambda k: metrics.KPIS[k].label, key="team_kpi")
split_name = c3.selectbox("Split by", list(SPLITS), key="team_split")
freq, n_periods = FREQS[freq_name]
by = SPLITS[split_name]
try:
    tr = compute(trends.trend, ctx, kpi, freq, n_periods, by)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
event = st.altair_chart(charts.kpi_trend(tr, cc, split_name if by else None), width="stretch", on_select="rerun",
                        key="team_trend_chart")
st.caption(widgets.plain(tr.caption(ctx.filter_text)))

picked = ((getattr(event, "selection", None) or {}).get(charts.BAR_SELECTION) or [{}])[0] if event else {}
with st.container(border=True):
    st.markdown("**Deals behind a bar**")
    p1, p2 = st.columns(2)
    labels = tr.periods
    default = picked.get("period") if picked.get("period") in labels else tr.default_period(ctx.as_of)
    which = p1.selectbox(freq_name, labels, index=labels.index(default) if default in labels else None,
                         key=f"team_drill_period_{picked.get('period')}", placeholder="No period to show")
    group = None
    if by is not None and tr.groups:
        gi = tr.groups.index(picked["group"]) if picked.get("group") in tr.groups else 0
        group = p2.selectbox(split_name, tr.groups, index=gi, key=f"team_drill_group_{picked.get('group')}")
    if which is not None:
        behind = compute(trends.deals_behind, ctx, kpi, which, by, group)
        st.caption(widgets.plain(behind.text))
        if behind.count:
            widgets.deals_table(ctx, behind.deals, key="team_drill", download=f"deals_{kpi}_{which}")

# --- roll-up ------------------------------------------------------------------------------
st.subheader("Roll-up: team → manager → rep")
level_name = st.segmented_control("Level", ["Team", "Manager", "Rep"], default="Team", key="team_rollup_level") or "Team"
level = {"Team": "team", "Manager": "manager", "Rep": "rep"}[level_name]
try:
    h = compute(leaderboard.hierarchy, ctx, level)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
if (h["level"] == level).any():
    st.altair_chart(charts.hierarchy_bars(h, cc, level, ctx.period.label), width="stretch")
    st.caption(f"Won amount per {level} in {ctx.period.label} as known on {ctx.as_of:%d %b %Y}, against its target "
               "by the target rule (its own target where one is set, else the sum of its reps' targets).")
widgets.table(ctx, h, {"path": ("Team › manager › rep", "text"), "won_amount": "Bookings", "target": "Target",
                       "attainment": "Attainment", "won_count": "Deals won", "win_rate": "Win rate",
                       "avg_deal_size": "Average deal", "avg_cycle_days": "Sales cycle", "open_pipeline": "Open pipeline",
                       "coverage": "Coverage", "target_label": ("Target basis", "text")},
              key="team_rollup", download=f"rollup_{level}_{ctx.period.label}")
