"""Compensation: design a commission plan, see its payout curve and cliffs, price it on actual
bookings (once per plan period, against the published rep targets) and in a Monte Carlo of the
period, check that pay follows performance, compare plans, and save versions."""
import hashlib
import json

import pandas as pd
import streamlit as st

from salesops import compensation as C
from salesops import formats
from salesops.charts import planning as charts
from salesops.errors import InputError, SalesopsError
from salesops.ui import context, widgets
from salesops.ui.context import compute

ctx = context.page_context()
st.title(f"Compensation · {ctx.period.label}")
if widgets.empty_state(ctx, "the compensation page"):
    st.stop()
widgets.freshness(ctx)
if widgets.filter_problem(ctx):
    st.stop()
cc = ctx.currency
money = lambda x: widgets.money(ctx, x)  # noqa: E731

# --- where the plan starts from ------------------------------------------------------------------------
sources = C.plan_sources(ctx.ws)
st.subheader("Plan designer")
s1, s2 = st.columns([3, 1])
source = s1.selectbox("Start from", list(sources), key="comp_source",
                      help="A sample plan shipped with salesops, or a plan saved in this workspace (latest version by default).")
picked = sources[source]
version = None
if picked["kind"] == "saved":
    version = s2.selectbox("Version", picked["versions"], key=f"comp_version_{picked['name']}")
v = C.form_values(C.source_doc(ctx.ws, picked, version))
sid = hashlib.sha1(f"{source}|{version}".encode()).hexdigest()[:8]


def k(name: str) -> str:
    """Widget key tied to the chosen starting plan, so switching plans resets the form."""
    return f"comp_{name}_{sid}"


quota_source = st.radio("Quotas", list(C.QUOTA_SOURCES), format_func=lambda s: C.QUOTA_SOURCES[s].capitalize(),
                        horizontal=True, key="comp_quota_source",
                        help="Published rep targets: each rep's own target for each plan period (Settings and Goals "
                             "publish them); the plan's quota covers reps without one. The plan's quota: the same quota "
                             "for everyone, e.g. to price a flat plan.")
form = dict(v)
c1, c2, c3 = st.columns(3)
form["name"] = c1.text_input("Plan name", value=v["name"], key=k("name"))
form["period"] = c2.selectbox("Plan period", C.PERIOD_CHOICES, index=C.PERIOD_CHOICES.index(v["period"]), key=k("period"),
                              format_func=C.PERIOD_LABELS.get,
                              help="Quota, target incentive and draw are per plan period. The plan is evaluated once per "
                                   "plan period inside the sidebar's period and the payouts are summed; a shorter period "
                                   "shows its plan period to date.")
form["measure"] = c3.selectbox("Measure", list(C.MEASURES), format_func=C.MEASURE_LABELS.get,
                               index=list(C.MEASURES).index(v["measure"]), key=k("measure"))
c1, c2, c3, c4 = st.columns(4)
form["quota"] = c1.number_input("Fallback quota per rep" if quota_source == "targets" else "Quota per rep", min_value=0.0,
                                value=v["quota"], step=10_000.0, key=k("quota"), format="%.0f",
                                help="Per plan period. With published targets, only for reps who have none. A zero "
                                     "quota is refused: attainment would be undefined.")
form["target_incentive"] = c2.number_input(f"Target incentive ({cc})", min_value=0.0, value=v["target_incentive"],
                                           step=1_000.0, key=k("ti"), format="%.0f",
                                           help="Variable pay at 100% attainment (OTE minus base), per plan period.")
form["threshold_pct"] = c3.number_input("Threshold (% of quota)", min_value=0.0, value=v["threshold_pct"], step=5.0,
                                        format="%.0f", key=k("threshold"),
                                        help="Below it nothing is paid; once reached, pays from the first dollar.")
