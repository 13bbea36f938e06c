"""Import: upload the CRM export you have -> detected vendor and mapping (editable, remembered
per vendor) -> preview -> problems -> new/changed/unchanged counts -> unknown stages -> Import
with progress; the import history with Undo. Roster, accounts and targets files too."""
import hashlib
from datetime import date

import pandas as pd
import streamlit as st

from salesops import ingest, workspace
from salesops import schema as S
from salesops.errors import SalesopsError
from salesops.ingest import samples
from salesops.ingest.importer import mapping_table, overrides_from_table
from salesops.ingest.vendors import ALL_FIELDS, VENDORS
from salesops.ui import context, widgets

ctx = context.page_context()
st.title("Import")
widgets.require("import")
if not ctx.empty:
    widgets.freshness(ctx)

KINDS = {"Deals (CRM export) or stage history": "deals", "Rep roster": "roster", "Accounts": "accounts",
         "Targets": "targets"}
AUTO = "Detect from the headers"
VENDOR_LABELS = {AUTO: None, **{v.label: v.name for v in VENDORS}, "Other (map by column names)": "generic"}
FIELD_OPTIONS = ["extra", *ALL_FIELDS]

flash = st.session_state.pop("imp_flash", None)
if flash:
    st.success(widgets.plain_message(flash), icon=":material/check_circle:")

kind_label = st.segmented_control("What are you importing?", list(KINDS), default=list(KINDS)[0], key="imp_kind")
kind = KINDS.get(kind_label or list(KINDS)[0], "deals")

c1, c2 = st.columns([3, 2])
upload = c1.file_uploader("Upload an export (CSV, TSV or XLSX, as it comes out of your CRM)",
                          type=["csv", "tsv", "txt", "xlsx", "gz"], key="imp_upload")
sample = c2.selectbox("…or try a sample export", [None, *samples.SAMPLE_EXPORTS], key="imp_sample",
                      format_func=lambda v: "Choose a sample" if v is None else v, disabled=kind != "deals")
if upload is not None:
    current = (upload.name, upload.getvalue())
elif sample is not None and kind == "deals":
    data, name = samples.SAMPLE_EXPORTS[sample]()
    current = (name, data)
else:
    current = None


def _history() -> None:
    st.subheader("Import history")
    try:
        hist = ingest.list_imports(ctx.db)
    except SalesopsError as exc:
        widgets.show_error(exc)
        return
    if hist.empty:
        st.caption("No imports yet.")
        return
    view = hist.rename(columns={"id": "Import", "kind": "Kind", "file_name": "File", "vendor": "Format",
                                "as_of": "As of", "rows_read": "Rows read", "rows_imported": "Imported",
                                "rows_rejected": "Rejected", "rows_new": "New", "rows_changed": "Changed",
                                "rows_unchanged": "Unchanged", "status": "Status", "created_at": "When",
                                "created_by": "By"})
    st.dataframe(view, hide_index=True, width="stretch")
    applied = hist[hist["status"] == "applied"]
    if applied.empty:
        return
    latest = applied.groupby("kind")["id"].max()  # only the newest import of a kind can be undone
    options = [int(i) for i in latest.sort_values(ascending=False)]
    labels = {int(r.id): f"#{r.id} {r.file_name} ({r.kind}, {r.created_at[:16].replace('T', ' ')})"
              for r in applied.itertuples()}
    u1, u2, u3 = st.columns([3, 2, 1])
    target = u1.selectbox("Undo an import (restores the data exactly as it was before it)", options,
                          format_func=lambda i: labels.get(i, str(i)), key="imp_undo_id")
    sure = u2.checkbox("Yes, undo it", key="imp_undo_confirm")
    if u3.button("Undo", key="imp_undo", disabled=not sure, icon=":material/undo:"):
        try:
            done = ingest.undo_import(ctx.db, int(target))
        except SalesopsError as exc:
            widgets.show_error(exc)
        else:
            st.session_state["imp_flash"] = f"Import #{done['import_id']} ({done['file']}) was undone."
            st.session_state.pop("imp_undo_confirm", None)
            st.rerun()


