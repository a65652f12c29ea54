"""Snapshots: an import is atomic even when the process is killed, re-importing a cycle keeps
the previous version in the history, and rollback restores any snapshot byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gradelens.derived import DERIVED
from gradelens.dataset import open_dataset
from gradelens.importing import snapshots
from gradelens.importing.pipeline import run_import
from gradelens.importing.snapshots import HISTORY, PAUSE_ENV, STAGING, SnapshotError, list_snapshots, rollback, state_after
from tests.import_fixture import answers, export_folder, tiny_dataset, tree, write_csv

ROOT = Path(__file__).resolve().parent.parent


def changed_export(folder: Path) -> Path:
    """The tiny company's grades, ratings and employees, with 2025H2 grades that differ."""
    from tests.tiny_company import tiny_company_tables

    tables = tiny_company_tables()
    for grade in tables["grades"]:
        if grade["cycle_id"] == "2025H2" and grade["final_grade"]:
            grade["final_grade"] = "C"
    return export_folder(folder, tables, only=("employees", "ratings", "grades"))


def table_files(folder: Path) -> dict[str, str]:
    # _derived holds figures computed from the tables (gradelens/derived.py), not table files
    return {path: digest for path, digest in tree(folder).items() if not path.startswith((STAGING, HISTORY, DERIVED))}


