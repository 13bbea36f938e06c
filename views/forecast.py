"""Forecast: bookings forecast with every model's backtest error, the recommended model, the
quarter's landing zone, and the accuracy of saved forecasts."""
import streamlit as st

from salesops import formats
from salesops.charts import forecast as charts
from salesops.errors import SalesopsError
from salesops.forecasting import MODEL_LABELS, calibration_words
from salesops.ui import context, widgets
from salesops.ui import forecast as ui

ctx = context.page_context()
st.title("Forecast")
if widgets.empty_state(ctx, "the forecast"):
    st.stop()
widgets.freshness(ctx)

view = st.segmented_control("Show", ui.VIEWS, default=ui.VIEWS[0], key=ui.K + "view") or ui.VIEWS[0]

# --- the time-series forecast ------------------------------------------------------------------
if view == ui.VIEWS[0]:
    c = st.columns([1.3, 1, 1, 1.2, 1.4])
    measure_label = c[0].selectbox("Forecast", list(ui.MEASURES), key=ui.K + "measure")
    freq_label = c[1].selectbox("Every", list(ui.FREQS), key=ui.K + "freq", on_change=ui.on_freq_change,
                                help="Changing it resets Prophet's settings to those recommended for that frequency.")
    horizon = c[2].number_input("Periods ahead", 1, 52, value=6, key=ui.K + "horizon")
    by_label = c[3].selectbox("Series for", list(ui.BY), key=ui.K + "by",
                              help="One series per region, manager, team, rep or segment (all fitted at once).")
    model_label = c[4].selectbox("Model", list(ui.MODEL_CHOICES), key=ui.K + "model",
                                 help="Auto uses the model with the lowest error in the rolling backtest.")
    freq, measure, by, model = ui.FREQS[freq_label], ui.MEASURES[measure_label], ui.BY[by_label], ui.MODEL_CHOICES[model_label]
    c = st.columns([1, 1, 2])
    train_until = c[0].date_input("Train on deals closed up to", value=None, key=ui.K + "train_until",
                                  help="Blank: everything up to the newest data. Set a past date to see how a forecast made then turned out.")
    include_prophet = c[1].toggle("Include Prophet", value=True, key=ui.K + "prophet",
                                  help="Prophet takes ~0.1 s per fit and six fits per series; the baselines are instant.")
    ui.ensure_prophet_state(freq)
    with st.expander("Advanced: Prophet settings", icon=":material/tune:"):
        ui.prophet_controls(freq, ctx.currency)
    if train_until is None and ctx.as_of < ctx.workspace.as_of:  # the forecast is then made from that day
        st.caption(f"Trained on deals closed up to {ctx.as_of:%d %b %Y}, the sidebar's as-of date.")
    try:
        params = ui.params_from_state()
        with st.status("Fitting every model and backtesting it…", expanded=False) as status:
            result = ui.forecast(ctx, freq=freq, horizon=int(horizon), measure=measure, by=by,
                                 train_until=train_until, model=model, params=params,
                                 include_prophet=include_prophet or model == "prophet")
            status.update(label="Forecast ready", state="complete")
    except SalesopsError as exc:
        widgets.show_error(exc)
        st.stop()

    money = measure == "won_amount"
    unit = {"M": "month", "Q": "quarter", "W": "week"}[freq]
    st.info(result.summary(), icon=":material/insights:")
    for fb in result.fallbacks:
        st.warning(widgets.plain(f"{fb['group']}: {MODEL_LABELS.get(fb['model'], fb['model'])} not used: {fb['reason']}"
                                 + (f". Using {MODEL_LABELS.get(fb['used'], fb['used'])} instead." if fb.get("used") else ".")),
                   icon=":material/warning:")
    for note in result.notes:
        st.caption(note)

    groups = list(dict.fromkeys(result.forecast["group"]))
    group = st.selectbox("Series to chart", groups, key=ui.K + "group") if len(groups) > 1 else groups[0]
    fc_g = result.forecast[result.forecast["group"] == group]
    hist_g = result.series.frame[result.series.frame["group"] == group]
    total = fc_g["yhat"].sum()
    t = st.columns(3)
    fmt = (lambda x: widgets.money(ctx, x)) if money else (lambda x: f"{x:,.0f}")
    split = ui.running_split(result, group)
    if split is not None:
        widgets.note_tile(f"This {unit} (booked + rest)", fmt(split["total"]),
                          f"{fmt(split['booked'])} booked + {fmt(split['rest'])} to come",
                          help=f"Booked by {split['as_of']:%d %b %Y}, plus the forecast of the rest of the {unit}: by this "
                               f"day a {unit} has usually booked {split['share']:.0%} of its total. {result.level:.0%} range "
                               f"{fmt(split['low'])} – {fmt(split['high'])}.", container=t[0])
    else:
        widgets.kpi_tile(f"Next {unit}", fmt(fc_g["yhat"].iloc[0]) if len(fc_g) else "–",
                         help=f"{result.level:.0%} range {fmt(fc_g['yhat_lower'].iloc[0])} – {fmt(fc_g['yhat_upper'].iloc[0])}" if len(fc_g) else None,
                         container=t[0])
    widgets.kpi_tile(f"Next {int(horizon)} {unit}s", fmt(total), container=t[1])
    bt = result.backtest.set_index("model") if not result.backtest.empty else None
    err = bt.loc[result.model, "mape"] if bt is not None and result.model in bt.index else None
    used = MODEL_LABELS.get(result.model, result.model)
    widgets.note_tile("Backtest error (MAPE)", formats.pct(err),
                      f"{used}, recommended" if result.model == result.recommended else used,
                      help="The average miss per period of the model used, over the rolling backtest."
                           + (f" Recommended: {MODEL_LABELS.get(result.recommended)}." if result.recommended else ""),
                      container=t[2])

    frame = charts.forecast_frame(hist_g, fc_g)
    st.altair_chart(charts.forecast_chart(frame, currency=ctx.currency, money=money, freq=freq,
                                          title=f"{measure_label} per {unit}: actuals and forecast" + ("" if group == "all" else f" · {group}"),
                                          subtitle=ui.band_words(result),
                                          level=result.level, measure_label="Bookings" if money else "Deals won"),
                    width="stretch")
    st.dataframe(ui.forecast_table(fc_g), hide_index=True, key=ui.K + "forecast_table", column_config={
        "Period": st.column_config.DateColumn("Period starting", format="D MMM YYYY"),
        "Forecast": widgets.money_column(ctx, "Forecast") if money else st.column_config.NumberColumn("Forecast", format="%.1f"),
        "Low": widgets.money_column(ctx, f"Low ({result.level:.0%} range)") if money else st.column_config.NumberColumn(f"Low ({result.level:.0%} range)", format="%.1f"),
        "High": widgets.money_column(ctx, f"High ({result.level:.0%} range)") if money else st.column_config.NumberColumn(f"High ({result.level:.0%} range)", format="%.1f"),
        "Booked so far": widgets.money_column(ctx, "Booked so far") if money else st.column_config.NumberColumn("Booked so far", format="%.0f"),
        "Still to come": widgets.money_column(ctx, "Still to come (forecast)") if money else st.column_config.NumberColumn("Still to come (forecast)", format="%.1f")})

    st.subheader("How every model did in the backtest")
    st.caption(f"Each model trained up to each of {int(bt['cutoffs'].max()) if bt is not None else 0} cut-offs and scored on "
               f"the {int(horizon)} {unit}s that followed it (windows that do not overlap). The recommendation goes by MASE "
               "(the error scaled by the series' own seasonal swings; below 1 beats a seasonal naive in-sample); bias above 0 "
               "means over-forecasting; coverage is how often the actual fell inside the range built from the other windows' errors.")
    table = result.backtest.assign(
        Model=result.backtest["model"].map(MODEL_LABELS),
        Recommended=result.backtest["model"].eq(result.recommended),
    )[["Model", "mase", "mape", "bias", "coverage", "cutoffs", "points", "Recommended"]]
    st.dataframe(table, hide_index=True, key=ui.K + "backtest_table", placeholder="not measured", column_config={
        "mape": widgets.percent_column("MAPE", "Mean absolute percentage error"),
        "mase": st.column_config.NumberColumn("MASE", format="%.2f", help="Mean absolute error over the in-sample seasonal naive error"),
        "bias": widgets.percent_column("Bias", "Sum of (forecast - actual) / sum of actuals"),
        "coverage": widgets.percent_column("Coverage", f"Share of actuals inside the {result.level:.0%} range built from the other windows' errors (not measured with a single window)"),
        "cutoffs": st.column_config.NumberColumn("Cut-offs"), "points": st.column_config.NumberColumn("Periods scored")})
    if not result.backtest_by_cutoff.empty:
        st.altair_chart(charts.backtest_error_chart(result.backtest_by_cutoff, MODEL_LABELS, result.recommended,
                                                    f"{int(horizon)} {unit}s"), width="stretch")
    if result.components is not None:
        with st.expander("Prophet's components (trend and seasonality)", icon=":material/stacked_line_chart:"):
            st.altair_chart(charts.components_chart(result.components, currency=ctx.currency, money=money,
                                                    multiplicative=params.seasonality_mode == "multiplicative"), width="stretch")

    out = result.forecasts.assign(model=result.forecasts["model"].map(MODEL_LABELS),
                                  period_start=result.forecasts["period_start"].dt.date)
    widgets.download_buttons(out, f"forecast_{freq}_{by or 'team'}", key=ui.K + "dl")
    with st.form(ui.K + "save_form", border=True):
        st.markdown("**Save this forecast** to compare it with the actuals later")
        name = st.text_input("Name", value=f"{measure_label.split(' ')[0]} {freq_label.lower()}ly forecast", key=ui.K + "save_name")
        if st.form_submit_button("Save forecast", icon=":material/save:"):
            try:
                _, version = ui.save(ctx, name, result)
                st.success(widgets.plain_message(f"Saved {name!r} (version {version}). See 'Accuracy of saved forecasts' once the actuals are in."))
            except SalesopsError as exc:
                widgets.show_error(exc)

