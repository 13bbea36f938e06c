"""Pipeline: how the period's pipeline moved between two snapshots, where deals leak in the
funnel, which deals are at risk, and how clean the CRM is."""
import streamlit as st

from salesops import formats, hygiene, pipeline
from salesops.charts import pipeline as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui.context import compute

ctx = context.page_context()
st.title(f"Pipeline · {ctx.period.label}")
if widgets.empty_state(ctx, "the pipeline page"):
    st.stop()
widgets.freshness(ctx)

VIEWS = ["Movement", "Funnel and bottlenecks", "Deals at risk", "CRM hygiene"]
view = st.segmented_control("Show", VIEWS, default=VIEWS[0], key="pl_view") or VIEWS[0]
cc = ctx.currency
money = lambda x: widgets.money(ctx, x)  # noqa: E731
DATE = lambda label: st.column_config.DateColumn(label, format="DD MMM YYYY")  # noqa: E731


def movement_view() -> None:
    dates = ctx.workspace.snapshot_dates
    if len(dates) < 2:
        st.info("Pipeline movement compares two snapshots of the same CRM export. "
                + (f"There is one snapshot so far ({dates[0]}). " if dates else "There are no snapshots yet. ")
                + "Import the export again on a later date and this page shows what was created, pulled in, "
                  "pushed out, won, lost and removed.", icon=":material/compare_arrows:")
        return
    f0, t0 = pipeline.period_snapshots(dates, ctx.period.start, ctx.period.end)
    c1, c2 = st.columns(2)
    f = c1.selectbox("From snapshot", dates, index=dates.index(f0), key=f"pl_from_{ctx.period.label}",
                     help="The earlier export. Defaults to the last snapshot on or before the period's start.")
    t = c2.selectbox("To snapshot", dates, index=dates.index(t0), key=f"pl_to_{ctx.period.label}",
                     help="The later export. Defaults to the last snapshot on or before the period's end.")
    if t <= f:
        st.warning("Choose a 'To' snapshot later than the 'From' snapshot.")
        return
    m = compute(pipeline.movement_for, ctx, f, t)
    wf = m.waterfall.set_index("step")
    c = st.columns(4)
    widgets.kpi_tile("Start of period", money(wf.loc["start", "amount"]), f"{wf.loc['start', 'count']:,} deals", delta_color="off",
                     help=f"Open deals with a close date in {ctx.period.label}, in the snapshot of {f}.", container=c[0])
    added = wf.loc["created", "amount"] + wf.loc["pulled_in", "amount"]
    widgets.kpi_tile("Added", money(added), f"{wf.loc['created', 'count'] + wf.loc['pulled_in', 'count']:,} deals",
                     delta_color="off", help="New deals, and deals whose close date moved into the period.", container=c[1])
    widgets.kpi_tile("Pushed out", money(wf.loc["pushed_out", "amount"]), f"{wf.loc['pushed_out', 'count']:,} deals",
                     delta_color="off", help="Deals still open whose close date left the period.", container=c[2])
    change = wf.loc["end", "amount"] - wf.loc["start", "amount"]
    widgets.kpi_tile("End", money(wf.loc["end", "amount"]), widgets.signed_delta(change, "money", cc, " vs start"),
                     help=f"Open deals with a close date in {ctx.period.label}, in the snapshot of {t}.", container=c[3])
    st.altair_chart(charts.waterfall_chart(
        m.waterfall, cc, f"How the {ctx.period.label} pipeline moved",
        f"Open deals closing in {ctx.period.label}: snapshot of {f} to snapshot of {t}. Won, lost and end at the later amounts."),
        width="stretch")
    st.caption("Start + created + pulled in − pushed out ± amount changes − won − lost − removed = end. "
               "A deal whose close date moves within the period stays in it; 'removed' deals are missing from the later export.")

    st.subheader("Deals behind a bar")
    labels = [pipeline.STEP_LABELS[s] for s in pipeline.STEPS]
    label = st.selectbox("Step", labels, index=labels.index("Pushed out"), key="pl_step")
    behind = pipeline.deals_behind(m.deals, label)
    if behind.empty:
        st.caption(f"No deals in '{label}'.")
        return
    table = behind.assign(entry=behind["entry"].map(pipeline.STEP_LABELS), exit=behind["exit"].map(pipeline.STEP_LABELS))
    cols = ["opportunity_id", "name", "account", "owner", "entry", "exit", "stage_from", "stage_to", "close_from", "close_to",
            "entering_amount", "amount_to", "amount_change", "push_count"]
    table = table[[col for col in cols if col in table.columns]]
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "opportunity_id": "Deal id", "name": "Deal", "account": "Account", "owner": "Rep", "entry": "Came in as",
        "exit": "Left as", "stage_from": f"Stage {f}", "stage_to": f"Stage {t}",
        "close_from": DATE(f"Close date {f}"), "close_to": DATE(f"Close date {t}"),
        "entering_amount": widgets.money_column(ctx, "Amount on entry"), "amount_to": widgets.money_column(ctx, f"Amount {t}"),
        "amount_change": widgets.money_column(ctx, "Amount change"),
        "push_count": st.column_config.NumberColumn("Pushes", format="%d", help=f"Times the close date moved into a later month, over every snapshot up to {t}.")})
    export = table.rename(columns={"opportunity_id": "Deal id", "name": "Deal", "account": "Account", "owner": "Rep",
                                   "entry": "Came in as", "exit": "Left as", "stage_from": f"Stage {f}", "stage_to": f"Stage {t}",
                                   "close_from": f"Close date {f}", "close_to": f"Close date {t}",
                                   "entering_amount": "Amount on entry", "amount_to": f"Amount {t}",
                                   "amount_change": "Amount change", "push_count": "Pushes"})
    widgets.download_buttons(export, f"pipeline-{ctx.period.label}-{label.lower().replace(' ', '-')}", key="pl_dl_step")


