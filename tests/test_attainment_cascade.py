"""The cascade at scale: goal_cascade returns the part the page shows (max_goals, root, the
masking list), the goal tree is the same precomputed or computed, and the whole cascade's CSV
is written by DuckDB. Answers worked out by hand on tests/attainment_fixture.py ("messy"), whose
2025H2 goals are

    G-CO (company) <- G-D1 (department) <- G-E2a, G-E2b, G-E3a (employees), G-T2 (team) <- G-E3c
    roots without a linked parent: G-E3b, G-E4a, G-E4b, G-E5a (none), G-E4c (missing), G-E5b (2025H1)

13 goals; attainments G-E2a 1.5 (w0.5), G-E2b 0.8 (w0.5), G-E3a 0.75 (w0.6), G-T2 1.2 (w1.0),
G-E3c 0.5 (w0.2).
"""

import io
import json
import math
import shutil

import pandas as pd
import pytest

from gradelens import attainment, derived
from gradelens.access import Viewer
from gradelens.attainment import cascade_goal_count, cascade_nodes, whole_cascade_csv
from gradelens.dataset import open_dataset
from gradelens.queries import run_query
from tests.attainment_fixture import _goal, attainment_tables, write_attainment_dataset
from tests.tiny_company import write_dataset

NAN = math.nan
LEFT_OUT = ["goal_id", "in_scope", "left_out_children", "left_out_goals", "left_out_attainment", "detail"]
ROOTS = ["G-E3b", "G-E4a", "G-E4b", "G-E4c", "G-E5a", "G-E5b"]


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory):
    return write_attainment_dataset(tmp_path_factory.mktemp("messy"))


@pytest.fixture(scope="module")
def messy(messy_folder):
    return open_dataset(messy_folder)


def cascade(dataset, **params):
    return run_query(dataset, "goal_cascade", {"cycle": "2025H2", **params})


def by_goal(frame, columns):
    return {(row[0] if isinstance(row[0], str) else None): tuple(NAN if v is None or (not isinstance(v, str) and v != v) else v for v in row[1:])
            for row in frame[columns].itertuples(index=False)}


def assert_rows(frame, expected):
    got = by_goal(frame, LEFT_OUT)
    assert set(got) == set(expected)
    for goal_id, want in expected.items():
        assert got[goal_id][:3] == want[:3], goal_id
        assert got[goal_id][3] == pytest.approx(want[3], nan_ok=True), goal_id
        assert got[goal_id][4] == want[4], goal_id


def untouched(goal_id):
    return (True, 0, 0, NAN, "x")


def test_the_default_keeps_a_small_cascade_whole_and_max_goals_0_too(messy):
    for frame in (cascade(messy), cascade(messy, max_goals=0), cascade(messy, max_goals=13)):
        assert len(frame) == 13
        assert set(frame["detail"]) == {"employee"}
        assert frame["left_out_children"].eq(0).all() and frame["left_out_goals"].eq(0).all()


# The six roots, individual goals with nothing beneath them, summed in one row when left out:
# weights with an attainment G-E3b 0.4 (0.0), G-E4a 0.3 (1.0), G-E4c 0.2 (0.5), G-E5b 0.5 (0.5);
# G-E4b (weight -0.2) and G-E5a (no attainment) count but do not weigh.
LOOSE_WEIGHT = 0.4 + 0.3 + 0.2 + 0.5
LOOSE_ATTAINMENT = (0.4 * 0.0 + 0.3 * 1.0 + 0.2 * 0.5 + 0.5 * 0.5) / LOOSE_WEIGHT


