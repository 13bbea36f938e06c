"""Territories: a plan of rules that puts every account in exactly one territory owned by one
or more reps; the balance of the books (accounts, potential, pipeline, bookings, workload)
with its spread across reps; what-if moves with their before/after and the effect on quotas
that follow potential; saved, versioned plans with one marked active (the territory filter)."""
import pandas as pd
import streamlit as st

from salesops import territories as T
from salesops.charts import segments as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui.context import compute

ctx = context.page_context()
st.title("Territories")
if widgets.empty_state(ctx, "the territories page"):
    st.stop()
widgets.freshness(ctx)
money = lambda x: widgets.money(ctx, x)  # noqa: E731
K_PLAN, K_MOVES, K_CHOICE = "terr_plan_json", "terr_moves", "terr_choice"

# --- which plan -------------------------------------------------------------------------------------
try:
    choices = compute(T.plan_choices, ctx)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
labels = [c[0] for c in choices]
choice = st.selectbox("Plan", labels, key=K_CHOICE,
                      help="A saved version (the active one is the territory filter of every page), or a new plan "
                           "that starts from today's books: each rep keeps the accounts where they own most deals.")
_, name, version = choices[labels.index(choice)]
if st.session_state.get("terr_loaded") != choice:
    try:
        st.session_state[K_PLAN] = compute(T.open_plan, ctx, name, version)
    except SalesopsError as exc:
        widgets.show_error(exc)
        st.stop()
    st.session_state["terr_loaded"] = choice
    st.session_state[K_MOVES] = []
plan_text = st.session_state[K_PLAN]
try:
    plan, terr_table, rule_table = compute(T.plan_parts, ctx, plan_text)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()

with st.expander("Rules and territories", expanded=False):
    st.caption("Named accounts beat every other rule; then the higher priority (blank: the number of criteria the rule "
               "uses); equal rank and different territories is a conflict, won by the rule listed first. Separate several "
               "names with ; (or commas). Reps: \"Ann Lee\" or \"Ann Lee 60%; Bob Park 40%\".")
    with st.form("terr_edit"):
        e1, e2 = st.columns([1, 2])
        edited_t = e1.data_editor(terr_table, num_rows="dynamic", hide_index=True, width="stretch", key=f"terr_t_{hash(plan_text)}",
                                  column_config={"territory": st.column_config.TextColumn("Territory", required=True),
                                                 "reps": st.column_config.TextColumn("Reps and shares")})
        edited_r = e2.data_editor(rule_table, num_rows="dynamic", hide_index=True, width="stretch", key=f"terr_r_{hash(plan_text)}",
                                  column_config={"territory": st.column_config.TextColumn("Territory", required=True),
                                                 "region": st.column_config.TextColumn("Account region"),
                                                 "industry": st.column_config.TextColumn("Industry"),
                                                 "size_band": st.column_config.TextColumn("Company size"),
                                                 "accounts": st.column_config.TextColumn("Named accounts"),
                                                 "priority": st.column_config.NumberColumn("Priority", step=1, format="%d")})
        names = [""] + [t.name for t in plan.territories]
        default = st.selectbox("Accounts no rule matches go to", names,
                               index=names.index(plan.default) if plan.default in names else 0,
                               format_func=lambda n: n or "nobody: report them as unassigned")
        plan_name = st.text_input("Plan name", value=plan.name)
        if st.form_submit_button("Apply the changes", icon=":material/check:"):
            try:
                new = T.plan_from_tables(plan_name, edited_t, edited_r, default or None)
            except SalesopsError as exc:
                widgets.show_error(exc)
                for p in getattr(exc, "problems", [])[:10]:
                    st.caption(widgets.plain(p.describe()))
            else:
                st.session_state[K_PLAN] = T.plan_json(new)
                st.rerun()

# --- balance ------------------------------------------------------------------------------------------
moves = tuple(tuple(m) for m in st.session_state.get(K_MOVES, []))
try:
    view = compute(T.plan_view, ctx, plan_text, moves)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
