"""Attainment: is the strategy landing, where, and through whom? The selected cycle, as of a date
within it, from company goals down to people, on the shared attainment definitions."""

import streamlit as st

from gradelens import attainment, ui
from gradelens.i18n import format_count, t

selection = ui.sidebar_filters()
dataset = ui.current_dataset()

st.title(t("attainment.title"))
ui.caption(selection)
if selection.cycle is None:
    st.info(t("attainment.no_cycle"), icon=":material/event:")
    st.stop()
if not ui.explain_missing(dataset, attainment.NEEDS, t("attainment.title")):
    st.stop()
ui.explain_missing(dataset, attainment.ACTUALS, t("attainment.what_attainment"))
as_of = attainment.as_of_input(ui.query("cycle_list"), selection.cycle)
# Independent questions run in the background while the page draws the ones before them (ui.start).
quality_run = ui.start("attainment_data_quality", cycle=selection.cycle)
cells_run = ui.start("attainment_department_region", as_of=as_of, **selection.scope)

# Headline: this cycle against the previous one at the same point.
with st.spinner(t("attainment.working")):
    headline = ui.query("attainment_headline", as_of=as_of, **selection.scope)
now, before = attainment.headline_rows(headline)
if now is not None:
    attainment.headline_metrics(now, before)
    st.caption(attainment.coverage_text(now, before))
    if now.goals_with_attainment:
        st.plotly_chart(attainment.status_chart(headline), key="attainment_status")

# Data quality: what the definitions had to exclude or normalise.
issues = quality_run.result()
counts = attainment.issue_counts(issues)
if counts:
    st.warning(attainment.quality_summary(counts), icon=":material/rule:")
    with st.expander(t("attainment.quality_details")):
        st.markdown(attainment.quality_handling(counts))
        attainment.show_table(issues, ["issue", "goal_id", "owner_type", "owner_id", "value", "related_id", "first_date", "last_date"],
                              f"attainment_data_quality_{selection.cycle}")

# Where: department x region; a click narrows the rest of the page to that cell.
st.subheader(t("attainment.heatmap"))
cells = cells_run.result()
cell = attainment.current_cell(cells)
if cells is None or cells.empty:
    st.info(t("common.nobody_matches"), icon=":material/filter_alt_off:")
else:
    event = st.plotly_chart(attainment.heatmap_chart(cells), on_select="rerun", selection_mode="points", key=attainment.heatmap_key())
    cell = attainment.follow_selection(event, cells)
    st.caption(t("attainment.heatmap_help"))
    with st.expander(t("attainment.by_department_region")):
        attainment.show_table(cells, ["department", "region", "employees", "employees_with_attainment", "attainment"],
                              f"attainment_department_region_{selection.cycle}")
        by_department = ui.query("attainment_by_department", as_of=as_of, cycle=selection.cycle, region=selection.region)
        if by_department is not None:
            attainment.show_table(by_department, ["department", "employees", "employees_with_attainment", "attainment", "department_goal_attainment"],
                                  f"attainment_by_department_{selection.cycle}")
        by_region = ui.query("attainment_by_region", as_of=as_of, cycle=selection.cycle, department=selection.department)
        if by_region is not None:
            attainment.show_table(by_region, ["region", "employees", "employees_with_attainment", "attainment"], f"attainment_by_region_{selection.cycle}")
if cell is not None:
    note, clear = st.columns([5, 1], vertical_alignment="center")
    note.info(t("attainment.cell_selected", cell=attainment.cell_label(cells, cell)), icon=":material/filter_alt:")
    clear.button(t("attainment.clear_cell"), on_click=attainment.clear_cell, key="attainment_clear_cell", icon=":material/close:")
scope = attainment.narrowed_scope(selection, cell)
later = {name: ui.start(name, **params) for name, params in attainment.later_questions(as_of, scope).items()}

# How: the cascade from company goals to people.
st.subheader(t("attainment.cascade"))
with st.spinner(t("attainment.working")):
    cascade = ui.query("goal_cascade", as_of=as_of, max_goals=attainment.MAX_TABLE_GOALS, **scope)
if cascade is None or cascade.empty:
    st.info(t("attainment.no_goals"), icon=":material/flag:")
