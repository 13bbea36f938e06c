"""Compensation: design a commission plan, see its payout curve and cliffs, price it on actual
bookings and in a Monte Carlo of the period, check that pay follows performance, compare plans,
and save versions."""
import hashlib
import json

import pandas as pd
import streamlit as st

from salesops import compensation as C
from salesops import formats
from salesops.charts import planning as charts
from salesops.errors import InputError, SalesopsError
from salesops.ui import context, widgets
from salesops.ui import planning as data

ctx = context.page_context()
st.title(f"Compensation · {ctx.period.label}")
if widgets.empty_state(ctx, "the compensation page"):
    st.stop()
widgets.freshness(ctx)

cc = ctx.currency
period = ctx.period
pt = data.period_tuple(period)
reps_key = data.team_reps(ctx)
reps_key = tuple(reps_key) if reps_key is not None else None
NO_PERIOD = "as asked (no scaling)"

# --- where the plan starts from ------------------------------------------------------------------------
samples = data.sample_plans()
saved = data.saved_list(ctx.db, "comp_plans")
saved_names = list(dict.fromkeys(saved["name"])) if not saved.empty else []
sources = [f"Sample: {n}" for n in samples] + [f"Saved: {n}" for n in saved_names]
st.subheader("Plan designer")
s1, s2 = st.columns([3, 1])
source = s1.selectbox("Start from", sources, key="comp_source",
                      help="A sample plan shipped with salesops, or a plan saved in this workspace (latest version by default).")
base_doc: dict = {}
version_pick = None
if source.startswith("Saved: "):
    pname = source[len("Saved: "):]
    versions = [int(v) for v in saved.loc[saved["name"] == pname, "version"]]
    version_pick = s2.selectbox("Version", versions, key=f"comp_version_{pname}")
    base_doc = data.load_saved(ctx.db, "comp_plans", pname, version_pick) or {}
else:
    base_doc = dict(samples.get(source[len("Sample: "):], {}))
sid = hashlib.sha1(f"{source}|{version_pick}".encode()).hexdigest()[:8]


def k(name: str) -> str:
    """Widget key tied to the chosen starting plan, so switching plans resets the form."""
    return f"comp_{name}_{sid}"


quota_doc = base_doc.get("quota") or {}
quota_default = quota_doc.get("default") if isinstance(quota_doc, dict) else quota_doc
by_rep = quota_doc.get("by_rep", {}) if isinstance(quota_doc, dict) else {}
ti_doc = base_doc.get("target_incentive")
ti_default = ti_doc.get("default") if isinstance(ti_doc, dict) else ti_doc

c1, c2, c3 = st.columns(3)
name = c1.text_input("Plan name", value=str(base_doc.get("name") or "New plan"), key=k("name"))
plan_period = c2.selectbox("Quota period", ["quarter", "month", "year", NO_PERIOD],
                           index=["quarter", "month", "year", None].index(base_doc.get("period")) if base_doc.get("period") in ("quarter", "month", "year", None) else 0,
                           key=k("period"), help="Quota, target incentive and draw are per this period; they scale to the "
                                                 "period chosen in the sidebar by months (a quarterly quota over a year = x4).")
measure = c3.selectbox("Measure", list(C.MEASURES), format_func=C.MEASURES.get,
                       index=list(C.MEASURES).index(base_doc.get("measure") or "won_amount"), key=k("measure"))
c1, c2, c3, c4 = st.columns(4)
quota = c1.number_input("Quota per rep", min_value=0.0, value=float(quota_default or 100_000), step=10_000.0, key=k("quota"), format="%.0f",
                        help="A zero quota is refused: attainment would be undefined.")
ti = c2.number_input(f"Target incentive ({cc})", min_value=0.0, value=float(ti_default or 10_000), step=1_000.0, key=k("ti"), format="%.0f",
                     help="Variable pay at 100% attainment (OTE minus base), per quota period.")
threshold = c3.number_input("Threshold (% of quota)", min_value=0.0, value=float(base_doc.get("threshold") or 0) * 100, step=5.0, format="%.0f",
                            key=k("threshold"), help="Below it nothing is paid; once reached, pays from the first dollar.") / 100
cap = c4.number_input("Cap (x target incentive, 0 = none)", min_value=0.0, value=float(base_doc.get("cap") or 0), step=0.5,
                      key=k("cap")) or None
if by_rep:
    st.caption(f"{len(by_rep)} per-rep quotas from the plan are kept (edit them in the plan JSON below).")

