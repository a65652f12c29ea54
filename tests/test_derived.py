"""Derived tables (gradelens/derived.py) and the cycle-partitioned actuals give the answers the
raw tables give, are never used when stale, and are kept up to date by demo, import and prepare."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gradelens import derived
from gradelens.cli import main
from gradelens.dataset import open_dataset
from gradelens.queries import all_queries, run_query
from tests.appeals_fixture import appeals_company_tables
from tests.tiny_company import tiny_company_tables, write_dataset

ATTAINMENT_QUERIES = [
    name for name, query in all_queries().items()
    if "kpi_actuals" in (query.sql or "") or any(p.name == "as_of" for p in query.params)
] + ["attainment_trend_by_cycle", "goal_cascade", "attainment_headline", "attainment_data_quality", "department_list"]


GRADED_QUERIES = sorted(
    name for name, query in all_queries().items() if re.search(r"\bgraded_(people|groups)\b", query.sql or "")
)


def partitioned_copy(source: Path, target: Path) -> Path:
    """The same dataset with kpi_actuals under kpi_actuals/cycle_id=<goal's cycle>/, as imports write it."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("kpi_actuals.parquet", "_derived"))
    actuals = pq.read_table(source / "kpi_actuals.parquet").to_pandas()
    goals = pq.read_table(source / "goals.parquet", columns=["goal_id", "cycle_id"]).to_pandas()
    merged = actuals.merge(goals, on="goal_id", how="left")
    merged["cycle_id"] = merged["cycle_id"].fillna("_no_goal")
    schema = pq.read_schema(source / "kpi_actuals.parquet")
    for cycle, rows in merged.groupby("cycle_id"):
        folder = target / "kpi_actuals" / f"cycle_id={cycle}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(rows.drop(columns="cycle_id"), schema=schema, preserve_index=False), folder / "part-0.parquet")
    return target


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """The tiny company three ways: flat actuals, partitioned actuals, partitioned + derived tables."""
    root = tmp_path_factory.mktemp("layouts")
    flat = write_dataset(root / "flat", tiny_company_tables())
    partitioned = partitioned_copy(flat, root / "partitioned")
    prepared = partitioned_copy(flat, root / "prepared")
    derived.build(prepared)
    return {"flat": flat, "partitioned": partitioned, "prepared": prepared}


def answers(folder: Path, name: str, **params) -> pd.DataFrame:
    return run_query(open_dataset(folder), name, params)


def test_the_derived_tables_are_used_only_where_built(layouts):
    opened = {kind: open_dataset(path) for kind, path in layouts.items()}
    for dataset in opened.values():
        dataset.cursor()
    assert {kind: d.derived_current for kind, d in opened.items()} == {"flat": False, "partitioned": False, "prepared": True}


@pytest.mark.parametrize("name", sorted(set(ATTAINMENT_QUERIES)))
@pytest.mark.parametrize("as_of", [None, "2025-09-30"])
def test_every_attainment_query_answers_the_same_in_every_layout(layouts, name, as_of):
    query = all_queries()[name]
    params = {"as_of": as_of} if any(p.name == "as_of" for p in query.params) else {}
    if any(p.required for p in query.params):
        pytest.skip(f"{name} needs a required parameter")
    expected = answers(layouts["flat"], name, **params)
    for kind in ("partitioned", "prepared"):
        pd.testing.assert_frame_equal(answers(layouts[kind], name, **params), expected, check_exact=False, rtol=1e-12)


def test_the_grade_and_appeal_queries_read_the_derived_graded_people():
    assert {"grade_cycle_counts", "grade_distribution", "calibration_worksheet", "appeal_trends", "open_appeals"} <= set(GRADED_QUERIES)


# The tiny company has no grade two steps from its attainment (the default min_gap); at 0 everyone graded with attainment is listed.
GRADED_PARAMS = {"grade_attainment_mismatch": {"min_gap": 0}}


# Queries the tiny company gives no rows; each has its own layout test on a fixture that does.
NEEDS_OTHER_FIXTURE = {"appeal_data_quality"}


