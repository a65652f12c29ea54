"""`gradelens import`, `snapshots` and `rollback`: the report on stdout, exit codes 0 (imported
or clean dry run), 1 (the data has errors; nothing imported) and 2 (one line: the import
could not start)."""

from __future__ import annotations

import pytest

from gradelens.cli import main
from gradelens.importing.snapshots import list_snapshots
from tests.import_fixture import answers, export_folder, tiny_dataset, tree, write_csv


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_prints_the_snapshot_and_rows_and_exits_0(capsys, tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    code, out, err = run(capsys, "import", export_folder(tmp_path / "export", only=("grades",)), "--into", dataset)
    assert code == 0
    assert "imported into" in out and "as snapshot 0001-" in out and "grades 8 rows (2025H1, 2025H2)" in out
    assert "[100%] Imported" in err


def test_import_with_errors_prints_each_issue_exits_1_and_writes_the_report(capsys, tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    source = export_folder(tmp_path / "export", only=("ratings",))
    text = (source / "ratings.csv").read_text().replace("manager,results,4", "manager,results,四")
    (source / "ratings.csv").write_text(text)
    before = tree(dataset)
    code, out, _ = run(capsys, "import", source, "--into", dataset, "--report", tmp_path / "report.csv")
    assert code == 1
    assert "error: ratings.csv row 2, column score: found '四': must be a number. Fix:" in out
    assert out.strip().endswith(f"1 error(s), 0 warning(s): nothing was imported into {dataset}.")
    assert "ratings.csv,2,score,四,must be a number" in (tmp_path / "report.csv").read_text(encoding="utf-8-sig")
    assert tree(dataset, skip_staging=True) == before


def test_a_dry_run_says_what_it_would_import_and_changes_nothing(capsys, tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    before = tree(dataset)
    code, out, _ = run(capsys, "import", export_folder(tmp_path / "export", only=("grades",)), "--into", dataset, "--dry-run")
    assert code == 0 and out.startswith("dry run, nothing written. Would import into") and "grades 8 rows" in out
    assert tree(dataset, skip_staging=True) == before


def test_snapshots_lists_newest_first_and_rollback_restores(capsys, tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    code, out, _ = run(capsys, "snapshots", dataset)
    assert code == 0 and "has no snapshots yet" in out
    original = answers(dataset)
    source = export_folder(tmp_path / "export", only=("grades",))
    write_csv(source / "grades.csv", [["cycle_id", "employee_id", "proposed_grade"], ["2025H2", "E1", "A"]])
    run(capsys, "import", source, "--into", dataset, "--cycle", "2025H2")

    code, out, _ = run(capsys, "snapshots", dataset)
    lines = out.splitlines()
    assert code == 0 and lines[1].lstrip().startswith("0001-") and lines[1].split()[0].endswith("Z") and " * " in lines[1]
    assert "grades 1" in lines[1] and "baseline" in lines[2]

    code, out, _ = run(capsys, "rollback", dataset, "0")
    assert code == 0 and "restored" in out and "recorded as snapshot 0002-" in out
    assert answers(dataset) == original
    assert [r["kind"] for r in list_snapshots(dataset)] == ["baseline", "import", "rollback"]


@pytest.mark.parametrize("argv, message", [
    (["import", "{tmp}/nowhere", "--into", "{tmp}/ds"], "no such file or folder"),
    (["import", "{tmp}/export", "--into", "{tmp}/ds", "--mapping", "{tmp}/missing.toml"], "no such mapping file"),
    (["import", "{tmp}/export", "--into", "{tmp}/ds", "--mapping", "{tmp}/bad.toml"], "is not a table of the contract"),
    (["import", "{tmp}/export", "--into", "{tmp}/ds", "--cycle", "2025 H2"], "cannot name a partition folder"),
    (["import", "{tmp}/export", "--into", "{tmp}/notes"], "holds files but is not a dataset"),
    (["import", "{tmp}/export"], "the following arguments are required: --into"),
    (["rollback", "{tmp}/ds", "42"], "never imported"),
    (["snapshots", "{tmp}/nowhere"], "no such dataset folder"),
])
def test_an_import_that_cannot_start_prints_one_line_and_exits_2(capsys, tmp_path, argv, message):
    tiny_dataset(tmp_path / "ds")
    export_folder(tmp_path / "export", only=("grades",))
    (tmp_path / "bad.toml").write_text("[tables.staff]\n", encoding="utf-8")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("not a dataset")
    code, out, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