def test_with_more_goals_than_max_goals_individual_goals_are_left_out_under_their_parent(messy):
    # 13 > 10 goals; without individual goals 3 remain; the six loose roots become one row.
    frame = cascade(messy, max_goals=10)
    assert_rows(frame, {
        "G-CO": (True, 0, 0, NAN, "team"),
        "G-D1": (True, 3, 3, (0.5 * 1.5 + 0.5 * 0.8 + 0.6 * 0.75) / 1.6, "team"),
        "G-T2": (True, 1, 1, 0.5, "team"),
        None: (True, 6, 6, LOOSE_ATTAINMENT, "team"),
    })
    loose = frame[frame["goal_id"].isna()].iloc[0]
    assert (loose["owner_type"], loose["weight"], loose["children"]) == ("employee", pytest.approx(LOOSE_WEIGHT), 0)
    assert loose[["parent_goal_id", "top_goal_id", "title", "attainment", "department_id", "region"]].isna().all()
    assert frame.index[frame["goal_id"].isna()].tolist() == [len(frame) - 1]  # last
    assert cascade_goal_count(frame) == 13


def test_with_still_too_many_team_goals_are_left_out_too(messy):
    # 3 company, department and team goals > 2: G-D1 stands for its 4 children and G-E3c.
    frame = cascade(messy, max_goals=2)
    assert_rows(frame, {
        "G-CO": (True, 0, 0, NAN, "department"),
        "G-D1": (True, 4, 5, (0.75 + 0.4 + 0.45 + 1.2) / 2.6, "department"),
        None: (True, 6, 6, LOOSE_ATTAINMENT, "department"),
    })
    assert frame.set_index("goal_id").loc["G-D1", "children_attainment"] == pytest.approx(2.8 / 2.6)
    assert cascade_goal_count(frame) == 13


@pytest.fixture(scope="module")
def rooted(tmp_path_factory):
    """The messy company plus a team goal linked to nothing with a goal beneath it (G-T9 <- G-E9)
    and one with nothing beneath it (G-T8)."""
    tables = attainment_tables()
    tables["goals"] += [_goal("G-T9", None, "team", "T2", "visits", 10, 1.0), _goal("G-E9", "G-T9", "employee", "E3", "visits", 10, 1.0),
                        _goal("G-T8", None, "team", "T1", "visits", 10, 1.0)]
    return open_dataset(write_dataset(tmp_path_factory.mktemp("rooted") / "ds", tables))


@pytest.mark.parametrize("max_goals, expected", [
    # 16 goals > 10; 5 company, department and team goals: individual goals are left out.
    (10, {"G-CO": (True, 0, 0, NAN, "team"), "G-D1": (True, 3, 3, 1.0, "team"), "G-T2": (True, 1, 1, 0.5, "team"),
          "G-T9": (True, 1, 1, NAN, "team"), "G-T8": (True, 0, 0, NAN, "team"), None: (True, 6, 6, LOOSE_ATTAINMENT, "team")}),
    # 5 > 3: team goals too, but G-T9 stays (no parent stands in for G-E9) while G-T8 is summed.
    (3, {"G-CO": (True, 0, 0, NAN, "department"), "G-D1": (True, 4, 5, 2.8 / 2.6, "department"),
         "G-T9": (True, 1, 1, NAN, "department"), None: (True, 6, 6, LOOSE_ATTAINMENT, "department")}),
])
def test_a_root_with_goals_beneath_it_is_kept_and_loose_roots_are_summed_per_owner_type(rooted, max_goals, expected):
    frame = cascade(rooted, max_goals=max_goals)
    loose = frame[frame["goal_id"].isna()]
    if max_goals == 3:  # one row per owner type, employee before team
        assert loose["owner_type"].tolist() == ["employee", "team"]
        assert loose["left_out_children"].tolist() == [6, 1] and math.isnan(loose["left_out_attainment"].iloc[1])
        frame = frame.drop(index=loose.index[1])
    assert_rows(frame, expected)
    assert cascade_goal_count(cascade(rooted, max_goals=max_goals)) == 16


