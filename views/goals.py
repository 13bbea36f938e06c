"""Goals: a team target for the period (top-down or bottom-up, beside the landing zone), its
split into rep quotas, how realistic each quota is, and saving, comparing and publishing."""
import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from salesops import formats
from salesops import goals as G
from salesops.charts import planning as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui import planning as data

ctx = context.page_context()
st.title(f"Goals · {ctx.period.label}")
if widgets.empty_state(ctx, "the goals page"):
    st.stop()
widgets.freshness(ctx)
st.caption("Set the period in the sidebar (usually the next quarter). Quotas are checked against a simulation of "
           "each rep's bookings learned from their own history.")

cc = ctx.currency
period = ctx.period
pt = data.period_tuple(period)
reps_key = data.team_reps(ctx)
reps_key = tuple(reps_key) if reps_key is not None else None

try:
    options = data.target_options(ctx.db, ctx.version, pt, ctx.calendar.start_month, reps_key)
    model = data.bookings_model(ctx.db, ctx.version, pt, 4, reps_key)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
if not model.reps:
    st.info(f"No reps are on the team in {period.label} (check the roster's hire and end dates, or the filters).")
    st.stop()

# --- 1. the team target ----------------------------------------------------------------------------------
st.subheader("1. Team target")
bottom = options["bottom_up"]
last_year = options["last_year"]
basis = st.radio("Set the target", ["Amount", "Growth over last year", "Bottom-up from capacity"], horizontal=True,
                 key="goals_basis")
c1, c2 = st.columns(2)
bu = bottom.get("target", float("nan"))
default_amount = bu if np.isfinite(bu) and bu > 0 else (last_year if last_year > 0 else float(model.expected_bookings.sum()))
default_amount = float(round(default_amount / 1000) * 1000) or 1000.0
if basis == "Amount":
    # a new period or team filter starts from its own suggested amount
    amount_key = "goals_amount_" + hashlib.sha1(repr((period.label, reps_key)).encode()).hexdigest()[:8]
    target = c1.number_input(f"Team target ({cc})", min_value=0.0, value=default_amount, step=10_000.0, key=amount_key, format="%.0f")
    basis_text = "amount"
elif basis == "Growth over last year":
    growth = c1.number_input("Growth over the same period last year (%)", value=10.0, step=1.0, key="goals_growth") / 100
    target = last_year * (1 + growth)
    basis_text = f"{growth:+.0%} over {options['last_year_label']}"
    if last_year <= 0:
        st.warning(f"There are no bookings in {options['last_year_label']} to grow from; set an amount instead.")
else:
    target = bottom.get("target", float("nan"))
    basis_text = "bottom-up capacity"
    if not np.isfinite(target):
        st.warning("The capacity target needs won deals in the last four quarters and reps on the team"
                   + (f" ({bottom['error']})" if bottom.get("error") else "") + ".")
over = c2.slider("Over-assignment (%)", 0, 30, 0, help="Rep quotas add up to the team target plus this much, a cushion "
                 "for reps who miss (commonly 10-20%).", key="goals_over") / 100

landing = data.forecast_landing(ctx.db, ctx.version, pt)
rows = [{"label": f"Last year ({options['last_year_label']})", "value": last_year, "low": np.nan, "high": np.nan}]
if np.isfinite(bottom.get("target", np.nan)):
    rows.append({"label": "Bottom-up capacity", "value": bottom["target"], "low": np.nan, "high": np.nan})
if landing:
    rows.append({"label": "Forecast landing (P50)", "value": landing["p50"], "low": landing["p10"], "high": landing["p90"]})
if target and np.isfinite(target):
    rows.append({"label": "Chosen target", "value": float(target), "low": np.nan, "high": np.nan})
st.altair_chart(charts.target_comparison(pd.DataFrame(rows), cc), width="stretch")
if np.isfinite(bottom.get("target", np.nan)):
    st.caption(f"Bottom-up: {bottom['ramped_reps']:.1f} ramped-rep equivalents x "
               f"{formats.money(bottom['productivity'], cc)} per ramped rep per quarter x {bottom['quarters']:.2f} quarters.")
if not landing:
    st.caption("No forecast landing zone is available for this period; the team probability below comes from "
               "the rep simulation.")
elif reps_key is not None:
    st.caption("The landing zone is the whole team's; with filters on, the probabilities below come from the rep "
               "simulation of the filtered reps.")
else:
    st.caption("The rep simulations are scaled so that the team total follows the forecast's landing distribution.")