if current is None:
    st.info("Upload the export you already have: Salesforce (reports in English or German, Data Loader "
            "extracts, opportunity history), HubSpot, Pipedrive, Zoho, Dynamics 365, Close, or any CSV/XLSX "
            "with deal columns. Nothing is written until you press Import.", icon=":material/upload_file:")
    _history()
    st.stop()

file_name, data = current
sha = hashlib.sha256(data).hexdigest()

# --- roster, accounts, targets: check, then import -------------------------------------------------------
if kind != "deals":
    try:
        check = ingest.run_reference_import(ctx.db, data, file_name, kind, dry_run=True, skip_invalid=True)
    except SalesopsError as exc:
        widgets.show_error(exc)
        report = getattr(exc, "report", None) or getattr(exc, "problems", [])
        if report:
            st.dataframe(ingest.problems_frame(report), hide_index=True, width="stretch")
        _history()
        st.stop()
    m1, m2, m3 = st.columns(3)
    widgets.kpi_tile("Rows read", f"{check.rows_read:,}", container=m1)
    widgets.kpi_tile("New", f"{check.rows_new if check.already_imported else check.rows_imported:,}", container=m2)
    widgets.kpi_tile("Rejected", f"{check.rows_rejected:,}", container=m3)
    st.caption(widgets.plain("Columns used: " + ", ".join(f"{k} → {v}" for k, v in check.mapping.items())))
    if check.problems:
        st.dataframe(ingest.problems_frame(check.problems), hide_index=True, width="stretch")
    skip = st.checkbox("Import the valid rows and keep the rejected ones in the import record", key="imp_ref_skip",
                       disabled=check.rows_rejected == 0)
    if st.button(f"Import {kind}", type="primary", key="imp_ref_go", disabled=check.already_imported):
        try:
            res = ingest.run_reference_import(ctx.db, data, file_name, kind, skip_invalid=skip)
        except SalesopsError as exc:
            widgets.show_error(exc)
        else:
            st.session_state["imp_flash"] = f"{file_name}: imported {res.rows_imported:,} rows as import #{res.import_id}."
            st.rerun()
    if check.already_imported:
        st.info(f"This file was already imported (import #{check.import_id}); importing it again changes nothing.")
    _history()
    st.stop()

# --- deals: detect, map, validate ----------------------------------------------------------------------------
o1, o2, o3 = st.columns(3)
vendor_label = o1.selectbox("Format", list(VENDOR_LABELS), key="imp_vendor")
sheet = st.session_state.get(f"imp_sheet_{sha[:12]}")  # chosen below once the workbook's sheets are known

overrides_key = f"imp_overrides_{sha[:12]}"
overrides = st.session_state.setdefault(overrides_key, {})
analysis_key = (ctx.db, ctx.version, sha, VENDOR_LABELS[vendor_label], tuple(sorted(overrides.items())), sheet)
cached = st.session_state.get("imp_analysis")
if cached is None or cached[0] != analysis_key:
    with st.spinner("Reading and checking the file…"):
        try:
            analysis = ingest.analyse(data, file_name, db=ctx.db, vendor=VENDOR_LABELS[vendor_label],
                                      overrides=overrides or None, sheet=sheet)
        except SalesopsError as exc:
            widgets.show_error(exc)
            report = getattr(exc, "report", None) or getattr(exc, "problems", [])
            if report:
                st.dataframe(ingest.problems_frame(report), hide_index=True, width="stretch")
            if overrides and st.button("Reset my column choices", key="imp_reset"):
                st.session_state[overrides_key] = {}
                st.rerun()
            if sheet is not None and st.button("Back to the automatic sheet choice", key="imp_sheet_reset"):
                st.session_state.pop(f"imp_sheet_{sha[:12]}", None)
                st.rerun()
            _history()
            st.stop()
    st.session_state["imp_analysis"] = (analysis_key, analysis)