def test_a_filtered_tree_stays_whole_and_counts_only_the_goals_it_shows(messy):
    # North: E3's goals (G-E3a, G-E3c, G-E3b) and team T2's G-T2 are in scope; G-D1 and G-CO come along
    # as ancestors (in_scope false). 6 goals > 2 -> without individual goals 3 > 2 -> department level.
    frame = cascade(messy, region="North", max_goals=2)
    assert_rows(frame, {
        "G-CO": (False, 0, 0, NAN, "department"),
        # G-E3a and G-T2 left out (G-E2a, G-E2b are not in North), G-E3c beneath G-T2.
        "G-D1": (False, 2, 3, (0.6 * 0.75 + 1.0 * 1.2) / 1.6, "department"),
        None: (True, 1, 1, 0.0, "department"),  # G-E3b, in the filter's region
    })
    assert frame.loc[frame["goal_id"].isna(), "region"].tolist() == ["North"]
    # Its own figures stay those of the whole tree.
    assert frame.set_index("goal_id").loc["G-D1", "children"] == 4


@pytest.mark.parametrize(
    "root, max_goals, expected",
    [
        ("G-T2", 0, {"G-T2": (True, 0, 0, NAN, "employee"), "G-E3c": (True, 0, 0, NAN, "employee")}),
        ("G-D1", 2, {"G-D1": (True, 3, 3, (0.75 + 0.4 + 0.45) / 1.6, "team"), "G-T2": (True, 1, 1, 0.5, "team")}),
        # The root is kept even when it is an individual goal.
        ("G-E3c", 0, {"G-E3c": (True, 0, 0, NAN, "employee")}),
    ],
)
def test_root_lists_one_branch(messy, root, max_goals, expected):
    assert_rows(cascade(messy, root=root, max_goals=max_goals), expected)


@pytest.mark.parametrize("params, expected", [({}, ["G-T2"]), ({"region": "North"}, ["G-T2"]), ({"department": "D2"}, [])])
def test_the_masking_list_has_only_goals_in_scope_on_track_over_children_off_track(messy, params, expected):
    frame = cascade(messy, goals="masks_shortfall", max_goals=0, **params)
    assert frame["goal_id"].tolist() == expected
    whole = cascade(messy, max_goals=0, **params)
    assert expected == whole.loc[whole["masks_shortfall"] & whole["in_scope"], "goal_id"].tolist()


def test_every_returned_figure_is_the_whole_cascade_s(messy):
    whole = cascade(messy, max_goals=0).drop(columns=["left_out_children", "left_out_goals", "left_out_attainment", "detail"])
    part = cascade(messy, max_goals=5)[whole.columns].dropna(subset=["goal_id"])
    def plain(frame):  # a text column all null among fewer rows comes back as object (None), not str (nan)
        return frame.reset_index(drop=True).astype(object).where(frame.reset_index(drop=True).notna(), None)

    pd.testing.assert_frame_equal(plain(part), plain(whole[whole["goal_id"].isin(part["goal_id"])]))


def test_the_whole_cascade_csv_has_every_goal_as_the_query_gives_them(messy):
    written = whole_cascade_csv(messy, {"cycle": "2025H2", "region": "North"})
    assert written.startswith("\ufeff".encode())
    frame = pd.read_csv(io.BytesIO(written), encoding="utf-8-sig")
    expected = cascade(messy, region="North", max_goals=0)
    assert frame["goal_id"].tolist() == expected["goal_id"].tolist()
    assert list(frame.columns) == list(expected.columns)
    assert frame["attainment"].tolist() == pytest.approx(expected["attainment"].tolist(), nan_ok=True)


def test_the_whole_cascade_csv_says_which_query_failed_when_duckdb_cannot_write_it(messy, monkeypatch):
    import duckdb

    from gradelens.errors import DatasetError

    real_cursor = type(messy).cursor

    class FullDisk:  # reads work, writing the CSV does not
        def __init__(self, cursor):
            self.cursor = cursor

        def execute(self, sql, *args):
            if sql.startswith("COPY"):
                raise duckdb.IOException("IO Error: No space left on device")
            return self.cursor.execute(sql, *args)

    monkeypatch.setattr(type(messy), "cursor", lambda self, use_derived=True: FullDisk(real_cursor(self, use_derived)))
    with pytest.raises(DatasetError) as raised:
        whole_cascade_csv(messy, {"cycle": "2025H2"})
    assert "goal_cascade" in raised.value.message() and "No space left on device" in raised.value.message()


