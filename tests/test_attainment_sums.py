"""The cycle-level sums (definitions.sql, "Cycle-level sums"; gradelens/derived.py): stored and
computed give the same rows, the queries built on them give the same answers either way, with
and without filters and an as-of date, and at a cycle's end the stored rows are what is read.

`messy` is tests/attainment_fixture.py (its docstring has the answers: E1-E3 in Sales D1, E4-E5
in R&D D2; E3 in North, the others East; bad input of every kind the data-quality query names).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from gradelens import derived
from gradelens.dataset import open_dataset
from gradelens.queries import all_queries, get_query, bind_params, run_query
from tests.attainment_fixture import write_attainment_dataset

QUERIES = ["strategy_theme_attainment", "attainment_trend_by_cycle", "attainment_data_quality", "attainment_snapshot",
           "attainment_headline", "attainment_by_department", "attainment_by_region", "attainment_department_region",
           "attainment_trend", "team_attainment"]
PARAMS = [{}, {"department": "D1"}, {"department": "D2"}, {"region": "East"}, {"region": "North"}, {"as_of": "2025-11-30"},
          {"as_of": "2025-11-30", "department": "D1"}, {"as_of": "2025-11-30", "region": "East"}, {"cycle": "2025H1"}]


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> dict[str, Path]:
    """The messy fixture twice: as written (everything computed) and with its derived tables built."""
    root = tmp_path_factory.mktemp("sums")
    computed = write_attainment_dataset(root / "computed")
    stored = write_attainment_dataset(root / "stored")
    derived.build(stored)
    return {"computed": computed, "stored": stored}


def accepted(name: str, params: dict) -> dict:
    names = {p.name for p in all_queries()[name].params}
    return {key: value for key, value in params.items() if key in names}


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
@pytest.mark.parametrize("name", QUERIES)
def test_each_query_answers_the_same_from_stored_and_computed_sums(messy, name, params):
    stored = open_dataset(messy["stored"])
    expected = run_query(open_dataset(messy["computed"]), name, accepted(name, params))
    got = run_query(stored, name, accepted(name, params))
    assert stored.derived_current
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_the_problems_are_the_fixture_s_whether_stored_or_computed(messy):
    for folder in messy.values():
        frame = run_query(open_dataset(folder), "attainment_data_quality", {"cycle": "2025H2"})
        assert list(zip(frame["issue"], frame["goal_id"].fillna(frame["owner_id"]))) == [
            ("target_not_positive", "G-E5a"), ("weight_out_of_range", "G-E4b"),
            ("weights_not_one", "E3"), ("weights_not_one", "E4"), ("weights_not_one", "E5"),
            ("parent_missing", "G-E4c"), ("parent_other_cycle", "G-E5b"),
            ("actual_outside_cycle", "G-E3a"), ("actual_outside_cycle", "G-E4b")]


@pytest.mark.parametrize("kind", ["computed", "stored"])
def test_people_end_sums_count_each_department_and_region(messy, kind):
    """2025H2: Sales East E1 (no attainment), E2 1.15; Sales North E3 0.458333; R&D East E4 0.80, E5 0.50."""
    con = open_dataset(messy[kind]).cursor()
    rows = con.execute("SELECT department_id, region, employees, employees_with_attainment, attainment_sum "
                       "FROM people_end_sums WHERE cycle_id = '2025H2' ORDER BY ALL").fetchall()
    assert [row[:4] for row in rows] == [("D1", "East", 2, 1), ("D1", "North", 1, 1), ("D2", "East", 2, 2)]
    assert [row[4] for row in rows] == pytest.approx([1.15, 0.55 / 1.2, 1.30])


@pytest.mark.parametrize("kind", ["computed", "stored"])
def test_theme_sums_place_goals_where_their_owners_sit(messy, kind):
    """2025H2: the company goal in no place; G-D1 in D1 with its unit's region; team T2 in Sales
    North; on track G-D1, G-T2, G-E2a, G-E4a, G-E4b; at risk G-CO, G-E2b."""
    con = open_dataset(messy[kind]).cursor()
    rows = con.execute("SELECT owner_type, department_id, region, sum(goals), sum(goals_with_attainment), sum(on_track), "
                       "sum(at_risk), sum(off_track) FROM cycle_theme_sums('2025H2', NULL) GROUP BY ALL ORDER BY ALL").fetchall()
    regions = dict(con.execute("SELECT unit_id, region FROM org_units").fetchall())
    assert rows == [
        ("company", None, None, 1, 1, 0, 1, 0),
        ("department", "D1", regions["D1"], 1, 1, 1, 0, 0),
        ("employee", "D1", "East", 2, 2, 1, 1, 0),       # G-E2a 1.5, G-E2b 0.8
        ("employee", "D1", "North", 3, 3, 0, 0, 3),      # G-E3a 0.75, G-E3b 0, G-E3c 0.5
        ("employee", "D2", "East", 5, 4, 2, 0, 2),       # G-E4a 1, G-E4b 1, G-E4c 0.5, G-E5a none, G-E5b 0.5
        ("team", "D1", "North", 1, 1, 1, 0, 0),          # G-T2 1.2
    ]


def test_the_stored_tables_hold_the_rows_their_views_and_macros_compute(messy):
    stored = open_dataset(messy["stored"]).cursor()
    computed = open_dataset(messy["computed"]).cursor()
    cycles = [row[0] for row in computed.execute("SELECT cycle_id FROM cycles ORDER BY 1").fetchall()]
    assert cycles == ["2025H1", "2025H2"]
    for view in ("people_end_sums", "team_end_sums", "people_month_sums"):
        sql = f"SELECT * FROM {view} ORDER BY ALL"
        expected = computed.execute(sql).df()
        assert len(expected) > 0, view
        pd.testing.assert_frame_equal(stored.execute(sql).df(), expected, check_exact=False, rtol=1e-12, obj=view)
    for table, macro in (("theme_end_sums", "cycle_theme_sums_computed($c, NULL)"), ("goal_problems", "cycle_goal_problems_computed($c)")):
        for cycle in cycles:
            rows = stored.execute(f"SELECT * EXCLUDE (cycle_id) FROM {table} WHERE cycle_id = $c ORDER BY ALL", {"c": cycle}).df()
            expected = computed.execute(f"SELECT * FROM {macro} ORDER BY ALL", {"c": cycle}).df()
            assert len(expected) > 0 or (table, cycle) == ("goal_problems", "2025H1"), (table, cycle)  # 2025H1 is clean
            pd.testing.assert_frame_equal(rows, expected, check_exact=False, rtol=1e-12, check_dtype=False)


def test_theme_sums_give_the_weighted_attainment_of_the_company_goal(messy):
    """2025H2 G-CO: weight 1, attainment 0.90; the tree makes every goal under it share its theme."""
    con = open_dataset(messy["stored"]).cursor()
    (theme, weighted, weight), = con.execute(
        "SELECT strategy_theme, weighted_attainment, weight_sum FROM cycle_theme_sums('2025H2', NULL) WHERE owner_type = 'company'").fetchall()
    assert (weighted / weight) == pytest.approx(0.90)
    themes = run_query(open_dataset(messy["stored"]), "strategy_theme_attainment", {"cycle": "2025H2"})
    assert themes.loc[themes["strategy_theme"].fillna("") == (theme or ""), "company_goal_attainment"].iloc[0] == pytest.approx(0.90)


def files_read(folder: Path, name: str, params: dict, tmp_path: Path) -> set[str]:
    """The files DuckDB's profile says the query read (table names: the raw file's stem, or the
    derived table's folder)."""
    dataset = open_dataset(folder)
    query = get_query(name)
    con = dataset.cursor()
    out = tmp_path / f"{name}.json"
    con.execute("PRAGMA enable_profiling='json'")
    con.execute(f"PRAGMA profiling_output='{out}'")
    con.execute(query.sql, bind_params(dataset, query, params)).fetchall()
    con.execute("PRAGMA disable_profiling")
    names = set()

    def walk(node):
        for path in str(node.get("extra_info", {}).get("Filename(s)", "")).replace(",", " ").split():
            parts = Path(path).parts
            names.add(parts[parts.index(derived.DERIVED) + 2] if derived.DERIVED in parts else Path(path).stem)
        for child in node.get("children", []):
            walk(child)

    for node in json.loads(out.read_text(encoding="utf-8"))["operator"]:
        walk(node)
    return names


