"""Goals: a team target for the period (the published one, top-down or bottom-up, beside the
landing zone), its split into rep quotas, how realistic each quota is, and saving, comparing and
publishing."""
import streamlit as st

from salesops import formats, goals, outlook
from salesops.charts import planning as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui import planning as ui
from salesops.ui.context import compute

ctx = context.page_context()
st.title(f"Goals · {ctx.period.label}")
if widgets.empty_state(ctx, "the goals page"):
    st.stop()
widgets.freshness(ctx)
if widgets.filter_problem(ctx):
    st.stop()
st.caption("Set the period in the sidebar (usually the next quarter). Quotas are checked against a simulation of "
           "each rep's bookings learned from their own history.")
cc = ctx.currency
money = lambda x: widgets.money(ctx, x)  # noqa: E731

try:
    options = compute(goals.target_options, ctx)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
if not options["reps"]:
    st.info(widgets.plain(f"No reps are on the team in {ctx.period.label} for {ctx.filter_text}: check the roster's "
                          "hire and end dates, or the filters."), icon=":material/group_off:")
    st.stop()

# --- 1. the team target ----------------------------------------------------------------------------------
st.subheader("1. Team target")
pub = options["published"]
try:
    with st.spinner("Estimating where the period will land…"):
        landing = compute(outlook.landing_zone, ctx)
    landing_note = None
except SalesopsError as exc:
    landing, landing_note = None, str(exc)

c = st.columns(4)
widgets.note_tile("Published target", money(pub["amount"]), pub["label"] if pub["has_target"] else "none for this view",
                  help="The target of what the filters show, pro-rated to the period, by the one target rule "
                       "(docs/kpis.md). " + (pub["note"] or ""), container=c[0])
widgets.note_tile(f"Last year ({options['last_year_label']})", money(options["last_year"]), "bookings, same period",
                  container=c[1])
bottom = options["bottom_up"]
widgets.note_tile("Bottom-up capacity", money(bottom.get("target")), "ramped-rep capacity",
                  help=goals.bottom_up_text(options, cc) or bottom.get("error"), container=c[2])
widgets.note_tile("Landing zone (P50)", money(landing["p50"]) if landing else money(None),
                  f"{money(landing['p10'])} – {money(landing['p90'])}" if landing else "not available",
                  help="Booked to date + open pipeline at learned win odds + new business still to come, with its 80% "
                       "range (P10 – P90): the same number as on Overview and Forecast.", container=c[3])

basis = st.radio("Set the target", list(goals.BASES), format_func=goals.BASES.get, horizontal=True, key="goals_basis",
                 index=0 if pub["has_target"] else 1)
c1, _ = st.columns(2)
amount = growth = None
if basis == "amount":
    amount = ui.kept_number_input(c1, f"Team target ({cc})", key=ui.view_key("goals_amount", ctx),
                                  default=options["suggested"], min_value=0.0, step=10_000.0, format="%.0f")
elif basis == "growth":
    growth = ui.kept_number_input(c1, "Growth over the same period last year (%)", key="goals_growth", default=10.0,
                                  step=1.0, format="%.1f")
chosen = goals.choose_target(options, basis, amount=amount, growth_pct=growth)
st.altair_chart(charts.target_comparison(goals.target_rows(options, landing, chosen["target"]), cc), width="stretch")
if pub["note"]:
    st.caption(widgets.plain(pub["note"]))
if landing is None:
    st.caption(widgets.plain(f"No landing zone for this period ({landing_note}); the team probability below comes "
                             "from the rep simulation."))
else:
    st.caption("The rep simulations are scaled so that the team total follows the landing zone's distribution.")
if chosen["problem"]:
    st.info(widgets.plain(chosen["problem"]), icon=":material/flag:")
    st.stop()
st.caption(widgets.plain(f"Team target: {widgets.money(ctx, chosen['target'], compact=False)} ({chosen['basis']})."))

# --- 2. allocation ---------------------------------------------------------------------------------------
st.subheader("2. Split into rep quotas")
m1, m2, m3 = st.columns(3)
methods = goals.allocation_methods(ctx.ws)
method = m1.selectbox("Method", methods, format_func=goals.METHOD_LABELS.get, index=methods.index("capacity"),
                      key="goals_method",
                      help="Equal: same quota each. Historical share: in proportion to last year's bookings. Capacity: "
                           "tenured reps 1, new hires by their ramp. Territory (when accounts with revenue are loaded): "
                           "by the revenue of the accounts each rep covers.")
over = m2.select_slider("Over-assignment", options=goals.OVER_ASSIGNMENT_STEPS, value=0.0, format_func=formats.pct,
                        key="goals_over", help="Rep quotas add up to the team target plus this much, a cushion for "
                                               "reps who miss (commonly 10-20%).")
n_sims = m3.select_slider("Simulations", [500, 1000, 2000, 5000, 10000], value=2000, key="goals_sims")
typed = ui.overrides_editor(ui.view_key("goals_overrides", ctx), options["reps"], f"Manual quota ({cc})",
                            help="Type a quota to fix it; the others share the rest.")
try:
    overrides = goals.parse_overrides(typed)
    plan = compute(goals.goal_plan, ctx, chosen["target"], method, over, overrides, int(n_sims), 0,
                   team_samples=landing["samples"] if landing else None)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
st.caption(plan.reconciliation(cc))

# --- 3. realism ------------------------------------------------------------------------------------------
st.subheader("3. Is it realistic?")
team = plan.team
hit_words, hit_colour = plan.hit_words()
k = st.columns(2) + st.columns(2)
widgets.kpi_tile("Team reaches the target", formats.pct(team["p_team"]), container=k[0],
                 help=f"Share of simulated periods in which the team books at least the target (from the {team['source']}).")