form["cap"] = c4.number_input("Cap (x target incentive, 0 = none)", min_value=0.0, value=v["cap"], step=0.5, key=k("cap"))
if v["by_rep"]:
    st.caption(f"{len(v['by_rep'])} per-rep quotas from the plan are kept (edit them in the plan JSON below).")

t1, t2 = st.columns([1, 2])
form["tier_mode"] = t1.radio("Tier mode", list(C.TIER_MODES), index=list(C.TIER_MODES).index(v["tier_mode"]),
                             key=k("tier_mode"), format_func={"marginal": "Marginal (each slice at its rate)",
                                                              "whole": "Whole / retroactive (all at the final tier)"}.get)
tiers = t2.data_editor(pd.DataFrame(v["tiers"], columns=["from_pct", "to_pct", "rate"]), key=k("tiers"), num_rows="dynamic",
                       hide_index=True, width="stretch",
                       column_config={"from_pct": st.column_config.NumberColumn("From (% of quota)", min_value=0.0),
                                      "to_pct": st.column_config.TextColumn("To (% of quota)",
                                                                            help="Empty for the last tier: no end."),
                                      "rate": st.column_config.NumberColumn("Rate (x base)", min_value=0.0, format="%.2f",
                                                                            help="1.0 = on-target pay; 1.5 = a 1.5x accelerator; "
                                                                                 "below 1 a decelerator")})
form["tiers"] = tiers.to_dict(orient="records")

with st.expander("SPIFs, extra measures, clawback and draw", expanded=False):
    spifs = st.data_editor(pd.DataFrame(v["spifs"], columns=["name", "field", "value", "amount"]), key=k("spifs"),
                           num_rows="dynamic", hide_index=True, width="stretch",
                           column_config={"name": "SPIF", "field": st.column_config.SelectboxColumn("Deal field", options=list(C.SPIF_FIELDS)),
                                          "value": st.column_config.TextColumn("Value it must have"),
                                          "amount": st.column_config.NumberColumn(f"Amount per won deal ({cc})", min_value=0.0)})
    form["spifs"] = spifs.to_dict(orient="records")
    form["spif_in_cap"] = st.checkbox("SPIFs count toward the cap", value=v["spif_in_cap"], key=k("spif_in_cap"))
    form["use_logos"] = st.checkbox("Add a new-logo measure", value=v["use_logos"], key=k("use_logos"),
                                    disabled=form["measure"] == "new_logos")
    l1, l2 = st.columns(2)
    form["logo_weight_pct"] = l1.slider("New-logo weight (%)", 5, 95, v["logo_weight_pct"], key=k("logo_weight"),
                                        disabled=not form["use_logos"])
    form["logo_quota"] = l2.number_input("New logos per rep (quota)", min_value=0.0, value=v["logo_quota"], step=1.0,
                                         key=k("logo_quota"), disabled=not form["use_logos"])
    b1, b2 = st.columns(2)
    form["clawback_pct"] = b1.number_input("Clawback share of commission (%)", 0.0, 100.0, v["clawback_pct"], 10.0,
                                           key=k("cb_share"),
                                           help="Returned when a booked deal is cancelled (stage 'Cancelled') within the window.")
    form["clawback_days"] = b2.number_input("Clawback window (days)", 1, 730, v["clawback_days"], key=k("cb_days"))
    d1, d2 = st.columns(2)
    form["draw"] = d1.number_input(f"Draw per plan period ({cc}, 0 = none)", min_value=0.0, value=v["draw"], step=500.0,
                                   key=k("draw"))
    form["draw_recoverable"] = d2.checkbox("Recoverable draw", value=v["draw_recoverable"], key=k("draw_rec"))

try:
    doc = C.from_form(form)
except InputError as exc:
    widgets.show_error(exc)
    st.stop()
with st.expander("Plan JSON (advanced)"):
    use_json = st.checkbox("Use this JSON instead of the form", key=k("use_json"))
    text = st.text_area("Plan JSON", value=json.dumps(doc, indent=2, default=str), height=300,
                        key=k("json") if use_json else None, disabled=not use_json)