def test_cascade_nodes_draw_the_goals_left_out_under_their_kept_goal(messy):
    nodes = cascade_nodes(cascade(messy, max_goals=2)).set_index("id")
    below = nodes.loc[f"G-D1::{attainment.LEFT_OUT}"]
    assert (below["parent"], below["goals"], below["size"], below["label"]) == ("G-D1", 5, 5, "5 goals below")
    assert below["attainment"] == pytest.approx(2.8 / 2.6)
    assert nodes.loc["G-D1", "size"] == 6 and nodes.loc["G-CO", "size"] == 7
    loose = nodes.loc[f"{attainment.UNLINKED_NODE}::employee"]
    assert (loose["parent"], loose["goals"], loose["size"]) == (attainment.UNLINKED_NODE, 6, 6)
    assert loose["attainment"] == pytest.approx(LOOSE_ATTAINMENT)
    assert nodes.loc[attainment.UNLINKED_NODE, "size"] == 6 and nodes.loc[attainment.ROOT_NODE, "size"] == 13
    assert len(nodes) == 6  # root, G-CO, G-D1, its left-out goals, "not linked" and its group


def test_cascade_nodes_give_the_same_groups_from_the_query_s_rows_as_from_the_goals(messy):
    # max_goals 10 sums the six loose roots in the query; max_goals 0 returns them and the chart
    # sums them (max_nodes 4 leaves out individual goals there too).
    summed = cascade_nodes(cascade(messy, max_goals=10), max_nodes=4).set_index("id")
    drawn = cascade_nodes(cascade(messy, max_goals=0), max_nodes=4).set_index("id")
    group = f"{attainment.UNLINKED_NODE}::employee"
    assert summed.loc[group, ["label", "goals", "size"]].tolist() == drawn.loc[group, ["label", "goals", "size"]].tolist()
    assert summed.loc[group, "attainment"] == pytest.approx(drawn.loc[group, "attainment"])
    assert summed.loc[attainment.ROOT_NODE, "size"] == drawn.loc[attainment.ROOT_NODE, "size"] == 13


# --- the goal tree: precomputed or computed, the same --------------------------------------------

def looped_tables():
    """The messy company plus a loop of links (G-L1 -> G-L2 -> G-L1) with G-L3 hanging under it."""
    tables = attainment_tables()
    tables["goals"] += [_goal("G-L1", "G-L2", "team", "T1", "loops", 10, 1.0), _goal("G-L2", "G-L1", "team", "T1", "loops", 10, 1.0),
                        _goal("G-L3", "G-L1", "employee", "E2", "loops", 10, 0.1)]
    return tables


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    computed = write_dataset(root / "computed", looped_tables())
    prepared = root / "prepared"
    shutil.copytree(computed, prepared)
    derived.build(prepared)
    return {"computed": open_dataset(computed), "prepared": open_dataset(prepared)}


def test_the_goal_tree_is_read_from_the_derived_tables_when_current(layouts):
    con = layouts["prepared"].cursor()
    assert layouts["prepared"].derived_current
    counts = con.execute("SELECT cycle_id, count(*) FROM goal_tree GROUP BY ALL ORDER BY ALL").fetchall()
    assert counts == con.execute("SELECT cycle_id, count(*) FROM goals GROUP BY ALL ORDER BY ALL").fetchall()
    assert dict(counts)["2025H2"] == 13 + 3  # the messy company's goals and the loop


def test_the_goal_tree_walked_down_gives_what_walking_up_every_ancestor_gives(layouts):
    con = layouts["computed"].cursor()
    tree = con.execute("SELECT goal_id, top_goal_id, depth, path FROM cycle_goal_tree('2025H2') ORDER BY goal_id").fetchall()
    walked = con.execute(
        "SELECT goal_id, arg_max(ancestor_id, steps), max(steps), list(ancestor_id ORDER BY steps DESC) "
        "FROM cycle_goal_ancestors('2025H2') GROUP BY goal_id ORDER BY goal_id").fetchall()
    assert tree == [tuple(row) for row in walked]
    tops = {goal_id: (top, depth) for goal_id, top, depth, _ in tree}
    assert tops["G-E3c"] == ("G-CO", 3) and tops["G-E5b"] == ("G-E5b", 0)
    assert tops["G-L3"][1] == 64  # the loop is walked up 64 steps, as before