def funnel_view() -> None:
    fv = compute(pipeline.funnel_for, ctx)
    if fv.kind == "none":
        st.info(fv.note, icon=":material/info:")
        if not fv.current.empty:
            if fv.win_rate is not None:
                st.caption(f"What final stages do tell: {fv.won:,} won and {fv.lost:,} lost, an overall win rate of "
                           f"{formats.pct(fv.win_rate)}; {fv.still_open:,} deals are still open.")
            st.altair_chart(charts.current_stages_chart(fv.current, cc), width="stretch")
        return
    st.caption(fv.note)
    if fv.funnel.empty:
        st.info("The stage history has no usable rows (stage and date) for these deals.")
        return
    if fv.leak:
        lk = fv.leak
        st.info(f"Biggest drop: {lk['stage']}. {formats.pct(lk['drop_rate'])} of the deals decided there were lost "
                f"({lk['lost']:,} lost of {lk['decided']:,} decided; {lk['reached']:,} reached it).", icon=":material/filter_alt:")
    left, right = st.columns([3, 2])
    with left:
        st.altair_chart(charts.funnel_chart(fv.funnel), width="stretch")
    with right:
        st.dataframe(fv.funnel[["stage", "reached", "conversion", "median_days", "lost", "open", "in_stage_now"]],
                     hide_index=True, width="stretch", column_config={
                         "stage": "Stage", "reached": st.column_config.NumberColumn("Reached", format="%d"),
                         "conversion": widgets.percent_column("Moved on", "Of the deals decided at this stage: moved further / (moved further + lost here)."),
                         "median_days": st.column_config.NumberColumn("Median days", format="%.0f", help="Median days in the stage, finished spells."),
                         "lost": st.column_config.NumberColumn("Lost here", format="%d"),
                         "open": st.column_config.NumberColumn("Still open here", format="%d"),
                         "in_stage_now": st.column_config.NumberColumn("In stage now", format="%d")})

    st.subheader("Where deals leak")
    dims = {"Rep": "owner", "Segment": "segment", "Product": "product", "Region": "region", "Team": "team"}
    c1, c2 = st.columns([3, 1])
    by_label = c1.segmented_control("By", list(dims), default="Rep", key="pl_leak_by") or "Rep"
    min_decided = c2.number_input("Minimum deals decided", 1, 500, 10, key="pl_leak_min",
                                  help="A stage counts for a group only with at least this many deals decided there.")
    lk = compute(pipeline.leaks_for, ctx, dims[by_label], int(min_decided))
    if lk.empty or lk["stage"].isna().all():
        st.caption("Not enough decided deals per group to compare.")
    else:
        st.caption("For each group, the stage where its conversion falls furthest below the team's.")
        st.dataframe(lk, hide_index=True, width="stretch", column_config={
            "group": by_label, "stage": "Leaks at", "conversion": widgets.percent_column("Their conversion"),
            "team_conversion": widgets.percent_column("Team conversion"),
            "gap": st.column_config.NumberColumn("Gap", format="percent", help="Team conversion minus theirs."),
            "decided": st.column_config.NumberColumn("Decided there", format="%d"),
            "lost": st.column_config.NumberColumn("Lost there", format="%d"),
            "deals": st.column_config.NumberColumn("Deals", format="%d")})

    st.subheader("Time to close")
    curve_dims = {"Segment": "segment", "Product": "product", "Region": "region", "Whole team": None}
    curve_by = st.segmented_control("Curves by", list(curve_dims), default="Segment", key="pl_curve_by") or "Segment"
    curve = compute(pipeline.time_to_close_for, ctx, curve_dims[curve_by])
    if curve.empty:
        st.caption("No deals with a created date.")
        return
    cap = int(curve["days"].quantile(0.98)) if len(curve) else None
    st.altair_chart(charts.time_to_close_chart(curve, curve_by, max_days=cap), width="stretch")
    summary = curve.attrs["open_after"].rename_axis(curve_by).reset_index()
    widgets.table(ctx, summary, {curve_by: curve_by, **{c: (c, "pct") for c in summary.columns if c != curve_by}}, key="pl_open_after")