else:
    st.plotly_chart(attainment.cascade_chart(cascade), key="attainment_cascade")
    st.caption(t("attainment.cascade_help"))
    goal_columns = ["goal", "owner_type", "department", "region", "attainment", "children_attainment", "children", "weight", "strategy_theme", "goal_id"]
    masking = attainment.masking_list(cascade, lambda: ui.query("goal_cascade", as_of=as_of, goals="masks_shortfall", max_goals=0, **scope))
    if masking is not None and not masking.empty:
        st.warning(t("attainment.masks_shortfall", count=format_count(len(masking))), icon=":material/visibility_off:")
        attainment.show_table(masking.assign(goal=masking["title"]), goal_columns, f"goal_cascade_masking_{selection.cycle}")
    listed, left_out = attainment.cascade_for_tables(cascade)
    goals = format_count(attainment.cascade_goal_count(cascade))
    if left_out:
        st.caption(t(f"attainment.cascade_without_{left_out[-1]}", goals=goals))
    for number, (label, branch) in enumerate(attainment.cascade_branches(listed)):
        # Only an opened branch draws its table (on_change="rerun"): together they hold up to 2,500 goals.
        box = st.expander(label, key=f"attainment_branch_{number + 1}", on_change="rerun")
        if box.open:
            with box:
                attainment.show_table(branch, goal_columns, f"goal_cascade_{selection.cycle}_{number + 1}")
    root = attainment.branch_choice(cascade)
    if root is not None:
        branch = ui.query("goal_cascade", as_of=as_of, root=root, max_goals=attainment.MAX_TABLE_GOALS, **scope)
        if branch is not None and not branch.empty:
            attainment.show_table(attainment.cascade_table(branch), goal_columns, f"goal_cascade_{selection.cycle}_{root}")
    attainment.download_cascade({"cycle": selection.cycle, "as_of": as_of, **scope}, f"goal_cascade_{selection.cycle}",
                                t("attainment.download_cascade", goals=goals))

# Strategy themes: a goal carries its top ancestor's theme.
st.subheader(t("attainment.themes"))
themes = later["strategy_theme_attainment"].result()
if themes is not None and not themes.empty:
    st.plotly_chart(attainment.theme_chart(themes), key="attainment_themes")
    attainment.show_table(themes, ["strategy_theme", "goals", "goals_with_attainment", "attainment", "individual_attainment",
                                   "company_goal_attainment", "on_track_share"], f"strategy_theme_attainment_{selection.cycle}")

# Alignment: individual goals linked to a parent goal.
st.subheader(t("attainment.alignment"))
alignment = later["goal_alignment"].result()
if alignment is None or alignment.empty:
    st.info(t("attainment.no_individual_goals"), icon=":material/link_off:")
else:
    st.plotly_chart(attainment.alignment_chart(alignment), key="attainment_alignment")
    attainment.show_table(alignment, ["department", "individual_goals", "linked_goals", "alignment_rate", "broken_links"],
                          f"goal_alignment_{selection.cycle}")
    unlinked = later["unlinked_goals"].result()
    if unlinked is not None and not unlinked.empty:
        with st.expander(t("attainment.unlinked", count=format_count(len(unlinked)))):
            attainment.show_table(unlinked, ["goal_id", "owner_type", "owner_name", "department", "region", "title", "weight", "reason",
                                             "parent_goal_id"], f"unlinked_goals_{selection.cycle}")

# Trend: by month within the cycle and by cycle.
st.subheader(t("attainment.trend"))
monthly, by_cycle = later["attainment_trend"].result(), later["attainment_trend_by_cycle"].result()
within, across = st.columns(2)
if monthly is not None and not monthly.empty:
    within.markdown(t("attainment.trend_months"))
    within.plotly_chart(attainment.trend_chart(monthly, attainment.date_labels(monthly["as_of"])), key="attainment_trend_months")
    with within.expander(t("attainment.table")):
        attainment.show_table(monthly, ["as_of", "employees", "employees_with_attainment", "attainment", "company_goal_attainment"],
                              f"attainment_trend_{selection.cycle}")
if by_cycle is not None and not by_cycle.empty:
    across.markdown(t("attainment.trend_cycles"))
    across.plotly_chart(attainment.trend_chart(by_cycle, list(by_cycle["name"])), key="attainment_trend_cycles")
    with across.expander(t("attainment.table")):
        attainment.show_table(by_cycle, ["cycle_id", "employees", "employees_with_attainment", "attainment", "company_goal_attainment"],
                              "attainment_trend_by_cycle")

# Through whom: the best and worst teams.
st.subheader(t("attainment.teams"))
teams = later["team_attainment"].result()
if teams is not None and not teams.empty:
    top, bottom = attainment.top_and_bottom(teams)
    team_columns = ["team", "department", "region", "employees", "employees_with_attainment", "attainment", "team_goal_attainment"]
    if top.empty:
        st.info(t("attainment.no_ranked_teams", size=format_count(dataset.policy.min_group_size)), icon=":material/groups:")
    else:
        best, worst = st.columns(2)
        with best:
            st.markdown(t("attainment.top_teams"))
            attainment.show_table(top, team_columns, f"team_attainment_top_{selection.cycle}")
        with worst:
            st.markdown(t("attainment.bottom_teams"))
            attainment.show_table(bottom, team_columns, f"team_attainment_bottom_{selection.cycle}")
        st.caption(t("attainment.teams_help", size=format_count(dataset.policy.min_group_size)))
    with st.expander(t("attainment.all_teams", count=format_count(len(teams)))):
        attainment.show_table(teams, team_columns + ["below_min_group"], f"team_attainment_{selection.cycle}")
st.caption(t("common.reproduce", names=" / ".join(attainment.QUERIES)))
