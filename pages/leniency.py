"""Rater leniency: raters who score systematically high or low once their ratees are allowed for."""

import streamlit as st

from gradelens import leniency, ui
from gradelens.analyses.leniency import ROLES
from gradelens.i18n import format_count, t, value_label

selection = ui.sidebar_filters()
dataset = ui.current_dataset()

st.title(t("leniency.title"))
ui.caption(selection)
st.write(t("leniency.intro"))
if selection.cycle is None:
    st.info(t("leniency.no_cycle"), icon=":material/event:")
    st.stop()
if not ui.explain_missing(dataset, ("ratings",), t("leniency.what")):
    st.stop()


def role_label(role: str) -> str:  # the language is bound here: AppTest calls format_func outside the run
    return t("leniency.role_all_but_self", selection.lang) if role == "all_but_self" else value_label("rater_role", role, selection.lang)


url = st.query_params
if "leniency_role" not in st.session_state:
    st.session_state["leniency_role"] = url.get("role") if url.get("role") in ROLES else ROLES[0]
role = st.selectbox(t("leniency.role"), ROLES, key="leniency_role", format_func=role_label)
url["role"] = role
with st.expander(t("leniency.settings"), icon=":material/tune:"):
    threshold = st.number_input(t("leniency.threshold"), 0.0, 2.0, leniency.DEFAULT_THRESHOLD, 0.05, key="leniency_threshold",
                                help=t("leniency.threshold_help"))
    min_ratees = int(st.number_input(t("leniency.min_ratees"), 1, 50, leniency.DEFAULT_MIN_RATEES, 1, key="leniency_min_ratees",
                                     help=t("leniency.min_ratees_help")))
rules = {"cycle": selection.cycle, "role": role, "threshold": threshold, "min_ratees": min_ratees}

gap_run = ui.start("self_manager_gap", **selection.scope) if "employees" in dataset.present else None  # runs meanwhile (ui.start)
with st.spinner(t("leniency.computing")):
    model = ui.query("rater_leniency_model", cycle=selection.cycle, role=role)
    board = ui.query("rater_leniency", **rules, department=selection.department, region=selection.region)
if model is None or board is None:
    st.stop()
fit = model.iloc[0]
if fit.pairs == 0:
    st.info(t("leniency.no_pairs", role=role_label(role)), icon=":material/rate_review:")
    st.stop()
if board.empty:
    st.info(t("leniency.no_raters_in_filter", role=role_label(role)), icon=":material/filter_alt_off:")
    st.stop()
spread_run = ui.start("rater_leniency_by_department", **rules, region=selection.region)  # started once the fit is memoised

raters, lenient, severe, spread = st.columns(4)
raters.metric(t("leniency.metric_raters"), format_count(len(board)), help=t("leniency.metric_raters_help", pairs=format_count(fit.pairs)))
lenient.metric(t("leniency.metric_lenient"), format_count((board.flagged & (board.effect > 0)).sum()))
severe.metric(t("leniency.metric_severe"), format_count((board.flagged & (board.effect < 0)).sum()))
spread.metric(t("leniency.metric_spread"), f"{fit.rater_sd:.2f}", help=t("leniency.metric_spread_help", residual=f"{fit.residual_sd:.2f}"))

st.subheader(t("leniency.funnel_title"))
st.plotly_chart(leniency.funnel_chart(board, threshold), key="leniency_funnel")
st.caption(t("leniency.funnel_caption"))

st.subheader(t("leniency.table_title"))
st.caption(t("leniency.table_caption"))
directions = {d: t(f"leniency.direction_{d}") for d in board["direction"].unique()}  # once per value, not per rater
shown = board.assign(direction=board["direction"].map(directions), mean_attainment=100 * board["mean_attainment"])
number = {"mean_attainment": "%.1f%%", "raw_mean": "%.2f", "expected_mean": "%.2f", "effect": "%+.2f", "se": "%.2f", "z": "%+.1f", "p_value": "%.3g", "q_value": "%.3g"}
columns = ["rater_name", "department", "ratees", *number, "flagged", "direction"]
event = st.dataframe(
    shown[columns], hide_index=True, on_select="rerun", selection_mode="single-row", key="leniency_table",
    column_config={c: st.column_config.NumberColumn(t(f"leniency.col_{c}"), format=number[c]) if c in number
                   else t(f"leniency.col_{c}") for c in columns},
)
ui.download(board, f"rater_leniency_{selection.cycle}_{role}")

st.subheader(t("leniency.drill_title"))
options = board["rater_id"].tolist()
names = dict(zip(board["rater_id"], board["rater_name"]))
pick = leniency.picked_rater(event.selection.rows, board["rater_id"])
st.session_state["leniency_rater"] = leniency.choose_rater(
    options, current=st.session_state.get("leniency_rater"), url=url.get("rater"),
    table_pick=pick, last_table_pick=st.session_state.get("leniency_last_pick"))