try:
    if use_json:
        doc = C.parse_json_text(text)
    plan = C.parse_plan(doc)
except InputError as exc:
    widgets.show_error(exc)
    if len(exc.problems) > 1:
        widgets.table(ctx, C.problems_table(exc), {"key": ("Key", "text"), "value": ("Value", "text"),
                                                   "problem": ("Problem", "text")}, key="comp_problems")
    st.stop()
plan_json = C.plan_json(plan)

sv1, sv2 = st.columns([1, 3])
if sv1.button("Save plan", icon=":material/save:", key="comp_save", type="primary"):
    try:
        saved_version = ctx.ws.save("comp_plans", plan.name, plan.to_json())
        st.success(widgets.plain(f"Saved {plan.name!r} as version {saved_version}."))
    except SalesopsError as exc:
        widgets.show_error(exc)
sv2.caption("Every save is a new version; nothing is overwritten.")
st.markdown("**Saved plans**")
saved = ctx.ws.saved("comp_plans")
if saved.empty:
    st.caption("No plans saved in this workspace yet.")
else:
    widgets.table(ctx, saved, {"name": ("Plan", "text"), "version": ("Version", "count"), "created_at": ("Saved (UTC)", "text"),
                               "created_by": ("By", "text")}, key="comp_saved_table")

# --- the payout curve ------------------------------------------------------------------------------------
st.subheader("Payout curve")
curve = C.curve_view(plan, cc)
st.altair_chart(charts.payout_curve(curve["curve"], curve["cliffs"], cc, plan.name), width="stretch")
st.caption(curve["text"])

# --- payouts on actual bookings ---------------------------------------------------------------------------
try:
    result = compute(C.payouts, ctx, plan_json, quota_source)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
st.subheader(f"Payouts for {ctx.period.label} from actual bookings")
st.caption(widgets.plain(f"Evaluated as {result.evaluated_as()}: each plan period on its own quota, threshold, tiers and "
                         f"cap, the payouts summed; bookings as known on {ctx.as_of:%d %b %Y}. Quotas: "
                         f"{C.QUOTA_SOURCES[result.quota_source]}. A rep is paid on all of their bookings, whatever the filters."))
for note in result.notes:
    st.caption(note)
p = result.payouts
k1, k2, k3, k4 = st.columns(4)
widgets.kpi_tile("Total payout", money(result.total_cost), container=k1,
                 help="Commission + SPIFs - clawbacks + draw top-ups - draw recovered, all reps on the plan.")
widgets.kpi_tile("Cost of sales", formats.pct(result.cost_of_sales, 1), container=k2,
                 help="Total variable pay / bookings of the reps on the plan.")
widgets.kpi_tile("With base salaries", formats.pct(result.full_cost_of_sales, 1), container=k3,
                 help="(Base salaries for the period + variable pay) / bookings; needs every rep's base salary in the roster.")
widgets.kpi_tile("Reps at quota", f"{result.reps_at_quota} of {result.reps_with_quota}", container=k4,
                 help="Reps whose bookings reached their quota over the plan periods, of the reps with a quota (a rep "
                      "on a zero quota is not counted).")
if p.empty:
    st.info("No reps are paid on this plan for the period yet.", icon=":material/payments:")
else:
    st.altair_chart(charts.payouts_by_rep(p, cc), width="stretch")
    achieved_kind = "money" if plan.measure == "won_amount" else "number"
    widgets.table(ctx, p, C.payout_columns(plan), key="comp_payouts", missing="–",
                  download=f"payouts_{plan.name}_{ctx.period.label}".replace(" ", "_"))
    if len(result.started) > 1:
        with st.expander(f"By plan period ({len(result.started)})"):
            widgets.table(ctx, result.periods, {"rep": "Rep", "plan_period": ("Plan period", "text"),
                                                "through": ("Bookings to", "date"), "quota": ("Quota", achieved_kind),
                                                "quota_from": ("Quota from", "text"), "achieved": ("Achieved", achieved_kind),
                                                "attainment": ("Attainment", "pct"), "total": ("Paid", "money"),
                                                "draw_balance": ("Draw owed after", "money")},
                          key="comp_periods", missing="–")
