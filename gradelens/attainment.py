"""The Attainment page's helpers: the heatmap cell selection (a pure handler plus the state that
makes the view linkable), chart builders and the shapes of its tables.

The numbers come from named queries (queries/attainment_*.sql, goal_*.sql, ...) built on the
shared definitions in gradelens/definitions.sql; nothing here computes attainment itself except
where the cascade chart groups goals it cannot show one by one (`cascade_nodes`), which weighs
them as `owner_attainment` does: sum(weight * attainment) / sum(weight) over goals with an
attainment and a positive weight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from gradelens import charts, ui
from gradelens.i18n import each_label, format_count, format_date, t, value_label

# Goal status thresholds; the SQL files repeat them (goal_cascade, attainment_headline,
# strategy_theme_attainment) and charts.ATTAINMENT_COLORSCALE turns at the same points.
ON_TRACK = 1.0  # attainment >= 100 %
AT_RISK = 0.8  # 80 % <= attainment < 100 %; below is off track
STATUSES = ("on_track", "at_risk", "off_track")
STATUS_COLORS = {"on_track": "#1b7837", "at_risk": "#f2a35e", "off_track": "#c8423b"}
MISSING_COLOR = "#d9d9d9"

# The tables the page needs; without kpi_actuals every goal is shown without attainment.
NEEDS = ("cycles", "employees", "goals")
ACTUALS = ("kpi_actuals",)

# The cascade chart draws at most about this many nodes, grouping goals of these owner types
# (in this order) under their parent when there would be more; the tables list individual goals
# up to MAX_TABLE_GOALS goals.
MAX_CHART_NODES = 600
COLLAPSIBLE = ("employee", "team")
MAX_TABLE_GOALS = 2500  # goal_cascade's max_goals default: the query leaves out the rest the same way
LEFT_OUT = "left_out"  # the id suffix of a node standing for the goals goal_cascade left out under a goal
DETAIL_LEFT_OUT = {"employee": (), "team": ("employee",), "department": ("employee", "team")}  # goal_cascade's detail
ROOT_NODE = "__all__"  # one root, so plotly leaves no blank column for several roots
UNLINKED_NODE = "__unlinked__"
GROUP_SEPARATOR = "::"
LABEL_LENGTH = 40

# The named queries behind the page, in page order.
QUERIES = ("attainment_headline", "attainment_data_quality", "attainment_department_region", "attainment_by_department",
           "attainment_by_region", "goal_cascade", "strategy_theme_attainment", "goal_alignment", "unlinked_goals",
           "attainment_trend", "attainment_trend_by_cycle", "team_attainment")

ISSUES = ("target_not_positive", "weight_out_of_range", "weights_not_one", "parent_missing",
          "parent_other_cycle", "actual_outside_cycle")

Cell = tuple[str, str]  # (department_id, region) of a heatmap cell
CELL_SEPARATOR = "|"
CELL_URL_KEY = "cell"
AS_OF_URL_KEY = "as_of"
_CELL_STATE = "attainment_cell"
_PICK_STATE = "attainment_last_pick"
_CHART_GENERATION = "attainment_heatmap_generation"


# --- The heatmap selection ------------------------------------------------------------------

def selected_cell(event: Any) -> Cell | None:
    """The (department_id, region) of the heatmap cell a plotly selection event picked.

    `event` is what `st.plotly_chart(..., on_select="rerun")` returns:
    `{"selection": {"points": [{"customdata": [department_id, region, ...], ...}], ...}}`.
    The heatmap's clickable layer carries the cell's ids in customdata (plotly heatmaps
    themselves send no selection). None when nothing usable is selected: no event, no points,
    or a cell without a department (those cannot be filtered to). With several points, the
    first usable one wins.
    """
    selection = event.get("selection") if isinstance(event, Mapping) else None
    points = selection.get("points") if isinstance(selection, Mapping) else None
    if not isinstance(points, list):
        return None
    for point in points:
        customdata = point.get("customdata") if isinstance(point, Mapping) else None
        if isinstance(customdata, (list, tuple)) and len(customdata) >= 2:
            department_id, region = customdata[0], customdata[1]
            if isinstance(department_id, str) and department_id and isinstance(region, str) and region:
                return department_id, region
    return None


def format_cell(cell: Cell) -> str:
    """A cell as the URL's `cell` value: 'D1|East'."""
    return f"{cell[0]}{CELL_SEPARATOR}{cell[1]}"


def parse_cell(text: object) -> Cell | None:
    """The URL's `cell` value back as a cell; None for anything malformed. Department ids hold
    no '|'; the region is everything after the first one."""
    if not isinstance(text, str):
        return None
    department_id, separator, region = text.partition(CELL_SEPARATOR)
    if not separator or not department_id or not region:
        return None
    return department_id, region


def cell_options(cells: pd.DataFrame | None) -> set[Cell]:
    """The cells of the heatmap that can be selected (those with a department)."""
    if cells is None or cells.empty:
        return set()
    known = cells.dropna(subset=["department_id", "region"])
    return set(zip(known["department_id"].astype(str), known["region"].astype(str)))


def heatmap_key() -> str:
    """The chart's widget key; it changes when the selection is cleared so plotly's own
    selection is reset too (a chart's selection cannot be set from Python)."""
    return f"attainment_heatmap_{st.session_state.get(_CHART_GENERATION, 0)}"


def current_cell(cells: pd.DataFrame | None) -> Cell | None:
    """The selected cell: from session state, else the URL; dropped when the heatmap (the
    cycle or the sidebar filters) no longer has it. Kept in the URL so the view is linkable."""
    if _CELL_STATE not in st.session_state:
        st.session_state[_CELL_STATE] = parse_cell(st.query_params.get(CELL_URL_KEY))
    cell = st.session_state[_CELL_STATE]
    if cell is not None and cell not in cell_options(cells):
        cell = None
    _set_cell(cell)
    return cell


