"""The Attainment page's helpers: the heatmap selection handler and the state that keeps the
selected cell (AppTest cannot click a plotly chart, so both are tested here directly), and the
chart and table builders."""

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from gradelens import attainment, charts
from gradelens.attainment import cascade_nodes, cascade_table, format_cell, parse_cell, selected_cell, top_and_bottom

NAN = math.nan


# --- the selection handler -------------------------------------------------------------------------

def event(*points):
    return {"selection": {"points": list(points), "point_indices": list(range(len(points))), "box": [], "lasso": []}}


@pytest.mark.parametrize(
    "given_event, expected",
    [
        # A click on the heatmap's marker layer, as st.plotly_chart reports it.
        (event({"curve_number": 1, "point_number": 2, "point_index": 2, "x": "East", "y": "Sales",
                "customdata": ["D1", "East", 2, 1, "115.0%"]}), ("D1", "East")),
        (event({"customdata": ("D2", "North")}), ("D2", "North")),
        # Several points (shift-click): the first usable one.
        (event({"customdata": [None, "East"]}, {"customdata": ["D1", "North", 1]}), ("D1", "North")),
        (event(), None),  # a click that emptied the selection
        (event({"x": "East", "y": "Sales"}), None),  # a point without the layer's customdata (the heatmap itself)
        (event({"customdata": [None, "East", 1]}), None),  # "(no department)" cannot be filtered to
        (event({"customdata": ["D1"]}), None),
        (event({"customdata": ["", "East"]}), None),
        (event({"customdata": [3, "East"]}), None),
        ({"selection": {}}, None),
        ({}, None),
        (None, None),
        ("not an event", None),
        ({"selection": {"points": "oops"}}, None),
        ({"selection": {"points": [None, 7, {"customdata": "D1|East"}]}}, None),
    ],
)
def test_the_selection_handler_turns_a_plotly_event_into_a_cell(given_event, expected):
    assert selected_cell(given_event) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["selection", "points", "customdata", "x"]), children, max_size=3),
    max_leaves=12,
)


@settings(deadline=None)  # a loaded CI machine is slow now and then; correctness is what is tested
@given(json_values)
def test_the_selection_handler_never_fails_and_returns_a_cell_of_two_ids_or_none(value):
    cell = selected_cell(value)
    assert cell is None or (len(cell) == 2 and all(isinstance(part, str) and part for part in cell))


@settings(deadline=None)  # a loaded CI machine is slow now and then; correctness is what is tested
@given(st.text(min_size=1).filter(lambda s: "|" not in s), st.text(min_size=1))
def test_a_cell_survives_the_url(department_id, region):
    assert parse_cell(format_cell((department_id, region))) == (department_id, region)


@pytest.mark.parametrize("text", [None, "", "D1", "|East", "D1|", 42, ["D1|East"]])
def test_a_malformed_url_cell_is_no_cell(text):
    assert parse_cell(text) is None


def _selection_script():
    """A page that keeps a heatmap cell the way pages/attainment.py does, fed with fake events."""
    import pandas as pd
    import streamlit as st

    from gradelens import attainment

    cells = pd.DataFrame({"department_id": ["D1", "D1", None], "department": ["Sales", "Sales", "(no department)"],
                          "region": ["East", "North", "East"], "employees": [2, 1, 1]})
    attainment.current_cell(cells)
    st.session_state["cell"] = attainment.follow_selection(st.session_state.get("fake_event"), cells)
    st.session_state["chart_key"] = attainment.heatmap_key()
    st.button("clear", key="clear", on_click=attainment.clear_cell)


def selection_app(**query_params) -> AppTest:
    at = AppTest.from_function(_selection_script, default_timeout=30)
    for key, value in query_params.items():
        at.query_params[key] = value
    return at.run()


def click(at: AppTest, value) -> AppTest:
    at.session_state["fake_event"] = value
    return at.run()


def url_cell(at: AppTest):
    value = at.query_params.get("cell")
    return value[0] if isinstance(value, list) else value