# --- the landing zone ---------------------------------------------------------------------------
elif view == ui.VIEWS[1]:
    current = ctx.calendar.quarter_of(ctx.as_of)
    nxt = ctx.calendar.shift(current, 1)
    which = st.segmented_control("Quarter", [current.label, nxt.label], default=current.label, key=ui.K + "landing_q") or current.label
    try:
        with st.spinner(f"Simulating {which} from the data as of {ctx.as_of:%d %b %Y}…"):
            res = ui.landing_for(ctx, which)
    except SalesopsError as exc:
        widgets.show_error(exc)
        st.stop()
    m = lambda x: widgets.money(ctx, x)  # noqa: E731
    tgt = res["target"]
    words = f"**{which}** will likely land at **{m(res['p50'])}**, with an 80% chance of {m(res['p10'])} – {m(res['p90'])}"
    if tgt:
        chance = float((res["samples"] >= tgt).mean())
        words += f"; target {m(tgt)} ({chance:.0%} chance of reaching it)."
    st.info(words, icon=":material/flag:")
    t = st.columns(4)
    widgets.note_tile("Closed won", m(res["closed_won"]), f"as of {res['as_of']:%d %b}", container=t[0])
    widgets.note_tile("From open deals", m(res["open_expected"]), f"{res['open_count']:,} open deals",
                      help="Each open deal's amount x its chance of closing won in the period, learned from this workspace's "
                           "history at the same point of earlier quarters (by stage and age), not the CRM's probability.", container=t[1])
    widgets.note_tile("New business", m(res["new_expected"]), "not created yet",
                      help="What deals created after this point won in the same part of the last four quarters.", container=t[2])
    widgets.note_tile("Time-series view", m(res["time_series_view"]) if res["time_series_view"] is not None else "–",
                      f"blend weight {1 - res['pipeline_weight']:.0%}" if res["time_series_view"] is not None else "too little history",
                      help="The Forecast's quarterly forecast (defaults): booked to date + the forecast of the rest of the quarter. "
                           "Its weight in the blend is set by how well each view did at this point of earlier quarters.",
                      container=t[3])
    st.altair_chart(charts.landing_chart(res["samples"], res["p10"], res["p50"], res["p90"], tgt,
                                         currency=ctx.currency, period_label=which), width="stretch")
    st.caption(f"{res['rule'][:1].upper()}{res['rule'][1:]}. " + calibration_words(res["calibration"], "quarter"))
    for note in res["notes"]:
        st.caption(note)
    od = res["open_deals"].sort_values("p_win", ascending=False)
    st.subheader("Open deals by learned chance of closing won in the period")
    st.dataframe(od[["id", "owner", "stage", "age_days", "amount_used", "p_win"]].head(200), hide_index=True,
                 key=ui.K + "landing_deals", column_config={
                     "id": "Deal", "owner": "Rep", "stage": "Stage (as of then)", "age_days": st.column_config.NumberColumn("Age (days)"),
                     "amount_used": widgets.money_column(ctx, "Amount"), "p_win": widgets.percent_column("Chance in period")})
    with st.form(ui.K + "save_landing_form", border=True):
        st.markdown("**Save this landing zone** to see later where the quarter really landed")
        lname = st.text_input("Name", value=f"{which} landing", key=ui.K + "landing_name")
        if st.form_submit_button("Save landing zone", icon=":material/save:"):
            try:
                _, version = ui.save_landing_zone(ctx, lname, res)
                st.success(widgets.plain_message(f"Saved {lname!r} (version {version})."))
            except SalesopsError as exc:
                widgets.show_error(exc)

