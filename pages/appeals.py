"""Appeals: how many people appeal, why, what comes of it, how long it takes, where appeals concentrate."""

import streamlit as st

from gradelens import appeals, charts, ui
from gradelens.i18n import format_count, format_date, t
from gradelens.queries import all_queries

selection = ui.sidebar_filters()
dataset = ui.current_dataset()

st.title(t("appeals.title"))
ui.caption(selection)
if selection.cycle is None or not ui.explain_missing(dataset, appeals.NEEDS, t("appeals.what")):
    st.stop()
scope = {"department": selection.department, "region": selection.region}

# Independent questions run in the background while the page draws the ones before them (ui.start).
quality_run, overall_run = ui.start("appeal_data_quality"), ui.start("appeal_trends", group_by="none", **scope)
quality = quality_run.result()
if quality is not None and not quality.empty:
    with st.expander(t("appeals.quality_title", appeals=format_count(quality["appeal_id"].nunique())), icon=":material/rule:"):
        st.caption(t("appeals.quality_help"))
        st.dataframe(appeals.display_table(quality, appeals.QUALITY_COLUMNS), hide_index=True)
        ui.download(quality, "appeal_data_quality")

overall = overall_run.result()
if overall is None:
    st.stop()
if overall["appeals"].sum() == 0:
    st.info(t("appeals.no_appeals"), icon=":material/gavel:")
this_cycle = overall[overall["cycle_id"] == selection.cycle].iloc[0]
rates_tab, outcomes_tab, resolution_tab, where_tab = st.tabs(
    [t("appeals.tab_rates"), t("appeals.tab_outcomes"), t("appeals.tab_resolution"), t("appeals.tab_where")],
    key="appeals_tab", on_change="rerun")  # only the open tab's queries run: the raters' table alone is 22k rows at 200k

if rates_tab.open:
    with rates_tab:
        reason_run, department_run = (ui.start("appeal_trends", group_by=g, **scope) for g in ("reason", "department"))
        group_by = st.segmented_control(t("appeals.break_down"), appeals.BREAKDOWNS, default="none", key="appeals_group_by", persist_state="session",
                                        format_func=lambda g: t(f"appeals.group_by_{g}", selection.lang)) or "none"
        trends = overall if group_by == "none" else ui.query("appeal_trends", group_by=group_by, **scope)
        if trends is not None:
            st.plotly_chart(appeals.rate_chart(trends, group_by), key="appeals_rate_chart")
            st.dataframe(appeals.display_table(trends, appeals.TREND_COLUMNS, group_by), hide_index=True)
            ui.download(trends, f"appeal_trends_{group_by}")

        st.subheader(t("appeals.reasons_title"))
        st.caption(t("appeals.reasons_help"))
        by_reason, by_department = reason_run.result(), department_run.result()
        if by_reason is not None and not by_reason.empty:
            st.plotly_chart(appeals.reason_chart(by_reason), key="appeals_reason_chart")
            st.dataframe(appeals.display_table(by_reason, appeals.TREND_COLUMNS, "reason"), hide_index=True)
            ui.download(by_reason, "appeal_trends_reason")
        spikes = appeals.spike_messages(overall, by_reason, by_department)
        for message in spikes:
            st.warning(message, icon=":material/trending_up:")
        st.caption(appeals.spike_rule_text() + (" " + t("appeals.no_spikes") if not spikes else ""))

if outcomes_tab.open:
    with outcomes_tab:
        change = appeals.grade_change(this_cycle)
        filed, upheld, changed = st.columns(3)
        filed.metric(t("appeals.metric_appeals"), format_count(this_cycle["appeals"]),
                     help=t("appeals.metric_appeals_help", rate=appeals.one_decimal(this_cycle["appeal_rate"])))
        upheld.metric(t("appeals.metric_upheld_share"), charts.percent(this_cycle["upheld_share"]),
                      help=t("appeals.metric_upheld_share_help", resolved=format_count(this_cycle["resolved"])))
        changed.metric(t("appeals.metric_changed"), charts.percent(change["share"]),
                       help=t("appeals.metric_changed_help", raised=change["raised"], lowered=change["lowered"]))
        st.plotly_chart(appeals.status_chart(overall), key="appeals_status_chart")
        st.subheader(t("appeals.outcomes_title", cycle=this_cycle["cycle_name"]))
        outcomes = ui.query("appeal_outcomes", **selection.scope)
        if outcomes is not None and outcomes.empty:
            st.info(t("appeals.no_outcomes"), icon=":material/gavel:")
        elif outcomes is not None:
            st.plotly_chart(appeals.outcome_chart(outcomes), key="appeals_outcome_chart")
            st.dataframe(appeals.display_table(outcomes, appeals.OUTCOME_COLUMNS), hide_index=True)
            ui.download(outcomes, f"appeal_outcomes_{selection.cycle}")

