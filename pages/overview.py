"""Overview: the selected cycle at a glance, each figure linking to the page that explains it."""

import streamlit as st

from gradelens import charts, ui
from gradelens.i18n import format_count, t, value_label

selection = ui.sidebar_filters()
dataset = ui.current_dataset()

st.title(t("overview.title"))
ui.caption(selection)
ui.explain_dataset_gaps(dataset)

if selection.cycle is None:
    st.info(t("overview.no_cycle"), icon=":material/event:")
    st.stop()

headline = ui.query("overview_headline", **selection.scope)
if headline is not None and not headline.empty:
    row = headline.iloc[0]
    people, attained, graded, appeals = st.columns(4)
    people.metric(t("overview.employees"), format_count(row.employees), help=t("overview.employees_help"))
    attained.metric(
        t("overview.attainment"),
        charts.percent(row.attainment),
        help=t("overview.attainment_help", with_attainment=format_count(row.employees_with_attainment),
               employees=format_count(row.employees), company=charts.percent(row.company_goal_attainment)),
    )
    graded.metric(t("overview.graded"), f"{format_count(row.graded)} / {format_count(row.calibrated)}",
                  help=t("overview.graded_help"))
    appeals.metric(t("overview.open_appeals"), format_count(row.open_appeals),
                   help=t("overview.open_appeals_help", appeals=format_count(row.appeals)))
    with attained:
        ui.page_link("pages/attainment.py", t("overview.link_attainment"), ":material/flag:")
    with graded:
        ui.page_link("pages/grades.py", t("overview.link_grades"), ":material/bar_chart:")
    with appeals:
        ui.page_link("pages/appeals.py", t("overview.link_appeals"), ":material/gavel:")
    if row.employees == 0:
        st.info(t("common.nobody_matches"), icon=":material/filter_alt_off:")

st.subheader(t("overview.grade_mix"))
stage = st.segmented_control(t("overview.stage"), ["final", "proposed"], default="final", key="overview_stage",
                             format_func=lambda s: value_label("stage", s, selection.lang)) or "final"
mix = ui.query("grade_mix", stage=stage, **selection.scope)
if mix is not None:
    if mix["employees"].sum() == 0:
        st.info(t("overview.no_grades"), icon=":material/grade:")
    else:
        st.plotly_chart(charts.grade_mix_chart(mix), key="overview_grade_mix")
        table = mix.assign(share=mix["share"].map(charts.percent), target_share=mix["target_share"].map(charts.percent))
        st.dataframe(table, hide_index=True, column_config={
            "grade": t("overview.col_grade"), "employees": t("overview.col_employees"),
            "share": t("overview.col_share"), "target_share": t("overview.col_guideline")})
        ui.download(mix, f"grade_mix_{selection.cycle}_{stage}")
        ui.page_link("pages/grades.py", t("overview.link_grades"), ":material/bar_chart:")
st.caption(t("common.reproduce", names="overview_headline / grade_mix"))