def follow_selection(event: Any, cells: pd.DataFrame | None) -> Cell | None:
    """The selected cell after the heatmap's selection event: a click on another cell selects it.

    The chart's figure never depends on the selected cell: Streamlit gives a chart a new
    identity (and an empty selection) whenever its figure changes, so a figure drawn from the
    selection would undo it on the next run. For the same reason an empty selection (a new as-of
    date or filter redrew the chart, or the user clicked the cell again) keeps the cell; the
    clear button (`clear_cell`) is the way back to everything.
    """
    picked = selected_cell(event)
    last = st.session_state.get(_PICK_STATE)
    st.session_state[_PICK_STATE] = picked
    if picked is not None and picked != last and picked in cell_options(cells):
        _set_cell(picked)
    return st.session_state.get(_CELL_STATE)


def clear_cell() -> None:
    """The clear button's callback: no cell, and a fresh chart without plotly's selection."""
    _set_cell(None)
    st.session_state[_PICK_STATE] = None
    st.session_state[_CHART_GENERATION] = st.session_state.get(_CHART_GENERATION, 0) + 1


def _set_cell(cell: Cell | None) -> None:
    st.session_state[_CELL_STATE] = cell
    if cell is None:
        if CELL_URL_KEY in st.query_params:
            del st.query_params[CELL_URL_KEY]
    elif st.query_params.get(CELL_URL_KEY) != format_cell(cell):
        st.query_params[CELL_URL_KEY] = format_cell(cell)


def narrowed_scope(filters: ui.Filters, cell: Cell | None) -> dict[str, object]:
    """The sidebar's scope, narrowed to the selected cell when there is one."""
    if cell is None:
        return filters.scope
    return {"cycle": filters.cycle, "department": cell[0], "region": cell[1]}


def later_questions(as_of: object, scope: dict[str, object]) -> dict[str, dict[str, object]]:
    """The page's questions below the cascade, with their parameters: none depends on another's
    answer, so the page starts them together (ui.start) and draws each as it comes."""
    return {
        "strategy_theme_attainment": {"as_of": as_of, **scope},
        "goal_alignment": dict(scope),
        "unlinked_goals": dict(scope),
        "attainment_trend": {"as_of": as_of, **scope},
        "attainment_trend_by_cycle": {"department": scope["department"], "region": scope["region"]},
        "team_attainment": {"as_of": as_of, **scope},
    }


def cell_label(cells: pd.DataFrame, cell: Cell) -> str:
    """'Sales × East' for a selected cell."""
    names = cells.loc[cells["department_id"] == cell[0], "department"]
    return f"{names.iloc[0] if not names.empty else cell[0]} × {cell[1]}"


# --- The as-of date ---------------------------------------------------------------------------

def as_of_input(cycles: pd.DataFrame | None, cycle: str) -> dt.date | None:
    """A date input within the cycle (default: its end), kept in the URL's `as_of` when it is not
    the end. None for the end, or when the dataset has no dates for the cycle: the queries then
    use the end, and read each goal's latest actual precomputed (gradelens/derived.py)."""
    row = None if cycles is None else cycles.loc[cycles["cycle_id"] == cycle]
    if row is None or row.empty:
        return None
    start, end = _as_date(row["start_date"].iloc[0]), _as_date(row["end_date"].iloc[0])
    key = f"attainment_as_of_{cycle}"
    if key not in st.session_state:
        st.session_state[key] = clamp_date(st.query_params.get(AS_OF_URL_KEY), start, end)
    chosen = st.date_input(t("attainment.as_of"), min_value=start, max_value=end, key=key,
                           help=t("attainment.as_of_help"), format="YYYY-MM-DD") or end
    if chosen == end:
        st.query_params.pop(AS_OF_URL_KEY, None)
        return None
    st.query_params[AS_OF_URL_KEY] = chosen.isoformat()
    return chosen


def clamp_date(text: object, start: dt.date, end: dt.date) -> dt.date:
    """A date from the URL inside [start, end]; the end when missing or malformed."""
    try:
        value = dt.date.fromisoformat(str(text))
    except ValueError:
        return end
    return min(max(value, start), end)


def _as_date(value: object) -> dt.date:
    return pd.Timestamp(value).date()


# --- Headline ---------------------------------------------------------------------------------

def headline_rows(headline: pd.DataFrame | None) -> tuple[pd.Series | None, pd.Series]:
    """The current and previous rows of attainment_headline. The current is None without data;
    the previous is all missing when there is no previous cycle, so its deltas come out empty."""
    if headline is None or headline.empty:
        return None, pd.Series(dtype=object)
    headline = headline.assign(as_of=[None if _missing(v) else _as_date(v) for v in headline["as_of"]])
    by_period = {row["period"]: row for _, row in headline.iterrows()}
    empty = pd.Series(index=headline.columns, dtype=object)
    return by_period.get("current"), by_period.get("previous", empty)


def delta_points(current: object, previous: object) -> str | None:
    """The change between two shares in percentage points ('+2.5 pp'); None when either is missing."""
    if _missing(current) or _missing(previous):
        return None
    return t("attainment.delta_points", value=f"{(float(current) - float(previous)) * 100:+.1f}")