def test_a_click_selects_the_cell_and_writes_it_to_the_url():
    at = selection_app()
    assert at.session_state["cell"] is None and url_cell(at) is None
    click(at, event({"customdata": ["D1", "North"]}))
    assert at.session_state["cell"] == ("D1", "North")
    assert url_cell(at) == "D1|North"
    click(at, event({"customdata": ["D1", "East"]}))  # another cell
    assert at.session_state["cell"] == ("D1", "East") and url_cell(at) == "D1|East"


def test_an_emptied_selection_keeps_the_cell():
    # Streamlit empties a chart's selection whenever its figure changes (a new as-of date, say),
    # so an empty selection must not undo the cell; the clear button does that.
    at = click(selection_app(), event({"customdata": ["D1", "East"]}))
    click(at, event())
    assert at.session_state["cell"] == ("D1", "East") and url_cell(at) == "D1|East"
    click(at, event({"customdata": ["D1", "East"]}))
    assert at.session_state["cell"] == ("D1", "East")


def test_the_clear_button_forgets_the_cell_and_gives_the_chart_a_fresh_key():
    at = click(selection_app(), event({"customdata": ["D1", "East"]}))
    key_before = at.session_state["chart_key"]
    at.session_state["fake_event"] = None  # the fresh chart has no selection
    at.button(key="clear").click().run()
    assert at.session_state["cell"] is None and url_cell(at) is None
    assert at.session_state["chart_key"] != key_before
    at.run()
    assert at.session_state["cell"] is None
    click(at, event({"customdata": ["D1", "East"]}))  # and the same cell can be picked again
    assert at.session_state["cell"] == ("D1", "East")


@pytest.mark.parametrize("url, expected", [("D1|East", ("D1", "East")), ("D9|Mars", None), ("nonsense", None)])
def test_a_linked_cell_is_kept_only_when_the_heatmap_has_it(url, expected):
    at = selection_app(cell=url)
    assert at.session_state["cell"] == expected
    assert url_cell(at) == (format_cell(expected) if expected else None)


@pytest.mark.parametrize("picked", [[None, "East"], ["D9", "Mars"]])
def test_a_click_on_a_cell_that_cannot_be_filtered_to_changes_nothing(picked):
    at = click(selection_app(cell="D1|East"), event({"customdata": picked}))
    assert at.session_state["cell"] == ("D1", "East")


# --- the heatmap -----------------------------------------------------------------------------------

CELLS = pd.DataFrame({
    "department_id": ["D2", "D1", "D1", None],
    "department": ["R&D", "Sales", "Sales", "(no department)"],
    "region": ["East", "East", "North", "East"],
    "employees": [2, 2, 1, 1],
    "employees_with_attainment": [1, 1, 1, 0],
    "attainment": [1.0, 1.15, 0.45, NAN],
})


def test_the_heatmap_has_a_cell_per_department_and_region_with_its_headcount():
    fig = attainment.heatmap_chart(CELLS)
    layer, heat = fig.data
    assert list(heat.y) == ["R&D", "Sales", "(no department)"] and list(heat.x) == ["East", "North"]
    assert heat.z[1][0] == pytest.approx(1.15) and math.isnan(heat.z[0][1])
    assert heat.colorscale == tuple(tuple(step) for step in charts.ATTAINMENT_COLORSCALE)
    assert list(layer.text) == ["100.0%<br>headcount 2", "115.0%<br>headcount 2", "45.0%<br>headcount 1", "–<br>headcount 1"]
    # The clickable layer carries the ids the selection handler reads back.
    picked = [selected_cell(event({"customdata": list(row)})) for row in layer.customdata]
    assert picked == [("D2", "East"), ("D1", "East"), ("D1", "North"), None]


# --- the cascade -----------------------------------------------------------------------------------

def goal(goal_id, parent, owner_type, attainment_value=NAN, children_attainment=NAN, weight=1.0, masks=False, owner=None):
    return dict(goal_id=goal_id, parent_goal_id=parent, owner_type=owner_type, owner_id=owner or goal_id, owner_name=owner or goal_id,
                title=f"{goal_id} title", kpi="revenue", attainment=attainment_value, children_attainment=children_attainment,
                weight=weight, masks_shortfall=masks, top_goal_id=None)