if not target or not np.isfinite(target) or target <= 0:
    st.info("Choose a positive team target to split it into quotas.")
    st.stop()

# --- 2. allocation ---------------------------------------------------------------------------------------
st.subheader("2. Split into rep quotas")
m1, m2 = st.columns([1, 1])
acc = ctx.workspace.accounts
has_territory = not acc.empty and "revenue" in acc.columns and bool(acc["revenue"].fillna(0).gt(0).any())
methods = [m for m in G.METHODS if m != "territory" or has_territory]
method = m1.selectbox("Method", methods, format_func=G.METHOD_LABELS.get, index=2, key="goals_method",
                      help="Equal: same quota each. Historical share: in proportion to last year's bookings. Capacity: "
                           "tenured reps 1, new hires by their ramp. Territory (when accounts with revenue are loaded): by the "
                           "revenue of the accounts each rep covers.")
n_sims = m2.select_slider("Simulations", [500, 1000, 2000, 5000, 10000], value=2000, key="goals_sims")
override_key = f"goals_overrides_{period.label}"
editor_in = pd.DataFrame({"rep": model.reps, "manual_quota": [np.nan] * len(model.reps)})
edited = st.data_editor(
    editor_in, key=override_key, hide_index=True, width="stretch", disabled=["rep"],
    column_config={"rep": st.column_config.TextColumn("Rep"),
                   "manual_quota": st.column_config.NumberColumn(f"Manual quota ({cc})", min_value=0.0,
                                                                 help="Type a quota to fix it; the others share the rest.")},
    height=min(36 * (len(model.reps) + 1) + 3, 320))
overrides = {r: float(v) for r, v in zip(edited["rep"], edited["manual_quota"]) if v is not None and not pd.isna(v)}

try:
    weights = G.allocation_weights(method, model, accounts=ctx.workspace.accounts, deals=ctx.workspace.deals)
    quotas = G.allocate(float(target), weights, overrides=overrides, over_assignment=over)
    sims = data.bookings_sims(ctx.db, ctx.version, pt, 4, reps_key, int(n_sims), 0)
    # the forecast covers the whole team: it calibrates the simulation only without filters
    team_samples = landing.get("samples") if landing and reps_key is None else None
    sims = G.calibrate_to_team(sims, team_samples)
    realism = G.assess(quotas, sims, model, team_samples=team_samples, target=float(target))
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()

table = realism.reps.copy()
table.insert(1, "weight", weights.reindex(model.reps).to_numpy(dtype=float))
table["ramp"] = model.ramp
table["manual"] = table["rep"].isin(list(overrides))
st.caption(f"Quotas add up to {formats.money(quotas.sum(), cc, compact=False)} = target "
           f"{formats.money(target, cc, compact=False)}" + (f" x {1 + over:.2f} over-assignment" if over else "") + ".")

# --- 3. realism ------------------------------------------------------------------------------------------
st.subheader("3. Is it realistic?")
team = realism.team
k1, k2, k3, k4 = st.columns(4)
widgets.kpi_tile("Team reaches the target", formats.pct(team["p_team"]), container=k1,
                 help=f"Share of simulated periods in which the team books at least the target (from the {team['source']}).")
share = team["expected_share_hitting"]
widgets.kpi_tile("Expected reps at quota", formats.pct(share), container=k2,
                 delta=("within the usual 50-70%" if G.INDUSTRY_HIT_RANGE[0] <= share <= G.INDUSTRY_HIT_RANGE[1]
                        else ("-below the usual 50-70%" if share < G.INDUSTRY_HIT_RANGE[0] else "+above the usual 50-70%")),
                 delta_color="off" if G.INDUSTRY_HIT_RANGE[0] <= share <= G.INDUSTRY_HIT_RANGE[1] else "normal",
                 help="Mean probability of attainment over reps. Plans where fewer than half the reps can make it demotivate.")
widgets.kpi_tile("Quotas above plausible", f"{team['reps_flagged']}", container=k3,
                 help=f"Reps whose quota they reach in fewer than {G.IMPLAUSIBLE_P:.0%} of simulations.")
widgets.kpi_tile("Team P10 – P90", f"{formats.money(team['p10'], cc)} – {formats.money(team['p90'], cc)}", container=k4,
                 help=f"The team's bookings range (from the {team['source']}).")
if team["reps_flagged"]:
    names = ", ".join(table.loc[table["flag"] == "above plausible", "rep"].head(8))
    st.warning(f"Quotas above what is plausible for: {names}. Unreachable goals make reps stop trying; lower them or "
               "move the difference to reps with room.")