def risk_view() -> None:
    stale_days = int(st.number_input("Stale after (days without any change)", 7, 365, 30, key="pl_stale_days"))
    risk, push = compute(pipeline.risk_for, ctx, stale_days)
    c = st.columns(4)
    widgets.kpi_tile("Deals at risk", f"{len(risk):,}", money(risk["amount"].sum()) if len(risk) else None, delta_color="off",
                     help="Open deals with at least one warning sign below.", container=c[0])
    widgets.kpi_tile("Pushed 2+ times", f"{int(risk['pushed_twice'].sum()):,}", delta_color="off",
                     help="Close date moved into a later month at least twice across the snapshots.", container=c[1])
    widgets.kpi_tile("Past close date", f"{int(risk['past_close'].sum()):,}", container=c[2])
    widgets.kpi_tile("Open too long", f"{int(risk['too_old'].sum()):,}",
                     help="Open more than twice the median sales cycle of won deals.", container=c[3])
    if risk.empty:
        st.success("No open deal shows a warning sign.")
    else:
        cols = ["opportunity_id", "name", "account", "owner", "stage", "amount", "close_date", "age_days", "push_count",
                "days_unchanged", "reasons"]
        table = risk[cols]
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            "opportunity_id": "Deal id", "name": "Deal", "account": "Account", "owner": "Rep", "stage": "Stage",
            "amount": widgets.money_column(ctx, "Amount"), "close_date": DATE("Close date"),
            "age_days": st.column_config.NumberColumn("Age (days)", format="%d"),
            "push_count": st.column_config.NumberColumn("Pushes", format="%d"),
            "days_unchanged": st.column_config.NumberColumn("Days unchanged", format="%d"), "reasons": "Why"})
        export = table.rename(columns={"opportunity_id": "Deal id", "name": "Deal", "account": "Account", "owner": "Rep",
                                       "stage": "Stage", "amount": "Amount", "close_date": "Close date", "age_days": "Age (days)",
                                       "push_count": "Pushes", "days_unchanged": "Days unchanged", "reasons": "Why"})
        widgets.download_buttons(export, f"deals-at-risk-{ctx.as_of}", key="pl_dl_risk")
    if not push.empty:
        st.altair_chart(charts.push_histogram(push), width="stretch")