def headline_metrics(now: pd.Series, before: pd.Series) -> None:
    """The five headline figures of attainment_headline, each with its change since the
    previous cycle in percentage points."""
    company, people, *statuses = st.columns(5)
    company.metric(t("attainment.company_goals"), charts.percent(now["company_goal_attainment"]),
                   delta=delta_points(now["company_goal_attainment"], before.get("company_goal_attainment")),
                   help=t("attainment.company_goals_help"))
    people.metric(t("attainment.people"), charts.percent(now["attainment"]),
                  delta=delta_points(now["attainment"], before.get("attainment")), help=t("attainment.people_help"))
    # More goals off track is worse: its change is coloured the other way; at risk is neutral.
    for column, status, colour in zip(statuses, STATUSES, ("normal", "off", "inverse")):
        share = f"{status}_share"
        column.metric(t(f"attainment.status_{status}"), charts.percent(now[share]), delta_color=colour,
                      delta=delta_points(now[share], before.get(share)), help=t("attainment.status_help"))


def coverage_text(now: pd.Series, before: pd.Series) -> str:
    """Who and what the headline counts, and what it compares with."""
    text = t("attainment.coverage", with_attainment=format_count(now["employees_with_attainment"]),
             employees=format_count(now["employees"]), goals=format_count(now["goals_with_attainment"]),
             all_goals=format_count(now["goals"]), as_of=format_date(now["as_of"]))
    if _missing(before.get("cycle_id")):
        return f"{text} {t('attainment.no_previous')}"
    return f"{text} {t('attainment.previous', cycle=before['cycle_id'], as_of=format_date(before['as_of']))}"


def status_chart(headline: pd.DataFrame) -> go.Figure:
    """Stacked bars: the shares of goals on track, at risk and off track, this cycle and the previous."""
    rows = headline.dropna(subset=["on_track_share"])
    labels = [t(f"attainment.period_{p}", cycle=c) for p, c in zip(rows["period"], rows["cycle_id"])]
    fig = go.Figure()
    for status in STATUSES:
        fig.add_bar(
            y=labels, x=rows[f"{status}_share"], orientation="h", name=t(f"attainment.status_{status}"),
            marker_color=STATUS_COLORS[status], customdata=rows[[status, "goals_with_attainment"]],
            text=[charts.percent(v) for v in rows[f"{status}_share"]], textposition="inside",
            hovertemplate=t("attainment.hover_status") + "<extra></extra>",
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title=None)
    fig.update_yaxes(autorange="reversed", title=None)
    return charts.style(fig, height=150 + 30 * len(rows))


# --- Heatmap ----------------------------------------------------------------------------------

def heatmap_chart(cells: pd.DataFrame) -> go.Figure:
    """Department (rows) x region (columns) attainment with each cell's headcount.

    Expects the columns of attainment_department_region. A layer of transparent markers over
    the cells carries customdata [department_id, region] so a click selects a cell (plotly
    heatmaps send no selection events); it also writes the cells' text, which plotly dims in the
    cells not selected. The figure depends on the data only (see `follow_selection`).
    """
    cells = cells.assign(department_id=cells["department_id"].astype(object).where(cells["department_id"].notna(), None))
    departments = list(dict.fromkeys(cells["department"]))
    regions = sorted(dict.fromkeys(cells["region"].dropna()))
    grid = cells.pivot_table(index="department", columns="region", values="attainment", aggfunc="first", dropna=False)
    grid = grid.reindex(index=departments, columns=regions)
    fig = go.Figure()
    # The clickable layer comes first so it is trace 0 for whoever looks for the chart's points;
    # plotly finds the point under the mouse whatever the drawing order.
    fig.add_scatter(
        x=cells["region"], y=cells["department"], mode="markers+text",
        text=[_cell_text(a, n) for a, n in zip(cells["attainment"], cells["employees"])],
        marker=dict(size=36, symbol="square", color="rgba(0,0,0,0)"),
        customdata=cells[["department_id", "region", "employees", "employees_with_attainment"]].assign(
            attainment=[charts.percent(v) for v in cells["attainment"]]).to_numpy(dtype=object),
        hovertemplate=t("attainment.hover_cell") + "<extra></extra>", showlegend=False,
        selected=dict(marker=dict(opacity=1), textfont=dict(color=charts.TARGET_COLOR)),
        unselected=dict(marker=dict(opacity=1), textfont=dict(color="rgba(34, 34, 34, 0.3)")),
        textfont=dict(color=charts.TARGET_COLOR),
    )
    fig.add_heatmap(
        z=grid.to_numpy(dtype=float), x=regions, y=departments,
        colorscale=charts.ATTAINMENT_COLORSCALE, zmin=charts.ATTAINMENT_RANGE[0], zmax=charts.ATTAINMENT_RANGE[1],
        colorbar=dict(tickformat=".0%", title=None, thickness=12), hoverinfo="skip", xgap=2, ygap=2,
    )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=regions, title=None, side="top")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=departments, title=None, autorange="reversed")
    # A click a little off a cell's centre still picks that cell.
    fig.update_layout(clickmode="event+select", dragmode=False, hoverdistance=60)
    return charts.style(fig, height=120 + 44 * max(len(departments), 1))


def _cell_text(attainment: object, employees: object) -> str:
    if _missing(employees):
        return ""
    return t("attainment.heatmap_text", attainment=charts.percent(None if _missing(attainment) else float(attainment)),
             employees=format_count(employees))


# --- The cascade ------------------------------------------------------------------------------

def attainment_colors(values: object) -> list[str]:
    """The shared attainment colour scale at each value (grey where there is none)."""
    values = list(values)
    low, high = charts.ATTAINMENT_RANGE
    present = [i for i, v in enumerate(values) if not _missing(v)]
    positions = [min(max((float(values[i]) - low) / (high - low), 0.0), 1.0) for i in present]
    colors = [MISSING_COLOR] * len(values)
    for i, color in zip(present, plotly.colors.sample_colorscale(charts.ATTAINMENT_COLORSCALE, positions) if positions else []):
        colors[i] = color
    return colors