# --- accuracy of saved forecasts ------------------------------------------------------------------
else:
    hist, by_model, landings = ui.history(ctx)
    if hist.empty and landings.empty:
        st.info("No saved forecasts yet. Save one from the time-series view or the landing zone; once its "
                "periods are over, its accuracy shows here.", icon=":material/history:")
    if not hist.empty:
        st.subheader("Accuracy and bias per model")
        st.dataframe(by_model.assign(model=by_model["model"].map(MODEL_LABELS)), hide_index=True, key=ui.K + "acc_model",
                     column_config={"model": "Model", "runs": "Saved runs scored", "mape": widgets.percent_column("MAPE"),
                                    "bias": widgets.percent_column("Bias"), "coverage": widgets.percent_column("Coverage")})
        st.subheader("Every saved forecast")
        st.dataframe(hist.assign(model=hist["model"].map(MODEL_LABELS)), hide_index=True, key=ui.K + "acc_runs",
                     column_config={"run": "Saved forecast", "saved": "Saved at", "model": "Model", "used": "Used",
                                    "periods": "Periods scored", "mape": widgets.percent_column("MAPE"),
                                    "bias": widgets.percent_column("Bias"), "coverage": widgets.percent_column("Coverage")})
    if not landings.empty:
        st.subheader("Saved landing zones against where the period landed")
        done = landings.dropna(subset=["actual"])
        if len(done):
            st.caption(f"{int(done['inside'].sum())} of {len(done)} finished periods landed inside their P10–P90; "
                       f"P50 was off by {done['error'].abs().mean():.0%} on average.")
        st.dataframe(landings, hide_index=True, key=ui.K + "acc_landing", column_config={
            "run": "Saved landing zone", "saved": "Saved at", "period": "Period", "as_of": "As of",
            "p10": widgets.money_column(ctx, "P10"), "p50": widgets.money_column(ctx, "P50"),
            "p90": widgets.money_column(ctx, "P90"), "actual": widgets.money_column(ctx, "Actual"),
            "error": widgets.percent_column("P50 error"), "inside": "Inside P10–P90"})