CASCADE = pd.DataFrame([
    goal("CO", None, "company", 0.9, 1.2),
    goal("D1", "CO", "department", 1.2, 0.5, masks=True),
    goal("E2a", "D1", "employee", 1.5, weight=0.5, owner="Li Na"),
    goal("E2b", "D1", "employee", NAN, weight=0.5, owner="Li Na"),
    goal("E3a", "D1", "employee", 0.25, weight=0.25, owner="Zhang Min"),
    goal("X", "GONE", "employee", 0.5, owner="Chen Jie"),
    goal("T9", None, "team", 1.0),
])


def test_cascade_nodes_keep_the_tree_and_group_unlinked_goals_apart():
    nodes = cascade_nodes(CASCADE).set_index("id")
    root, unlinked = attainment.ROOT_NODE, attainment.UNLINKED_NODE
    assert nodes["parent"].to_dict() == {"CO": root, "D1": "CO", "E2a": "D1", "E2b": "D1", "E3a": "D1", "X": unlinked,
                                         "T9": unlinked, unlinked: root, root: ""}
    assert nodes.loc["E2a", "label"] == "Li Na · revenue" and nodes.loc["D1", "label"] == "D1 title"
    assert nodes["size"].to_dict() == {"CO": 5, "D1": 4, "E2a": 1, "E2b": 1, "E3a": 1, "X": 1, "T9": 1, unlinked: 2, root: 7}
    assert nodes.loc["D1", "masks_shortfall"]


def test_a_large_cascade_draws_each_parent_s_individual_goals_as_one_node():
    nodes = cascade_nodes(CASCADE, max_nodes=5).set_index("id")
    unlinked = attainment.UNLINKED_NODE
    assert set(nodes.index) == {"CO", "D1", "T9", "D1::employee", f"{unlinked}::employee", unlinked, attainment.ROOT_NODE}
    people = nodes.loc["D1::employee"]
    # (0.5 * 1.5 + 0.25 * 0.25) / 0.75; E2b has no attainment and is left out, as owner_attainment does.
    assert (people["goals"], people["size"], people["parent"]) == (3, 3, "D1")
    assert people["attainment"] == pytest.approx((0.75 + 0.0625) / 0.75)
    assert people["label"] == "3 individual goals"
    assert nodes.loc["CO", "size"] == 5 and nodes.loc[unlinked, "size"] == 2


def test_a_very_large_cascade_also_draws_each_parent_s_team_goals_as_one_node():
    cascade = pd.DataFrame([
        goal("CO", None, "company", 0.9), goal("D1", "CO", "department", 1.0),
        goal("T1", "D1", "team", 1.2, weight=0.5), goal("T2", "D1", "team", 0.6, weight=0.5),
        goal("E1", "T1", "employee", 1.0), goal("E2", "T1", "employee", 1.0), goal("E3", "T2", "employee", 1.0),
    ])
    assert len(cascade_nodes(cascade, max_nodes=7)) == 7 + 1  # everything fits (plus the root)
    assert set(cascade_nodes(cascade, max_nodes=6).set_index("id").index) == {"CO", "D1", "T1", "T2", "T1::employee", "T2::employee", attainment.ROOT_NODE}
    nodes = cascade_nodes(cascade, max_nodes=3).set_index("id")
    assert set(nodes.index) == {"CO", "D1", "D1::team", attainment.ROOT_NODE}
    teams = nodes.loc["D1::team"]
    assert (teams["label"], teams["goals"], teams["size"]) == ("2 team goals", 5, 5)  # two team goals and their three people
    assert teams["attainment"] == pytest.approx(0.9)
    assert nodes.loc["CO", "size"] == 7 and nodes.loc[attainment.ROOT_NODE, "size"] == 7


def test_the_cascade_chart_colours_goals_by_own_attainment_and_outlines_hidden_shortfalls():
    icicle = attainment.cascade_chart(CASCADE).data[0]
    colours = dict(zip(icicle.ids, icicle.marker.colors))
    assert colours["E2b"] == attainment.MISSING_COLOR
    assert colours["E2a"] == attainment.attainment_colors([1.5])[0] == "rgb(27, 120, 55)"
    outline = dict(zip(icicle.ids, icicle.marker.line.width))
    assert outline["D1"] == 3 and outline["CO"] == 1
    texts = dict(zip(icicle.ids, icicle.text))
    assert texts["D1"] == "own 120.0% · below 50.0%" and texts[attainment.ROOT_NODE] == ""
    grouped = dict(zip(*(lambda f: (f.ids, f.text))(attainment.cascade_chart(CASCADE, max_nodes=5).data[0])))
    assert grouped["D1::employee"] == f"weighted {(0.75 + 0.0625) / 0.75 * 100:.1f}%"


