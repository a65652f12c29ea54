"""Round trips: the demo exported as an HRIS would (Chinese headers, 中文 grade and rater-role
names, 100-point scores, one column per rating dimension, GBK or UTF-8 with BOM) and imported
again gives the same answers; a wide Excel workbook feeds two tables at once."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from gradelens.contract import TABLES
from gradelens.dataset import open_dataset
from gradelens.importing.export import export_source_files
from gradelens.importing.mapping import EXAMPLES_DIR, load_mapping
from gradelens.importing.pipeline import run_import
from gradelens.importing.snapshots import HISTORY, list_snapshots
from gradelens.queries import run_query
from tests.import_fixture import answers, contract_rows, tiny_dataset, tree, write_csv, write_xlsx

FOUNDATION_QUERIES = ("cycle_list", "department_list", "region_list", "overview_headline", "grade_mix")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from gradelens.demo import generate

    folder = tmp_path_factory.mktemp("roundtrip") / "demo"
    generate(folder, employees=200, cycles=2)
    return folder


def query_answers(folder: Path) -> dict[tuple[str, str], pd.DataFrame]:
    dataset = open_dataset(folder)
    cycles = run_query(dataset, "cycle_list")["cycle_id"].tolist()
    return {(name, cycle): run_query(dataset, name, {} if name == "cycle_list" else {"cycle": cycle})
            for name in FOUNDATION_QUERIES for cycle in cycles}


def assert_same_answers(expected: Path, actual: Path) -> None:
    assert answers(actual) == answers(expected)
    theirs = query_answers(actual)
    for key, frame in query_answers(expected).items():
        pd.testing.assert_frame_equal(theirs[key], frame, obj=str(key))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_the_demo_exported_with_chinese_headers_imports_back_to_identical_answers(demo, tmp_path, encoding):
    mapping = load_mapping(EXAMPLES_DIR / "hris-zh.toml")
    written = export_source_files(demo, tmp_path / "export", mapping, encoding=encoding)
    assert {p.name for p in written} >= {"员工花名册.csv", "360评分.csv", "绩效等级.csv"}
    header = (tmp_path / "export" / "360评分.csv").read_bytes().decode(encoding).splitlines()[0]
    assert header.lstrip("\ufeff") == '"周期编号","被评价人编号","评价人编号","评价关系","业绩得分","能力得分","态度得分"'
    assert "上级" in (tmp_path / "export" / "360评分.csv").read_bytes().decode(encoding)

    result = run_import(tmp_path / "export", tmp_path / "imported", mapping)
    assert result.imported, [i.line() for i in result.report.listed()]
    assert result.report.error_count == 0
    assert_same_answers(demo, tmp_path / "imported")


def test_importing_one_cycle_into_the_demo_migrates_tables_to_partitions_without_double_counting(demo, tmp_path):
    mapping = load_mapping(EXAMPLES_DIR / "hris-zh.toml")
    export_source_files(demo, tmp_path / "export", mapping, cycle="2026H1")
    target = tmp_path / "demo"
    shutil.copytree(demo, target)
    before = tree(target)

    result = run_import(tmp_path / "export", target, mapping, cycle="2026H1")
    assert result.imported, [i.line() for i in result.report.listed()]
    assert_same_answers(demo, target)
    record = list_snapshots(target)[-1]
    assert "employees.parquet" in record["retired"] and "employees/cycle_id=2025H2/part-0.parquet" in record["placed"]
    assert tree(target / HISTORY / record["id"] / "previous")["employees.parquet"] == before["employees.parquet"]
    assert record["tables"]["employees"]["previous_rows"] == 200


def test_imported_ratings_are_stored_in_the_contracts_order_whatever_order_the_file_had(tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    header, *rows = contract_rows("ratings")
    shuffled = list(reversed(rows))
    keys = [tuple(row[header.index(c)] for c in TABLES["ratings"].stored_order) for row in shuffled]
    assert keys != sorted(keys)  # the file is out of order, so the import must sort it
    write_csv(tmp_path / "export" / "ratings.csv", [header, *shuffled])
    result = run_import(tmp_path / "export", dataset)
    assert result.imported, [i.line() for i in result.report.listed()]
    order = TABLES["ratings"].stored_order
    partitions = sorted((dataset / "ratings").glob("cycle_id=*/*.parquet"))
    assert partitions
    for partition in partitions:
        stored = pq.read_table(partition)
        assert stored.num_rows > 1
        assert stored.select(order).equals(stored.select(order).sort_by([(c, "ascending") for c in order])), partition


def test_a_wide_excel_workbook_feeds_employees_and_grades_for_a_new_cycle(tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    header = ["Employee ID", "Name", "Team ID", "Manager ID", "Region", "Level", "Hire date", "Overall score",
              "Manager's grade", "Calibrated grade", "Comment"]
    rows = [header,
            ["E1", "Wang Wei", "T1", None, "East", "M2", dt.date(2018, 3, 1), 62.5, "Meets expectations", "Meets expectations", ""],
            ["E2", "Li Na", "T1", "E1", "East", "P5", "15/03/2021", 87.5, "Outstanding", "Exceeds expectations", "promoted"],
            ["E4", "Liu Yang", "T3", "E1", "East", "M1", dt.date(2019, 7, 1), 50, "Partially meets", None, ""]]
    write_xlsx(tmp_path / "export" / "Review results 2026H1.xlsx", rows, sheet="Results")
    mapping = load_mapping(EXAMPLES_DIR / "grades-only-en.toml")

    result = run_import(tmp_path / "export", dataset, mapping)
    assert result.imported, [i.line() for i in result.report.listed()]
    con = open_dataset(dataset).cursor()
    assert con.execute("SELECT name, start_date FROM cycles WHERE cycle_id = '2026H1'").fetchall() == [("2026 H1", dt.date(2026, 1, 1))]
    assert con.execute("SELECT employee_id, hire_date FROM employees WHERE cycle_id = '2026H1' ORDER BY 1").fetchall() == [
        ("E1", dt.date(2018, 3, 1)), ("E2", dt.date(2021, 3, 15)), ("E4", dt.date(2019, 7, 1))]
    assert con.execute("SELECT employee_id, overall_score, proposed_grade, final_grade, proposed_by FROM grades "
                       "WHERE cycle_id = '2026H1' ORDER BY 1").fetchall() == [
        ("E1", 3.5, "B", "B", None), ("E2", 4.5, "S", "A", "E1"), ("E4", 3.0, "C", None, "E1")]
    assert con.execute("SELECT count(*) FROM grades WHERE cycle_id = '2025H2'").fetchone() == (5,)  # other cycles untouched
    comment = next(i for i in result.report.listed() if "Comment" in i.rule)
    assert comment.severity == "warning" and comment.file == "Review results 2026H1.xlsx"