else:
    analysis = cached[1]

prepared = analysis.prepared
mapping = analysis.mapping
t = analysis.table
where = f"sheet {t.sheet!r}, " if t.sheet else ""
detail = f"{where}header on row {t.header_row}"
if t.encoding:
    detail += f", {t.encoding}, delimiter {'tab' if t.delimiter == chr(9) else repr(t.delimiter)}"
if t.footer:
    detail += f", {len(t.footer)} report footer lines dropped"
if len(t.sheets) > 1:
    o2.selectbox("Sheet", [None, *t.sheets], key=f"imp_sheet_{sha[:12]}",
                 format_func=lambda v: f"Automatic ({t.sheet})" if v is None else v)
st.markdown(f"**{widgets.plain(file_name)}**: {mapping.vendor_label}"
            + (f" (match {mapping.vendor_score:.0%})" if mapping.vendor != "generic" else "") + f" · {widgets.plain(detail)}")
if analysis.notes:  # footer and totals rows dropped, the id column chosen, open deals without a close date
    shown = analysis.notes[:12]
    more = len(analysis.notes) - len(shown)
    st.text("\n".join(f"• {n}" for n in shown) + (f"\n… and {more:,} more notes" if more else ""))
default_as_of = date.fromisoformat(analysis.as_of)
as_of = o3.date_input("Data as of", value=default_as_of, key=f"imp_as_of_{sha[:12]}",
                      help=f"The day the export shows (found: {analysis.as_of_source}). Each import records every "
                           "deal's state as of this date, so pipeline movement can be shown later.",
                      disabled=prepared.kind != "opportunities")

st.subheader("Columns")
st.caption("Check what each column means. Columns left as 'extra' are kept with the deal, nothing is dropped. "
           "Your choices are remembered for this format.")
table = mapping_table(analysis)
edited = st.data_editor(
    table, key=f"imp_map_{sha[:8]}_{abs(hash(tuple(sorted(overrides.items())))) % 10**8}", hide_index=True,
    width="stretch", disabled=["column", "confidence", "examples"],
    column_config={
        "column": st.column_config.TextColumn("Column in the file"),
        "field": st.column_config.SelectboxColumn("Means", options=FIELD_OPTIONS, required=True),
        "confidence": st.column_config.ProgressColumn("Confidence", min_value=0.0, max_value=1.0, format="percent"),
        "examples": st.column_config.TextColumn("Examples"),
    })
changes = overrides_from_table(analysis, pd.DataFrame(edited))
if changes:
    overrides.update(changes)
    st.rerun()

errors = prepared.errors
warnings = [p for p in prepared.problems if p.severity != "error"]
n1, n2, n3, n4 = st.columns(4)
widgets.kpi_tile("Rows read", f"{prepared.rows_read:,}", container=n1)
widgets.kpi_tile("Valid", f"{prepared.rows_valid:,}", container=n2)
widgets.kpi_tile("With errors", f"{prepared.rows_rejected:,}", container=n3)
widgets.kpi_tile("Warnings", f"{len(warnings):,}", container=n4)

st.subheader("Preview")
st.caption("The first rows as they will be stored (row = the row number your spreadsheet shows).")
st.dataframe(analysis.preview(50), hide_index=True, width="stretch")

if prepared.problems:
    st.subheader("Problems")
    problems = ingest.problems_frame(prepared.problems)
    st.dataframe(problems, hide_index=True, width="stretch",
                 column_config={"row": st.column_config.NumberColumn("Row", format="%d")})
    widgets.download_buttons(problems, f"problems-{file_name.rsplit('.', 1)[0]}", key="imp_problems_dl")

