"""The Appeals page's logic: the spike rule, the join with rater leniency, tables and charts.

The figures themselves come from the named queries appeal_trends, appeal_outcomes,
open_appeals, appeals_by_rater, appeal_dates and appeal_data_quality; this module only
judges, joins and draws them, so pages/appeals.py stays a description of the screen.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import plotly.graph_objects as go
from scipy.stats import poisson

from gradelens import charts
from gradelens.contract import APPEAL_REASONS, APPEAL_STATUSES
from gradelens.i18n import each_label, t, value_label

NEEDS = ("cycles", "employees", "grades", "appeals")
BREAKDOWNS = ("none", "department", "region", "grade")
LENIENCY_QUERY = "rater_leniency"

# The spike rule (see `appeal_spikes`).
SPIKE_RATIO = 2.0
SPIKE_MIN_APPEALS = 5
SPIKE_MIN_OTHER_CYCLES = 2
SPIKE_ALPHA = 0.001

STATUS_COLORS = {
    "open": "#888888",
    "upheld": "#1f4e9c",
    "partially_upheld": "#7fa9d6",
    "rejected": "#c8423b",
    "withdrawn": "#d9d4c7",
}
# Colour-blind-safe qualitative colours (plotly's "Safe"), one per known reason code.
_SAFE = ["#88ccee", "#cc6677", "#ddcc77", "#117733", "#332288", "#aa4499", "#44aa99", "#999933", "#882255"]
REASON_COLORS = dict(zip(APPEAL_REASONS, _SAFE))
OTHER_COLOR = "#888888"


def appeal_spikes(
    trends: pd.DataFrame,
    ratio: float = SPIKE_RATIO,
    min_appeals: int = SPIKE_MIN_APPEALS,
    min_other_cycles: int = SPIKE_MIN_OTHER_CYCLES,
    alpha: float = SPIKE_ALPHA,
) -> pd.DataFrame:
    """Cycles in which a group's appeal rate spiked, largest jump first.

    The rule: a group (the company, a reason, a department, ...) spikes in a cycle when
      - its appeal_rate is above `ratio` times its baseline, the median of its appeal_rate
        over the other cycles where it has one (at least `min_other_cycles` of them);
      - it has at least `min_appeals` appeals in that cycle; and
      - that many appeals would be unlikely at the baseline rate: under a Poisson count with
        mean baseline * graded / 100, P(X >= appeals) < `alpha`. This keeps a rare reason
        that goes from 4 to 10 appeals in 2,000 people from being called a spike.
    A baseline of 0 makes any qualifying count a spike (`times` is then NaN: "new").

    `trends` has the columns of the appeal_trends query (cycle_id, cycle_name, group_id,
    group_name, graded, appeals, appeal_rate). Returns cycle_id, cycle_name, group_id,
    group_name, appeals, appeal_rate, baseline_rate, times, p_value.
    """
    columns = ["cycle_id", "cycle_name", "group_id", "group_name", "appeals", "appeal_rate", "baseline_rate", "times", "p_value"]
    found = []
    for _, group in trends.groupby(trends["group_id"].fillna("\0"), sort=False):
        rated = group[group["appeal_rate"].notna()]
        for row in group.itertuples(index=False):
            others = rated.loc[rated["cycle_id"] != row.cycle_id, "appeal_rate"]
            if len(others) < min_other_cycles or row.appeals < min_appeals or pd.isna(row.appeal_rate):
                continue
            baseline = float(others.median())
            if not row.appeal_rate > ratio * baseline:  # checked first: the Poisson tail costs a scipy call
                continue
            p_value = float(poisson.sf(row.appeals - 1, baseline * row.graded / 100))
            if p_value < alpha:
                times = row.appeal_rate / baseline if baseline > 0 else math.nan
                found.append([row.cycle_id, row.cycle_name, row.group_id, row.group_name,
                              row.appeals, row.appeal_rate, baseline, times, p_value])
    spikes = pd.DataFrame(found, columns=columns)
    return spikes.sort_values("times", ascending=False, na_position="first", kind="stable").reset_index(drop=True)


def spike_messages(overall: pd.DataFrame | None, by_reason: pd.DataFrame | None,
                   by_department: pd.DataFrame | None) -> list[str]:
    """The spike call-outs, by the rule of `appeal_spikes`: the company's rate first, then one
    line per reason, then one line per cycle listing its departments (a company-wide spike
    lifts most departments at once, so they share a line)."""
    messages = []
    for kind, frame in (("overall", overall), ("reason", by_reason)):
        for _, spike in (appeal_spikes(frame) if frame is not None else pd.DataFrame()).iterrows():
            messages.append(t(f"appeals.spike_{kind}", **_spike_values(spike, kind)))
    spikes = appeal_spikes(by_department) if by_department is not None else pd.DataFrame(columns=["cycle_id"])
    for _, in_cycle in spikes.groupby("cycle_id", sort=False):
        departments = t("appeals.list_separator").join(
            t("appeals.spike_department_item", **_spike_values(spike, "department")) for _, spike in in_cycle.iterrows())
        messages.append(t("appeals.spike_departments", cycle=in_cycle["cycle_name"].iloc[0], departments=departments))
    return messages


def spike_rule_text() -> str:
    """The spike rule in words, with this module's thresholds."""
    return t("appeals.spike_rule", ratio=f"{SPIKE_RATIO:g}", appeals=SPIKE_MIN_APPEALS, cycles=SPIKE_MIN_OTHER_CYCLES,
             alpha=f"{SPIKE_ALPHA:g}")