@pytest.mark.parametrize("name, params", [
    ("goal_cascade", {}), ("goal_cascade", {"max_goals": 0}), ("goal_cascade", {"max_goals": 5, "region": "North"}),
    ("goal_cascade", {"root": "G-D1", "max_goals": 2}), ("goal_cascade", {"goals": "masks_shortfall", "max_goals": 0}),
    ("strategy_theme_attainment", {}), ("unlinked_goals", {}), ("goal_alignment", {}), ("goal_alignment", {"region": "North"}),
])
def test_the_structure_queries_answer_the_same_with_a_precomputed_tree(layouts, name, params):
    computed, prepared = (run_query(layouts[kind], name, {"cycle": "2025H2", **params}) for kind in ("computed", "prepared"))
    pd.testing.assert_frame_equal(prepared, computed)
    assert not computed.empty


@pytest.mark.parametrize("params", [{}, {"region": "North"}, {"department": "D1"}, {"as_of": "2025-11-30"}])
def test_the_masking_list_comes_from_a_cascade_that_left_nothing_out(messy, params):
    def fetch():
        raise AssertionError("the cascade had every goal: no second query")

    view = cascade(messy, **params)
    expected = cascade(messy, goals="masks_shortfall", max_goals=0, **params)
    # Same rows and values; a text column all null in the shorter list comes back as object (None), not str (nan).
    def plain(frame):
        return frame.astype(object).where(frame.notna(), None)

    pd.testing.assert_frame_equal(plain(attainment.masking_list(view, fetch)), plain(expected))


def test_the_masking_list_is_asked_for_when_the_cascade_left_goals_out(messy):
    asked = cascade(messy, goals="masks_shortfall", max_goals=0)
    assert asked["goal_id"].tolist() == ["G-T2"]  # on track (1.2) over its child G-E3c (0.5)
    view = cascade(messy, max_goals=2)  # G-T2 is left out under G-D1
    assert "G-T2" not in set(view["goal_id"])
    assert attainment.masking_list(view, lambda: asked) is asked


# --- the page's default views: stored per data version --------------------------------------------

@pytest.mark.parametrize("cycle", ["2025H1", "2025H2"])
@pytest.mark.parametrize("params", [{}, {"goals": "masks_shortfall", "max_goals": 0}])
def test_the_default_views_are_stored_and_equal_what_is_computed(layouts, cycle, params):
    con = layouts["prepared"].cursor()
    view = "all" if not params else "masks_shortfall"
    stored = con.execute("SELECT count(*) FROM goal_cascade_defaults WHERE cycle_id = $cycle AND default_view = $view",
                         {"cycle": cycle, "view": view}).fetchone()[0]
    computed, prepared = (run_query(layouts[kind], "goal_cascade", {"cycle": cycle, **params}) for kind in ("computed", "prepared"))
    assert stored == len(computed)
    pd.testing.assert_frame_equal(prepared, computed)


@pytest.fixture(scope="module")
def doctored(tmp_path_factory):
    """A prepared messy company whose stored default views say every goal's title is "stored"."""
    folder = write_dataset(tmp_path_factory.mktemp("doctored") / "ds", looped_tables())
    stored = derived.build(folder) / "goal_cascade_defaults"
    con = open_dataset(folder).cursor()
    for part in stored.rglob("*.parquet"):
        con.execute(f"COPY (SELECT * REPLACE ('stored' AS title) FROM read_parquet('{part}')) TO '{part}.new' (FORMAT parquet)")
        part.with_name(part.name + ".new").replace(part)
    return open_dataset(folder)