b = view["balance"]
sp = b.spread
st.subheader("Balance of the books")
c = st.columns(5)
widgets.note_tile("Accounts", f"{len(b.accounts):,}", f"in {len(b.plan.territories):,} territories", container=c[0])
widgets.note_tile("Conflicts", f"{len(b.assignment.conflicts):,}", "claimed twice", container=c[1],
                  help="Accounts matched by rules of equal rank that name different territories: the first rule wins.")
widgets.note_tile("Unassigned", f"{len(b.assignment.unassigned):,}", "no rule matches", container=c[2])
pot = sp.loc["potential"]
widgets.note_tile("Spread of books", "–" if pd.isna(pot["cv"]) else f"{pot['cv'] * 100:.0f}%", "CV of potential",
                  help="Standard deviation of the reps' potential / its mean: 0% = every book holds the same potential.",
                  container=c[3])
widgets.note_tile("Gini of books", "–" if pd.isna(pot["gini"]) else f"{pot['gini']:.2f}", "0 = all equal",
                  help="0 when every rep holds the same potential; towards 1 when one rep holds it all.", container=c[4])
if pot["most_loaded"] is not None:
    st.caption(widgets.plain(f"Most loaded book: {pot['most_loaded']} with {money(pot['most'])} potential a year; least loaded: "
                             f"{pot['least_loaded']} with {money(pot['least'])}. Potential = the account's yearly bookings over "
                             "the last three years, shrunk toward an average account of its company size (the fewer its "
                             "closed deals, the more its size counts)."))
metric = st.segmented_control("Balance on", list(T.BALANCE_METRICS), default="potential", key="terr_metric",
                              format_func=T.BALANCE_METRICS.get) or "potential"
if not b.reps.empty:
    st.altair_chart(charts.books_per_rep(b.reps, metric, T.BALANCE_METRICS[metric], ctx.currency,
                                         money=metric in ("potential", "open_pipeline", "bookings_12m")), width="stretch")
widgets.table(ctx, b.reps, {"rep": ("Rep", "text"), "territories": ("Territories", "text"),
                            "accounts": ("Accounts", "number"), "potential": ("Potential per year", "money"),
                            "open_pipeline": ("Open pipeline", "money"), "bookings_12m": ("Bookings, 12 months", "money"),
                            "open_deals": ("Open deals", "number")}, key="terr_reps", download="territory_books")
st.caption("A rep's book is the sum over their territories times their share.")
if not b.unowned.empty:
    st.caption(widgets.plain("Owned by nobody: " + "; ".join(f"{r.group}: {int(r.accounts):,} accounts, {money(r.potential)} potential"
                                                             for r in b.unowned.itertuples())))
if len(b.assignment.conflicts):
    st.markdown("**Conflicts**")
    widgets.table(ctx, T.conflicts_table(b), {"account": ("Account", "text"), "territory": ("Goes to", "text"),
                                              "claimed_by": ("Claimed by", "text"), "rules": ("Rules", "text")}, key="terr_conf")
if b.assignment.unassigned:
    st.markdown("**Unassigned accounts**")
    st.dataframe(pd.DataFrame({"Account": b.assignment.unassigned}), hide_index=True, width="stretch")

# --- what-if -----------------------------------------------------------------------------------------
st.subheader("What if")
with st.form("terr_move"):
    m1, m2 = st.columns([3, 2])
    accts = m1.multiselect("Move accounts", compute(T.account_names, ctx), placeholder="Choose accounts")
    rep = m2.selectbox("to rep", T.known_reps(ctx.ws))
    if st.form_submit_button("Add the move", icon=":material/swap_horiz:") and accts:
        st.session_state[K_MOVES] = [m for m in st.session_state.get(K_MOVES, []) if m[0] not in accts] + [(a, rep) for a in accts]
        st.rerun()
w = view["what_if"]
if w is None:
    st.caption("Move accounts to see each rep's book before and after, the history and pipeline that go with each "
               "account, and the quota each rep would get if quotas followed potential.")
