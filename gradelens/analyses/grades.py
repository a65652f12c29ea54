"""Grade distribution analyses: the deviation test per group, drift across cycles, and what
the Grade distribution page draws from them (charts, the calibration sheet as a wide table and
as a printable HTML file).

The statistics themselves live in gradelens.distribution; this module applies them to named-
query results. docs/methods.md explains the methods.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gradelens import distribution
from gradelens.charts import grade_color, percent, style
from gradelens.dataset import Dataset
from gradelens.i18n import format_count, t, value_label
from gradelens.policy import Policy
from gradelens.queries import cycle_ids, python_query, run_query

GROUP_BY = ("department", "region", "job_level", "manager")
TARGET = "target"  # grade_drift's reference_cycle_id for the comparison with the guideline
SIGNIFICANCE = 1 - distribution.CONFIDENCE

# Attainment bands for grade_attainment_mismatch: the lowest attainment of each grade but the
# worst, best first (S >= 125%, A 110-125%, B 95-110%, C 70-95%, D below 70%). The policy has
# no such key yet; the proposed policy.toml form is
#   [attainment_bands]   # lowest attainment of each grade but the worst
#   S = 1.25
#   A = 1.10
#   B = 0.95
#   C = 0.70
DEFAULT_ATTAINMENT_BANDS = {"S": 1.25, "A": 1.10, "B": 0.95, "C": 0.70}

# Largest number of groups a chart shows (the farthest from the guideline, or closest to drifting, first).
CHART_GROUPS = 25
DRIFT_REFERENCES = ("first", "previous", TARGET)  # grade_drift's reference column

# Drift heatmap colours by PSI / drift threshold: pale well below it, amber at it, red at twice it.
DRIFT_COLOR_MAX = 2.0
DRIFT_COLORSCALE = [
    [0.0, "#f7f7f7"],
    [0.5 / DRIFT_COLOR_MAX, "#fde0a8"],
    [1.0 / DRIFT_COLOR_MAX, "#f2a35e"],
    [1.0, "#c8423b"],
]


def attainment_bands_param(policy: Policy) -> str | None:
    """The `bands` parameter of grade_attainment_mismatch for a policy, or None when the default
    bands do not fit its grades (a custom grade scale needs bands given explicitly)."""
    if list(policy.grades[:-1]) != list(DEFAULT_ATTAINMENT_BANDS):
        return None
    return ",".join(f"{bound:.2f}" for bound in DEFAULT_ATTAINMENT_BANDS.values())


# --- Named queries ----------------------------------------------------------------------------


@python_query("""
-- Which groups' grade distributions deviate from the guideline more than chance explains?
-- Pearson's chi-square goodness of fit of each group's grade counts against the target shares
-- (gradelens.distribution.goodness_of_fit): method chi2 when every expected count is at least
-- 5, else the exact multinomial p-value (up to 250,000 outcomes), else Monte-Carlo with a
-- fixed seed. Groups smaller than the policy's min_group_size are not tested (method
-- not_tested). deviates: p_value below 0.05 (not corrected for testing many groups).
-- @param cycle cycle=latest  The performance cycle.
-- @param stage choice(proposed|final)=final  Proposed (before calibration) or final grades.
-- @param group_by choice(department|region|job_level|manager)=department  What a group is.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @privacy aggregate count=employees
-- @needs grades, employees
-- @returns group_id, group_name, employees, chi2, p_value, method, df, min_expected, deviates
""")
def grade_deviation_test(dataset: Dataset, cycle: str, stage: str, group_by: str,
                         department: str | None, region: str | None) -> pd.DataFrame:
    counts = run_query(dataset, "grade_distribution", dict(cycle=cycle, stage=stage, group_by=group_by,
                                                           department=department, region=region))
    rows = []
    for (group_id, group_name), group in counts.groupby(["group_id", "group_name"], sort=False):
        group = group.sort_values("grade_rank")
        employees = int(group["employees"].sum())
        if employees < dataset.policy.min_group_size:
            rows.append((group_id, group_name, employees, math.nan, math.nan, "not_tested", None, math.nan, None))
            continue
        fit = distribution.goodness_of_fit(group["employees"].to_numpy(), group["target_share"].to_numpy())
        rows.append((group_id, group_name, employees, fit.chi2, fit.p_value, fit.method, fit.df, fit.min_expected,
                     fit.p_value < SIGNIFICANCE))
    frame = pd.DataFrame(rows, columns=["group_id", "group_name", "employees", "chi2", "p_value", "method", "df",
                                        "min_expected", "deviates"])
    return frame.astype({"employees": "int64", "chi2": "float64", "p_value": "float64", "df": "Int64",
                         "min_expected": "float64", "deviates": "boolean"})


@python_query("""
-- Is each group's grade distribution drifting from cycle to cycle, or away from the guideline?
-- PSI (population stability index, shares floored at 0.0001) of each group's grades in each
-- cycle against the previous cycle of the dataset (reference 'previous'), against the group's
-- first graded cycle (reference 'first': slow drift adds up), and against the target shares
-- (reference and reference_cycle_id 'target'). psi_threshold: the sample-size-aware threshold
-- chi2_{0.95, B-1} * (1/N + 1/M), B grades, N and M the graded people in the cycle and the
-- reference (M infinite for the target). drifted: PSI above drift_threshold, which is
-- psi_threshold where every grade expects at least 5 people under H0 (threshold_method chi2),
-- else the 95th percentile of PSI simulated under H0 with a fixed seed (threshold_method
-- monte_carlo: a permutation of the two cycles' people, or draws from the target), since for
-- small groups the chi-square threshold raises far more than 5 % false alarms. drifted is
-- empty when either side is smaller than the policy's min_group_size. psi_band: the
-- conventional bands, stable < 0.1 <= moderate < 0.25 <= significant. top_share: share of
-- grades above the middle grade (S and A); top_share_change: its change against the
-- reference. Rows come cycle by cycle in the dataset's order.
-- @param stage choice(proposed|final)=final  Proposed (before calibration) or final grades.
-- @param group_by choice(department|region|job_level|manager)=department  What a group is.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @privacy aggregate count=employees
-- @needs grades, employees
-- @returns group_id, group_name, cycle_id, reference_cycle_id, employees, psi, psi_threshold, drifted, reference, reference_employees, psi_band, top_share, top_share_change, drift_threshold, threshold_method
""")
def grade_drift(dataset: Dataset, stage: str, group_by: str, department: str | None, region: str | None) -> pd.DataFrame:
    counts = run_query(dataset, "grade_cycle_counts", dict(stage=stage, group_by=group_by,
                                                           department=department, region=region))
    policy = dataset.policy
    target = np.array([policy.target_shares[g] for g in policy.grades])
    top = np.arange(len(policy.grades)) < distribution.middle_grade_index(target)
    cycles = cycle_ids(dataset)
    position = {cycle: i for i, cycle in enumerate(cycles)}
    pivot = counts.pivot_table(index=["group_id", "cycle_id"], columns="grade", values="employees",
                               aggfunc="sum", fill_value=0).reindex(columns=list(policy.grades), fill_value=0)
    graded = dict(zip(pivot.index, pivot.to_numpy(dtype=float)))  # (group_id, cycle_id) -> counts per grade
    by_cycle = counts.assign(position=counts["cycle_id"].map(position)).sort_values("position")
    latest_name = by_cycle.groupby("group_id")["group_name"].last()
    first_cycle = by_cycle.groupby("group_id")["cycle_id"].first()

    def compare(group_id, cycle_id, observed, kind, reference_id, reference_counts):
        employees = int(observed.sum())
        shares = observed / employees
        reference_employees = None if reference_counts is None else int(reference_counts.sum())
        reference_shares = target if reference_counts is None else reference_counts / reference_employees
        value = distribution.psi(shares, reference_shares)
        threshold = distribution.psi_threshold(len(target), employees, reference_employees)
        null_shares = target if reference_counts is None else (observed + reference_counts) / (employees + reference_employees)
        if distribution.psi_approximation_holds(employees, reference_employees, null_shares):
            method, drift_threshold = "chi2", threshold
        else:
            method = "monte_carlo"
            drift_threshold = distribution.simulated_psi_threshold(observed, reference_counts, target_shares=target)
        judged = min(employees, reference_employees or employees) >= policy.min_group_size
        return (group_id, latest_name[group_id], cycle_id, reference_id, employees, value, threshold,
                (value > drift_threshold) if judged else None, kind, reference_employees, distribution.psi_band(value),
                shares[top].sum(), shares[top].sum() - reference_shares[top].sum(), drift_threshold, method)

    rows = []
    keys = sorted(graded, key=lambda key: (position[key[1]], latest_name[key[0]], key[0]))
    for group_id, cycle_id in keys:
        observed = graded[(group_id, cycle_id)]
        previous = cycles[position[cycle_id] - 1] if position[cycle_id] > 0 else None
        if (group_id, previous) in graded:
            rows.append(compare(group_id, cycle_id, observed, "previous", previous, graded[(group_id, previous)]))
        first = first_cycle[group_id]
        if first != cycle_id:
            rows.append(compare(group_id, cycle_id, observed, "first", first, graded[(group_id, first)]))
        rows.append(compare(group_id, cycle_id, observed, TARGET, TARGET, None))
    frame = pd.DataFrame(rows, columns=["group_id", "group_name", "cycle_id", "reference_cycle_id", "employees", "psi",
                                        "psi_threshold", "drifted", "reference", "reference_employees", "psi_band",
                                        "top_share", "top_share_change", "drift_threshold", "threshold_method"])
    return frame.astype({"employees": "int64", "psi": "float64", "psi_threshold": "float64", "drifted": "boolean",
                         "reference_employees": "Int64", "top_share": "float64", "top_share_change": "float64",
                         "drift_threshold": "float64"})


# --- What the page draws (charts and display tables) -----------------------------------------

# Guideline comparison


def distance_from_target(distribution_rows: pd.DataFrame) -> pd.Series:
    """Per group_id: half the sum of |share - target_share| (the share of people who would have
    to change grade to match the guideline; 0 = on the guideline)."""
    gaps = (distribution_rows["share"] - distribution_rows["target_share"]).abs()
    return gaps.groupby(distribution_rows["group_id"]).sum() / 2


def distribution_chart(distribution_rows: pd.DataFrame, max_groups: int = CHART_GROUPS) -> go.Figure:
    """Stacked horizontal bars of grade shares per group, the guideline as the top bar.

    Groups farthest from the guideline come first; at most `max_groups` are drawn.
    Expects grade_distribution's columns.
    """
    distance = distance_from_target(distribution_rows).sort_values(ascending=False, kind="stable")
    shown = distribution_rows[distribution_rows["group_id"].isin(distance.index[:max_groups])]
    groups = shown.drop_duplicates("group_id")
    names = unique_labels(groups["group_id"], groups["group_name"])
    label = {g: f"{name} · {n}" for g, name, n in zip(groups["group_id"], names, groups["group_employees"])}
    order = [label[g] for g in distance.index[:max_groups]]
    guideline = t("grades.chart_guideline")
    fig = go.Figure()
    for grade, rows in shown.groupby("grade", sort=False):
        target_share = float(rows["target_share"].iloc[0])
        fig.add_bar(
            y=[guideline, *rows["group_id"].map(label)],
            x=[target_share, *rows["share"]],
            customdata=[[""], *[[t("grades.chart_people", count=n)] for n in rows["employees"]]],
            orientation="h",
            name=grade,
            marker_color=grade_color(grade),
            hovertemplate=t("grades.chart_hover_share") + "<extra></extra>",
        )
    fig.update_layout(barmode="stack", bargap=0.25, legend_traceorder="normal")
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed([guideline, *order])), title=None)
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title=None)
    return style(fig, height=140 + 26 * (len(order) + 1))


def share_table(distribution_rows: pd.DataFrame) -> pd.DataFrame:
    """Group x grade shares as percent text, a guideline row first, groups by name."""
    grades = list(distribution_rows.drop_duplicates("grade").sort_values("grade_rank")["grade"])
    # reindex keeps the grade columns even when every share is missing (hidden from a viewer)
    wide = distribution_rows.pivot_table(index=["group_name", "group_id", "group_employees"], columns="grade",
                                         values="share", aggfunc="first").reindex(columns=grades).reset_index()
    guideline = distribution_rows.drop_duplicates("grade").set_index("grade")["target_share"]
    first = pd.DataFrame([{"group_name": t("grades.chart_guideline"), "group_id": "", "group_employees": "",
                           **guideline.to_dict()}])
    wide["group_employees"] = wide["group_employees"].map(format_count)
    table = pd.concat([first, wide], ignore_index=True)
    for grade in grades:
        table[grade] = table[grade].map(percent)
    table["group_id"] = table["group_id"].map(_shown_id)
    return table.rename(columns={"group_employees": "employees"})


def _shown_id(group_id: str) -> str:
    """A group id for a table cell: the id of the ungrouped, '(none)', in words."""
    return value_label("group", group_id)


# Calibration sheet


def worksheet_table(worksheet: pd.DataFrame) -> pd.DataFrame:
    """The calibration sheet one group per row: for each grade 'actual / guideline (gap)'.

    Expects calibration_worksheet's columns; a gap is written with its sign (+3 excess, -2 shortfall).
    """
    texts = [_cell_text(*values) for values in zip(worksheet["actual"], worksheet["guideline"], worksheet["gap"])]
    cells = worksheet.assign(cell=texts)
    grades = list(worksheet.drop_duplicates("grade").sort_values("grade_rank")["grade"])
    wide = cells.pivot_table(index=["group_name", "group_id", "employees"], columns="grade", values="cell",
                             aggfunc="first")[grades]
    return wide.reset_index()


def worksheet_styled(worksheet: pd.DataFrame):
    """worksheet_table with the cells outside the guideline shaded (a pandas Styler)."""
    wide = worksheet_table(worksheet)
    outside = worksheet.pivot_table(index="group_id", columns="grade", values="outside_guideline", aggfunc="first")
    grades = [c for c in wide.columns if c in outside.columns]
    mask = outside.reindex(index=wide["group_id"], columns=grades).fillna(False).astype(bool).to_numpy()

    def shade(frame: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=frame.index, columns=frame.columns)
        css[grades] = np.where(mask, "background-color: #f9d6cf; font-weight: bold", "")
        return css

    return wide.assign(group_id=wide["group_id"].map(_shown_id)).style.apply(shade, axis=None)


def rule_explanation(worksheet: pd.DataFrame) -> str:
    """The rounding rule in words, for the grades of this worksheet."""
    return " ".join(_rule_text(worksheet))


def _rule_text(worksheet: pd.DataFrame) -> list[str]:
    """The rounding rule for this worksheet's grades, one sentence per kind of bound."""
    rules = worksheet.drop_duplicates("grade").sort_values("grade_rank")
    grades, target, kinds = list(rules["grade"]), list(rules["target_share"]), list(rules["rule"])

    def share(value: float) -> str:
        return f"{round(value * 100, 4):g}%"

    caps = [f"{'+'.join(grades[: k + 1])} ≤ ⌈{share(sum(target[: k + 1]))} N⌉"
            for k in range(len(grades)) if kinds[k] == distribution.AT_MOST]
    floors = [f"{'+'.join(grades[k:])} ≥ ⌊{share(sum(target[k:]))} N⌋"
              for k in reversed(range(len(grades))) if kinds[k] == distribution.AT_LEAST]
    middle = grades[kinds.index(distribution.REMAINDER)]
    lines = []
    if caps:
        lines.append(t("grades.rule_caps", bounds=", ".join(caps)))
    if floors:
        lines.append(t("grades.rule_floors", bounds=", ".join(floors)))
    return [*lines, t("grades.rule_middle", grade=middle)]


def worksheet_html(worksheet: pd.DataFrame, title: str, subtitle: str) -> str:
    """The calibration sheet as a self-contained HTML page styled for printing (A4 landscape).

    Cells outside the guideline (cumulative cap exceeded or floor not met) are shaded.
    """
    grades = list(worksheet.drop_duplicates("grade").sort_values("grade_rank")["grade"])
    head = "".join(f"<th>{html.escape(g)}</th>" for g in grades)
    body = []
    for (group_name, _), rows in worksheet.groupby(["group_name", "group_id"], sort=False):
        rows = rows.set_index("grade")
        cells = []
        for grade in grades:
            row = rows.loc[grade]
            text = _cell_text(row.actual, row.guideline, row.gap)
            # a hidden cell (gradelens.privacy: NA) is not shaded
            css = ' class="outside"' if pd.notna(row.outside_guideline) and bool(row.outside_guideline) else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        employees = str(int(rows["employees"].iloc[0])) if pd.notna(rows["employees"].iloc[0]) else "–"
        body.append(f"<tr><th scope=\"row\">{html.escape(str(group_name))}</th><td>{employees}</td>{''.join(cells)}</tr>")
    notes = "".join(f"<li>{html.escape(line)}</li>" for line in
                    [t("grades.print_cell"), *_rule_text(worksheet), t("grades.print_outside")])
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
@page {{ size: A4 landscape; margin: 12mm; }}
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; font-size: 11pt; color: #222; }}
h1 {{ font-size: 16pt; margin: 0 0 2mm; }} p {{ margin: 0 0 4mm; color: #555; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #999; padding: 1.5mm 2mm; text-align: right; }}
th[scope=row], thead th:first-child {{ text-align: left; }}
thead th {{ background: #eee; }} tr {{ page-break-inside: avoid; }}
td.outside {{ background: #f9d6cf; font-weight: bold; -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
ul {{ margin-top: 4mm; color: #555; font-size: 9.5pt; }}
</style></head><body>
<h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>
<table><thead><tr><th>{html.escape(t("grades.col_group_name"))}</th><th>{html.escape(t("grades.col_employees"))}</th>{head}</tr></thead>
<tbody>{''.join(body)}</tbody></table>
<ul>{notes}</ul>
</body></html>
"""


def _cell_text(actual: int, guideline: int, gap: int) -> str:
    """'8 / 5 (+3)': actual / guideline (gap with its sign); no gap when it is zero.

    A cell hidden from the viewer (a small group, see gradelens/privacy.py) shows '–'.
    """
    if any(pd.isna(value) for value in (actual, guideline, gap)):
        return "–"
    actual, guideline, gap = int(actual), int(guideline), int(gap)
    return f"{actual} / {guideline} ({gap:+d})" if gap else f"{actual} / {guideline}"


# Deviation test


def deviation_table(tested: pd.DataFrame) -> pd.DataFrame:
    """grade_deviation_test for display: p-values as text, methods in words, most deviating first."""
    rows = tested.sort_values(["p_value", "group_name"], na_position="last")
    return pd.DataFrame({
        "group_name": rows["group_name"],
        "employees": rows["employees"],
        "chi2": rows["chi2"].map(lambda v: "–" if pd.isna(v) else f"{v:.2f}"),
        "p_value": rows["p_value"].map(_p_value),
        "method": rows["method"].map(lambda m: t(f"grades.method_{m}")),
        "deviates": rows["deviates"].map(lambda d: "–" if pd.isna(d) else t("grades.yes") if d else t("grades.no")),
    })


def _p_value(p: float) -> str:
    return "–" if pd.isna(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"


# Calibration impact


def changes_table(changes: pd.DataFrame) -> pd.DataFrame:
    """calibration_changes with shares as percent text."""
    table = changes.drop(columns=["group_id"]).copy()
    for column in ("share_up", "share_down", "share_unchanged"):
        table[column] = table[column].map(percent)
    return table


def transition_heatmap(transitions: pd.DataFrame) -> go.Figure:
    """Proposed grade (rows) x final grade (columns), people per cell. Expects calibration_transitions."""
    grades = list(transitions.drop_duplicates("proposed_grade").sort_values("proposed_rank")["proposed_grade"])
    matrix = transitions.pivot(index="proposed_grade", columns="final_grade", values="employees").loc[grades, grades]
    fig = go.Figure(go.Heatmap(
        z=matrix.to_numpy(), x=grades, y=grades, text=matrix.to_numpy(), texttemplate="%{text}",
        colorscale="Blues", showscale=False, hovertemplate=t("grades.chart_hover_transition") + "<extra></extra>",
    ))
    fig.update_xaxes(title=t("grades.chart_final"), side="top", type="category")
    fig.update_yaxes(title=t("grades.chart_proposed"), autorange="reversed", type="category")
    return style(fig, height=340)


# Grade vs attainment


def bands_text(bands: str, grades: tuple[str, ...]) -> str:
    """'1.25,1.10,0.95,0.70' -> 'S ≥ 125%, A ≥ 110%, B ≥ 95%, C ≥ 70%, D below 70%'."""
    bounds = [float(b) for b in bands.split(",")]
    parts = [f"{grade} ≥ {percent(bound, 0)}" for grade, bound in zip(grades, bounds)]
    return ", ".join([*parts, t("grades.bands_rest", grade=grades[-1], bound=percent(bounds[-1], 0))])


def mismatch_table(mismatch: pd.DataFrame) -> pd.DataFrame:
    """grade_attainment_mismatch for display: attainment as percent, gap with its sign."""
    return pd.DataFrame({
        "employee_id": mismatch["employee_id"],
        "name": mismatch["name"],
        "department": mismatch["department"],
        "final_grade": mismatch["final_grade"],
        "attainment": mismatch["attainment"].map(percent),
        "expected_grade": mismatch["expected_grade"],
        "gap": mismatch["gap"].map(lambda g: f"{int(g):+d}"),
    })


# Drift


def drift_groups(drift: pd.DataFrame, reference: str, max_groups: int = CHART_GROUPS) -> list[str]:
    """The group_ids the drift heatmap shows, by name: all, or the `max_groups` whose PSI comes
    closest to (or furthest past) its threshold in some cycle (largest psi / drift_threshold)."""
    rows = drift[drift["reference"] == reference]
    ratio = (rows["psi"] / rows["drift_threshold"]).groupby(rows["group_id"]).max()
    keep = set(ratio.sort_values(ascending=False, kind="stable").index[:max_groups])
    groups = drift.drop_duplicates("group_id").sort_values(["group_name", "group_id"])
    return [g for g in groups["group_id"] if g in keep]


def drift_heatmap(drift: pd.DataFrame, reference: str, group_ids: list[str]) -> go.Figure:
    """Group x cycle PSI against `reference` ("previous", "first" or "target", grade_drift's
    reference column), for the groups `group_ids` in that order.

    The colour is PSI / drift_threshold (1 = at the threshold), since a PSI that is noise for a
    team of 8 is a real shift for 500 people; the text is the PSI, with a ● where it drifted.
    Expects grade_drift's rows (cycles in dataset order).
    """
    rows = drift[drift["reference"] == reference].assign(
        ratio=lambda r: r["psi"] / r["drift_threshold"], flag=lambda r: r["drifted"].fillna(False).astype(bool),
        band=lambda r: r["psi_band"].map(lambda band: t(f"grades.band_{band}")))
    cycles = list(dict.fromkeys(rows["cycle_id"]))  # the first cycle has no previous or first cycle to compare with
    names = drift.drop_duplicates("group_id").set_index("group_id")["group_name"]
    labels = unique_labels(pd.Series(group_ids), names.reindex(group_ids))

    def grid(column: str) -> np.ndarray:
        return rows.pivot_table(index="group_id", columns="cycle_id", values=column, aggfunc="first").reindex(
            index=group_ids, columns=cycles).to_numpy(dtype=object)

    psi, threshold, ratio, flagged, band = (grid(c) for c in ("psi", "drift_threshold", "ratio", "flag", "band"))
    text = [["" if pd.isna(value) else f"{value:.3f}" + (" ●" if flag is True else "") for value, flag in zip(values, flags)]
            for values, flags in zip(psi, flagged)]
    fig = go.Figure(go.Heatmap(
        z=ratio.astype(float), x=cycles, y=labels, text=text, texttemplate="%{text}",
        customdata=np.dstack([psi, threshold, band]), colorscale=DRIFT_COLORSCALE, zmin=0, zmax=DRIFT_COLOR_MAX,
        colorbar=dict(title=t("grades.chart_psi_ratio"), tickvals=[0, 0.5, 1, DRIFT_COLOR_MAX],
                      ticktext=["0", "½", t("grades.chart_threshold"), f"≥ {DRIFT_COLOR_MAX:g}×"]),
        hovertemplate=t("grades.chart_hover_psi") + "<extra></extra>",
    ))
    fig.update_xaxes(type="category", title=None)
    fig.update_yaxes(autorange="reversed", title=None, type="category")
    return style(fig, height=140 + 28 * len(labels))


def drift_table(drift: pd.DataFrame, reference: str) -> pd.DataFrame:
    """The drifted rows against `reference`, for display: largest PSI first."""
    rows = drift[(drift["reference"] == reference) & drift["drifted"].fillna(False).astype(bool)]
    rows = rows.sort_values("psi", ascending=False)
    return pd.DataFrame({
        "group_name": rows["group_name"],
        "cycle_id": rows["cycle_id"],
        "reference_cycle_id": rows["reference_cycle_id"].map(lambda c: t("grades.reference_target") if c == TARGET else c),
        "employees": rows["employees"],
        "psi": rows["psi"].map(lambda v: f"{v:.3f}"),
        "drift_threshold": rows["drift_threshold"].map(lambda v: f"{v:.3f}"),
        "threshold_method": rows["threshold_method"].map(lambda m: t(f"grades.threshold_{m}")),
        "psi_band": rows["psi_band"].map(lambda band: t(f"grades.band_{band}")),
        "top_share_change": rows["top_share_change"].map(_points),
    })


def _points(change: float) -> str:
    """A change of share in percentage points with its sign: 0.0833 -> '+8.3 pp'."""
    return "–" if pd.isna(change) else t("grades.points", value=f"{change * 100:+.1f}")


# Shared by the page's tables and charts


def column_labels() -> dict[str, str]:
    """Column headers of every table on the page, in the current language."""
    names = ("group_name", "group_id", "employees", "chi2", "p_value", "method", "deviates", "graded", "moved_up",
             "share_up", "moved_down", "share_down", "unchanged", "share_unchanged", "pending", "net_steps_up",
             "employee_id", "name", "department", "final_grade", "attainment", "expected_grade", "gap", "cycle_id",
             "reference_cycle_id", "psi", "drift_threshold", "threshold_method", "psi_band", "top_share_change")
    return {name: t(f"grades.col_{name}") for name in names}


def unique_labels(group_ids: pd.Series, group_names: pd.Series) -> list[str]:
    """Group names for chart axes; a name two groups share (two managers called Li Na) gets its id added."""
    names = list(group_names)
    repeated = {name for name in names if names.count(name) > 1}
    return [f"{name} ({group_id})" if name in repeated else str(name) for group_id, name in zip(group_ids, names)]
