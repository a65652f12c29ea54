"""The command line and access control: it runs as an admin unless --viewer is given; a viewer's
scope and role apply as in the app; only admins import or roll back, and both are audited."""

from __future__ import annotations

import json

import pytest

from gradelens import audit
from gradelens.cli import main
from gradelens.importing.snapshots import list_snapshots
from tests.access_fixture import write_access_company
from tests.import_fixture import export_folder, tiny_dataset, tree


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def company(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADELENS_ACCESS", raising=False)
    monkeypatch.delenv("GRADELENS_AUDIT_LOG", raising=False)
    return write_access_company(tmp_path / "data" / "tiny")


def employees(capsys, company, *viewer):
    code, out, err = run(capsys, "query", "overview_headline", "--data", company, "--format", "json", *viewer)
    assert code == 0, err
    return json.loads(out)[0]["employees"]


def test_without_a_viewer_the_cli_is_an_admin_and_with_one_it_is_that_viewer(capsys, company):
    assert employees(capsys, company) == 5
    assert employees(capsys, company, "--viewer", "Sales-HR@tiny.co") == 3
    assert employees(capsys, company, "--viewer", "rd-hr@tiny.co") == 2
    assert employees(capsys, company, "--viewer", "pm@tiny.co") == 5


def test_the_access_file_can_be_named_or_come_from_the_environment(capsys, company, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text('[viewers."x@tiny.co"]\nrole = "hrbp"\ndepartments = ["D2"]\n', encoding="utf-8")
    assert employees(capsys, company, "--viewer", "x@tiny.co", "--access", elsewhere) == 2
    monkeypatch.setenv("GRADELENS_ACCESS", str(elsewhere))
    assert employees(capsys, company, "--viewer", "x@tiny.co") == 2


def test_an_executive_gets_small_groups_hidden(capsys, company):
    code, out, _ = run(capsys, "query", "overview_headline", "--data", company, "--param", "department=D2",
                       "--viewer", "exec@tiny.co", "--format", "json")
    assert code == 0
    row = json.loads(out)[0]
    assert row["employees"] is None and row["suppressed"] == "small_group"


@pytest.mark.parametrize("argv, message", [
    (["query", "open_appeals", "--viewer", "exec@tiny.co"], "executive role may not see"),
    (["query", "overview_headline", "--viewer", "sales-hr@tiny.co", "--param", "department=D2"], "outside your scope"),
    (["query", "overview_headline", "--viewer", "sales-hr@tiny.co", "--param", "department=D1' OR '1'='1"], "outside your scope"),
    (["query", "overview_headline", "--viewer", "stranger@tiny.co"], "is not listed in"),
    (["query", "overview_headline", "--viewer", "pm@tiny.co", "--access", "/nonexistent/access.toml"], "does not exist"),
])
def test_a_refused_query_is_one_line_exit_2_no_traceback(capsys, company, argv, message):
    code, out, err = run(capsys, *argv[:2], "--data", company, *argv[2:])
    assert code == 2 and out == ""
    assert err.startswith("gradelens: ") and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_a_viewer_without_an_access_file_is_refused(capsys, tmp_path):
    folder = tiny_dataset(tmp_path / "plain")
    code, _, err = run(capsys, "query", "cycle_list", "--data", folder, "--viewer", "pm@tiny.co")
    assert code == 2 and "no access file" in err and "--access FILE" in err


def test_queries_says_what_a_viewer_may_not_run(capsys, company):
    code, out, _ = run(capsys, "queries", "--data", company, "--viewer", "exec@tiny.co")
    assert code == 0
    listed, refused = out.split("Not available to exec@tiny.co (executive; all departments):")
    assert "grade_mix: " in listed and "\nopen_appeals: " not in listed
    assert "    open_appeals: query open_appeals lists individual people" in refused
    code, out, _ = run(capsys, "queries", "--data", company, "--viewer", "sales-hr@tiny.co")
    assert out.rstrip().endswith("Not available to sales-hr@tiny.co (hrbp; D1):\n    (none)")  # every query, within D1


def test_only_an_admin_may_import_and_a_refusal_changes_nothing_and_is_logged(capsys, company, tmp_path):
    before = tree(company)
    source = export_folder(tmp_path / "export", only=("grades",))
    code, out, err = run(capsys, "import", source, "--into", company, "--viewer", "pm@tiny.co")
    assert code == 2 and "only an admin may import" in err and len(err.strip().splitlines()) == 1
    assert tree(company) == before
    entry = audit.read(company.parent / "audit.jsonl")[-1]
    assert (entry["viewer"], entry["role"], entry["action"], entry["target"]) == ("pm@tiny.co", "performance_manager", "denied", "import")


def test_imports_and_rollbacks_are_audited_with_who_what_where_rows_and_outcome(capsys, company, tmp_path):
    source = export_folder(tmp_path / "export", only=("grades",))
    code, _, _ = run(capsys, "import", source, "--into", company, "--viewer", "admin@tiny.co")
    assert code == 0
    code, _, _ = run(capsys, "import", source, "--into", company)  # no viewer: the CLI's admin
    assert code == 0
    bad = export_folder(tmp_path / "bad", only=("ratings",))
    (bad / "ratings.csv").write_text((bad / "ratings.csv").read_text().replace("manager,results,4", "manager,results,四"))
    assert run(capsys, "import", bad, "--into", company)[0] == 1
    first = list_snapshots(company)[0]["id"]
    assert run(capsys, "rollback", company, first)[0] == 0
    assert run(capsys, "import", tmp_path / "nothing-here", "--into", company)[0] == 2
    entries = [e for e in audit.read(company.parent / "audit.jsonl") if e["action"] in ("import", "rollback")]
    assert [(e["viewer"], e["action"], e["details"]["outcome"]) for e in entries] == [
        ("admin@tiny.co", "import", "imported"), ("cli", "import", "imported"), ("cli", "import", "blocked"),
        ("cli", "rollback", "rolled_back"), ("cli", "import", "failed")]
    imported = entries[0]["details"]
    assert imported["rows"] == {"grades": 8} and imported["snapshot"].startswith("0001-")
    assert imported["source"] == str(source) and imported["dataset"] == str(company.resolve())
    assert entries[2]["details"]["errors"] == 1 and "snapshot" not in entries[2]["details"]
    assert entries[3]["details"]["restored"] == first
    assert entries[4]["details"]["error"]