if plan.draw is not None and plan.period is not None:
    year = ctx.calendar.year_of(ctx.period.start)
    with st.expander(f"Draw over fiscal year {year.label}"):
        try:
            draws = compute(C.payouts, ctx, plan_json, quota_source, filters=ctx.filters.with_period(year))
        except SalesopsError as exc:
            widgets.show_error(exc)
        else:
            st.caption("A recoverable draw is repaid from later earnings above the draw." if plan.draw.recoverable
                       else "A non-recoverable draw is a guaranteed minimum; shortfalls are not repaid.")
            widgets.table(ctx, draws.periods, {"rep": "Rep", "plan_period": ("Plan period", "text"),
                                               "earned": ("Earned", "money"), "draw_top_up": ("Draw top-up", "money"),
                                               "draw_recovered": ("Recovered", "money"), "total": ("Paid", "money"),
                                               "draw_balance": ("Owed after the period", "money")}, key="comp_draws")
if len(result.reversals) or len(result.cancellations):
    with st.expander(f"Clawbacks ({len(result.cancellations)}) and data reversals ({len(result.reversals)})"):
        if len(result.cancellations):
            st.markdown("**Clawbacks**: booked deals cancelled inside the window")
            widgets.table(ctx, result.cancellations, {"opportunity_id": "Deal id", "owner": "Rep", "amount": "Amount",
                                                      "close_date": "Close date", "cancelled_on": ("Cancelled on", "date"),
                                                      "clawback": ("Clawback", "money")}, key="comp_clawbacks")
        if len(result.reversals):
            st.markdown("**Data reversals**: won deals a later export shows lost or reopened (not paid, not a clawback)")
            widgets.table(ctx, result.reversals, {"opportunity_id": "Deal id", "owner": "Rep", "amount": "Amount",
                                                  "close_date": "Close date", "won_in_snapshot": ("Won in the export of", "date"),
                                                  "now": ("Status now", "text")}, key="comp_reversals")

# --- simulation -------------------------------------------------------------------------------------------
st.subheader("What will it cost? (simulation)")
st.caption("Simulates every plan period of the sidebar's period many times from each rep's own history (win counts, deal "
           "sizes, ramp) and prices the plan in each. The baseline and every what-if use the same draws, so the cost "
           "moves only with the levers.")
w1, w2, w3, w4 = st.columns(4)
uplift = w1.select_slider("Win-rate change", C.WHAT_IF_STEPS, value=0.0, format_func=formats.pct, key="comp_uplift",
                          help="More (or fewer) won deals: +10% = one won deal in ten more.")
size = w2.select_slider("Deal-size change", C.WHAT_IF_STEPS, value=0.0, format_func=formats.pct, key="comp_size")
hires = w3.select_slider("Headcount change", C.HEADCOUNT_STEPS, value=0, key="comp_hires",
                         help="Positive: new hires at the team's average productivity and a new hire's ramp, on the plan's "
                              "quota. Negative: that many reps leave (those with the lowest expected bookings).")
n_sims = w4.select_slider("Simulations", [1000, 2000, 5000, 10000, 20000], value=2000, key="comp_sims")
sim_key = (ctx.db, ctx.version, ctx.filters, plan_json, quota_source, uplift, size, hires, n_sims)
if st.button("Run simulation", icon=":material/casino:", key="comp_simulate"):
    bar = st.progress(0.0, text="Simulating…")
    try:
        sim = C.simulate(ctx.ws, ctx.filters, plan_json, quota_source, win_rate_uplift=uplift, deal_size_change=size,
                         extra_hires=hires, n_sims=int(n_sims), seed=0,
                         progress=lambda x: bar.progress(min(1.0, x), text="Simulating…"))
        st.session_state["comp_sim"] = (sim_key, sim)
    except SalesopsError as exc:
        widgets.show_error(exc)
    bar.empty()