def test_the_cascade_table_puts_each_goal_under_its_parent():
    table = cascade_table(CASCADE)
    assert table["goal_id"].tolist() == ["CO", "D1", "E2a", "E2b", "E3a", "T9", "X"]
    assert table["goal"].tolist()[:3] == ["CO title", "\u2003↳ D1 title", "\u2003\u2003↳ Li Na: E2a title"]


@st.composite
def forests(draw):
    size = draw(st.integers(1, 30))
    parents = [draw(st.one_of(st.none(), st.just("gone"), st.integers(0, size - 1).map(lambda i: f"G{i}"))) for _ in range(size)]
    return pd.DataFrame([goal(f"G{i}", parent, draw(st.sampled_from(["company", "team", "employee"]))) for i, parent in enumerate(parents)])


@settings(deadline=None)  # a loaded CI machine is slow now and then; correctness is what is tested
@given(forests())
def test_the_cascade_table_lists_every_goal_once_and_children_after_their_parent_unless_links_loop(cascade):
    table = cascade_table(cascade)
    order = table["goal_id"].tolist()
    assert sorted(order) == sorted(cascade["goal_id"])
    position = {goal_id: i for i, goal_id in enumerate(order)}
    parents = dict(zip(cascade["goal_id"], cascade["parent_goal_id"]))

    def in_loop(goal_id):
        seen = set()
        while goal_id in parents and goal_id not in seen:
            seen.add(goal_id)
            goal_id = parents[goal_id]
        return goal_id in seen

    for goal_id, parent in parents.items():
        if not in_loop(goal_id):
            assert goal_id in position
            if parent in position:
                assert position[parent] < position[goal_id]


def test_cascade_branches_give_one_expander_per_company_goal_and_one_for_the_rest():
    cascade = CASCADE.assign(top_goal_id=["CO", "CO", "CO", "CO", "CO", "X", "T9"])
    (company_label, company), (rest_label, rest) = attainment.cascade_branches(cascade)
    assert company_label == "CO title — own 90.0% · below 120.0%"
    assert company["goal_id"].tolist() == ["CO", "D1", "E2a", "E2b", "E3a"]
    assert rest_label == "Not linked to a company goal (2 goals)" and rest["goal_id"].tolist() == ["T9", "X"]


# --- teams, headline, data quality --------------------------------------------------------------------

def teams(*values):
    return pd.DataFrame([dict(team=f"T{i}", attainment=v, below_min_group=small) for i, (v, small) in enumerate(values)])


@pytest.mark.parametrize(
    "given_teams, top, bottom",
    [
        (teams((0.9, False), (1.1, False), (NAN, False), (1.3, True)), ["T1"], ["T0"]),
        (teams((0.9, False), (1.1, False), (1.0, False)), ["T1", "T2"], ["T0"]),
        (teams(*[(i / 10, False) for i in range(12)]), ["T11", "T10", "T9", "T8", "T7"], ["T0", "T1", "T2", "T3", "T4"]),
        (teams((1.0, False), (1.0, False)), ["T0"], ["T1"]),
        (teams((NAN, False)), [], []),
    ],
)
def test_top_and_bottom_teams_never_overlap(given_teams, top, bottom):
    best, worst = top_and_bottom(given_teams)
    assert best["team"].tolist() == top and worst["team"].tolist() == bottom


def test_the_headline_rows_give_an_empty_previous_for_the_first_cycle():
    frame = pd.DataFrame([dict(period="current", cycle_id="2025H1", as_of=pd.Timestamp("2025-06-30"), attainment=1.1)])
    current, previous = attainment.headline_rows(frame)
    assert current["as_of"].isoformat() == "2025-06-30"
    assert attainment.delta_points(current["attainment"], previous.get("attainment")) is None
    assert attainment.delta_points(0.87, 0.9) == "-3.0 pp vs previous"