def _spike_values(spike: pd.Series, kind: str) -> dict[str, object]:
    times = t("appeals.times_new") if pd.isna(spike["times"]) else t("appeals.times", times=f"{spike['times']:.1f}")
    name = value_label("appeal_reason", spike["group_id"]) if kind == "reason" else str(spike["group_name"])
    return dict(name=name, cycle=spike["cycle_name"], rate=one_decimal(spike["appeal_rate"]),
                baseline=one_decimal(spike["baseline_rate"]), appeals=int(spike["appeals"]), times=times)


def leniency_params(cycle: str | None, available: dict, missing_tables: tuple[str, ...] = ()) -> dict[str, object] | None:
    """Parameters for the rater_leniency query, or None when it cannot run here.

    `available` is `gradelens.queries.all_queries()`, `missing_tables` the dataset's missing
    tables. The query is asked for manager raters of the cycle, passing only the parameters
    it declares; it is not asked when it is not there, needs a table the dataset lacks (the
    page then says leniency is unavailable instead of showing an error) or needs a parameter
    this page cannot fill.
    """
    query = available.get(LENIENCY_QUERY)
    if query is None or cycle is None or set(query.needs) & set(missing_tables):
        return None
    wanted = {"cycle": cycle, "role": "manager"}
    declared = {p.name for p in query.params}
    if any(p.required and p.name not in wanted for p in query.params):
        return None
    return {name: value for name, value in wanted.items() if name in declared}


def with_leniency(by_rater: pd.DataFrame, leniency: pd.DataFrame | None) -> pd.DataFrame:
    """appeals_by_rater with each rater's leniency beside it, when there is one.

    Adds leniency_effect (the rater's effect on scores: positive lenient, negative severe)
    and leniency_flagged from rater_leniency's effect and flagged columns; raters the
    estimator did not rate get NaN / NA. Without a usable leniency frame, returns `by_rater`
    unchanged (no columns added), so callers can test `"leniency_effect" in frame`.
    """
    if leniency is None or "rater_id" not in leniency or "effect" not in leniency:
        return by_rater.copy()
    keep = {"effect": "leniency_effect", "flagged": "leniency_flagged"}
    effects = leniency[["rater_id", *[c for c in keep if c in leniency]]].drop_duplicates("rater_id").rename(columns=keep)
    return by_rater.merge(effects, on="rater_id", how="left", validate="one_to_one")


def grade_change(summary: pd.Series) -> dict[str, object]:
    """Of a cycle's appeals (an appeal_trends row): how many changed the grade, and which way.

    Counts hidden from the viewer (a small group, gradelens.privacy) give no share and '–'."""
    if summary[["appeals", "grade_raised", "grade_lowered"]].isna().any():
        return dict(changed=None, share=None, raised="–", lowered="–")
    appeals = int(summary["appeals"])
    changed = int(summary["grade_raised"]) + int(summary["grade_lowered"])
    return dict(changed=changed, share=changed / appeals if appeals else None,
                raised=int(summary["grade_raised"]), lowered=int(summary["grade_lowered"]))