already = None
if prepared.kind == "opportunities" and prepared.rows_valid:
    try:
        already = ingest.already_imported(ctx.db, analysis)
        counts = st.session_state.get("imp_counts")
        if counts is None or counts[0] != analysis_key:  # reading the whole table once per file and data version
            counts = (analysis_key, ingest.compare(ctx.db, analysis))
            st.session_state["imp_counts"] = counts
        new, changed, unchanged = counts[1]
    except SalesopsError as exc:
        widgets.show_error(exc)
        new = changed = unchanged = 0
    st.subheader("Compared with the database")
    d1, d2, d3 = st.columns(3)
    widgets.kpi_tile("New deals", f"{new:,}", container=d1)
    widgets.kpi_tile("Changed", f"{changed:,}", container=d2)
    widgets.kpi_tile("Unchanged", f"{unchanged:,}", container=d3)

if prepared.unknown_stages:
    st.subheader("Stages not in the stage map")
    st.caption("They count as open unless a status column says otherwise. Say what each means; it is saved to "
               "the stage map (Settings) and used from now on.")
    unknown = pd.DataFrame({"stage": prepared.unknown_stages, "status": S.OPEN, "probability": 0.1})
    stage_edit = st.data_editor(unknown, key=f"imp_stages_{sha[:8]}", hide_index=True, width="stretch",
                                disabled=["stage"],
                                column_config={
                                    "stage": "Stage",
                                    "status": st.column_config.SelectboxColumn("Means", options=list(S.STATUSES),
                                                                               required=True),
                                    "probability": st.column_config.NumberColumn("Default probability", min_value=0.0,
                                                                                 max_value=1.0, step=0.05,
                                                                                 format="percent")})
    if st.button("Save these stages to the stage map", key="imp_save_stages"):
        try:
            saved = workspace.add_stages(ctx.db, stage_edit)
        except SalesopsError as exc:
            widgets.show_error(exc)
        else:
            st.session_state["imp_flash"] = f"Saved {saved} stages to the stage map."
            st.rerun()

st.subheader("Import")
if already is not None:
    st.info(f"This exact file was already imported (import #{already['id']}); importing it again changes nothing.",
            icon=":material/info:")
if errors:
    st.warning(f"{prepared.rows_rejected:,} rows have errors (see Problems). The file is refused as a whole unless you "
               "import only the valid rows; the rejected ones are kept in the import record.", icon=":material/warning:")
file_level = bool(prepared.file_errors)
skip = st.checkbox(f"Import the {prepared.rows_valid:,} valid rows and keep the rejected ones", key="imp_skip",
                   disabled=not errors or file_level)
can_import = prepared.rows_valid > 0 and not file_level and (not errors or skip)
if st.button("Import", type="primary", key="imp_go", disabled=not can_import, icon=":material/upload:"):
    bar = st.progress(0, text="Starting…")
    analysis.as_of = as_of.isoformat() if isinstance(as_of, date) else analysis.as_of
    analysis.as_of_source = "chosen on the Import page" if analysis.as_of != default_as_of.isoformat() else analysis.as_of_source
    try:
        result = ingest.run_import(ctx.db, data, file_name, skip_invalid=skip, analysis=analysis,
                                   progress=lambda f, label: bar.progress(min(100, max(0, int(f * 100))), text=label))
        if not result.already_imported:
            ingest.remember_mapping(ctx.db, mapping)
    except SalesopsError as exc:
        bar.empty()
        widgets.show_error(exc)
    else:
        bar.progress(100, text="Done")
        if result.already_imported:
            st.session_state["imp_flash"] = f"{file_name} was already imported as #{result.import_id}; nothing changed."
        else:
            st.session_state["imp_flash"] = (
                f"{file_name}: import #{result.import_id} wrote {result.rows_imported:,} rows ({result.rows_new:,} new, "
                f"{result.rows_changed:,} changed, {result.rows_unchanged:,} unchanged), as of {result.as_of or '-'}; "
                f"{result.rows_rejected:,} rejected.")
        st.session_state.pop("imp_analysis", None)
        st.rerun()

_history()