@pytest.mark.parametrize("name, reads", [
    ("strategy_theme_attainment", {"theme_end_sums"}),
    ("attainment_snapshot", {"people_end_sums", "theme_end_sums", "owner_end_attainment"}),
    ("attainment_trend_by_cycle", {"cycles", "people_end_sums", "owner_end_attainment"}),
    ("attainment_data_quality", {"goal_problems"}),  # employees only for a department filter
    ("team_attainment", {"team_end_sums", "owner_end_attainment", "org_units"}),
    ("attainment_trend", {"cycles", "people_month_sums", "people_end_sums", "owner_month_attainment", "owner_end_attainment"}),
])
def test_at_the_cycle_end_only_the_stored_rows_are_read(messy, tmp_path, name, reads):
    """DuckDB drops the computing branches for a NULL as_of: no goal or actual file is read."""
    assert files_read(messy["stored"], name, {}, tmp_path) == reads
    assert "goals" in files_read(messy["computed"], name, {}, tmp_path)


def test_as_of_a_date_the_sums_are_computed(messy, tmp_path):
    assert {"goals", "kpi_actuals", "goal_tree"} <= files_read(messy["stored"], "strategy_theme_attainment", {"as_of": "2025-11-30"}, tmp_path)


def test_an_empty_cycle_has_no_sums_and_zero_counts(messy):
    """A cycle filter on a department nobody belongs to: zero employees and goals, no means."""
    frame = run_query(open_dataset(messy["stored"]), "attainment_snapshot", {"cycle": "2025H2", "department": "NOPE"})
    row = frame.iloc[0]
    assert (row.employees, row.employees_with_attainment, row.goals, row.goals_with_attainment) == (0, 0, 0, 0)
    assert math.isnan(row.attainment) and math.isnan(row.on_track_share)