def as_date(value: object) -> dt.date | None:
    """A date from a query cell (DuckDB dates arrive as pandas Timestamps); None when empty."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def visible_raters(by_rater: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Raters whose group is at least the policy's min_group_size, and how many were hidden."""
    small = by_rater["small_group"].fillna(False).astype(bool)
    return by_rater[~small].reset_index(drop=True), int(small.sum())


# --- tables -------------------------------------------------------------------------------

_LABELS = {
    "cycle_name": "col_cycle", "group_name": "col_group", "graded": "col_graded", "appeals": "col_appeals",
    "appeal_rate": "col_appeal_rate", "open": "col_open", "upheld": "col_upheld",
    "partially_upheld": "col_partially_upheld", "rejected": "col_rejected", "withdrawn": "col_withdrawn",
    "resolved": "col_resolved", "upheld_share": "col_upheld_share", "grade_raised": "col_grade_raised",
    "grade_lowered": "col_grade_lowered", "timed": "col_timed", "median_days_to_resolve": "col_median_days",
    "p90_days_to_resolve": "col_p90_days", "reason": "col_reason", "status": "col_status",
    "appeal_id": "col_appeal_id", "cycle_id": "col_cycle", "employee_id": "col_employee_id",
    "employee_name": "col_employee_name", "department": "col_department", "region": "col_region",
    "grade_before": "col_grade_before", "filed_on": "col_filed_on", "resolved_on": "col_resolved_on",
    "age_days": "col_age_days", "overdue": "col_overdue", "rater_id": "col_rater_id", "rater_name": "col_rater_name",
    "leniency_effect": "col_leniency_effect", "leniency_flagged": "col_leniency_flagged",
    "problem": "col_problem", "excluded_from": "col_excluded_from",
}
_SHARES = {"upheld_share"}
_ONE_DECIMAL = {"appeal_rate", "median_days_to_resolve", "p90_days_to_resolve"}

TREND_COLUMNS = ["cycle_name", "group_name", "graded", "appeals", "appeal_rate", "open", "upheld", "partially_upheld",
                 "rejected", "withdrawn", "upheld_share", "grade_raised", "grade_lowered"]
RESOLUTION_COLUMNS = ["cycle_name", "resolved", "timed", "median_days_to_resolve", "p90_days_to_resolve"]
OUTCOME_COLUMNS = ["reason", "status", "appeals", "grade_raised", "grade_lowered"]
OPEN_COLUMNS = ["appeal_id", "cycle_id", "employee_name", "department", "region", "reason", "grade_before",
                "filed_on", "age_days", "overdue"]
RATER_COLUMNS = ["rater_name", "rater_id", "graded", "appeals", "appeal_rate", "upheld", "partially_upheld",
                 "upheld_share", "leniency_effect", "leniency_flagged"]
QUALITY_COLUMNS = ["appeal_id", "cycle_id", "employee_id", "status", "filed_on", "resolved_on", "problem", "excluded_from"]


def display_table(frame: pd.DataFrame, columns: list[str], group_by: str | None = None) -> pd.DataFrame:
    """A query result ready to show: chosen columns, codes in words, shares as percent,
    rates and days to one decimal, headers in the current language. Downloads keep the raw
    frame; this is for the screen only."""
    columns = [c for c in columns if c in frame and not (c == "group_name" and group_by in (None, "none"))]
    shown = frame[columns].copy()
    for column in columns:
        if column in _SHARES:
            shown[column] = each_label(shown[column], charts.percent)
        elif column in _ONE_DECIMAL:
            shown[column] = shown[column].round(1)
        elif column == "reason" or (column == "group_name" and group_by == "reason"):
            shown[column] = each_label(shown[column], lambda code: value_label("appeal_reason", code))
        elif column == "status":
            shown[column] = each_label(shown[column], lambda code: value_label("appeal_status", code))
        elif column in ("overdue", "leniency_flagged"):
            shown[column] = each_label(shown[column], lambda flag: "–" if pd.isna(flag) else t("appeals.yes" if flag else "appeals.no"))
        elif column == "problem":
            shown[column] = each_label(shown[column], lambda code: t(f"appeals.problem_{code}"))
        elif column == "excluded_from":
            shown[column] = each_label(shown[column], lambda code: t(f"appeals.excluded_{code}"))
        elif column == "leniency_effect":
            shown[column] = shown[column].round(2)
        elif column in ("filed_on", "resolved_on"):
            shown[column] = each_label(shown[column], as_date)
    labels = dict(_LABELS, group_name=f"col_group_{group_by}" if group_by else "col_group")
    if group_by == "reason":
        labels["graded"] = "col_graded_cycle"  # a reason is not a population: the cycle's graded headcount
    return shown.rename(columns={c: t(f"appeals.{labels[c]}") for c in columns})


