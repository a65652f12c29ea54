"""The command line: output formats, exit codes, and one clear line for every user error."""

import json
import subprocess
import sys

import pytest

from gradelens import queries
from gradelens.cli import main
from tests.tiny_company import tiny_company_tables, write_dataset


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_queries_lists_each_query_with_its_parameters(capsys):
    code, out, _ = run(capsys, "queries")
    assert code == 0
    assert "grade_mix: How are grades spread in a cycle" in out
    assert "--param stage=<choice(proposed|final)>  (default final)" in out


def test_query_prints_the_same_numbers_as_the_query_layer(capsys, tiny_dir):
    code, out, _ = run(capsys, "query", "grade_mix", "--data", str(tiny_dir), "--param", "cycle=2025H2", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["grade"], r["employees"]) for r in rows] == [("S", 0), ("A", 1), ("B", 2), ("C", 0), ("D", 1)]
    assert rows[1]["share"] == pytest.approx(0.25)


def test_query_as_csv_and_table(capsys, tiny_dir):
    _, csv_out, _ = run(capsys, "query", "region_list", "--data", str(tiny_dir), "--format", "csv")
    assert csv_out.splitlines() == ["region,employees", "East,4", "North,1"]
    _, table_out, _ = run(capsys, "query", "region_list", "--data", str(tiny_dir))
    assert "North" in table_out and "employees" in table_out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["query", "nope"], "unknown query 'nope'"),
        (["query", "grade_mix", "--param", "colour=red"], "unknown parameter(s) colour"),
        (["query", "grade_mix", "--param", "stage=draft"], "must be one of proposed, final"),
        (["query", "grade_mix", "--param", "cycle=1999H1"], "unknown cycle '1999H1'"),
        (["query", "grade_mix", "--param", "stage"], "must look like KEY=VALUE"),
        (["query", "grade_mix", "--format", "xml"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(capsys, tiny_dir, argv, message):
    if argv[0] == "query" and argv[1] != "nope":
        argv = [*argv, "--data", str(tiny_dir)]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_missing_required_parameter_is_named(capsys, tiny_dir, tmp_path, monkeypatch):
    (tmp_path / "needs_rater.sql").write_text(
        "-- Which cycles did a rater rate in?\n-- @param rater_id text  The rater.\n-- @returns cycle_id\n"
        "SELECT DISTINCT cycle_id FROM ratings WHERE rater_id = $rater_id")
    monkeypatch.setattr(queries, "QUERIES_DIR", tmp_path)
    code, _, err = run(capsys, "query", "needs_rater", "--data", str(tiny_dir))
    assert code == 2 and "parameter rater_id is required" in err
    code, out, _ = run(capsys, "query", "needs_rater", "--data", str(tiny_dir), "--param", "rater_id=E4", "--format", "csv")
    assert code == 0 and out.splitlines() == ["cycle_id", "2025H2"]


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "absent", "no such folder"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "not a dataset"),
    (lambda p: (p / "f.txt").write_text("x") and p / "f.txt", "is a file"),
])
def test_a_bad_dataset_folder_is_explained(capsys, tmp_path, make, message):
    code, _, err = run(capsys, "query", "grade_mix", "--data", str(make(tmp_path)))
    assert code == 2 and message in err


def test_a_query_on_a_dataset_lacking_its_table_says_which(capsys, tmp_path):
    tables = tiny_company_tables()
    del tables["grades"]
    folder = write_dataset(tmp_path / "nogrades", tables)
    code, _, err = run(capsys, "query", "grade_mix", "--data", str(folder))
    assert code == 2 and "needs the table(s) grades" in err


def test_validate_exit_codes(capsys, tiny_dir, tmp_path):
    code, out, _ = run(capsys, "validate", str(tiny_dir))
    assert code == 0 and "valid" in out
    tables = tiny_company_tables()
    tables["goals"][1]["target"] = -5.0
    code, out, _ = run(capsys, "validate", str(write_dataset(tmp_path / "bad", tables)))
    assert code == 1
    assert "goals [G-CO]: target must be greater than 0 (found: -5.0). Fix:" in out
    assert "1 violation(s)" in out
    code, _, err = run(capsys, "validate", str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in err


def test_the_console_script_is_installed(tiny_dir):
    result = subprocess.run(
        [sys.executable, "-m", "gradelens.cli", "query", "region_list", "--data", str(tiny_dir), "--format", "csv"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "North,1"
    assert result.stderr == ""  # no warning either (DuckDB's about Arrow results: queries.result_frame)


@pytest.mark.parametrize("argv_position", ["before", "after"])
def test_validate_reports_in_chinese_with_lang_zh(capsys, tmp_path, argv_position):
    tables = tiny_company_tables()
    tables["goals"][1]["target"] = -5.0
    folder = str(write_dataset(tmp_path / "bad", tables))
    argv = ["--lang", "zh", "validate", folder] if argv_position == "before" else ["validate", folder, "--lang", "zh"]
    try:
        code, out, _ = run(capsys, *argv)
    finally:
        from gradelens.i18n import set_language

        set_language("en")
    assert code == 1
    assert "goals [G-CO]：目标值 target 必须大于 0（实际值：-5.0）。修正方法：" in out
    assert "共有 1 处违规" in out