st.altair_chart(charts.quota_realism(table, cc), width="stretch")
st.altair_chart(charts.attainment_probabilities(table), width="stretch")
st.dataframe(
    table[["rep", "quota", "p_attain", "expected", "p10", "p90", "flag", "ramp", "manual"]], hide_index=True,
    width="stretch",
    column_config={"rep": "Rep", "quota": widgets.money_column(ctx, "Quota"),
                   "p_attain": widgets.percent_column("P(attain)", "Share of simulations at or above the quota"),
                   "expected": widgets.money_column(ctx, "Expected bookings"),
                   "p10": widgets.money_column(ctx, "P10"), "p90": widgets.money_column(ctx, "P90"),
                   "flag": "Realism", "ramp": st.column_config.NumberColumn("Capacity", format="%.2f",
                                                                           help="Ramp factor x share of the period on the team"),
                   "manual": st.column_config.CheckboxColumn("Set by hand")})
with st.expander("How the simulation works"):
    st.markdown(
        f"Each rep's won deals in a period are drawn from a Poisson distribution whose rate is the rep's own win count "
        f"over the last four periods, shrunk toward the team's and scaled by their ramp and time on the team; the rate "
        f"varies between periods (rep-level spread, shape {model.rep_shape:.1f}) and with a team-wide shock. Deal sizes "
        f"come from the rep's own won deals mixed with the team's. History: {model.window[0]} to {model.window[1]}. "
        f"{' '.join(model.notes)}")

# --- 4. save, compare, publish ------------------------------------------------------------------------------
st.subheader("4. Save, compare and publish")
payload = G.scenario_payload(period, float(target), method, over, table, team, basis=basis_text, overrides=overrides)
s1, s2 = st.columns([2, 1])
name = s1.text_input("Scenario name", value=f"{period.label} {G.METHOD_LABELS[method].lower()}", key="goals_scenario_name")
if s2.button("Save scenario", icon=":material/save:", key="goals_save"):
    try:
        version = data.save(ctx.db, "scenarios", name, payload, kind="goals")
        st.success(f"Saved {name!r} as version {version}.")
    except SalesopsError as exc:
        widgets.show_error(exc)

saved = data.saved_list(ctx.db, "scenarios", kind="goals")
if saved.empty:
    st.caption("No saved goal scenarios yet.")
else:
    st.dataframe(saved[["name", "version", "created_at", "created_by"]], hide_index=True, width="stretch",
                 column_config={"name": "Scenario", "version": "Version", "created_at": "Saved (UTC)", "created_by": "By"})
    labels = [f"{r.name} v{r.version}" for r in saved.itertuples()]
    if len(labels) >= 2:
        a1, a2 = st.columns(2)
        pick_a = a1.selectbox("Compare", labels, index=0, key="goals_cmp_a")
        pick_b = a2.selectbox("with", labels, index=1, key="goals_cmp_b")
        ra, rb = saved.iloc[labels.index(pick_a)], saved.iloc[labels.index(pick_b)]
        da = data.load_saved(ctx.db, "scenarios", ra["name"], int(ra["version"])) or {}
        db_ = data.load_saved(ctx.db, "scenarios", rb["name"], int(rb["version"])) or {}
        cmp_ = G.compare_scenarios(da, db_, pick_a, pick_b)
        st.dataframe(cmp_, hide_index=True, width="stretch")
        st.caption(f"Team target: {formats.money(da.get('target'), cc)} vs {formats.money(db_.get('target'), cc)}; "
                   f"P(team reaches it): {formats.pct(da.get('p_team'))} vs {formats.pct(db_.get('p_team'))}.")

sheet = G.goal_sheet(table, period, currency=cc, scenario=name)
st.markdown("**Goal sheets** (one row per rep)")
widgets.download_buttons(sheet, f"goal_sheets_{period.label}", key="goals_sheet")
st.download_button("Download one sheet per rep (Excel)", G.goal_sheets_xlsx(sheet), file_name=f"goal_sheets_by_rep_{period.label}.xlsx",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="goals_sheet_per_rep",
                   icon=":material/download:")
p1, p2 = st.columns([2, 1])
confirm = p1.checkbox(f"Replace the rep targets of {period.label} with these quotas", key="goals_publish_confirm")
if p2.button("Publish targets", type="primary", disabled=not confirm, icon=":material/publish:", key="goals_publish"):
    try:
        n = data.publish(ctx.db, period, quotas)
        st.success(f"Published {n} rep targets for {period.label}; KPIs now measure attainment against them.")
    except SalesopsError as exc:
        widgets.show_error(exc)
