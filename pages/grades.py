"""Grade distribution: which groups deviate from the forced-distribution guideline before the
calibration meeting, how calibration moved grades, and whether distributions drift over cycles."""

import streamlit as st

from gradelens import ui
from gradelens.analyses import grades
from gradelens.i18n import format_count, t, value_label

selection = ui.sidebar_filters()
dataset = ui.current_dataset()

st.title(t("grades.title"))
ui.caption(selection)
if selection.cycle is None:
    st.info(t("grades.no_cycle"), icon=":material/event:")
    st.stop()
if not ui.explain_missing(dataset, ("grades", "employees"), t("grades.title")):
    st.stop()

stage_column, group_column = st.columns(2)
stage = stage_column.segmented_control(t("grades.stage"), ["proposed", "final"], default="final", key="grades_stage",
                                       format_func=lambda s: value_label("stage", s, selection.lang)) or "final"
group_by = group_column.segmented_control(t("grades.group_by"), list(grades.GROUP_BY), default="department",
                                          key="grades_group_by", format_func=lambda g: t(f"grades.group_by_{g}", selection.lang)) or "department"
scope = dict(group_by=group_by, department=selection.department, region=selection.region)
stem = f"{selection.cycle}_{stage}_{group_by}"
no_grades = t("grades.no_grades", stage=value_label("stage", stage))

shares_tab, sheet_tab, test_tab, moves_tab, attainment_tab, drift_tab = st.tabs(
    [t("grades.tab_shares"), t("grades.tab_worksheet"), t("grades.tab_test"), t("grades.tab_calibration"),
     t("grades.tab_attainment"), t("grades.tab_drift")], key="grades_tab", on_change="rerun")
# Only the open tab's queries run (on_change="rerun"): six tabs of queries were all computed for every visit.

if shares_tab.open:
    with shares_tab:
        mix = ui.query("grade_distribution", cycle=selection.cycle, stage=stage, **scope)
        if mix is not None and mix.empty:
            st.info(no_grades, icon=":material/grade:")
        elif mix is not None:
            st.plotly_chart(grades.distribution_chart(mix), key="grades_distribution_chart")
            groups = mix["group_id"].nunique()
            st.caption(t("grades.shares_explain", shown=min(groups, grades.CHART_GROUPS), groups=groups))
            st.dataframe(grades.share_table(mix), hide_index=True, column_config=grades.column_labels())
            ui.download(mix, f"grade_distribution_{stem}")

if sheet_tab.open:
    with sheet_tab:
        sheet = ui.query("calibration_worksheet", cycle=selection.cycle, stage=stage, **scope)
        if sheet is not None and sheet.empty:
            st.info(no_grades, icon=":material/grade:")
        elif sheet is not None:
            st.markdown(t("grades.rule_heading"))
            st.caption(grades.rule_explanation(sheet))
            st.dataframe(grades.worksheet_styled(sheet), hide_index=True, column_config=grades.column_labels())
            csv_column, print_column = st.columns(2)
            with csv_column:
                ui.download(sheet, f"calibration_worksheet_{stem}")
            print_column.download_button(
                t("grades.download_print"), grades.worksheet_html(
                    sheet, t("grades.print_title", cycle=selection.cycle),
                    t("grades.print_subtitle", dataset=selection.data, stage=value_label("stage", stage),
                      group_by=t(f"grades.group_by_{group_by}"),
                      department=selection.department or t("common.all_departments"),
                      region=selection.region or t("common.all_regions"))).encode("utf-8"),
                file_name=f"calibration_worksheet_{stem}.html", mime="text/html", icon=":material/print:",
                key="grades_print_worksheet")