widgets.kpi_tile("Expected share of reps at quota", formats.pct(team["expected_share_hitting"]), hit_words,
                 delta_color=hit_colour, container=k[1],
                 help="Mean probability of attainment over the reps with a quota (a rep on a zero quota is not counted). "
                      "Plans where fewer than half the reps can make it demotivate.")
widgets.kpi_tile("Quotas above plausible", f"{team['reps_flagged']}", container=k[2],
                 help=f"Reps whose quota they reach in fewer than {goals.IMPLAUSIBLE_P:.0%} of simulations.")
widgets.note_tile("Team P10 – P90", f"{money(team['p10'])} – {money(team['p90'])}", f"from the {team['source']}",
                  help="The team's bookings for the period in eight simulated periods out of ten.", container=k[3])
flagged = plan.table.loc[plan.table["flag"] == "above plausible", "rep"]
if len(flagged):
    st.warning(widgets.plain(f"Quotas above what is plausible for: {', '.join(flagged.head(8))}. Unreachable goals make "
                             "reps stop trying; lower them or move the difference to reps with room."))
if team["reps_without_quota"]:
    st.caption(f"{team['reps_without_quota']} rep(s) have a zero quota: they are not counted in the share at quota.")
st.altair_chart(charts.quota_realism(plan.table, cc), width="stretch")
st.altair_chart(charts.attainment_probabilities(plan.table), width="stretch")
widgets.table(ctx, plan.table, {"rep": "Rep", "quota": ("Quota", "money"), "p_attain": ("Chance of reaching quota", "pct"),
                                "expected": ("Expected bookings", "money"), "p10": ("Bookings P10", "money"),
                                "p90": ("Bookings P90", "money"), "realism": ("Realism", "text"),
                                "ramp": ("Capacity", "number"), "set_by": ("Set by", "text")},
              key="goals_table", missing="–")
with st.expander("How the simulation works"):
    st.write(plan.explanation())

# --- 4. save, compare, publish ------------------------------------------------------------------------------
st.subheader("4. Save, compare and publish")
s1, s2 = st.columns([2, 1])
suggested = goals.scenario_name(None, ctx.period, chosen["basis"], method, ctx.filters)
typed_name = s1.text_input("Scenario name", value="", placeholder=suggested, key="goals_scenario_name",
                           help="Leave it empty to name the scenario after what is on screen.")
name = goals.scenario_name(typed_name, ctx.period, chosen["basis"], method, ctx.filters)
if s2.button("Save scenario", icon=":material/save:", key="goals_save"):
    payload = goals.scenario_payload(ctx.period, plan.target, method, over, plan.table, team, basis=chosen["basis"],
                                     overrides=dict(overrides), name=name, filters=ctx.filter_text)
    try:
        version = ctx.ws.save("scenarios", name, payload, kind="goals")
        st.success(widgets.plain(f"Saved {name!r} as version {version}."))
    except SalesopsError as exc:
        widgets.show_error(exc)

saved = ctx.ws.saved("scenarios", kind="goals")
if saved.empty:
    st.caption("No saved goal scenarios yet.")
else:
    widgets.table(ctx, saved, {"name": "Scenario", "version": ("Version", "count"), "created_at": ("Saved (UTC)", "text"),
                               "created_by": ("By", "text")}, key="goals_saved")
    labels = [f"{r.name} v{r.version}" for r in saved.itertuples()]
    if len(labels) >= 2:
        a1, a2 = st.columns(2)
        pick_a = a1.selectbox("Compare", labels, index=0, key="goals_cmp_a")
        pick_b = a2.selectbox("with", labels, index=1, key="goals_cmp_b")
        ra, rb = saved.iloc[labels.index(pick_a)], saved.iloc[labels.index(pick_b)]
        cmp_ = goals.compare_saved(ctx.ws, (ra["name"], ra["version"]), (rb["name"], rb["version"]))
        widgets.table(ctx, cmp_["table"], {"rep": "Rep", "quota_a": (f"Quota {pick_a}", "money"),
                                           "quota_b": (f"Quota {pick_b}", "money"), "quota_change": ("Quota change", "money"),
                                           "p_a": (f"Chance {pick_a}", "pct"), "p_b": (f"Chance {pick_b}", "pct")},
                      key="goals_compare", missing="–")
        st.caption(widgets.plain(f"Team target: {money(cmp_['a'].get('target'))} vs {money(cmp_['b'].get('target'))}; "
                                 f"chance the team reaches it: {formats.pct(cmp_['a'].get('p_team'))} vs "
                                 f"{formats.pct(cmp_['b'].get('p_team'))}."))

sheet = goals.goal_sheet(plan.table, ctx.period, currency=cc, scenario=name)
st.markdown("**Goal sheets** (one row per rep)")
widgets.download_buttons(sheet, f"goal_sheets_{ctx.period.label}", key="goals_sheet")
st.download_button("Download one sheet per rep (Excel)", lambda: goals.goal_sheets_xlsx(sheet),
                   file_name=f"goal_sheets_by_rep_{ctx.period.label}.xlsx",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="goals_sheet_per_rep",
                   icon=":material/download:")
p1, p2 = st.columns([2, 1])
confirm = p1.checkbox(f"Replace the rep targets of {ctx.period.label} with these quotas", key="goals_publish_confirm")
if p2.button("Publish targets", type="primary", disabled=not confirm, icon=":material/publish:", key="goals_publish"):
    try:
        n = goals.publish(ctx.ws, ctx.period, plan.quotas.to_dict())
        st.success(f"Published {n} rep targets for {ctx.period.label}; KPIs now measure attainment against them.")
    except SalesopsError as exc:
        widgets.show_error(exc)