def cascade_nodes(cascade: pd.DataFrame, max_nodes: int = MAX_CHART_NODES) -> pd.DataFrame:
    """The nodes of the cascade chart from goal_cascade rows: id, parent, label, owner,
    attainment, children_attainment, goals (how many goals the node stands for), size (goals in
    its subtree, the node's area), masks_shortfall.

    Every goal hangs under one root node: company goals and goals whose parent is shown keep
    their place; other roots (goals with no parent, or a parent link that does not count) hang
    under one "not linked" node, as do the query's rows summing the roots it left out. When that
    would make more than `max_nodes` nodes (a browser draws a few hundred boxes quickly,
    thousands slowly, and nobody reads them), each parent's individual goals become one node,
    then, if still too many, its team goals too; such a node's attainment is the weighted
    attainment of the goals it stands for, and its area counts every goal beneath them. The
    tables and the download keep every goal.
    """
    return _cascade_nodes(cascade, max_nodes, presum=True)


def _cascade_nodes(cascade: pd.DataFrame, max_nodes: int, presum: bool) -> pd.DataFrame:
    columns = ["id", "parent", "label", "owner", "attainment", "children_attainment", "goals", "size", "masks_shortfall"]
    if cascade is None or cascade.empty:
        return pd.DataFrame(columns=columns)
    cascade, loose_groups = split_left_out_roots(cascade)
    # Plain Python strings: pandas' Arrow-backed strings make isin() slow on tens of thousands of goals.
    goals = cascade.astype({"goal_id": object, "parent_goal_id": object, "owner_type": object})
    linked = goals["parent_goal_id"].isin(set(goals["goal_id"]))
    goals["parent"] = goals["parent_goal_id"].where(linked, ROOT_NODE)
    goals.loc[~linked & (goals["owner_type"] != "company"), "parent"] = UNLINKED_NODE
    # Individual goals under "not linked" with no goal beneath them (goal_cascade returns them
    # one by one when it leaves out no level) always become one node when they alone are more
    # than max_nodes: they are summed here at once, and all but one leave the tree work below,
    # which would give them the same node (a test compares both ways).
    loose = goals["parent"].eq(UNLINKED_NODE) & goals["owner_type"].eq("employee") & ~goals["goal_id"].isin(set(goals["parent"]))
    summed = goals.iloc[0:0]
    if presum and int(loose.sum()) > max_nodes:
        aside = np.flatnonzero(loose.to_numpy())[1:]  # the first stays: it makes the group node
        summed = goals.iloc[aside].assign(subtree=1 + _column(goals.iloc[aside], "left_out_goals", 0).fillna(0).astype(int))
        kept = np.ones(len(goals), dtype=bool)
        kept[aside] = False
        goals = goals[kept]
    tree = _GoalTree.of(goals["goal_id"], goals["parent"])
    # Goals the query left out (goal_cascade's max_goals) count in their kept ancestor's area.
    left_out_goals = _column(goals, "left_out_goals", 0).fillna(0).astype(int).to_numpy()
    goals["subtree"] = tree.subtree_sizes(1 + left_out_goals)
    owner_types = goals["owner_type"].to_numpy(dtype=object)
    collapsed: set[str] = set()
    hidden = np.zeros(len(goals), dtype=bool)
    for owner_type in COLLAPSIBLE:
        if _node_count(goals, hidden) <= max_nodes and (summed.empty or owner_type != "employee"):
            break
        collapsed.add(owner_type)
        hidden = tree.hidden(np.isin(owner_types, list(collapsed)))
    visible = goals[~hidden]
    nodes = [dict(id=row.goal_id, parent=row.parent, label=_goal_label(row), owner=_text(row.owner_name) or row.owner_id,
                  attainment=row.attainment, children_attainment=row.children_attainment, goals=1,
                  masks_shortfall=bool(row.masks_shortfall)) for row in visible.itertuples(index=False)]
    members = goals[hidden & goals["parent"].isin(set(visible["goal_id"]) | {ROOT_NODE, UNLINKED_NODE})]
    members = pd.concat([members, summed]) if not summed.empty else members
    if not members.empty or not loose_groups.empty:
        usable = members["attainment"].notna() & (members["weight"] > 0)
        parts = pd.DataFrame({
            "parent": members["parent"], "owner_type": members["owner_type"], "count": 1, "subtree": members["subtree"],
            "weight": members["weight"].where(usable, 0.0),
            "weighted": (members["weight"] * members["attainment"]).where(usable, 0.0),
        })
        if not loose_groups.empty:  # such a row's weight is that of its goals with an attainment
            usable = loose_groups["left_out_attainment"].notna() & (loose_groups["weight"] > 0)
            loose_parts = pd.DataFrame({
                "parent": UNLINKED_NODE, "owner_type": loose_groups["owner_type"].astype(object),
                "count": loose_groups["left_out_children"].astype(int), "subtree": loose_groups["left_out_goals"].astype(int),
                "weight": loose_groups["weight"].where(usable, 0.0),
                "weighted": (loose_groups["weight"] * loose_groups["left_out_attainment"]).where(usable, 0.0),
            })
            parts = pd.concat([parts, loose_parts], ignore_index=True) if not members.empty else loose_parts
        sums = parts.groupby(["parent", "owner_type"], sort=True).agg(
            count=("count", "sum"), goals=("subtree", "sum"), weight=("weight", "sum"), weighted=("weighted", "sum"))
        for (parent, owner_type), count, goals_below, weight, weighted in zip(
                sums.index, sums["count"], sums["goals"], sums["weight"], sums["weighted"]):
            nodes.append(dict(
                id=f"{parent}{GROUP_SEPARATOR}{owner_type}", parent=parent,
                label=t(f"attainment.group_{owner_type}", count=format_count(count)), owner="",
                attainment=weighted / weight if weight > 0 else None,  # as owner_attainment weighs
                children_attainment=None, goals=int(goals_below), masks_shortfall=False,
            ))
    below = visible[_column(visible, "left_out_children", 0).fillna(0) > 0]
    for row in below.itertuples(index=False):
        nodes.append(dict(
            id=f"{row.goal_id}{GROUP_SEPARATOR}{LEFT_OUT}", parent=row.goal_id,
            label=t("attainment.group_left_out", count=format_count(row.left_out_goals)), owner="",
            attainment=row.left_out_attainment, children_attainment=None, goals=int(row.left_out_goals), masks_shortfall=False,
        ))
    frame = pd.DataFrame(nodes, columns=columns)
    groups = [dict(id=ROOT_NODE, parent="", label=t("attainment.root_node"), owner="", attainment=None,
                   children_attainment=None, goals=0, masks_shortfall=False)]
    if (frame["parent"] == UNLINKED_NODE).any():
        groups.append(dict(id=UNLINKED_NODE, parent=ROOT_NODE, label=t("attainment.unlinked_node"), owner="",
                           attainment=None, children_attainment=None, goals=0, masks_shortfall=False))
    frame = pd.concat([frame, pd.DataFrame(groups, columns=columns)], ignore_index=True)
    frame["size"] = _subtree_sizes(frame["id"].tolist(), frame["parent"].tolist(), frame["goals"].tolist())
    return frame


