"""Segments: where do we win? The KPIs of every customer segment (industry, company size,
region, product, lead source, ...) with small samples shrunk and marked, the ideal customer
profile over two dimensions, the accounts of a segment with their history, white space, and
the account or deal the sidebar's search opened."""
import streamlit as st

from salesops import formats, segments
from salesops.charts import segments as charts
from salesops.errors import SalesopsError
from salesops.ui import context, widgets
from salesops.ui.context import compute

ctx = context.page_context()
st.title("Segments and the ideal customer profile")
if widgets.empty_state(ctx, "the segments page"):
    st.stop()
widgets.freshness(ctx)
money = lambda x: widgets.money(ctx, x)  # noqa: E731

# --- what the search box opened -----------------------------------------------------------------
opened_account, opened_deal = st.query_params.get("account"), st.query_params.get("deal")
if opened_account or opened_deal:
    try:
        o = compute(segments.opened, ctx, opened_account, opened_deal)
    except SalesopsError as exc:
        widgets.show_error(exc)
        o = None
    if o is not None:
        with st.container(border=True):
            if o.get("deal"):
                d = o["deal"]
                st.subheader(widgets.plain(f"Deal: {d.get('name') or d.get('opportunity_id')}"))
                st.caption(widgets.plain(f"{d.get('stage') or ''} · {d.get('owner') or 'no owner'} · "
                                         f"{money(d.get('amount'))} · closes {formats.date_text(d.get('close_date'))}"))
            a = o["account"]
            if a:
                st.subheader(widgets.plain(f"Account: {a['name']}"))
                st.caption(widgets.plain(" · ".join(str(v) for v in (a.get("industry"), a.get("size_band"), a.get("account_region"),
                                                                      a.get("territory") and f"territory {a['territory']}",
                                                                      a.get("current_owner") and f"mostly {a['current_owner']}")
                                                    if v and str(v) not in ("nan", "None"))))
                c = st.columns(5)
                widgets.note_tile("First deal", formats.date_text(a.get("first_deal")), None, container=c[0])
                widgets.note_tile("Bookings, 3 years", money(a.get("bookings_3y")), f"{money(a.get('bookings_12m'))} in 12 months", container=c[1])
                widgets.note_tile("Open pipeline", money(a.get("open_pipeline")), f"{int(a.get('open_deals') or 0):,} open deals", container=c[2])
                widgets.note_tile("Last activity", formats.date_text(a.get("last_activity")), None, container=c[3])
                widgets.note_tile("Potential per year", money(a.get("potential")), "history and company size",
                                  help="The account's yearly bookings over the last three years, shrunk toward an average "
                                       "account of its size band (the fewer closed deals, the more the band counts).",
                                  container=c[4])
            widgets.deals_table(ctx, o["deals"], key="seg_open_deals")
            if st.button("Close", key="seg_close_opened", icon=":material/close:"):
                for k in ("account", "deal"):
                    if k in st.query_params:
                        del st.query_params[k]
                st.rerun()

if widgets.filter_problem(ctx):
    st.stop()

which = st.segmented_control("Deals closed in", list(segments.WINDOWS), default="12m", key="seg_window",
                             format_func={"period": f"{ctx.period.label}", "12m": "the last 12 months",
                                          "36m": "the last 3 years"}.get) or "12m"
fw = segments.window(ctx.filters, which)
st.caption(f"Deals closed {fw.period.start:%d %b %Y} – {fw.period.end:%d %b %Y}, as known on {ctx.as_of:%d %b %Y}. "
           f"Segments with fewer than {segments.MIN_DEALS} closed deals are small samples: their rates are shrunk toward "
           "the overall rate and they are never named a best or worst segment.")

try:
    dims = compute(segments.dimensions, ctx)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
names = [n for n, _ in dims]
labels = dict(dims)

# --- segment KPIs ---------------------------------------------------------------------------------
st.subheader("Segments")
by = st.selectbox("Cut by", names, format_func=labels.get, key="seg_by")
try:
    t = compute(segments.segment_kpis, ctx, (by,), filters=fw)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
if t.rows.empty:
    st.caption("No deal closed or open in this window.")