@pytest.mark.parametrize("params, from_store", [
    ({}, True),
    ({"goals": "masks_shortfall", "max_goals": 0}, True),
    ({"goals": "masks_shortfall", "max_goals": -1}, True),  # max_goals <= 0 is the whole cascade, as 0
    ({"max_goals": 0}, False),
    ({"max_goals": 2499}, False),
    ({"goals": "masks_shortfall"}, False),  # the masking list among the 2,500 kept goals: another list
    ({"as_of": "2025-12-31"}, False),
    ({"region": "North"}, False),
    ({"department": "D1"}, False),
    ({"root": "G-CO"}, False),
])
def test_only_the_default_views_are_read_from_the_stored_rows(doctored, params, from_store):
    frame = run_query(doctored, "goal_cascade", {"cycle": "2025H2", **params})
    assert not frame.empty
    assert (set(frame["title"]) == {"stored"}) is from_store


def test_the_default_view_does_not_compute_the_cascade_when_it_is_stored(layouts):
    from gradelens.queries import bind_params, get_query

    query = get_query("goal_cascade")
    con = layouts["prepared"].cursor()
    operators = {}
    for label, params in {"default": {}, "filtered": {"region": "North"}}.items():
        bound = bind_params(layouts["prepared"], query, {"cycle": "2025H2", **params})
        plan = json.loads(con.execute("EXPLAIN (FORMAT json) " + query.sql, bound).fetchall()[0][1])
        operators[label] = set(plan_operators(plan))
    # The computed branch walks the goals left out upwards (a recursive CTE); the stored one reads a file.
    assert "REC_CTE" in operators["filtered"] and "REC_CTE" not in operators["default"]


def plan_operators(nodes):
    for node in nodes:
        yield node.get("name")
        yield from plan_operators(node.get("children", []))


# --- the page with a cascade larger than it lists -------------------------------------------------

def test_the_page_lists_kept_goals_and_opens_a_branch_on_request(monkeypatch, messy_folder):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("GRADELENS_DATA", str(messy_folder))
    monkeypatch.setattr(attainment, "MAX_TABLE_GOALS", 2)  # the messy company's 13 goals are then "many"
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "pages/attainment.py"), default_timeout=90).run()
    assert not at.exception, at.exception
    captions = [c.value for c in at.caption]
    assert any(c.startswith("With 13 goals, the tables list company and department goals") for c in captions), captions
    assert "Goals on track while the goals under them are off track: 1." in [w.value for w in at.warning]
    def listed(at):
        return [f.value["goal_id"].tolist() for f in at.dataframe if "goal_id" in f.value.columns]

    assert ["G-CO", "G-D1"] not in listed(at)  # a branch's table is drawn when opened
    at.session_state["attainment_branch_1"] = True  # the company's revenue goal
    at.run()
    assert ["G-CO", "G-D1"] in listed(at) and ["G-D1", "G-T2"] not in listed(at)
    picker = at.selectbox(key="attainment_open_branch")
    assert picker.options == ["revenue goal (5)"]  # G-D1 stands for 5 goals left out
    at = picker.select_index(0).run()
    # G-D1's branch (6 goals > 5) keeps department and team goals: G-D1 and, under it, G-T2.
    assert ["G-D1", "G-T2"] in listed(at)


def test_the_whole_cascade_csv_keeps_a_scoped_viewer_to_what_run_query_gives_them(messy):
    department = cascade(messy, max_goals=0)["department_id"].dropna().iloc[0]
    hrbp = Viewer("hr@example.com", "hrbp", (department,))
    frame = pd.read_csv(io.BytesIO(whole_cascade_csv(messy, {"cycle": "2025H2"}, hrbp)), encoding="utf-8-sig")
    scoped = run_query(messy, "goal_cascade", {"cycle": "2025H2", "max_goals": 0}, viewer=hrbp)
    assert frame["goal_id"].tolist() == scoped["goal_id"].tolist()
    assert len(frame) < len(cascade(messy, max_goals=0))  # the other department's goals are not in it
    manager = Viewer("pm@example.com", "performance_manager")
    assert whole_cascade_csv(messy, {"cycle": "2025H2"}, manager) == whole_cascade_csv(messy, {"cycle": "2025H2"})