else:
    if st.button("Clear the moves", key="terr_clear", icon=":material/undo:"):
        st.session_state[K_MOVES] = []
        st.rerun()
    st.markdown("**Accounts that change hands**")
    widgets.table(ctx, w.moved, {"name": ("Account", "text"), "from_reps": ("From", "text"), "to_reps": ("To", "text"),
                                 "bookings_12m": ("Bookings, 12 months", "money"), "bookings_3y": ("Bookings, 3 years", "money"),
                                 "open_pipeline": ("Open pipeline", "money"), "open_deals": ("Open deals", "count"),
                                 "potential": ("Potential per year", "money")}, key="terr_moved")
    changed = w.reps[(w.reps[[f"{m}_change" for m in T.BALANCE_METRICS]].abs() > 1e-9).any(axis=1)]
    cols = {"rep": ("Rep", "text"), "potential_before": ("Potential before", "money"), "potential_after": ("Potential after", "money"),
            "open_pipeline_before": ("Pipeline before", "money"), "open_pipeline_after": ("Pipeline after", "money"),
            "accounts_before": ("Accounts before", "number"), "accounts_after": ("Accounts after", "number")}
    if "quota_after" in w.reps.columns:
        cols.update({"quota_before": ("Quota by potential, before", "money"), "quota_after": ("Quota by potential, after", "money"),
                     "quota_change": ("Quota change", "money")})
    left, right = st.columns([3, 2])
    with left:
        widgets.table(ctx, changed, cols, key="terr_rep_changes")
        st.caption(f"Quotas by potential split the reps' targets of {ctx.period.label} ({money(w.quota_total)}) in proportion "
                   "to each book's potential." if w.quota_total else
                   f"No rep targets in {ctx.period.label}: no quota effect to show.")
    with right:
        st.altair_chart(charts.before_after(w.reps, "potential", "Potential", ctx.currency), width="stretch")
    s0, s1 = w.before.spread.loc["potential"], w.after.spread.loc["potential"]
    st.caption(f"Spread of potential: coefficient of variation {s0['cv'] * 100:.0f}% -> {s1['cv'] * 100:.0f}%, "
               f"Gini {s0['gini']:.2f} -> {s1['gini']:.2f}.")

# --- save and activate --------------------------------------------------------------------------------
st.subheader("Saved plans")
with st.form("terr_save"):
    s1, s2 = st.columns([3, 1])
    note = s1.text_input("What changed (optional)", placeholder="described for you when left blank")
    activate = s2.checkbox("Make it the active plan", value=True)
    if st.form_submit_button("Save as a new version" + (" with the moves" if moves else ""), icon=":material/save:"):
        try:
            final = T.move_accounts(plan, dict(moves)) if moves else plan
            v = T.save_plan(ctx.db, final, activate=activate, note=note or None)
        except SalesopsError as exc:
            widgets.show_error(exc)
        else:
            st.session_state[K_MOVES] = []
            st.session_state.pop("terr_loaded", None)
            st.session_state.pop(K_CHOICE, None)
            st.success(widgets.plain(f"Saved {final.name} version {v}" + (", now the active plan." if activate else ".")))
            st.rerun()
vers = compute(T.versions, ctx)
if vers.empty:
    st.caption("No plan saved yet. The active plan becomes the territory filter of every page.")
else:
    widgets.table(ctx, vers, {"name": ("Plan", "text"), "version": ("Version", "count"), "saved_at": ("Saved (UTC)", "text"),
                              "saved_by": ("By", "text"), "changes": ("What changed", "text"), "state": ("Active", "text")},
                  key="terr_versions")
    with st.form("terr_activate"):
        options = [(None, None)] + [(r.name, int(r.version)) for r in vers.itertuples()]
        pick = st.selectbox("Active plan", list(range(len(options))),
                            format_func=lambda i: "No active plan" if options[i][0] is None else f"{options[i][0]} · version {options[i][1]}")
        if st.form_submit_button("Make active"):
            try:
                T.set_active(ctx.db, *options[pick])
            except SalesopsError as exc:
                widgets.show_error(exc)
            else:
                st.rerun()
