"""Data: import HRIS exports (CSV, XLSX, Parquet) as a new snapshot, check them first, and
roll the dataset back to any earlier snapshot."""

import streamlit as st

from gradelens import audit, derived, ui
from gradelens.errors import GradelensError
from gradelens.i18n import format_count, t
from gradelens.importing import web

selection = ui.sidebar_filters()
dataset = ui.current_dataset()

st.title(t("data.title"))
viewer = ui.current_viewer()
if viewer is not None and not viewer.may_import:  # only admins import and roll back
    ui.record_audit("denied", "data")
    st.info(t("access.page_admin_only", role=t(f"access.role_{viewer.role}")), icon=":material/lock:")
    st.stop()
st.caption(t("data.intro", dataset=dataset.name))
if derived.stale(dataset):
    st.caption(t("derived.stale", path=dataset.path))
if message := web.take_flash():
    st.success(message, icon=":material/check_circle:")

st.subheader(t("data.step_files"))
uploads = st.file_uploader(t("data.upload"), type=web.UPLOAD_TYPES, accept_multiple_files=True, help=t("data.upload_help"),
                           key=f"data_uploads_{st.session_state.get('data_upload_round', 0)}")
target_column, cycle_column = st.columns(2)
into_new = target_column.toggle(t("data.target_new"), key="data_into_new", help=t("data.target_help", dataset=dataset.name))
new_name = target_column.text_input(t("data.new_name"), key="data_new_name", disabled=not into_new)
cycle = cycle_column.text_input(t("data.cycle"), key="data_cycle", help=t("data.cycle_help")).strip()

st.subheader(t("data.step_mapping"))
choice = st.selectbox(t("data.mapping"), web.mapping_choices(), key="data_mapping_choice",
                      format_func=lambda c: t("data.mapping_default", selection.lang) if c == web.DEFAULT_MAPPING else c)
own = st.file_uploader(t("data.mapping_upload"), type=["toml"], key="data_mapping_upload")
text = st.text_area(t("data.mapping_text"), value=own.getvalue().decode("utf-8-sig") if own else web.mapping_text(choice),
                    height=260, help=t("data.mapping_help"), key=f"data_mapping_text_{choice}_{own.file_id if own else ''}")

target = web.new_dataset_path(new_name) if into_new else dataset.path
folder = web.saved_uploads(uploads)
if folder is None:
    st.info(t("data.no_uploads"), icon=":material/upload_file:")
elif target is None:
    st.warning(t("data.bad_new_name"), icon=":material/drive_file_rename_outline:")
else:
    outcome = web.check(folder, target, text, cycle)
    if outcome.error:
        st.error(outcome.error, icon=":material/error:")
    else:
        result = outcome.result
        st.subheader(t("data.step_preview"))
        if result.previews:
            tabs = st.tabs([web.table_label(name) for name in result.previews])
            for tab, (name, preview) in zip(tabs, result.previews.items()):
                with tab:
                    st.dataframe(preview, hide_index=True)
                    summary = result.tables.get(name)
                    st.caption(t("data.preview_caption", shown=len(preview),
                                 rows=format_count(summary.rows) if summary else "–",
                                 cycles=", ".join(summary.cycles) if summary and summary.cycles else "–"))
                    ui.download(preview, f"preview_{name}")

        st.subheader(t("data.step_report"))
        errors, warnings = st.columns(2)
        errors.metric(t("data.errors"), format_count(result.report.error_count))
        warnings.metric(t("data.warnings"), format_count(result.report.warning_count))
        if result.report.listed():
            report = web.report_frame(result)
            st.dataframe(report, hide_index=True, column_config=web.column_labels(web.REPORT_LABELS, "col"))
            ui.download(report, "import_report")
        else:
            st.success(t("data.report_clean"), icon=":material/verified:")

        blocked = result.report.has_errors
        if blocked:
            st.warning(t("data.import_blocked"), icon=":material/block:")
        if st.button(t("data.import", dataset=target.name), type="primary", disabled=blocked, key="data_import"):
            bar = st.progress(0.0, text=t("data.progress_start"))
            files = ", ".join(sorted(upload.name for upload in uploads))
            try:
                done = web.run(folder, target, text, cycle, lambda fraction, step: bar.progress(min(max(fraction, 0.0), 1.0), text=step))
            except GradelensError as exc:
                ui.record_audit("import", files, audit.import_details(files, target, error=str(exc)))
                st.error(exc.message(), icon=":material/error:")
            else:
                ui.record_audit("import", files, audit.import_details(files, done.dataset, done))
                if done.imported:
                    web.flash(t("data.imported", snapshot=done.snapshot_id, dataset=target.name))
                    st.session_state["data_upload_round"] = st.session_state.get("data_upload_round", 0) + 1
                    st.session_state.pop("data_rollback_to", None)
                    st.rerun()
                st.error(t("data.import_failed"), icon=":material/error:")

st.subheader(t("data.step_snapshots"))
snapshots, restorable = web.snapshots(dataset.path)
if snapshots.empty:
    st.info(t("data.no_snapshots"), icon=":material/history:")
else:
    st.dataframe(snapshots, hide_index=True, column_config=web.column_labels(web.SNAPSHOT_LABELS, "snap"))
    ui.download(snapshots, "snapshots")
    st.caption(t("data.snapshots_caption"))
    if restorable:
        chosen = st.selectbox(t("data.rollback_to"), restorable, key="data_rollback_to")
        sure = st.checkbox(t("data.rollback_confirm", snapshot=chosen), key="data_rollback_sure")
        if st.button(t("data.rollback"), disabled=not sure, key="data_rollback"):
            try:
                record = web.rollback(dataset.path, chosen)
            except GradelensError as exc:
                ui.record_audit("rollback", dataset.name, {"snapshot": chosen, "outcome": "failed", "error": str(exc)})
                st.error(exc.message(), icon=":material/error:")
            else:
                ui.record_audit("rollback", dataset.name, {"snapshot": chosen, "restored": record["restored"],
                                                           "recorded_as": record["id"], "outcome": "rolled_back"})
                web.flash(t("data.rolled_back", snapshot=chosen, new=record["id"]))
                for key in ("data_rollback_sure", "data_rollback_to"):
                    del st.session_state[key]
                st.rerun()
st.caption(t("data.cli_hint"))