stored = st.session_state.get("comp_sim")
if stored and stored[0] == sim_key:
    sim = stored[1]
    summ = sim.summary()
    m = st.columns(2) + st.columns(2)
    widgets.kpi_tile("Expected cost", money(summ["mean_cost"]), container=m[0],
                     help=f"Mean over {summ['n_sims']:,} simulations of {', '.join(summ['periods'])}.")
    widgets.kpi_tile("P90 cost", money(summ["p90_cost"]), container=m[1],
                     help="Exceeded in one simulated period out of ten: budget for this.")
    widgets.kpi_tile("Expected cost of sales", formats.pct(summ["mean_cost_of_sales"], 1), container=m[2])
    widgets.kpi_tile("Expected share of reps at quota", formats.pct(summ["share_reps_at_quota"]), container=m[3],
                     help="Mean over the simulations and plan periods of the share of reps with a quota who reach it "
                          "(a rep on a zero quota is not counted).")
    st.altair_chart(charts.cost_distribution(sim.totals, cc, summ["p90_cost"]), width="stretch")
    widgets.table(ctx, sim.rep_table(), {"rep": "Rep", "quota": ("Quota", "money"), "mean_payout": ("Mean payout", "money"),
                                         "p10_payout": ("Payout P10", "money"), "p90_payout": ("Payout P90", "money"),
                                         "p_attain": ("Chance of reaching quota", "pct")}, key="comp_sim_reps", missing="–")
elif stored:
    st.caption("The plan, the filters or the what-ifs changed: run the simulation again.")

# --- effectiveness and comparison -----------------------------------------------------------------------------
st.subheader("Does pay follow performance?")
eff = C.effectiveness(result)
e1, e2 = st.columns(2)
pfp = eff["pay_for_performance"]
widgets.kpi_tile("Pay-for-performance", formats.MISSING if pfp is None else f"{pfp:.2f}", container=e1,
                 help="Rank correlation of payout with attainment: 1 = the better the rep, the more they earn.")
widgets.kpi_tile("Pay to the top 20%", formats.pct(eff["top20_share_of_pay"]), container=e2,
                 help="Share of all variable pay going to the top fifth of reps by attainment.")

others = [s for s in sources if s != source]
picked_others = st.multiselect("Compare with (up to two plans)", others, max_selections=2, key="comp_compare")
if picked_others:
    try:
        other_docs = [C.plan_json(C.as_plan(C.source_doc(ctx.ws, sources[s]))) for s in picked_others]
        cmp_ = compute(C.comparison, ctx, (plan_json, *other_docs), quota_source)
    except SalesopsError as exc:
        widgets.show_error(exc)
        st.stop()
    widgets.table(ctx, cmp_["effectiveness"], {"plan": ("Plan", "text"), "total_cost": ("Total cost", "money"),
                                               "cost_of_sales": ("Cost of sales", "pct"),
                                               "pay_for_performance": ("Pay-for-performance", "number"),
                                               "top20_share_of_pay": ("Pay to top 20%", "pct"),
                                               "reps_at_quota": ("Reps at quota", "count"), "reps": ("Reps", "count")},
                  key="comp_cmp_eff", missing="–")
    st.altair_chart(charts.plan_comparison(cmp_["table"], cmp_["plans"], cc), width="stretch")
    st.markdown("**Who gains and who loses** (change against the plan in the designer)")
    columns = {"rep": "Rep", "attainment": ("Attainment (this plan)", "pct"),
               **{name: (f"Pay: {name}", "money") for name in cmp_["plans"]},
               **{f"change_{name}": (f"Change under {name}", "money") for name in cmp_["plans"][1:]}}
    widgets.table(ctx, cmp_["table"], columns, key="comp_cmp_table", missing="–")
