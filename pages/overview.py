"""Overview: the selected cycle at a glance, each figure linking to the page that explains it."""

import streamlit as st

from gradelens import charts, ui

selection = ui.sidebar_filters()
dataset = ui.current_dataset()

st.title("Overview")
st.caption(f"Dataset **{dataset.name}** · cycle **{selection.cycle or '–'}**"
           + (f" · department filter on" if selection.department else "")
           + (f" · region **{selection.region}**" if selection.region else ""))

if dataset.missing:
    st.info(
        f"This dataset has no {', '.join(dataset.missing)} table(s); figures that need them are left out. "
        "See docs/data-contract.md for what each table holds.",
        icon=":material/table_view:",
    )

if selection.cycle is None:
    st.info("Add a cycles table to the dataset to see a cycle's overview.", icon=":material/event:")
    st.stop()

headline = ui.query("overview_headline", **selection.scope)
if headline is not None and not headline.empty:
    row = headline.iloc[0]
    people, attained, graded, appeals = st.columns(4)
    people.metric("Employees", f"{int(row.employees):,}", help="Employees in the cycle within the filters.")
    attained.metric(
        "Attainment (mean per employee)",
        charts.percent(row.attainment),
        help=f"Mean of each employee's weighted goal attainment; {int(row.employees_with_attainment):,} of "
        f"{int(row.employees):,} employees have goals with actuals. Company goals: {charts.percent(row.company_goal_attainment)}.",
    )
    graded.metric("Graded / calibrated", f"{int(row.graded):,} / {int(row.calibrated):,}",
                  help="Employees with a proposed grade / with a final (calibrated) grade.")
    appeals.metric("Open appeals", f"{int(row.open_appeals):,}", help=f"{int(row.appeals):,} appeals filed in this cycle.")
    if row.employees == 0:
        st.info("Nobody matches these filters in this cycle. Widen the department or region filter.", icon=":material/filter_alt_off:")

st.subheader("Grade mix against the guideline")
stage = st.segmented_control("Grades", ["final", "proposed"], default="final", key="overview_stage",
                             format_func=lambda s: "Final (calibrated)" if s == "final" else "Proposed")
mix = ui.query("grade_mix", stage=stage or "final", **selection.scope)
if mix is not None:
    if mix["employees"].sum() == 0:
        st.info("No grades for this selection yet. Grades appear once they are proposed (or, for final, calibrated).",
                icon=":material/grade:")
    else:
        st.plotly_chart(charts.grade_mix_chart(mix), key="overview_grade_mix")
        table = mix.assign(share=mix["share"].map(charts.percent), target_share=mix["target_share"].map(charts.percent))
        st.dataframe(table, hide_index=True, column_config={
            "grade": "Grade", "employees": "Employees", "share": "Share", "target_share": "Guideline"})
        ui.download(mix, f"grade_mix_{selection.cycle}")
st.caption("Every figure here comes from a named query: `gradelens query overview_headline` and "
           "`gradelens query grade_mix` print the same numbers.")