if test_tab.open:
    with test_tab:
        with st.spinner(t("grades.test_working")):
            tested = ui.query("grade_deviation_test", cycle=selection.cycle, stage=stage, **scope)
        st.caption(t("grades.test_explain", min_group_size=dataset.policy.min_group_size))
        if tested is not None and tested.empty:
            st.info(no_grades, icon=":material/grade:")
        elif tested is not None:
            st.dataframe(grades.deviation_table(tested), hide_index=True, column_config=grades.column_labels())
            ui.download(tested, f"grade_deviation_test_{stem}")

if moves_tab.open:
    with moves_tab:
        changes = ui.query("calibration_changes", cycle=selection.cycle, **scope)
        if changes is not None and changes["graded"].sum() == 0:
            st.info(t("grades.no_calibration"), icon=":material/balance:")
        elif changes is not None:
            st.caption(t("grades.calibration_explain"))
            st.dataframe(grades.changes_table(changes), hide_index=True, column_config=grades.column_labels())
            ui.download(changes, f"calibration_changes_{selection.cycle}_{group_by}")
            names = dict(zip(changes["group_id"], changes["group_name"]))
            group_id = st.selectbox(t("grades.matrix_group"), [ui.ALL, *names], key="grades_matrix_group", persist_state="session",
                                    format_func=lambda g: t("grades.all_groups", selection.lang) if g == ui.ALL else names[g]) or None
            moves = ui.query("calibration_transitions", cycle=selection.cycle, group_id=group_id, **scope)
            if moves is not None:
                st.plotly_chart(grades.transition_heatmap(moves), key="grades_transition_chart")
                ui.download(moves, f"calibration_transitions_{selection.cycle}_{group_by}")

if attainment_tab.open:
    with attainment_tab:
        bands = grades.attainment_bands_param(dataset.policy)
        if bands is None:
            st.info(t("grades.bands_needed"), icon=":material/tune:")
        elif ui.explain_missing(dataset, ("goals", "kpi_actuals", "cycles"), t("grades.tab_attainment")):
            st.caption(t("grades.attainment_explain", bands=grades.bands_text(bands, dataset.policy.grades)))
            mismatch = ui.query("grade_attainment_mismatch", cycle=selection.cycle, bands=bands,
                                department=selection.department, region=selection.region)
            if mismatch is not None and mismatch.empty:
                st.success(t("grades.no_mismatch"), icon=":material/check_circle:")
            elif mismatch is not None:
                st.markdown(t("grades.mismatch_count", count=format_count(len(mismatch))))
                st.dataframe(grades.mismatch_table(mismatch), hide_index=True, column_config=grades.column_labels())
                ui.download(mismatch, f"grade_attainment_mismatch_{selection.cycle}")

if drift_tab.open:
    with drift_tab:
        reference = st.segmented_control(t("grades.drift_reference"), list(grades.DRIFT_REFERENCES), default="first",
                                         key="grades_drift_reference", persist_state="session", format_func=lambda r: t(f"grades.reference_{r}", selection.lang)) or "first"
        with st.spinner(t("grades.drift_working")):
            drift = ui.query("grade_drift", stage=stage, **scope)
        if drift is not None and drift.empty:
            st.info(no_grades, icon=":material/grade:")
        elif drift is not None:
            shown = grades.drift_groups(drift, reference)
            st.plotly_chart(grades.drift_heatmap(drift, reference, shown), key="grades_drift_chart")
            st.caption(t("grades.drift_explain", shown=len(shown), groups=drift["group_id"].nunique(),
                         min_group_size=dataset.policy.min_group_size))
            flagged = grades.drift_table(drift, reference)
            if flagged.empty:
                st.success(t("grades.no_drift"), icon=":material/check_circle:")
            else:
                st.markdown(t("grades.drift_flagged", count=format_count(len(flagged))))
                st.dataframe(flagged, hide_index=True, column_config=grades.column_labels())
            ui.download(drift, f"grade_drift_{stage}_{group_by}")

st.caption(t("common.reproduce", names="grade_distribution / calibration_worksheet / grade_deviation_test / "
             "calibration_changes / calibration_transitions / grade_attainment_mismatch / grade_drift"))