def hygiene_view() -> None:
    stale_days = int(st.number_input("Stale after (days without any change)", 7, 365, 30, key="pl_stale_days"))
    hv = compute(hygiene.view_for, ctx, stale_days)
    sc = hv.score
    c = st.columns(4)
    widgets.kpi_tile("Hygiene score", formats.pct(sc["score"]), f"{sc['clean_count']:,} of {sc['open_count']:,} clean",
                     delta_color="off", help="Share of open deals with none of the problems below.", container=c[0])
    widgets.kpi_tile("Raw pipeline", money(sc["raw_pipeline"]), help="Every open deal.", container=c[1])
    widgets.kpi_tile("Clean pipeline", money(sc["clean_pipeline"]), help="Open deals with no problem.", container=c[2])
    widgets.kpi_tile("In dirty deals", money(sc["dirty_pipeline"]), f"{formats.pct(sc['dirty_share'])} of total",
                     delta_color="off", container=c[3])
    if not hv.stale_measured:
        st.caption("Staleness is not measured: it needs two snapshots or a stage history.")
    if line := hygiene.no_close_date_line(hv.issues):
        st.caption(line)
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.hygiene_checks_chart(sc["checks"]), width="stretch")
    with right:
        if len(hv.by_import) >= 1:
            whose = st.selectbox("Score over time for", ["Whole team", *sorted(hv.by_rep["owner"])], key="pl_trend_rep")
            if whose == "Whole team":
                st.altair_chart(charts.hygiene_trend_chart(hv.by_import), width="stretch")
            else:
                trend = compute(hygiene.trend_by_rep_for, ctx, stale_days)
                st.altair_chart(charts.hygiene_trend_chart(trend[trend["owner"] == whose], whose), width="stretch")
        else:
            st.caption("The score over time appears once snapshots are imported.")
    st.subheader("By rep")
    st.dataframe(hv.by_rep, hide_index=True, width="stretch", column_config={
        "owner": "Rep", "open_count": "Open deals", "clean_count": "Clean", "score": widgets.percent_column("Score"),
        "issues": "Problems", "raw_pipeline": widgets.money_column(ctx, "Raw pipeline"),
        "clean_pipeline": widgets.money_column(ctx, "Clean pipeline"), "dirty_pipeline": widgets.money_column(ctx, "In dirty deals"),
        **{k: v for k, v in hygiene.CHECKS.items()}})
    st.subheader("Fix list")
    owners = ["Everyone"] + [o for o in hv.by_rep["owner"] if o in set(hygiene.fix_list(hv.issues)["owner"])]
    who = st.selectbox("Rep", owners, key="pl_fix_rep")
    fixes = hygiene.fix_list(hv.issues, None if who == "Everyone" else who)
    if fixes.empty:
        st.success("Nothing to fix.")
        return
    st.dataframe(fixes, hide_index=True, width="stretch", column_config={
        "owner": "Rep", "opportunity_id": "Deal id", "name": "Deal", "account": "Account", "stage": "Stage",
        "amount": widgets.money_column(ctx, "Amount"), "close_date": DATE("Close date"), "issue": "Problem", "fix": "What to do"})
    stem = "fix-list" + ("" if who == "Everyone" else "-" + "".join(ch if ch.isalnum() else "-" for ch in who).strip("-").lower())
    export = fixes.rename(columns={"owner": "Rep", "opportunity_id": "Deal id", "name": "Deal", "account": "Account",
                                   "stage": "Stage", "amount": "Amount", "close_date": "Close date", "issue": "Problem",
                                   "fix": "What to do"})
    widgets.download_buttons(export, stem, key="pl_dl_fix")


try:
    {"Movement": movement_view, "Funnel and bottlenecks": funnel_view, "Deals at risk": risk_view,
     "CRM hygiene": hygiene_view}[view]()
except SalesopsError as exc:
    widgets.show_error(exc)