st.session_state["leniency_last_pick"] = pick
rater_id = st.selectbox(t("leniency.drill_rater"), options, key="leniency_rater", format_func=lambda r: f"{names[r]} ({r})")
url["rater"] = rater_id
row = board[board["rater_id"] == rater_id].iloc[0]
st.write(t("leniency.drill_summary", name=row.rater_name, department=row.department if isinstance(row.department, str) else "–", ratees=row.ratees, raw=f"{row.raw_mean:.2f}",
           expected=f"{row.expected_mean:.2f}", effect=f"{row.effect:+.2f}", se=f"{row.se:.2f}", q=f"{row.q_value:.3g}"))
# Only the open tab's queries run (on_change="rerun"): the grade mix and the history across cycles wait for a click.
scores_tab, grades_tab, history_tab = st.tabs([t("leniency.drill_scores"), t("leniency.drill_grades"), t("leniency.drill_history")],
                                              key="leniency_drill_tab", on_change="rerun")
if scores_tab.open:
    with scores_tab:
        ratees = ui.query("rater_ratee_scores", cycle=selection.cycle, rater_id=rater_id, role=role)
        curve = ui.query("rater_score_curve", cycle=selection.cycle, role=role)
        if ratees is not None and curve is not None:
            if ratees["attainment"].isna().all():
                st.info(t("leniency.no_attainment_points"), icon=":material/flag:")
            else:
                st.plotly_chart(leniency.ratee_chart(ratees, curve, row.rater_name), key="leniency_ratees")
            ui.download(ratees, f"rater_ratee_scores_{selection.cycle}_{rater_id}")
if grades_tab.open:
    with grades_tab:
        mix = ui.query("rater_grade_mix", cycle=selection.cycle, rater_id=rater_id, role=role) if "grades" in dataset.present else None
        if mix is None or (mix["proposed"].sum() + mix["final"].sum()) == 0:
            st.info(t("leniency.no_grades"), icon=":material/grade:")
        else:
            st.plotly_chart(leniency.rater_grade_chart(mix), key="leniency_grades")
            ui.download(mix, f"rater_grade_mix_{selection.cycle}_{rater_id}")
if history_tab.open:
    with history_tab:
        history = ui.query("rater_leniency_history", rater_id=rater_id, **{k: v for k, v in rules.items() if k != "cycle"})
        if history is not None:
            st.plotly_chart(leniency.history_chart(history, threshold), key="leniency_history")
            ui.download(history, f"rater_leniency_history_{rater_id}")

st.subheader(t("leniency.department_title"))
st.caption(t("leniency.department_caption", min_ratees=min_ratees))
spread_table = spread_run.result()
if spread_table is not None and not spread_table.empty:
    st.plotly_chart(leniency.department_chart(board, min_ratees), key="leniency_departments")
    st.dataframe(spread_table.drop(columns="department_id"), hide_index=True, column_config={
        c: st.column_config.NumberColumn(t(f"leniency.col_{c}"), format="%+.2f" if c.startswith("effect_") and c != "effect_sd" else "%.2f")
        if c.startswith("effect_") else t(f"leniency.col_{c}") for c in spread_table.columns if c != "department_id"})
    ui.download(spread_table, f"rater_leniency_by_department_{selection.cycle}_{role}")

st.subheader(t("leniency.gap_title"))
st.caption(t("leniency.gap_caption"))
gap = gap_run.result() if gap_run is not None else None
if gap is None or gap.empty:
    st.info(t("leniency.no_gap"), icon=":material/compare_arrows:")
else:
    st.plotly_chart(leniency.gap_chart(gap), key="leniency_gap")
    st.dataframe(gap.drop(columns="department_id"), hide_index=True, column_config={
        c: st.column_config.NumberColumn(t(f"leniency.col_{c}"), format="%+.2f" if c == "mean_gap" else "%.2f")
        if c.startswith("mean_") else t(f"leniency.col_{c}") for c in gap.columns if c != "department_id"})
    if gap["small_group"].any():
        st.caption(t("leniency.gap_small_groups"))
    ui.download(gap, f"self_manager_gap_{selection.cycle}")

with st.expander(t("leniency.about_title"), icon=":material/help:", expanded=bool(board.flagged.any())):
    st.markdown(t("leniency.about_body"))
    if not fit.ratee_effects_separate:
        st.markdown(t("leniency.about_one_rater"))
    if not fit.attainment_adjusted:
        st.markdown(t("leniency.about_no_attainment"))
    if role == "all_but_self":
        st.markdown(t("leniency.about_pooled_roles"))
st.caption(t("common.reproduce", names="rater_leniency / rater_leniency_history / rater_ratee_scores / self_manager_gap"))