def test_issue_counts_follow_the_page_order():
    issues = pd.DataFrame({"issue": ["actual_outside_cycle", "weights_not_one", "actual_outside_cycle", "target_not_positive"]})
    assert list(attainment.issue_counts(issues).items()) == [("target_not_positive", 1), ("weights_not_one", 1), ("actual_outside_cycle", 2)]
    assert attainment.issue_counts(issues.iloc[0:0]) == {}


@st.composite
def acyclic_cascades(draw):
    size = draw(st.integers(1, 40))
    rows = []
    for i in range(size):
        parent = draw(st.one_of(st.none(), st.just("gone"), st.integers(0, i - 1).map(lambda p: f"G{p}") if i else st.none()))
        rows.append(goal(f"G{i}", parent, draw(st.sampled_from(["company", "department", "team", "employee"])),
                         draw(st.sampled_from([NAN, 0.5, 1.0, 1.4])), weight=draw(st.sampled_from([0.2, 0.5, 1.0]))))
    return pd.DataFrame(rows), draw(st.integers(3, 60))


@settings(deadline=None)
@given(acyclic_cascades())
def test_every_goal_is_counted_once_in_the_chart_whatever_is_grouped(case):
    cascade, max_nodes = case
    nodes = cascade_nodes(cascade, max_nodes=max_nodes).set_index("id")
    assert nodes.loc[attainment.ROOT_NODE, "size"] == len(cascade)
    assert nodes["goals"].sum() == len(cascade)  # each goal drawn or stood for by exactly one node
    parents = nodes.loc[nodes["parent"] != "", "parent"]
    assert parents.isin(nodes.index).all()
    for node_id, size in nodes["size"].items():  # a box is at least as big as the boxes in it
        assert size >= nodes.loc[nodes["parent"] == node_id, "size"].sum()


def test_many_unlinked_individual_goals_become_one_node_with_the_others_under_not_linked():
    """Seven unlinked individual goals without children (more than max_nodes=5) and an unlinked
    individual goal E with a child E2: one node of 8 goals standing for 9, weighted as
    owner_attainment does (goals without an attainment or weight left out)."""
    loose = [goal(f"L{i}", None, "employee", 0.5 + 0.1 * i, weight=1.0 + i) for i in range(7)]
    cascade = pd.DataFrame([goal("CO", None, "company", 0.9), goal("D1", "CO", "department", 1.0), *loose,
                            goal("E", None, "employee", NAN), goal("E2", "E", "employee", 1.0)])
    nodes = cascade_nodes(cascade, max_nodes=5).set_index("id")
    unlinked = attainment.UNLINKED_NODE
    assert set(nodes.index) == {"CO", "D1", f"{unlinked}::employee", unlinked, attainment.ROOT_NODE}
    group = nodes.loc[f"{unlinked}::employee"]
    assert (group["label"], group["goals"], group["size"]) == ("8 individual goals", 9, 9)
    weights = [1.0 + i for i in range(7)]
    assert group["attainment"] == pytest.approx(sum(w * (0.5 + 0.1 * i) for i, w in enumerate(weights)) / sum(weights))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["employee", "team", "department"]), st.integers(-1, 30),
                          st.one_of(st.none(), st.floats(0, 2)), st.floats(0, 1)), min_size=1, max_size=40),
       st.integers(1, 12))
def test_summing_the_unlinked_individual_goals_aside_draws_the_same_nodes(rows, max_nodes):
    """cascade_nodes sets the loose unlinked individual goals aside before its tree work; the
    nodes are those it draws without doing so. Parents point at an earlier goal, at none (-1)
    or at a missing one (beyond the list)."""
    goals = [goal("CO", None, "company", 0.9)] + [
        goal(f"G{i}", (None if up < 0 else "CO" if up == 0 else f"G{up - 1}" if up <= i else "GONE"), owner_type,
             NAN if value is None else value, weight=weight)
        for i, (owner_type, up, value, weight) in enumerate(rows)]
    cascade = pd.DataFrame(goals)
    fast = attainment._cascade_nodes(cascade, max_nodes, presum=True)
    slow = attainment._cascade_nodes(cascade, max_nodes, presum=False)
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow.reset_index(drop=True), check_exact=False, rtol=1e-12)