# --- charts -------------------------------------------------------------------------------

def _reason_color(reason: str) -> str:
    return REASON_COLORS.get(reason, OTHER_COLOR)


def rate_chart(trends: pd.DataFrame, group_by: str) -> go.Figure:
    """Appeals per 100 graded by cycle: bars overall, one line per group otherwise."""
    fig = go.Figure()
    if group_by == "none":
        fig.add_bar(x=trends["cycle_name"], y=trends["appeal_rate"], marker_color=STATUS_COLORS["upheld"],
                    customdata=trends[["appeals", "graded"]], name=t("appeals.chart_rate"),
                    hovertemplate=t("appeals.chart_hover_rate") + "<extra></extra>")
    else:
        for group_id, group in trends.groupby(trends["group_id"].fillna("\0"), sort=False):
            name = str(group["group_name"].iloc[0])
            color = charts.grade_color(name) if group_by == "grade" else None
            fig.add_scatter(x=group["cycle_name"], y=group["appeal_rate"], mode="lines+markers", name=name,
                            line=dict(color=color) if color else None, customdata=group[["appeals", "graded"]],
                            hovertemplate=name + "<br>" + t("appeals.chart_hover_rate") + "<extra></extra>")
    fig.update_yaxes(title=t("appeals.axis_rate"), rangemode="tozero")
    fig.update_xaxes(title=None, type="category")
    return charts.style(fig)