else:
    widgets.table(ctx, t.rows, {by: labels[by], "won_amount": None, "won_count": None, "lost_count": None,
                                "win_rate": None, "win_rate_low": ("Win rate from (80%)", "pct"),
                                "win_rate_high": ("Win rate to (80%)", "pct"),
                                "win_rate_shrunk": ("Win rate, shrunk", "pct"), "avg_deal_size": None,
                                "avg_cycle_days": None,
                                "expected_value_per_day_shrunk": ("Expected per deal-day", "money"),
                                "open_pipeline": None, "sample": ("Sample", "text")},
                  key="seg_table", download=f"segments_by_{by}")
    st.altair_chart(charts.value_by_segment(t.rows, [by], labels[by], ctx.currency), width="stretch")

# --- the ideal customer profile ---------------------------------------------------------------------
st.subheader("Ideal customer profile")
c1, c2 = st.columns(2)
row_dim = c1.selectbox("Rows", names, index=names.index("industry") if "industry" in names else 0,
                       format_func=labels.get, key="seg_icp_rows")
col_names = [n for n in names if n != row_dim]
default_col = "size_band" if "size_band" in col_names else col_names[0] if col_names else None
col_dim = c2.selectbox("Columns", col_names, index=col_names.index(default_col) if default_col in col_names else 0,
                       format_func=labels.get, key="seg_icp_cols")
if col_dim is None:
    st.caption("The profile needs two fields to cross; this workspace has one.")
    st.stop()
try:
    p = compute(segments.profile, ctx, (row_dim, col_dim), filters=fw)
except SalesopsError as exc:
    widgets.show_error(exc)
    st.stop()
if p.cells.empty:
    st.caption("No deal closed in this window.")
else:
    st.altair_chart(charts.profile_heatmap(p.cells, p.dims, (labels[row_dim], labels[col_dim]), ctx.currency,
                                           orders=p.orders), width="stretch")
    w1, w2 = st.columns(2)
    with w1:
        st.markdown("**Where we win**")
        if p.wins:
            for line in p.wins:
                st.markdown("- " + widgets.plain(line))
        else:
            st.caption(f"No combination has {p.min_deals} closed deals yet: widen the window.")
    with w2:
        st.markdown("**Where we waste time**")
        if p.wastes:
            for line in p.wastes:
                st.markdown("- " + widgets.plain(line))
        else:
            st.caption("Too few combinations with enough deals to compare.")

    # --- accounts of a segment ---------------------------------------------------------------------
    st.subheader("Accounts of a segment")
    cells = compute(segments.cell_choices, ctx, (row_dim, col_dim), filters=fw)
    choice = st.selectbox("Segment", list(range(len(cells))), format_func=lambda i: cells[i][0], key="seg_cell")
    if cells:
        accts = compute(segments.segment_accounts, ctx, cells[choice][1], filters=fw)
        st.caption(f"{len(accts):,} accounts. History as known on {ctx.as_of:%d %b %Y}; bookings over the last 3 years "
                   "and 12 months; potential per year from the account's history and its company size.")
        widgets.table(ctx, accts, segments.ACCOUNT_TABLE, key="seg_accounts", download="segment_accounts")

    st.subheader("White space")
    ws_rows = compute(segments.white_space, ctx, (row_dim, col_dim), filters=fw)
    if ws_rows.empty:
        st.caption("No account in the best segments is without an open deal (or the profile has no account field to "
                   "compare: choose industry, company size or account location).")
    else:
        st.caption("Accounts that look like the best customers (their account fields fall in one of the best segments "
                   "above) but have no open deal today, by potential.")
        widgets.table(ctx, ws_rows, {**segments.ACCOUNT_TABLE, "looks_like": ("Looks like", "text")}, key="seg_white",
                      download="white_space")

# --- size bands -------------------------------------------------------------------------------------
with st.expander("Company-size bands"):
    bands = ctx.ws.size_bands
    st.caption(f"Now {bands.describe(ctx.currency)}. Each number starts a band.")
    with st.form("seg_bands"):
        basis = st.radio("Cut by", list(segments.SIZE_BASES), index=list(segments.SIZE_BASES).index(bands.basis),
                         format_func=lambda b: segments.SIZE_BASES[b].capitalize(), horizontal=True)
        cuts = st.text_input("Band starts", value=", ".join(f"{c:g}" for c in bands.cuts),
                             help="For example 100, 1000, 5000 (employees) or 10e6, 100e6, 1e9 (revenue).")
        if st.form_submit_button("Save the bands"):
            try:
                segments.save_size_bands(ctx.db, basis, cuts)
            except SalesopsError as exc:
                widgets.show_error(exc)
            else:
                st.rerun()