t1, t2 = st.columns([1, 2])
tier_mode = t1.radio("Tier mode", list(C.TIER_MODES), index=list(C.TIER_MODES).index(base_doc.get("tier_mode") or "marginal"),
                     key=k("tier_mode"), format_func={"marginal": "Marginal (each slice at its rate)",
                                                      "whole": "Whole / retroactive (all at the final tier)"}.get)
tiers_in = pd.DataFrame([{"from_pct": float(t["from"]) * 100, "to_pct": None if t.get("to") is None else float(t["to"]) * 100,
                          "rate": float(t["rate"])} for t in (base_doc.get("tiers") or [{"from": 0, "to": None, "rate": 1.0}])])
tiers_ed = t2.data_editor(tiers_in, key=k("tiers"), num_rows="dynamic", hide_index=True, width="stretch",
                          column_config={"from_pct": st.column_config.NumberColumn("From (% of quota)", min_value=0.0),
                                         "to_pct": st.column_config.NumberColumn("To (%; empty = no end)", min_value=0.0),
                                         "rate": st.column_config.NumberColumn("Rate (x base rate)", min_value=0.0, format="%.2f",
                                                                               help="1.0 = on-target pay; 1.5 = a 1.5x accelerator; below 1 a decelerator")})

with st.expander("SPIFs, extra measures, clawback and draw", expanded=False):
    spifs_in = pd.DataFrame([{"name": s.get("name"), "field": next(iter((s.get("filter") or {"product": ""}).keys())),
                              "value": json.dumps(next(iter((s.get("filter") or {"product": ""}).values()))).strip('"'),
                              "amount": float(s.get("amount") or 0)} for s in (base_doc.get("spifs") or [])],
                            columns=["name", "field", "value", "amount"])
    spifs_ed = st.data_editor(spifs_in, key=k("spifs"), num_rows="dynamic", hide_index=True, width="stretch",
                              column_config={"name": "SPIF", "field": st.column_config.SelectboxColumn("Deal field", options=list(C.SPIF_FIELDS)),
                                             "value": st.column_config.TextColumn("Value it must have"),
                                             "amount": st.column_config.NumberColumn(f"Amount per won deal ({cc})", min_value=0.0)})
    spif_in_cap = st.checkbox("SPIFs count toward the cap", value=bool(base_doc.get("spif_in_cap")), key=k("spif_in_cap"))
    measures_doc = base_doc.get("measures") or []
    logos_doc = next((m for m in measures_doc if m.get("measure") == "new_logos"), None)
    use_logos = st.checkbox("Add a new-logo measure", value=logos_doc is not None and measure != "new_logos", key=k("use_logos"),
                            disabled=measure == "new_logos")
    l1, l2 = st.columns(2)
    logo_quota_doc = (logos_doc or {}).get("quota", 4)
    logo_weight = l1.slider("New-logo weight (%)", 5, 95, int(round(float((logos_doc or {}).get("weight", 0.3)) * 100)),
                            key=k("logo_weight"), disabled=not use_logos) / 100
    logo_quota = l2.number_input("New logos per rep (quota)", min_value=0.0,
                                 value=float(logo_quota_doc.get("default", 4) if isinstance(logo_quota_doc, dict) else logo_quota_doc),
                                 step=1.0, key=k("logo_quota"), disabled=not use_logos)
    cb_doc = base_doc.get("clawback") or {}
    b1, b2 = st.columns(2)
    cb_share = b1.number_input("Clawback share of commission (%)", 0.0, 100.0, float(cb_doc.get("share", 0)) * 100, 10.0,
                               key=k("cb_share"), help="Returned when a booked deal is cancelled (stage 'Cancelled') within the window.") / 100
    cb_days = b2.number_input("Clawback window (days)", 1, 730, int(cb_doc.get("window_days", 90)), key=k("cb_days"))
    dr_doc = base_doc.get("draw") or {}
    d1, d2 = st.columns(2)
    draw_amt = d1.number_input(f"Draw per quota period ({cc}, 0 = none)", min_value=0.0, value=float(dr_doc.get("amount", 0)),
                               step=500.0, key=k("draw"))
    draw_rec = d2.checkbox("Recoverable draw", value=bool(dr_doc.get("recoverable", True)), key=k("draw_rec"))