@dataclass(frozen=True)
class _GoalTree:
    """The goals' parent links as positions, for whole-array work on tens of thousands of goals."""

    parent: np.ndarray  # the position of each goal's parent, -1 for a root
    depth: np.ndarray  # links up to its root; a loop of links (bad data) stops at 64

    @classmethod
    def of(cls, goal_ids: pd.Series, parent_ids: pd.Series) -> _GoalTree:
        position = {goal_id: i for i, goal_id in enumerate(goal_ids)}
        parent = np.array([position.get(up, -1) for up in parent_ids], dtype=np.int64)
        depth = np.zeros(len(parent), dtype=np.int64)
        above = parent.copy()
        for _ in range(64):
            linked = above >= 0
            if not linked.any():
                break
            depth += linked
            above = np.where(linked, parent[np.maximum(above, 0)], -1)
        return cls(parent, depth)

    def _levels(self):
        """Goal positions by depth, deepest first, for goals with a parent."""
        for level in range(int(self.depth.max(initial=0)), 0, -1):
            yield np.flatnonzero((self.depth == level) & (self.parent >= 0))

    def subtree_sizes(self, own: np.ndarray | None = None) -> np.ndarray:
        """How many goals each goal's subtree holds, itself (`own` goals, default 1) included."""
        size = np.ones(len(self.parent), dtype=np.int64) if own is None else np.asarray(own, dtype=np.int64).copy()
        for at_level in self._levels():
            np.add.at(size, self.parent[at_level], size[at_level])
        return size

    def hidden(self, candidates: np.ndarray) -> np.ndarray:
        """The candidates that can be hidden: those with no goal shown beneath them, so that
        everything under a hidden goal is hidden too and stands in its group's count."""
        shown = ~candidates
        for at_level in self._levels():
            shown[self.parent[at_level[shown[at_level]]]] = True
        return ~shown


def _node_count(goals: pd.DataFrame, hidden: np.ndarray) -> int:
    """How many goal nodes the chart draws: the goals shown, and one per parent and owner type
    for the hidden goals right under a shown goal (or the root)."""
    shown = set(goals.loc[~hidden, "goal_id"]) | {ROOT_NODE, UNLINKED_NODE}
    at_shown_parent = goals[hidden & goals["parent"].isin(shown)]
    return int((~hidden).sum()) + len(at_shown_parent[["parent", "owner_type"]].drop_duplicates())


def _subtree_sizes(ids: list[str], parents: list[str], own: list[int]) -> list[int]:
    """How many goals each node's subtree holds (its own count plus its descendants'). A node
    in a loop of parent links (bad data) counts its own goals only."""
    children: dict[str, list[int]] = {}
    for position, parent in enumerate(parents):
        children.setdefault(parent, []).append(position)
    sizes = [0] * len(ids)
    done = [False] * len(ids)
    for root in (p for p, parent in enumerate(parents) if parent == ""):
        stack, order = [root], []
        while stack:  # iterative pre-order, then sizes bottom-up
            position = stack.pop()
            if done[position]:
                continue
            done[position] = True
            order.append(position)
            stack.extend(children.get(ids[position], []))
        for position in reversed(order):
            sizes[position] = int(own[position]) + sum(sizes[c] for c in children.get(ids[position], []) if done[c])
    return [size if finished else int(count) for size, finished, count in zip(sizes, done, own)]


def cascade_chart(cascade: pd.DataFrame, max_nodes: int = MAX_CHART_NODES) -> go.Figure:
    """An icicle of the cascade coloured by each goal's own attainment; each node's text gives its
    own and its children's attainment, and goals on track whose children are off track are
    outlined in red."""
    nodes = cascade_nodes(cascade, max_nodes)
    masks = nodes["masks_shortfall"].to_numpy(dtype=bool)
    # Numpy arrays rather than lists: plotly validates (and deep-copies) lists item by item.
    fig = go.Figure(go.Icicle(
        ids=nodes["id"].to_numpy(dtype=str), parents=nodes["parent"].to_numpy(dtype=str), labels=nodes["label"].to_numpy(dtype=str),
        values=nodes["size"].to_numpy(dtype=int), branchvalues="total",
        marker=dict(colors=np.array(attainment_colors(nodes["attainment"])),
                    line=dict(color=np.where(masks, STATUS_COLORS["off_track"], "#ffffff"), width=np.where(masks, 3, 1))),
        text=np.array(node_texts(nodes)), customdata=np.column_stack([nodes["owner"].to_numpy(dtype=str), nodes["size"].to_numpy(dtype=str)]),
        texttemplate="%{label}<br>%{text}", hovertemplate=t("attainment.hover_cascade") + "<extra></extra>",
        maxdepth=4, sort=False, tiling=dict(orientation="h"),
    ))
    return charts.style(fig, height=560)