def test_reimporting_a_cycle_keeps_the_previous_version_with_time_and_source(tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    before = tree(dataset)
    result = run_import(changed_export(tmp_path / "export"), dataset)
    assert result.imported
    records = list_snapshots(dataset)
    assert [r["kind"] for r in records] == ["baseline", "import"]
    record = records[-1]
    assert record["source"] == str(tmp_path / "export") and record["created_at"].endswith("Z")
    assert record["tables"]["grades"] == {"rows": 8, "cycles": ["2025H1", "2025H2"], "previous_rows": 8}
    assert sorted(record["retired"]) == ["employees.parquet", "grades.parquet", "ratings.parquet"]
    assert {f["name"] for f in record["files"]} == {"employees.csv", "ratings.csv", "grades.csv"}
    for path in record["retired"]:  # nothing overwritten in place: the old bytes are in the history
        assert tree(dataset / HISTORY / record["id"] / "previous")[path] == before[path]
    assert records[0]["dataset_rows"]["grades"] == 8


def test_importing_one_cycle_into_a_single_file_table_does_not_count_it_twice(tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    source = export_folder(tmp_path / "export", only=("grades",))
    rows = [r for r in (source / "grades.csv").read_text().splitlines() if not r.startswith("2025H1")]
    (source / "grades.csv").write_text("\n".join(rows) + "\n")
    expected = answers(dataset)
    assert run_import(source, dataset, cycle="2025H2").imported
    assert answers(dataset) == expected
    assert sorted(p for p in table_files(dataset) if p.startswith("grades")) == [
        "grades/cycle_id=2025H1/part-0.parquet", "grades/cycle_id=2025H2/part-0.parquet"]


def test_rollback_restores_every_table_file_byte_for_byte_and_can_itself_be_undone(tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    original = table_files(dataset)
    first = run_import(changed_export(tmp_path / "export"), dataset)
    imported = table_files(dataset)
    assert imported != original

    record = rollback(dataset, "0")
    assert record["kind"] == "rollback" and record["restored"].startswith("0000-")
    assert table_files(dataset) == original
    assert answers(dataset)["grades"] == answers(tiny_dataset(tmp_path / "fresh"))["grades"]

    rollback(dataset, first.snapshot_id)
    assert table_files(dataset) == imported
    assert [r["kind"] for r in list_snapshots(dataset)] == ["baseline", "import", "rollback", "rollback"]


def test_rollback_to_an_unknown_snapshot_or_with_missing_history_says_so(tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    with pytest.raises(SnapshotError, match="never imported"):
        rollback(dataset, "1")
    run_import(changed_export(tmp_path / "export"), dataset)
    with pytest.raises(SnapshotError, match="no snapshot '7'"):
        rollback(dataset, "7")
    shutil.rmtree(next((dataset / HISTORY).glob("0001-*/previous")))
    with pytest.raises(SnapshotError, match="incomplete"):
        state_after(dataset, "0")


def _paused_import(source: Path, dataset: Path, step: str) -> subprocess.Popen:
    env = {**os.environ, PAUSE_ENV: step}
    process = subprocess.Popen([sys.executable, "-m", "gradelens.cli", "import", str(source), "--into", str(dataset)],
                               cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen = []
    timer = threading.Timer(240, process.kill)  # a hook that never fires must not hang the suite
    timer.start()
    try:
        for line in process.stderr:
            seen.append(line)
            if line.strip() == f"gradelens: paused at {step}":
                return process
    finally:
        timer.cancel()
    process.wait()
    raise AssertionError(f"the import never paused at {step}: {''.join(seen)}")


STEPS_BEFORE_COMMIT = ["read", "validated", "staged"]
STEPS_AFTER_COMMIT = ["journal", "retired", "placed"]


@pytest.mark.parametrize("step", STEPS_BEFORE_COMMIT + STEPS_AFTER_COMMIT)
def test_an_import_killed_at_any_step_leaves_the_dataset_as_it_was_or_fully_imported(tmp_path, step):
    dataset = tiny_dataset(tmp_path / "ds")
    source = changed_export(tmp_path / "export")
    expected = tmp_path / "expected"
    shutil.copytree(dataset, expected)
    assert run_import(source, expected).imported
    before_files, before_answers = tree(dataset), answers(dataset)

    process = _paused_import(source, dataset, step)
    process.kill()
    process.wait()

    if step in STEPS_BEFORE_COMMIT:
        assert tree(dataset, skip_staging=True) == before_files
        assert answers(dataset) == before_answers
    else:
        assert answers(dataset) == answers(expected)  # opening the dataset finished the commit
        assert sorted(table_files(dataset)) == sorted(table_files(expected))
        assert [r["kind"] for r in list_snapshots(dataset)] == ["baseline", "import"]
    assert {p.name for p in (dataset / STAGING).iterdir()} == {"import.lock", "commit.lock"}


def test_a_reader_waits_for_a_commit_in_progress_instead_of_reading_half_of_it(tmp_path, monkeypatch):
    dataset = tiny_dataset(tmp_path / "ds")
    source = changed_export(tmp_path / "export")
    expected = tmp_path / "expected"
    shutil.copytree(dataset, expected)
    run_import(source, expected)

    process = _paused_import(source, dataset, "retired")  # old files moved out, new ones not yet in
    try:
        monkeypatch.setattr(snapshots, "COMMIT_WAIT_SECONDS", 0.5)
        with pytest.raises(SnapshotError, match="moving files into place"):
            open_dataset(dataset)
        with pytest.raises(SnapshotError, match="another import or rollback is running"):
            run_import(source, dataset)
    finally:
        process.kill()
        process.wait()
    assert answers(dataset) == answers(expected)


def test_a_failed_import_changes_nothing_and_leaves_no_workspace(tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    source = export_folder(tmp_path / "export", only=("ratings",))
    write_csv(source / "ratings.csv", [["cycle_id", "score"], ["2025H2", "x"]])
    before = tree(dataset)
    assert not run_import(source, dataset).imported
    assert tree(dataset, skip_staging=True) == before
    assert not run_import(source, dataset, dry_run=True).imported


def test_a_dry_run_reports_and_writes_nothing(tmp_path):
    dataset = tiny_dataset(tmp_path / "ds")
    before = tree(dataset)
    result = run_import(changed_export(tmp_path / "export"), dataset, dry_run=True)
    assert result.ok and not result.imported and result.tables["grades"].rows == 8
    assert tree(dataset, skip_staging=True) == before
    new = tmp_path / "new"
    assert run_import(changed_export(tmp_path / "export2"), new, dry_run=True).ok
    assert not new.exists()  # a folder made only for a dry run is removed again