def _value(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


doc = {
    "name": name, "description": base_doc.get("description", ""), "measure": measure,
    "period": None if plan_period == NO_PERIOD else plan_period,
    "quota": {"default": quota, "by_rep": by_rep}, "target_incentive": ti, "threshold": threshold,
    "tiers": [{"from": (r.from_pct or 0) / 100, "to": None if pd.isna(r.to_pct) else r.to_pct / 100, "rate": r.rate}
              for r in tiers_ed.itertuples() if not (pd.isna(r.from_pct) and pd.isna(r.rate))],
    "tier_mode": tier_mode, "cap": cap,
    "spifs": [{"name": r.name or f"SPIF {i + 1}", "filter": {r.field: _value(r.value)}, "amount": r.amount}
              for i, r in enumerate(spifs_ed.itertuples()) if r.field and not pd.isna(r.amount)],
    "spif_in_cap": spif_in_cap,
    "clawback": {"share": cb_share, "window_days": int(cb_days)} if cb_share > 0 else None,
    "draw": {"amount": draw_amt, "recoverable": draw_rec} if draw_amt > 0 else None,
}
if use_logos and measure != "new_logos":
    doc["measures"] = [{"measure": measure, "weight": round(1 - logo_weight, 6)},
                       {"measure": "new_logos", "weight": logo_weight, "quota": {"default": logo_quota, "by_rep": {}}}]
for t in doc["tiers"]:
    for key_ in ("from", "to", "rate"):
        if t[key_] is not None and pd.isna(t[key_]):
            t[key_] = None

with st.expander("Plan JSON (advanced)"):
    use_json = st.checkbox("Use this JSON instead of the form", key=k("use_json"))
    text = st.text_area("Plan JSON", value=json.dumps(doc, indent=2, default=str), height=300, key=k("json") if use_json else None,
                        disabled=not use_json)
    if use_json:
        try:
            doc = json.loads(text)
        except ValueError as exc:
            st.error(f"The plan JSON is not valid JSON: {exc}")
            st.stop()

try:
    plan = C.parse_plan(doc)
except InputError as exc:
    st.error(str(exc))
    if len(exc.problems) > 1:
        st.dataframe(pd.DataFrame([{"key": p.column, "value": p.value, "problem": p.problem} for p in exc.problems]),
                     hide_index=True, width="stretch")
    st.stop()

sv1, sv2 = st.columns([1, 3])
if sv1.button("Save plan", icon=":material/save:", key="comp_save", type="primary"):
    try:
        v = data.save(ctx.db, "comp_plans", plan.name, plan.to_json())
        st.success(f"Saved {plan.name!r} as version {v}.")
        saved = data.saved_list(ctx.db, "comp_plans")
    except SalesopsError as exc:
        widgets.show_error(exc)
sv2.caption("Every save is a new version; nothing is overwritten.")
st.markdown("**Saved plans**")
if saved.empty:
    st.caption("No plans saved in this workspace yet.")
else:
    st.dataframe(saved[["name", "version", "created_at", "created_by"]], hide_index=True, width="stretch", key="comp_saved_table",
                 column_config={"name": "Plan", "version": "Version", "created_at": "Saved (UTC)", "created_by": "By"})

# --- the payout curve ------------------------------------------------------------------------------------
st.subheader("Payout curve")
ti_money = float(plan.target_incentive.default or ti)
curve = C.curve_table(plan, upto=2.0, target_incentive=ti_money)
cliffs = C.curve_cliffs(plan, 2.0)
cliffs_plot = cliffs.assign(before_payout=cliffs["before"] * ti_money, after_payout=cliffs["after"] * ti_money)
st.altair_chart(charts.payout_curve(curve, cliffs_plot, cc, plan.name), width="stretch")
if len(cliffs):
    st.caption("Cliffs: " + "; ".join(f"at {r.attainment:.0%} pay jumps from {formats.money(r.before * ti_money, cc)} to "
                                      f"{formats.money(r.after * ti_money, cc)} ({r.what})" for r in cliffs.itertuples())
               + ". Reps just below a cliff have a strong reason to pull deals in or hold them back.")
else:
    st.caption("No cliffs: pay rises smoothly with attainment.")

# --- payouts on actual bookings ---------------------------------------------------------------------------
st.subheader(f"Payouts for {period.label} from actual bookings")
try:
    result = data.payouts(ctx.db, ctx.version, data.plan_json(plan.to_json()), pt, reps_key)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
p = result.payouts
if period.end > ctx.workspace.as_of:
    st.caption(f"{period.label} is not over (data as of {ctx.workspace.as_of:%d %b %Y}): these are payouts on the "
               "bookings so far. The simulation below shows where the whole period may end.")
k1, k2, k3, k4 = st.columns(4)
widgets.kpi_tile("Total payout", formats.money(result.total_cost, cc), container=k1,
                 help="Commission + SPIFs - clawbacks + draw top-ups, all reps on the plan.")
widgets.kpi_tile("Cost of sales", formats.pct(result.cost_of_sales, 1), container=k2,
                 help="Total variable pay / bookings of the reps on the plan.")
widgets.kpi_tile("With base salaries", formats.pct(result.full_cost_of_sales, 1), container=k3,
                 help="(Base salaries for the period + variable pay) / bookings; needs every rep's base salary in the roster.")
widgets.kpi_tile("Reps at quota", f"{int((p['attainment'] >= 1).sum())} of {len(p)}", container=k4)
if result.quota_scale != 1:
    st.caption(f"The plan's {plan.period}ly quota and target incentive are scaled x{result.quota_scale:g} to {period.label}.")
if p.empty:
    st.info("No reps on this plan for the period.")
else:
    st.altair_chart(charts.payouts_by_rep(p, cc), width="stretch")
    show = ["rep", "quota", "achieved", "attainment", "commission", "spif", "clawback", "draw_top_up", "total"]
    st.dataframe(p[show], hide_index=True, width="stretch",
                 column_config={"rep": "Rep", "quota": st.column_config.NumberColumn("Quota", format="%,.0f"),
                                "achieved": st.column_config.NumberColumn("Achieved", format="%,.0f"),
                                "attainment": widgets.percent_column("Attainment"),
                                "commission": widgets.money_column(ctx, "Commission"), "spif": widgets.money_column(ctx, "SPIFs"),
                                "clawback": widgets.money_column(ctx, "Clawback"),
                                "draw_top_up": widgets.money_column(ctx, "Draw top-up"), "total": widgets.money_column(ctx, "Total")})
    widgets.download_buttons(p, f"payouts_{plan.name}_{period.label}".replace(" ", "_"), key="comp_payouts_dl")
if plan.draw is not None and plan.period is not None:
    with st.expander(f"Draw over fiscal year {ctx.calendar.year_of(period.start).label}"):
        freq = {"month": "M", "quarter": "Q", "year": "Y"}[plan.period]
        year = ctx.calendar.year_of(period.start)
        periods = [q for q in ctx.calendar.periods_between(year.start, year.end, freq) if q.start <= ctx.workspace.as_of]
        try:
            draws = C.payouts_over_periods(plan, ctx.workspace.deals, periods, reps=ctx.workspace.reps,
                                           rep_names=list(reps_key) if reps_key is not None else None)
        except SalesopsError as exc:
            widgets.show_error(exc)
        else:
            st.caption(("A recoverable draw is repaid from later earnings above the draw." if plan.draw.recoverable
                        else "A non-recoverable draw is a guaranteed minimum; shortfalls are not repaid."))
            st.dataframe(draws, hide_index=True, width="stretch",
                         column_config={"rep": "Rep", "period": "Period", "period_start": None,
                                        "earned": widgets.money_column(ctx, "Earned"),
                                        "draw_top_up": widgets.money_column(ctx, "Draw top-up"),
                                        "draw_recovered": widgets.money_column(ctx, "Recovered"),
                                        "total": widgets.money_column(ctx, "Paid"),
                                        "draw_balance": widgets.money_column(ctx, "Owed after the period")})
if len(result.reversals) or len(result.cancellations):
    with st.expander(f"Clawbacks ({len(result.cancellations)}) and data reversals ({len(result.reversals)})"):
        if len(result.cancellations):
            st.markdown("**Clawbacks**: booked deals cancelled inside the window")
            st.dataframe(result.cancellations, hide_index=True, width="stretch")
        if len(result.reversals):
            st.markdown("**Data reversals**: won deals a later export shows lost or reopened (not paid, not a clawback)")
            st.dataframe(result.reversals, hide_index=True, width="stretch")

# --- simulation -------------------------------------------------------------------------------------------
st.subheader("What will it cost? (simulation)")
st.caption("Simulates the period many times from each rep's own history (win counts, deal sizes, ramp), scaled to the "
           "forecast's landing distribution when there is one and no what-if is set, and prices the plan in each.")
w1, w2, w3, w4 = st.columns(4)
uplift = w1.slider("Win-rate uplift (%)", -30, 50, 0, key="comp_uplift") / 100
size = w2.slider("Deal-size change (%)", -30, 50, 0, key="comp_size") / 100
hires = w3.slider("Headcount change", -5, 10, 0, key="comp_hires",
                  help="Positive: new hires at the team's average productivity and a new hire's ramp, on the plan's "
                       "default quota. Negative: that many reps leave (those with the lowest expected bookings).")
n_sims = w4.select_slider("Simulations", [1000, 2000, 5000, 10000, 20000], value=2000, key="comp_sims")
sim_key = (ctx.db, ctx.version, data.plan_json(plan.to_json()), pt, reps_key, uplift, size, hires, n_sims)
if st.button("Run simulation", icon=":material/casino:", key="comp_simulate"):
    bar = st.progress(0.0, text="Simulating…")
    try:
        landing = data.forecast_landing(ctx.db, ctx.version, pt) if reps_key is None else None
        sim = data.simulate(ctx.db, ctx.version, plan, period, 4, reps_key, n_sims=int(n_sims), seed=0,
                            win_rate_uplift=uplift, deal_size_change=size, extra_hires=hires,
                            team_samples=landing.get("samples") if landing else None,
                            progress=lambda f: bar.progress(f, text=f"Simulating… {f:.0%}"))
        st.session_state["comp_sim"] = (sim_key, sim)
    except SalesopsError as exc:
        widgets.show_error(exc)
    bar.empty()
stored = st.session_state.get("comp_sim")
if stored and stored[0] == sim_key:
    sim = stored[1]
    summ = sim.summary()
    m1, m2, m3, m4 = st.columns(4)
    widgets.kpi_tile("Expected cost", formats.money(summ["mean_cost"], cc), container=m1)
    widgets.kpi_tile("P90 cost", formats.money(summ["p90_cost"], cc), container=m2,
                     help="Exceeded in one simulated period out of ten: budget for this.")
    widgets.kpi_tile("Expected cost of sales", formats.pct(summ["mean_cost_of_sales"], 1), container=m3)
    widgets.kpi_tile("Reps at quota (expected)", formats.pct(summ["share_reps_at_quota"]), container=m4)
    st.altair_chart(charts.cost_distribution(sim.totals, cc, summ["p90_cost"]), width="stretch")
    st.dataframe(sim.rep_table(), hide_index=True, width="stretch",
                 column_config={"rep": "Rep", "quota": st.column_config.NumberColumn("Quota", format="%,.0f"),
                                "mean_payout": widgets.money_column(ctx, "Mean payout"),
                                "p10_payout": widgets.money_column(ctx, "P10"), "p90_payout": widgets.money_column(ctx, "P90"),
                                "p_attain": widgets.percent_column("P(attain)")})
elif stored:
    st.caption("The plan or the what-ifs changed: run the simulation again.")

# --- effectiveness and comparison -----------------------------------------------------------------------------
st.subheader("Does pay follow performance?")
eff = C.effectiveness(result)
e1, e2, e3 = st.columns(3)
pfp = eff["pay_for_performance"]
widgets.kpi_tile("Pay-for-performance", "–" if pfp is None else f"{pfp:.2f}", container=e1,
                 help="Rank correlation of payout with attainment: 1 = the better the rep, the more they earn.")
widgets.kpi_tile("Pay to the top 20%", formats.pct(eff["top20_share_of_pay"]), container=e2,
                 help="Share of all variable pay going to the top fifth of reps by attainment.")
widgets.kpi_tile("Cost of sales", formats.pct(eff["cost_of_sales"], 1), container=e3)

others = [s for s in sources if s != source]
picked = st.multiselect("Compare with (up to two plans)", others, max_selections=2, key="comp_compare")
if picked:
    results = [result]
    try:
        for s in picked:
            other = (data.load_saved(ctx.db, "comp_plans", s[len("Saved: "):]) if s.startswith("Saved: ")
                     else samples[s[len("Sample: "):]])
            results.append(data.payouts(ctx.db, ctx.version, data.plan_json(C.parse_plan(other).to_json()), pt, reps_key))
    except SalesopsError as exc:
        widgets.show_error(exc)
        st.stop()
    table = C.compare_plans(results)
    plan_cols = [c for c in table.columns if c not in ("rep", "attainment") and not c.startswith("change_")]
    st.dataframe(pd.DataFrame([C.effectiveness(r) for r in results]), hide_index=True, width="stretch",
                 column_config={"plan": "Plan", "total_cost": widgets.money_column(ctx, "Total cost"),
                                "cost_of_sales": widgets.percent_column("Cost of sales"),
                                "pay_for_performance": st.column_config.NumberColumn("Pay-for-performance", format="%.2f"),
                                "top20_share_of_pay": widgets.percent_column("Pay to top 20%"),
                                "reps_at_quota": "Reps at quota", "reps": "Reps"})
    st.altair_chart(charts.plan_comparison(table, plan_cols, cc), width="stretch")
    st.markdown("**Who gains and who loses** (change against the plan in the designer)")
    st.dataframe(table, hide_index=True, width="stretch")