@pytest.mark.parametrize("name", [name for name in GRADED_QUERIES if name not in NEEDS_OTHER_FIXTURE])
def test_every_grade_and_appeal_query_answers_the_same_in_every_layout(layouts, name):
    query = all_queries()[name]
    if any(p.required for p in query.params):
        pytest.skip(f"{name} needs a required parameter")
    # Every grouping, so the manager branch of graded_groups (names from employees) is covered too.
    group_by = next((p for p in query.params if p.name == "group_by"), None)
    for params in ({"group_by": value} for value in group_by.choices) if group_by else [{}]:
        params |= GRADED_PARAMS.get(name, {})
        expected = answers(layouts["flat"], name, **params)
        assert len(expected), (name, params)  # the tiny company has grades and appeals in every grouping
        pd.testing.assert_frame_equal(answers(layouts["prepared"], name, **params), expected, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("department, listed", [
    (None, ["BAD1", "BAD2", "BAD5", "BAD4", "BAD3"]),  # tests/appeals_fixture.py's bad appeals
    ("D1", ["BAD4", "BAD3"]),
    ("D2", ["BAD5"]),
])
def test_appeal_data_quality_answers_the_same_from_the_stored_graded_people(tmp_path, department, listed):
    tables = appeals_company_tables()
    # A grade of someone who is no employee: still an unknown employee, whichever layout.
    tables["grades"].append(dict(tables["grades"][0], cycle_id="2025H2", employee_id="E9"))
    flat = write_dataset(tmp_path / "flat", tables)
    prepared = write_dataset(tmp_path / "prepared", tables)
    derived.build(prepared)
    dataset = open_dataset(prepared)
    dataset.cursor()
    assert dataset.derived_current
    expected = answers(flat, "appeal_data_quality", department=department)
    assert list(expected["appeal_id"]) == listed
    pd.testing.assert_frame_equal(answers(prepared, "appeal_data_quality", department=department), expected)


def test_a_changed_grades_file_is_not_answered_from_stale_graded_people(tmp_path):
    folder = write_dataset(tmp_path / "ds", tiny_company_tables())
    derived.build(folder)
    before = answers(folder, "grade_cycle_counts")
    grades = pq.read_table(folder / "grades.parquet").to_pandas()
    grades["final_grade"] = "D"  # a corrected file copied in by hand
    pq.write_table(pa.Table.from_pandas(grades, schema=pq.read_schema(folder / "grades.parquet"), preserve_index=False),
                   folder / "grades.parquet")
    assert derived.current_folder(folder) is None
    after = answers(folder, "grade_cycle_counts")
    assert set(after.loc[after["employees"] > 0, "grade"]) == {"D"} and not after.equals(before)


def test_stale_derived_tables_are_ignored_and_the_new_actuals_counted(tmp_path):
    folder = partitioned_copy(write_dataset(tmp_path / "flat", tiny_company_tables()), tmp_path / "ds")
    derived.build(folder)
    before = answers(folder, "attainment_by_department")
    # Every actual doubles: a copied-in file the derived tables were not computed from.
    for part in (folder / "kpi_actuals").rglob("*.parquet"):
        table = pq.read_table(part)
        doubled = table.set_column(table.schema.get_field_index("actual"), "actual", pa.compute.multiply(table["actual"], 2.0))
        pq.write_table(doubled, part)
    assert derived.current_folder(folder) is None
    dataset = open_dataset(folder)
    after = run_query(dataset, "attainment_by_department")
    assert dataset.derived_current is False
    assert not after["attainment"].equals(before["attainment"])
    derived.build(folder)
    pd.testing.assert_frame_equal(answers(folder, "attainment_by_department"), after)


def test_building_twice_reuses_the_folder_and_keeps_one_older_version(tmp_path):
    folder = partitioned_copy(write_dataset(tmp_path / "flat", tiny_company_tables()), tmp_path / "ds")
    first = derived.build(folder)
    assert derived.build(folder) == first
    versions = []
    for step in range(3):
        part = next((folder / "kpi_actuals").rglob("*.parquet"))
        os.utime(part, ns=(1_700_000_000_000_000_000 + step, 1_700_000_000_000_000_000 + step))
        versions.append(derived.build(folder))
    kept = sorted(p.name for p in (folder / derived.DERIVED).iterdir())
    assert kept == sorted(p.name for p in versions[-2:])


def test_prepare_command_builds_and_reports(tmp_path, capsys):
    folder = write_dataset(tmp_path / "ds", tiny_company_tables())
    assert main(["prepare", str(folder)]) == 0
    assert "current" in capsys.readouterr().out
    assert derived.current_folder(folder) is not None


def test_prepare_command_on_a_missing_folder_is_one_line(tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and len(err.strip().splitlines()) == 1


def test_the_demo_writes_partitioned_actuals_and_current_derived_tables(tmp_path):
    from gradelens.demo import generate

    generate(tmp_path / "demo", employees=100, cycles=2)
    assert sorted(p.name for p in (tmp_path / "demo" / "kpi_actuals").iterdir()) == ["cycle_id=2025H2", "cycle_id=2026H1"]
    assert derived.current_folder(tmp_path / "demo") is not None


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    from gradelens.demo import generate

    folder = tmp_path_factory.mktemp("series") / "demo"
    generate(folder, employees=100, cycles=2)
    return open_dataset(folder)


def test_the_month_end_figures_equal_owner_attainment_at_each_month_end(small_demo):
    """owner_month_attainment (precomputed; and its list look-up view) against owner_attainment called for each date."""
    assert small_demo.derived_current or derived.current_folder(small_demo.path) is not None
    con = small_demo.cursor()
    points = con.execute("SELECT cycle_id, until_date FROM cycle_month_ends ORDER BY ALL").fetchall()
    # Two cycles of six months: five month ends before each end.
    assert len(points) == 10
    columns = "cycle_id, until_date, owner_type, owner_id, attainment, goals_with_actuals"
    one_by_one = pd.concat([
        con.execute(f"SELECT CAST($c AS VARCHAR) AS cycle_id, CAST($d AS DATE) AS until_date, owner_type, owner_id, "
                    "attainment, goals_with_actuals FROM owner_attainment($c, $d)", {"c": cycle, "d": day}).df()
        for cycle, day in points
    ]).sort_values(["cycle_id", "until_date", "owner_type", "owner_id"]).reset_index(drop=True)
    assert len(one_by_one) > 100
    for view in ("owner_month_attainment", "owner_month_attainment_computed"):
        rows = con.execute(f"SELECT {columns} FROM {view} ORDER BY cycle_id, until_date, owner_type, owner_id").df()
        pd.testing.assert_frame_equal(rows, one_by_one, check_dtype=False, check_exact=False, rtol=1e-12)


def test_the_month_ends_of_a_cycle_exclude_its_end_and_days_before_its_start(tmp_path):
    """A cycle from 2025-07-15 to 2025-09-30: month ends 07-31 and 08-31; 09-30 is the end (owner_end_attainment)."""
    tables = tiny_company_tables()
    tables["cycles"] = [dict(row, start_date=dt.date(2025, 7, 15), end_date=dt.date(2025, 9, 30)) if row["cycle_id"] == "2025H2" else row
                        for row in tables["cycles"]]
    con = open_dataset(write_dataset(tmp_path / "ds", tables)).cursor()
    assert con.execute("SELECT until_date FROM cycle_month_ends WHERE cycle_id = '2025H2' ORDER BY 1").fetchall() == [
        (dt.date(2025, 7, 31),), (dt.date(2025, 8, 31),)]


def test_the_data_page_says_when_the_derived_tables_are_missing_and_not_when_current(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    folder = write_dataset(tmp_path / "ds", tiny_company_tables())
    monkeypatch.setenv("GRADELENS_DATA", str(folder))
    page = str(Path(__file__).resolve().parent.parent / "pages" / "data.py")

    def captions():
        at = AppTest.from_file(page, default_timeout=60).run()
        assert not at.exception
        return " ".join(c.value for c in at.caption)

    assert "gradelens prepare" in captions()
    derived.build(folder)
    assert "gradelens prepare" not in captions()


# The goal-structure tables stored per cycle and the macros that compute them (definitions.sql).
PER_CYCLE_COMPUTED = {
    "goal_cascade_defaults": ["goal_cascade_defaults_computed($cycle, 'all')", "goal_cascade_defaults_computed($cycle, 'masks_shortfall')"],
    "goal_alignment_counts": ["cycle_goal_alignment_counts_computed($cycle)"],
    "unlinked_goal_rows": ["cycle_unlinked_goals_computed($cycle)"],
}


@pytest.mark.parametrize("table", sorted(PER_CYCLE_COMPUTED))
def test_the_stored_goal_structure_tables_hold_what_their_macros_compute(small_demo, table):
    assert table in {stored.name for stored in derived.STORED}
    con = small_demo.cursor()
    assert small_demo.derived_current
    cycles = [row[0] for row in con.execute("SELECT DISTINCT cycle_id FROM goals ORDER BY 1").fetchall()]
    computed = pd.concat([
        con.execute(f"SELECT CAST($cycle AS VARCHAR) AS cycle_id, * FROM {call}", {"cycle": cycle}).df()
        for cycle in cycles for call in PER_CYCLE_COMPUTED[table]
    ])
    stored = con.execute(f"SELECT * FROM {table}").df()
    assert len(stored) > len(cycles)  # a view per cycle with rows, not an empty table
    key = list(stored.columns)
    pd.testing.assert_frame_equal(stored.sort_values(key).reset_index(drop=True), computed.sort_values(key).reset_index(drop=True),
                                  check_dtype=False)
