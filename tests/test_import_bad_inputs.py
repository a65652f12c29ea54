"""Every bad input the importer must handle: a clear message naming the file, row, column,
value, rule and fix, and nothing stored.

Each test exports the tiny company with contract headers (tests/import_fixture.py), spoils
one thing, imports into a copy of the tiny company, and checks the report and that the
dataset's files are byte for byte what they were. Row numbers count the header as row 1:
employees.csv rows 2-4 are 2025H1 E1-E3 and rows 5-9 are 2025H2 E1-E5; ratings.csv rows
2-4 are E2 rated by E1 (results, competency, attitude), 5-7 E2 by E2, 8-10 E3 by E1, 11-13
E5 by E4; goals.csv rows 2-11 are H1-E2, G-CO, G-D1, G-E2a, G-E2b, G-E3a, G-E3b, G-E4a,
G-E4b, G-E5a; grades.csv rows 2-4 are 2025H1 E1-E3 and rows 5-9 2025H2 E1-E5.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gradelens.importing import readers
from gradelens.importing.mapping import parse_mapping
from gradelens.importing.pipeline import run_import
from gradelens.importing.report import ERROR, WARNING
from gradelens.importing.snapshots import HISTORY, STAGING, list_snapshots
from tests.import_fixture import contract_rows, export_folder, tiny_dataset, tree, write_csv, write_xlsx


def setup(tmp_path: Path, only: tuple[str, ...]) -> tuple[Path, Path, dict[str, str]]:
    dataset = tiny_dataset(tmp_path / "ds")
    source = export_folder(tmp_path / "export", only=only)
    return dataset, source, tree(dataset)


def rows_of(source: Path, table: str) -> list[list[str]]:
    return contract_rows(table) if not (source / f"{table}.csv").exists() else _read(source / f"{table}.csv")


def _read(path: Path) -> list[list[str]]:
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def edit(source: Path, table: str, row: int, column: str, value: str) -> None:
    rows = _read(source / f"{table}.csv")
    rows[row - 1][rows[0].index(column)] = value
    write_csv(source / f"{table}.csv", rows)


def issue(result, severity=ERROR, **expected):
    """The first issue whose fields equal `expected` (rule and fix: contain)."""
    for found in result.report.listed():
        if found.severity != severity:
            continue
        if all((value in getattr(found, key)) if key in ("rule", "fix", "column") else getattr(found, key) == value
               for key, value in expected.items()):
            return found
    raise AssertionError("no such issue; the report says:\n" + "\n".join(i.line() for i in result.report.listed()))


def assert_nothing_stored(dataset: Path, before: dict[str, str], result) -> None:
    assert not result.imported
    assert tree(dataset, skip_staging=True) == before
    assert {p.name for p in (dataset / STAGING).iterdir()} <= {"import.lock", "commit.lock"}
    assert not (dataset / HISTORY).exists()


@pytest.mark.parametrize("content, rule", [
    ("cycle_id,employee_id,name,unit_id,manager_id,region,job_level,hire_date\n", "no data rows"),
    ("\n\n  \n", "holds no data"),
], ids=["header-only", "blank-lines"])
def test_an_empty_file_is_refused_with_nothing_stored(tmp_path, content, rule):
    dataset, source, before = setup(tmp_path, ("employees",))
    (source / "employees.csv").write_text(content, encoding="utf-8")
    result = run_import(source, dataset)
    found = issue(result, file="employees.csv", rule=rule)
    assert found.fix and found.row is None
    assert_nothing_stored(dataset, before, result)


def test_a_zero_byte_upload_is_refused_before_reading(tmp_path):
    dataset, source, before = setup(tmp_path, ("ratings",))
    (source / "ratings.csv").write_bytes(b"")
    result = run_import(source, dataset)
    assert "export the file again" in issue(result, file="ratings.csv", rule="0 bytes").fix
    assert_nothing_stored(dataset, before, result)


def test_a_wrong_delimiter_is_named_in_the_message(tmp_path):
    dataset, source, before = setup(tmp_path, ("employees",))
    write_csv(source / "employees.csv", contract_rows("employees"), delimiter=";")
    mapping = parse_mapping('[tables.employees]\nfiles = ["employees.csv"]\ndelimiter = ","\n')
    result = run_import(source, dataset, mapping)
    found = issue(result, file="employees.csv", rule="lacks required column(s)")
    assert "hire_date" in found.rule and "Split on ; the header has 8 columns" in found.fix
    assert_nothing_stored(dataset, before, result)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_detected_when_the_mapping_leaves_it_on_auto(tmp_path, delimiter):
    dataset, source, _ = setup(tmp_path, ("employees",))
    write_csv(source / "employees.csv", contract_rows("employees"), delimiter=delimiter)
    result = run_import(source, dataset)
    assert result.imported and result.tables["employees"].rows == 8


def _chinese_employees(source: Path, encoding: str) -> None:
    rows = contract_rows("employees")
    rows[1][2] = "王伟"
    write_csv(source / "employees.csv", rows, encoding=encoding)


def test_a_gbk_file_is_refused_when_the_mapping_says_utf8_and_the_fix_names_gbk(tmp_path):
    dataset, source, before = setup(tmp_path, ("employees",))
    _chinese_employees(source, "gbk")
    mapping = parse_mapping('[read]\nencoding = "utf-8"\n[tables.employees]\nfiles = ["employees.csv"]\n')
    result = run_import(source, dataset, mapping)
    found = issue(result, file="employees.csv", rule="not valid utf-8")
    assert 'encoding = "gb18030"' in found.fix
    assert_nothing_stored(dataset, before, result)


@pytest.mark.parametrize("encoding, note", [("gbk", True), ("utf-8-sig", False), ("utf-16", False)])
def test_gbk_and_utf8_with_bom_are_read_when_the_encoding_is_auto(tmp_path, encoding, note):
    dataset, source, _ = setup(tmp_path, ("employees",))
    _chinese_employees(source, encoding)
    result = run_import(source, dataset)
    assert result.imported
    assert result.previews["employees"]["name"][0] == "王伟"
    assert result.previews["employees"].columns[0] == "cycle_id"  # no BOM left on the first header
    assert any("read as GBK" in i.rule for i in result.report.listed()) == note


def test_a_file_in_neither_utf8_nor_gbk_is_refused(tmp_path):
    dataset, source, before = setup(tmp_path, ("employees",))
    (source / "employees.csv").write_bytes(b"cycle_id,employee_id\n2025H1,\x80\xff\x80\xff\n")
    result = run_import(source, dataset)
    issue(result, file="employees.csv", rule="neither UTF-8 nor GBK")
    assert_nothing_stored(dataset, before, result)


def test_a_header_missing_a_required_column_names_it_and_lists_the_header(tmp_path):
    dataset, source, before = setup(tmp_path, ("employees",))
    write_csv(source / "employees.csv", [row[:7] for row in contract_rows("employees")])
    result = run_import(source, dataset)
    found = issue(result, file="employees.csv", rule="hire_date (hire_date)")
    assert "7 column(s): cycle_id, employee_id, name" in found.fix
    assert_nothing_stored(dataset, before, result)


def test_unknown_extra_columns_are_kept_aside_with_a_warning_not_dropped(tmp_path):
    dataset, source, _ = setup(tmp_path, ("employees",))
    rows = contract_rows("employees")
    for number, row in enumerate(rows):
        row.append("备注" if number == 0 else f"note {number + 1}")
    write_csv(source / "employees.csv", rows)
    result = run_import(source, dataset)
    assert result.imported
    found = issue(result, WARNING, file="employees.csv", rule="columns not in the mapping: 备注")
    assert "kept aside" in found.fix
    kept = pq.read_table(next((dataset / HISTORY).glob("0001-*/extra_columns/*employees.parquet"))).to_pylist()
    assert kept[0] == {"_row": 2, "备注": "note 2"} and len(kept) == 8


def test_text_in_a_numeric_column_names_file_row_column_and_value(tmp_path):
    dataset, source, before = setup(tmp_path, ("ratings",))
    edit(source, "ratings", 3, "score", "九十")
    result = run_import(source, dataset)
    found = issue(result, file="ratings.csv", row=3, column="score", value="九十", rule="must be a number")
    assert "85, 0.3, 30%" in found.fix
    assert_nothing_stored(dataset, before, result)


def test_dates_in_several_formats_are_read_as_the_same_day(tmp_path):
    dataset, source, _ = setup(tmp_path, ("employees",))
    for row, written in zip(range(2, 7), ["2020/01/01", "2020年1月1日", "20200101", "2020.1.1", " 2020-01-01 "]):
        edit(source, "employees", row, "hire_date", written)
    result = run_import(source, dataset)
    assert result.imported
    assert set(result.previews["employees"]["hire_date"]) == {dt.date(2020, 1, 1)}


@pytest.mark.parametrize("written, rule", [
    ("2025-02-30", "not a real date"),
    ("2023-02-29", "not a real date"),
    ("2025-13-01", "not a real date"),
    ("next Monday", "not a date in the formats"),
    ("01/02/2025", "not a date in the formats"),
])
def test_impossible_and_unreadable_dates_name_the_cell(tmp_path, written, rule):
    dataset, source, before = setup(tmp_path, ("employees",))
    edit(source, "employees", 6, "hire_date", written)
    result = run_import(source, dataset)
    assert issue(result, file="employees.csv", row=6, column="hire_date", value=written, rule=rule).fix
    assert_nothing_stored(dataset, before, result)


def test_duplicate_keys_name_every_row_with_that_key(tmp_path):
    dataset, source, before = setup(tmp_path, ("employees",))
    rows = _read(source / "employees.csv")
    write_csv(source / "employees.csv", rows + [rows[7]])  # 2025H2 E4 again, as row 10
    result = run_import(source, dataset)
    for row in (8, 10):
        issue(result, file="employees.csv", row=row, value="2025H2 / E4", rule="(cycle_id, employee_id) must be unique")
    assert_nothing_stored(dataset, before, result)


def test_a_grade_outside_the_scale_names_the_cell(tmp_path):
    dataset, source, before = setup(tmp_path, ("grades",))
    edit(source, "grades", 6, "final_grade", "A+")
    result = run_import(source, dataset)
    issue(result, file="grades.csv", row=6, column="final_grade", value="A+", rule="final_grade must be a grade of the policy")
    assert_nothing_stored(dataset, before, result)


def test_a_source_grade_missing_from_the_mapping_suggests_adding_it(tmp_path):
    dataset, source, before = setup(tmp_path, ("grades",))
    rows = _read(source / "grades.csv")
    names = {"S": "优秀", "A": "良好", "B": "合格", "C": "待改进", "D": "不合格"}
    for row in rows[1:]:
        row[4], row[5] = names[row[4]], names.get(row[5], row[5])
    rows[5][5] = "优+"
    write_csv(source / "grades.csv", rows)
    mapping = parse_mapping('[grades]\n"优秀" = "S"\n"良好" = "A"\n"合格" = "B"\n"待改进" = "C"\n"不合格" = "D"\n'
                            '[tables.grades]\nfiles = ["grades.csv"]\n')
    result = run_import(source, dataset, mapping)
    found = issue(result, file="grades.csv", row=6, column="final_grade", value="优+")
    assert "add the value to [grades]" in found.fix
    assert len([i for i in result.report.listed() if i.severity == ERROR]) == 1
    assert_nothing_stored(dataset, before, result)


def test_a_score_outside_the_policy_scale_names_the_cell(tmp_path):
    dataset, source, before = setup(tmp_path, ("ratings",))
    edit(source, "ratings", 12, "score", "7")
    result = run_import(source, dataset)
    issue(result, file="ratings.csv", row=12, column="score", value="7.0", rule="score must be inside the policy's score scale")
    assert_nothing_stored(dataset, before, result)


def test_a_score_outside_the_source_scale_is_reported_before_conversion(tmp_path):
    dataset, source, before = setup(tmp_path, ("ratings",))
    rows = _read(source / "ratings.csv")
    for row in rows[1:]:
        row[5] = f"{(float(row[5]) - 1) * 25:g}"
    rows[3][5] = "105"
    write_csv(source / "ratings.csv", rows)
    mapping = parse_mapping('[tables.ratings]\nfiles = ["ratings.csv"]\n[tables.ratings.scale.score]\nfrom = [0, 100]\nto = [1, 5]\n')
    result = run_import(source, dataset, mapping)
    issue(result, file="ratings.csv", row=4, column="score", value="105", rule="outside the source scale (0-100 -> 1-5)")
    assert_nothing_stored(dataset, before, result)


def test_negative_and_zero_targets_are_errors_on_their_rows(tmp_path):
    dataset, source, before = setup(tmp_path, ("goals",))
    edit(source, "goals", 3, "target", "0")
    edit(source, "goals", 4, "target", "-5")
    result = run_import(source, dataset)
    issue(result, file="goals.csv", row=3, column="target", value="0.0", rule="target must be greater than 0")
    issue(result, file="goals.csv", row=4, column="target", value="-5.0", rule="target must be greater than 0")
    assert_nothing_stored(dataset, before, result)


def test_a_rating_whose_ratee_or_rater_does_not_exist_names_them(tmp_path):
    dataset, source, before = setup(tmp_path, ("ratings",))
    edit(source, "ratings", 2, "ratee_id", "E99")
    edit(source, "ratings", 9, "rater_id", "E77")
    result = run_import(source, dataset)
    issue(result, file="ratings.csv", row=2, column="ratee_id", value="E99", rule="ratee_id must be an employee of the same cycle")
    issue(result, file="ratings.csv", row=9, column="rater_id", value="E77", rule="rater_id must be an employee of the same cycle")
    assert_nothing_stored(dataset, before, result)


def test_a_goal_whose_parent_is_in_another_cycle_says_which_cycle(tmp_path):
    dataset, source, before = setup(tmp_path, ("goals",))
    edit(source, "goals", 5, "parent_goal_id", "H1-E2")
    result = run_import(source, dataset)
    found = issue(result, file="goals.csv", row=5, column="parent_goal_id", value="H1-E2",
                  rule="parent_goal_id H1-E2 is a goal of cycle 2025H1")
    assert "same cycle" in found.rule
    assert_nothing_stored(dataset, before, result)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_truncated_or_corrupt_parquet_is_refused(tmp_path, damage):
    dataset, source, before = setup(tmp_path, ())
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.table({"cycle_id": ["2025H2"], "employee_id": ["E1"], "proposed_grade": ["B"]}), whole)
    data = whole.read_bytes()
    (source / "grades.parquet").write_bytes(data[: len(data) // 2] if damage == "truncated" else b"PAR1" + b"\x00" * 64)
    result = run_import(source, dataset)
    assert "write or copy the file again" in issue(result, file="grades.parquet", rule="not a readable Parquet file").fix
    assert_nothing_stored(dataset, before, result)


@pytest.mark.parametrize("damage", ["truncated", "not-a-zip"])
def test_a_truncated_or_corrupt_xlsx_is_refused(tmp_path, damage):
    dataset, source, before = setup(tmp_path, ())
    whole = write_xlsx(tmp_path / "whole.xlsx", contract_rows("grades"))
    data = whole.read_bytes()
    (source / "grades.xlsx").write_bytes(data[: len(data) // 2] if damage == "truncated" else b"PK\x03\x04 not a workbook")
    result = run_import(source, dataset)
    issue(result, file="grades.xlsx", rule="not a readable Excel workbook")
    assert_nothing_stored(dataset, before, result)


def test_a_file_larger_than_the_configured_limit_is_refused_up_front(tmp_path, monkeypatch):
    dataset, source, before = setup(tmp_path, ("employees", "ratings"))
    size = (source / "ratings.csv").stat().st_size
    result = run_import(source, dataset, max_file_bytes=size - 1)
    found = issue(result, file="ratings.csv", rule="larger than the import limit")
    assert "split the export" in found.fix and "GRADELENS_IMPORT_MAX_MB" in found.fix
    assert_nothing_stored(dataset, before, result)

    monkeypatch.setenv(readers.MAX_MB_ENV, str(size / 2 / (1 << 20)))
    assert not run_import(source, dataset).imported


def test_an_xlsx_larger_than_available_memory_allows_is_refused_up_front(tmp_path, monkeypatch):
    dataset, source, before = setup(tmp_path, ())
    write_xlsx(source / "grades.xlsx", contract_rows("grades"))
    monkeypatch.setattr(readers, "available_memory", lambda: 1000)
    result = run_import(source, dataset)
    assert "save the sheet as CSV" in issue(result, file="grades.xlsx", rule="takes about").fix
    assert_nothing_stored(dataset, before, result)


def test_rows_with_the_wrong_number_of_fields_are_errors_with_their_text(tmp_path):
    dataset, source, before = setup(tmp_path, ("employees",))
    path = source / "employees.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("2025H2,E3,", "2025H2,E3,Zhang,Min,"), encoding="utf-8")
    result = run_import(source, dataset)
    found = issue(result, file="employees.csv", row=7, rule="the row has 10 fields but the header has 8")
    assert found.value.startswith("2025H2,E3,Zhang,Min")
    assert_nothing_stored(dataset, before, result)


def test_a_cycle_missing_from_the_cycles_table_is_one_error_and_a_cycle_section_adds_it(tmp_path):
    dataset, source, before = setup(tmp_path, ())
    rows = [["employee_id", "proposed_grade"], ["E1", "B"], ["E2", "A"]]
    write_csv(source / "grades.csv", rows)
    result = run_import(source, dataset, cycle="2026H1")
    issue(result, rule="cycle 2026H1 is not in the dataset's cycles table")
    assert not any("must be a cycle in cycles" in i.rule for i in result.report.listed())
    assert_nothing_stored(dataset, before, result)

    with_cycle = parse_mapping('[cycle]\nid = "2026H1"\nname = "2026 H1"\nstart_date = 2026-01-01\nend_date = 2026-06-30\n'
                               '[tables.grades]\nfiles = ["grades.csv"]\n')
    result = run_import(source, dataset, with_cycle)
    errors = [i.line() for i in result.report.listed() if i.severity == ERROR]
    assert errors == [] or all("employee of the same cycle" in e for e in errors)


def test_a_goal_id_used_by_another_cycle_is_an_error(tmp_path):
    dataset, source, before = setup(tmp_path, ("goals",))
    rows = [r for r in _read(source / "goals.csv") if r[0] != "2025H1"]
    rows[2][1] = "H1-E2"  # G-D1 renamed to the id of a 2025H1 goal
    for row in rows:
        if row[2] == "G-D1":
            row[2] = "H1-E2"
    write_csv(source / "goals.csv", rows)
    result = run_import(source, dataset)
    issue(result, file="goals.csv", row=3, column="goal_id", value="H1-E2", rule="goal_id is already used by cycle 2025H1")
    assert_nothing_stored(dataset, before, result)


def test_an_import_that_would_break_rows_already_in_the_dataset_is_blocked(tmp_path):
    dataset, source, before = setup(tmp_path, ("employees",))
    write_csv(source / "employees.csv", _read(source / "employees.csv")[:-1])  # 2025H2 without E5
    result = run_import(source, dataset)
    found = issue(result, rule="this import would break a row already in the dataset: ratee_id must be an employee")
    assert found.column == "ratings [2025H2 / E5 / E4 / attitude]" or found.column.startswith("ratings [2025H2 / E5")
    assert_nothing_stored(dataset, before, result)


def test_a_kpi_actual_of_an_unknown_goal_is_an_error(tmp_path):
    dataset, source, before = setup(tmp_path, ("kpi_actuals",))
    edit(source, "kpi_actuals", 3, "goal_id", "G-404")
    result = run_import(source, dataset)
    issue(result, file="kpi_actuals.csv", row=3, column="goal_id", value="G-404", rule="not a goal of this import or of the dataset")
    assert_nothing_stored(dataset, before, result)


def test_the_report_lists_twenty_rows_of_one_problem_and_counts_the_rest(tmp_path):
    dataset, source, before = setup(tmp_path, ("ratings",))
    rows = _read(source / "ratings.csv")
    write_csv(source / "ratings.csv", [rows[0]] + [[*row[:5], "n/a?"] for row in rows[1:]] * 3)
    result = run_import(source, dataset)
    listed = [i for i in result.report.listed() if i.rule == "must be a number"]
    assert len(listed) == 21 and result.report.error_count >= 36
    assert "16 more rows have the same problem" in listed[-1].fix
    assert result.report.to_csv().startswith("\ufeffseverity,file,row,column,value,rule,fix,table".encode())


def test_goal_weights_that_do_not_sum_to_one_import_with_a_warning(tmp_path):
    dataset, source, _ = setup(tmp_path, ("goals",))
    edit(source, "goals", 6, "weight", "0.4")  # G-E2b: E2's weights now sum to 0.9
    result = run_import(source, dataset)
    assert result.imported
    issue(result, WARNING, file="goals.csv", row=5, column="weight", value="0.9", rule="employee E2 in 2025H2 do not sum to 1")
    assert list_snapshots(dataset)[-1]["warning_count"] == 1


def test_references_into_a_table_the_dataset_lacks_are_a_warning_not_an_error(tmp_path):
    source = tmp_path / "export"
    write_csv(source / "grades.csv", [["cycle_id", "employee_id", "proposed_grade"], ["2026H1", "E1", "B"]])
    result = run_import(source, tmp_path / "new")
    assert result.imported
    issue(result, WARNING, rule="references from grades to employees were not checked")
    issue(result, WARNING, rule="references from grades to cycles were not checked")


def test_when_a_rule_breaks_on_more_rows_than_are_traced_the_report_says_so(tmp_path, monkeypatch):
    from gradelens.importing import pipeline

    monkeypatch.setattr(pipeline, "VALIDATE_LIMIT", 3)
    dataset, source, before = setup(tmp_path, ("ratings",))
    for row in range(2, 8):
        edit(source, "ratings", row, "score", "9")
    result = run_import(source, dataset)
    issue(result, rule="3 or more rows break the rule \"score must be inside the policy's score scale\"")
    assert_nothing_stored(dataset, before, result)