if resolution_tab.open:
    with resolution_tab:
        target_days = dataset.policy.appeal_service_target_days
        st.plotly_chart(appeals.resolution_chart(overall, target_days), key="appeals_resolution_chart")
        st.caption(t("appeals.resolution_help"))
        st.dataframe(appeals.display_table(overall, appeals.RESOLUTION_COLUMNS), hide_index=True)
        ui.download(overall[["cycle_id", *appeals.RESOLUTION_COLUMNS]], "appeal_resolution_times")

        st.subheader(t("appeals.open_title"))
        dates = ui.query("appeal_dates")
        latest = appeals.as_date(dates["latest_date"].iloc[0]) if dates is not None and not dates.empty else None
        as_of = st.date_input(t("appeals.as_of"), value=latest, key="appeals_as_of", persist_state="session", help=t("appeals.as_of_help"))
        open_now = ui.query("open_appeals", as_of=as_of, **scope)
        if open_now is not None and open_now.empty:
            st.success(t("appeals.none_open", date=format_date(as_of)), icon=":material/task_alt:")
        elif open_now is not None:
            overdue = int(open_now["overdue"].sum())
            st.markdown(t("appeals.open_summary", open=format_count(len(open_now)), overdue=format_count(overdue),
                          days=target_days, date=format_date(appeals.as_date(open_now["as_of"].iloc[0]))))
            st.dataframe(appeals.display_table(open_now, appeals.OPEN_COLUMNS), hide_index=True)
            ui.download(open_now, "open_appeals")

if where_tab.open:
    with where_tab:
        st.subheader(t("appeals.raters_title", cycle=this_cycle["cycle_name"]))
        by_rater = ui.query("appeals_by_rater", **selection.scope)
        leniency_params = appeals.leniency_params(selection.cycle, all_queries(), dataset.missing)
        leniency = None
        if leniency_params is not None:
            with st.spinner(t("appeals.leniency_running")):
                leniency = ui.query(appeals.LENIENCY_QUERY, **leniency_params)
        if by_rater is not None:
            raters, hidden = appeals.visible_raters(appeals.with_leniency(by_rater, leniency))
            st.caption(t("appeals.raters_help") + " " + t("appeals.leniency_shown" if "leniency_effect" in raters
                                                          else "appeals.leniency_missing"))
            if hidden:
                st.caption(t("appeals.raters_hidden", raters=hidden, size=dataset.policy.min_group_size))
            if raters.empty:
                st.info(t("appeals.no_raters"), icon=":material/person_search:")
            else:
                st.plotly_chart(appeals.rater_chart(raters), key="appeals_rater_chart")
                st.dataframe(appeals.display_table(raters, appeals.RATER_COLUMNS), hide_index=True)
                ui.download(raters, f"appeals_by_rater_{selection.cycle}")

        st.subheader(t("appeals.grades_title", cycle=this_cycle["cycle_name"]))
        by_grade = ui.query("appeal_trends", group_by="grade", **scope)
        if by_grade is not None:
            by_grade = by_grade[by_grade["cycle_id"] == selection.cycle]
            st.plotly_chart(appeals.grade_chart(by_grade), key="appeals_grade_chart")
            st.dataframe(appeals.display_table(by_grade, appeals.TREND_COLUMNS[1:], "grade"), hide_index=True)
            ui.download(by_grade, f"appeal_rates_by_grade_{selection.cycle}")

st.caption(t("common.reproduce", names="appeal_trends / appeal_outcomes / open_appeals / appeals_by_rater"))