def reason_chart(reason_trends: pd.DataFrame) -> go.Figure:
    """Appeals per 100 graded by cycle, stacked by reason (the stack is the cycle's rate)."""
    fig = go.Figure()
    for reason, group in reason_trends.groupby("group_id", sort=True):
        label = value_label("appeal_reason", reason)
        fig.add_bar(x=group["cycle_name"], y=group["appeal_rate"], name=label, marker_color=_reason_color(reason),
                    customdata=group[["appeals"]],
                    hovertemplate=label + "<br>" + t("appeals.chart_hover_reason") + "<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title=t("appeals.axis_rate"), rangemode="tozero")
    fig.update_xaxes(title=None, type="category")
    return charts.style(fig)


def status_chart(overall: pd.DataFrame) -> go.Figure:
    """How each cycle's appeals ended: counts stacked by status."""
    fig = go.Figure()
    for status in APPEAL_STATUSES:
        label = value_label("appeal_status", status)
        fig.add_bar(x=overall["cycle_name"], y=overall[status], name=label, marker_color=STATUS_COLORS[status],
                    hovertemplate=label + "<br>" + t("appeals.chart_hover_count") + "<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title=t("appeals.axis_appeals"), rangemode="tozero")
    fig.update_xaxes(title=None, type="category")
    return charts.style(fig)


def outcome_chart(outcomes: pd.DataFrame) -> go.Figure:
    """One cycle's appeals by reason (rows), stacked by status."""
    fig = go.Figure()
    statuses = list(APPEAL_STATUSES) + sorted(set(outcomes["status"].dropna()) - set(APPEAL_STATUSES))
    reasons = sorted(outcomes["reason"].dropna().unique())
    labels = [value_label("appeal_reason", r) for r in reasons]
    for status in statuses:
        counts = outcomes[outcomes["status"] == status].set_index("reason")["appeals"].reindex(reasons, fill_value=0)
        if counts.sum() == 0:
            continue
        label = value_label("appeal_status", status)
        fig.add_bar(y=labels, x=counts.values, orientation="h", name=label,
                    marker_color=STATUS_COLORS.get(status, OTHER_COLOR),
                    hovertemplate=label + "<br>" + t("appeals.chart_hover_outcome") + "<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title=t("appeals.axis_appeals"), rangemode="tozero")
    fig.update_yaxes(title=None, type="category", autorange="reversed")
    return charts.style(fig, height=max(240, 60 + 40 * len(reasons)))


def resolution_chart(overall: pd.DataFrame, service_target_days: int) -> go.Figure:
    """Median and 90th percentile days from filing to resolution, against the service target."""
    fig = go.Figure()
    for column, name, dash in (("median_days_to_resolve", "chart_median", "solid"), ("p90_days_to_resolve", "chart_p90", "dot")):
        fig.add_scatter(x=overall["cycle_name"], y=overall[column], mode="lines+markers", name=t(f"appeals.{name}"),
                        line=dict(color=STATUS_COLORS["upheld"], dash=dash),
                        hovertemplate=t("appeals.chart_hover_days") + "<extra></extra>")
    fig.add_hline(y=service_target_days, line_dash="dash", line_color=charts.TARGET_COLOR,
                  annotation_text=t("appeals.chart_target", days=service_target_days), annotation_position="top left")
    fig.update_yaxes(title=t("appeals.axis_days"), rangemode="tozero")
    fig.update_xaxes(title=None, type="category")
    return charts.style(fig)


def rater_chart(raters: pd.DataFrame) -> go.Figure:
    """With leniency: each rater's leniency effect against their appeal rate (severe raters with
    many upheld appeals sit top left, darker). Without: the raters with the highest rates."""
    fig = go.Figure()
    if "leniency_effect" in raters and raters["leniency_effect"].notna().any():
        placed = raters[raters["leniency_effect"].notna()]
        fig.add_scatter(
            x=placed["leniency_effect"], y=placed["appeal_rate"], mode="markers", name=t("appeals.chart_raters"),
            text=placed["rater_name"].fillna(placed["rater_id"]),
            customdata=placed[["appeals", "graded", "upheld_share"]].fillna(0),
            marker=dict(size=(placed["graded"] ** 0.5 * 4).clip(6, 30), color=placed["upheld_share"].fillna(0),
                        colorscale="Blues", cmin=0, cmax=1, line=dict(width=0.5, color="#444"),
                        colorbar=dict(title=t("appeals.col_upheld_share"), tickformat=".0%")),
            hovertemplate=t("appeals.chart_hover_rater") + "<extra></extra>",
        )
        fig.add_vline(x=0, line_color="#bbbbbb")
        fig.update_xaxes(title=t("appeals.axis_leniency"))
        fig.update_yaxes(title=t("appeals.axis_rate"), rangemode="tozero")
    else:
        top = raters.sort_values(["appeal_rate", "appeals"], ascending=False).head(20)
        fig.add_bar(x=top["appeal_rate"], y=top["rater_name"].fillna(top["rater_id"]), orientation="h",
                    marker_color=STATUS_COLORS["upheld"], customdata=top[["appeals", "graded"]],
                    name=t("appeals.chart_rate"), hovertemplate=t("appeals.chart_hover_rater_bar") + "<extra></extra>")
        fig.update_yaxes(title=None, autorange="reversed", type="category")
        fig.update_xaxes(title=t("appeals.axis_rate"), rangemode="tozero")
    return charts.style(fig, height=420)


def grade_chart(by_grade: pd.DataFrame) -> go.Figure:
    """One cycle's appeals per 100 graded, by grade before the appeal."""
    fig = go.Figure()
    fig.add_bar(x=by_grade["group_name"], y=by_grade["appeal_rate"],
                marker_color=[charts.grade_color(g) for g in by_grade["group_name"]],
                customdata=by_grade[["appeals", "graded"]], name=t("appeals.chart_rate"),
                hovertemplate=t("appeals.chart_hover_grade") + "<extra></extra>")
    fig.update_yaxes(title=t("appeals.axis_rate"), rangemode="tozero")
    fig.update_xaxes(title=None, type="category")
    return charts.style(fig, height=300)


def one_decimal(value: float | None) -> str:
    """12.345 -> '12.3'; missing -> '–' (appeal rates per 100 and days)."""
    return "–" if value is None or pd.isna(value) else f"{value:.1f}"