def node_texts(nodes: pd.DataFrame) -> list[str]:
    """What each box of the cascade chart says under its label: a goal its own and its children's
    attainment, a group of goals their weighted attainment, the root and the unlinked group nothing."""
    texts = []
    for node_id, own, below in zip(nodes["id"], nodes["attainment"], nodes["children_attainment"]):
        if node_id in (ROOT_NODE, UNLINKED_NODE):
            texts.append("")
        elif GROUP_SEPARATOR in node_id:
            texts.append(t("attainment.cascade_group_text", attainment=charts.percent(_number(own))))
        else:
            texts.append(t("attainment.cascade_text", own=charts.percent(_number(own)), below=charts.percent(_number(below))))
    return texts


def cascade_for_tables(cascade: pd.DataFrame, max_goals: int = MAX_TABLE_GOALS) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The goals the expandable tables list, and which owner types were left out: with more than
    `max_goals` goals individual goals are left out, then team goals too if still too many
    (each goal listed gives its children's weighted attainment, which covers those below it);
    the download keeps every goal."""
    left_out: tuple[str, ...] = left_out_by_query(cascade)
    listed = split_left_out_roots(cascade)[0] if cascade is not None else cascade
    for owner_type in COLLAPSIBLE:
        if listed is None or len(listed) <= max_goals:
            break
        if owner_type not in left_out:
            left_out += (owner_type,)
        listed = listed[listed["owner_type"] != owner_type]
    return listed, left_out


def left_out_by_query(cascade: pd.DataFrame | None) -> tuple[str, ...]:
    """The owner types goal_cascade left out (its `detail`: the lowest level it kept)."""
    if cascade is None or cascade.empty or "detail" not in cascade.columns:
        return ()
    return DETAIL_LEFT_OUT.get(str(cascade["detail"].iloc[0]), ())


def masking_list(cascade: pd.DataFrame, fetch: Callable[[], pd.DataFrame | None]) -> pd.DataFrame | None:
    """The goals in scope on track while their children are off track: goal_cascade with
    goals=masks_shortfall and max_goals=0. When the cascade already fetched left no goal out (its
    detail is employee) they are its rows flagged masks_shortfall and in scope, the same rows in the
    same order; otherwise `fetch()` asks the query."""
    if cascade is not None and not cascade.empty and "detail" in cascade.columns and left_out_by_query(cascade) == () \
            and str(cascade["detail"].iloc[0]) == "employee":
        flagged = cascade["masks_shortfall"].fillna(False).astype(bool) & cascade["in_scope"].fillna(False).astype(bool)
        return cascade[flagged].reset_index(drop=True)
    return fetch()


def cascade_goal_count(cascade: pd.DataFrame) -> int:
    """How many goals the whole cascade holds: those returned and those goal_cascade left out."""
    return int(cascade["goal_id"].notna().sum()) + int(_column(cascade, "left_out_goals", 0).fillna(0).sum())


def split_left_out_roots(cascade: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """goal_cascade's goals, and its rows (no goal_id) summing the roots it left out per owner type."""
    is_goal = cascade["goal_id"].notna()
    if is_goal.all():
        return cascade, cascade.iloc[0:0]
    return cascade[is_goal], cascade[~is_goal]


def whole_cascade_csv(dataset: Any, params: Mapping[str, object], viewer: Any = None) -> bytes:
    """Every goal of goal_cascade (max_goals 0) as CSV (UTF-8 with BOM, as ui.download), written by
    DuckDB to a temporary file: the memory it takes is the CSV's, not an 864k-row frame's.

    A department-scoped viewer gets the rows through run_query, which applies their scope (their
    part of the cascade is small), as does anyone else run_query would limit; viewers who may see
    every goal get one COPY of the same query.
    """
    import tempfile

    import duckdb

    from gradelens.queries import bind_params, get_query, query_failed, run_query

    query = get_query("goal_cascade")
    given = {**params, "max_goals": 0}
    if viewer is not None and (viewer.department_scoped or not viewer.sees_individuals):
        return run_query(dataset, "goal_cascade", given, viewer=viewer).to_csv(index=False).encode("utf-8-sig")
    bound = bind_params(dataset, query, given)
    sql = query.sql.strip().rstrip(";")
    with tempfile.TemporaryDirectory(prefix="gradelens-") as folder:
        target = str(Path(folder) / "goal_cascade.csv")
        try:
            dataset.cursor().execute(f"COPY ({sql}\n) TO $csv_target (FORMAT csv, HEADER true)", {**bound, "csv_target": target})
        except duckdb.Error as exc:  # Streamlit tells the user the download failed; the log says why
            raise query_failed(dataset, "goal_cascade", exc) from None
        return "\ufeff".encode("utf-8") + Path(target).read_bytes()


def download_cascade(params: Mapping[str, object], file_stem: str, label: str) -> None:
    """The whole cascade's CSV download, only written when clicked (whole_cascade_csv): at
    200,000 employees it is 864,603 goals, too many to hold or write on every rerun."""
    dataset, viewer = ui.current_dataset(), ui.current_viewer()
    details = {"file": f"{file_stem}.csv", **{k: str(v) for k, v in params.items() if v is not None}}
    st.download_button(label, lambda: whole_cascade_csv(dataset, params, viewer), file_name=f"{file_stem}.csv",
                       mime="text/csv", icon=":material/download:", key=f"download-{file_stem}",
                       on_click=ui.record_audit, args=("export", file_stem, details))


def branch_choice(cascade: pd.DataFrame) -> str | None:
    """A select box of the goals with goals left out beneath them (goal_cascade's max_goals);
    the goal_id chosen, whose branch the page then lists, or None."""
    cascade = split_left_out_roots(cascade)[0]
    open_ = cascade[_column(cascade, "left_out_children", 0).fillna(0) > 0]
    if open_.empty:
        return None
    goals: dict[str, str] = {}  # label -> goal_id; labels, not ids, are the options (AppTest reads them back)
    for row in open_.itertuples(index=False):
        label = f"{_goal_title(row)} ({format_count(row.left_out_goals)})"
        goals[label if label not in goals else f"{label} · {row.goal_id}"] = row.goal_id
    label = st.selectbox(t("attainment.open_branch"), list(goals), index=None,
                         placeholder=t("attainment.open_branch_placeholder"), key="attainment_open_branch")
    return goals.get(label) if label is not None else None


def cascade_table(cascade: pd.DataFrame) -> pd.DataFrame:
    """goal_cascade rows in tree order (each goal right after its parent, siblings by goal id),
    with the title indented by depth, for the expandable table."""
    if cascade is None or cascade.empty:
        return cascade
    goal_ids = cascade["goal_id"].tolist()
    shown = set(goal_ids)
    parents = [up if up in shown else None for up in cascade["parent_goal_id"].tolist()]
    owner_types = cascade["owner_type"].tolist()
    children: dict[object, list[int]] = {}
    for position, up in enumerate(parents):
        children.setdefault(up, []).append(position)
    order: list[int] = []
    levels: list[int] = []
    # Roots: company goals first, then the rest; a depth-first walk (iterative: trees can be deep).
    roots = sorted(children.get(None, []), key=lambda p: (owner_types[p] != "company", goal_ids[p]))
    seen: set[int] = set()
    # Goals in a loop of parent links (bad data) are reached from no root; they start their own walk.
    for start in [*roots, *range(len(goal_ids))]:
        stack = [(start, 0)]
        while stack:
            position, level = stack.pop()
            if position in seen:
                continue
            seen.add(position)
            order.append(position)
            levels.append(level)
            below = sorted(children.get(goal_ids[position], []), key=lambda p: goal_ids[p])
            stack.extend((p, level + 1) for p in reversed(below))
    table = cascade.iloc[order].reset_index(drop=True)
    table.insert(0, "goal", [("\u2003" * level + ("↳ " if level else "")) + _goal_title(row) for level, row in zip(levels, table.itertuples(index=False))])
    return table


def cascade_branches(cascade: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The cascade table split for expanders: one branch per company goal (its label giving the
    goal's own and its children's attainment), then one with every goal not linked to a company
    goal, each in tree order."""
    table = cascade_table(cascade)
    if table is None or table.empty:
        return []
    company_goals = set(table.loc[table["owner_type"] == "company", "goal_id"])
    company_top = table["top_goal_id"].isin(company_goals)
    branches = []
    for top in table[table["goal_id"].isin(company_goals) & (table["goal_id"] == table["top_goal_id"])].itertuples(index=False):
        label = t("attainment.branch", goal=_goal_title(top), own=charts.percent(_number(top.attainment)),
                  children=charts.percent(_number(top.children_attainment)))
        branches.append((label, table[table["top_goal_id"] == top.goal_id]))
    rest = table[~company_top]
    if not rest.empty:
        branches.append((t("attainment.branch_unlinked", count=format_count(len(rest))), rest))
    return branches


def _goal_label(row: Any) -> str:
    text = f"{_text(row.owner_name) or row.owner_id} · {_text(row.kpi)}" if row.owner_type == "employee" else _goal_title(row)
    return text if len(text) <= LABEL_LENGTH else text[: LABEL_LENGTH - 1] + "…"


def _goal_title(row: Any) -> str:
    title = _text(row.title) or _text(row.kpi) or str(row.goal_id)
    return f"{_text(row.owner_name) or row.owner_id}: {title}" if row.owner_type == "employee" else title


# --- Themes, alignment, trends, teams ---------------------------------------------------------

def theme_label(theme: object) -> str:
    return t("attainment.no_theme") if _missing(theme) else str(theme)


def theme_chart(themes: pd.DataFrame) -> go.Figure:
    """Bars of each theme's mean goal attainment, marking the company goals' attainment."""
    labels = [theme_label(v) for v in themes["strategy_theme"]]
    fig = go.Figure()
    fig.add_bar(
        y=labels, x=themes["attainment"], orientation="h", name=t("attainment.chart_goals_mean"),
        marker_color=attainment_colors(themes["attainment"]),
        customdata=themes[["goals_with_attainment"]], text=[charts.percent(v) for v in themes["attainment"]],
        hovertemplate=t("attainment.hover_theme") + "<extra></extra>",
    )
    fig.add_scatter(
        y=labels, x=themes["company_goal_attainment"], mode="markers", name=t("attainment.chart_company_goals"),
        marker=dict(symbol="line-ns-open", size=22, color=charts.TARGET_COLOR, line=dict(width=3, color=charts.TARGET_COLOR)),
        hovertemplate=t("attainment.hover_company_goals") + "<extra></extra>",
    )
    fig.add_vline(x=ON_TRACK, line_dash="dot", line_color="#888888")
    fig.update_xaxes(tickformat=".0%", title=None, rangemode="tozero")
    fig.update_yaxes(autorange="reversed", title=None)
    return charts.style(fig, height=140 + 36 * len(themes))


def alignment_chart(alignment: pd.DataFrame) -> go.Figure:
    """Bars of each department's share of individual goals linked to a parent goal."""
    fig = go.Figure()
    fig.add_bar(
        x=alignment["department"], y=alignment["alignment_rate"], marker_color="#4a90c8",
        customdata=alignment[["linked_goals", "individual_goals"]], text=[charts.percent(v) for v in alignment["alignment_rate"]],
        hovertemplate=t("attainment.hover_alignment") + "<extra></extra>",
    )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title=None)
    fig.update_xaxes(type="category", title=None)
    return charts.style(fig, height=320)


def trend_chart(trend: pd.DataFrame, labels: list[str]) -> go.Figure:
    """Lines of the employees' mean attainment and the company goals' attainment, one point per
    row of `trend` (attainment_trend or attainment_trend_by_cycle) labelled by `labels`."""
    fig = go.Figure()
    fig.add_scatter(x=labels, y=trend["attainment"], mode="lines+markers", name=t("attainment.chart_employee_mean"),
                    customdata=trend[["employees_with_attainment"]], line=dict(color="#1f4e9c", width=3),
                    hovertemplate=t("attainment.hover_trend_employees") + "<extra></extra>")
    fig.add_scatter(x=labels, y=trend["company_goal_attainment"], mode="lines+markers", name=t("attainment.chart_company_goals"),
                    line=dict(color="#888888", dash="dash"),
                    hovertemplate=t("attainment.hover_trend_company") + "<extra></extra>")
    fig.add_hline(y=ON_TRACK, line_dash="dot", line_color="#1b7837")
    fig.update_yaxes(tickformat=".0%", title=None, rangemode="tozero")
    # Categories, not a date axis: plotly would put a month-end point under the next month's tick.
    fig.update_xaxes(title=None, type="category")
    return charts.style(fig, height=300)


def date_labels(values: pd.Series) -> list[str]:
    """Dates as the interface writes them (2025-09-30 / 2025年9月30日)."""
    return [format_date(None if _missing(v) else _as_date(v)) for v in values]


def top_and_bottom(teams: pd.DataFrame, count: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The best and the worst teams by attainment: best first, and worst first.

    Only teams with an attainment and at least the policy's minimum group of members with one
    (below_min_group false) are ranked. Each list has at most `count` teams and the two never
    share one: with fewer than 2 x count ranked teams the better half (rounded up) is the top.
    """
    ranked = teams[teams["attainment"].notna() & ~teams["below_min_group"].astype(bool)]
    ranked = ranked.sort_values(["attainment", "team"], ascending=[False, True], kind="stable").reset_index(drop=True)
    split = min(count, (len(ranked) + 1) // 2)
    top = ranked.iloc[:split]
    bottom = ranked.iloc[split:].iloc[::-1].head(count).reset_index(drop=True)
    return top, bottom


def issue_counts(issues: pd.DataFrame | None) -> dict[str, int]:
    """How many rows of attainment_data_quality each issue has, in the page's order (issues with
    none left out)."""
    if issues is None or issues.empty:
        return {}
    counts = issues["issue"].value_counts()
    return {issue: int(counts[issue]) for issue in ISSUES if issue in counts} | {
        issue: int(n) for issue, n in counts.items() if issue not in ISSUES}


def quality_summary(counts: dict[str, int]) -> str:
    """The data-quality note: how many problems of each kind, and in all."""
    which = "; ".join(f"{t(f'attainment.issue_{issue}')}: {format_count(count)}" for issue, count in counts.items())
    return t("attainment.quality_summary", which=which, count=format_count(sum(counts.values())))


def quality_handling(counts: dict[str, int]) -> str:
    """A Markdown list saying how attainment treats each kind of problem found."""
    return "\n".join(f"- **{t(f'attainment.issue_{issue}')}**: {t(f'attainment.handling_{issue}')}" for issue in counts)


# --- Tables -----------------------------------------------------------------------------------

PERCENT_COLUMNS = {"attainment", "children_attainment", "department_goal_attainment", "company_goal_attainment",
                   "individual_attainment", "team_goal_attainment", "alignment_rate", "on_track_share"}
CODE_COLUMNS = {"owner_type": "owner_type", "status": "status", "children_status": "status", "reason": "reason", "issue": "issue"}


def show_table(frame: pd.DataFrame, columns: list[str], file_stem: str, height: int | None = None) -> None:
    """A table of `columns` with translated headers, shares as percent with one decimal and codes
    in words, then a CSV download of the whole frame (raw values)."""
    shown = frame[columns].copy()
    config: dict[str, object] = {}
    for column in columns:
        label = t(f"attainment.col_{column}")
        if column in PERCENT_COLUMNS:
            shown[column] = pd.to_numeric(shown[column], errors="coerce") * 100
            config[column] = st.column_config.NumberColumn(label, format="%.1f%%")
        elif column in CODE_COLUMNS:
            shown[column] = each_label(shown[column], lambda code, kind=CODE_COLUMNS[column]: code_label(kind, code))
            config[column] = st.column_config.TextColumn(label)
        elif column == "strategy_theme":
            shown[column] = each_label(shown[column], theme_label)
            config[column] = st.column_config.TextColumn(label)
        else:
            config[column] = label
    st.dataframe(shown, hide_index=True, column_config=config, height=height or "auto")
    ui.download(frame, file_stem)


def code_label(kind: str, code: object) -> str:
    """A code in words: owner types through the shared value labels, the page's own codes
    (status, reason, issue) through its catalog."""
    if _missing(code):
        return ""
    if kind == "owner_type":
        return value_label("owner_type", code)
    return t(f"attainment.{kind}_{code}")


def _missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return False
    if isinstance(value, float):
        return value != value  # NaN
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _column(frame: pd.DataFrame, name: str, default: object) -> pd.Series:
    """A column of the frame, or `default` on every row when the frame lacks it."""
    return frame[name] if name in frame.columns else pd.Series(default, index=frame.index)


def _number(value: object) -> float | None:
    return None if _missing(value) else float(value)


def _text(value: object) -> str:
    return "" if _missing(value) else str(value)

