"""The Data page (AppTest): upload, mapping, preview, report, import, snapshots and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gradelens.importing import web
from gradelens.importing.snapshots import list_snapshots
from tests.import_fixture import answers, contract_rows, export_folder, tiny_dataset, write_csv

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/data.py"


@pytest.fixture
def dataset(monkeypatch, tmp_path):
    folder = tiny_dataset(tmp_path / "tiny")
    monkeypatch.setenv("GRADELENS_DATA", str(folder))
    monkeypatch.setattr(web, "UPLOAD_ROOT", tmp_path / "uploads")
    return folder


def open_page(lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.query_params["lang"] = lang
    return at.run()


def upload(at: AppTest, folder: Path) -> AppTest:
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(folder.iterdir())]
    at.file_uploader[0].set_value(files)
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("lang, title", [("en", "Data"), ("zh", "数据导入")])
def test_the_page_explains_what_to_do_before_anything_is_uploaded(dataset, lang, title):
    at = open_page(lang)
    assert not at.exception and not at.error
    assert at.title[0].value == title
    assert len(at.info) == 2  # upload files; no snapshots yet
    assert at.text_area[0].value.startswith("# The default mapping, written out")


def test_uploading_clean_files_previews_them_and_importing_makes_a_snapshot(dataset, tmp_path):
    at = upload(open_page(), export_folder(tmp_path / "export", only=("employees", "grades")))
    assert not at.exception and not at.error
    assert metrics(at) == {"Errors (block the import)": "0", "Warnings (imported with a note)": "0"}
    assert [tab.label for tab in at.tabs] == ["Employees", "Grades"]
    preview = at.dataframe[0].value
    assert list(preview.columns)[:2] == ["cycle_id", "employee_id"] and len(preview) == 8
    assert at.button(key="data_import").disabled is False

    at.button(key="data_import").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith(f"Imported into {dataset.name} as snapshot 0001-")
    snapshots = at.dataframe[-1].value
    assert len(snapshots) == 2 and snapshots["snapshot"][0].endswith(" *")
    assert list(snapshots["kind"]) == ["import", "before the first import"]
    assert len(at.file_uploader[0].value or []) == 0  # the uploader starts afresh


def test_errors_are_listed_with_a_download_and_block_the_import(dataset, tmp_path):
    source = export_folder(tmp_path / "export", only=("ratings",))
    rows = contract_rows("ratings")
    rows[3][5] = "九十"
    write_csv(source / "ratings.csv", rows)
    at = upload(open_page(), source)
    assert not at.exception
    assert metrics(at)["Errors (block the import)"] == "1"
    report = at.dataframe[-1].value
    assert report.iloc[0][["severity", "file", "row", "column", "value"]].tolist() == ["error", "ratings.csv", 4, "score", "九十"]
    assert at.button(key="data_import").disabled is True
    assert any(b.label == "Download CSV" for b in at.get("download_button"))
    assert list_snapshots(dataset) == []


def test_a_chinese_mapping_can_be_picked_and_edited_in_the_page(dataset, tmp_path):
    source = tmp_path / "export"
    write_csv(source / "绩效等级.csv", [["周期编号", "员工编号", "初评等级", "最终等级"], ["2025H2", "E1", "良好", "优+"]])
    at = open_page()
    at.selectbox(key="data_mapping_choice").set_value("hris-zh").run()
    at = upload(at, source)
    report = at.dataframe[-1].value
    assert report.iloc[0][["file", "row", "column", "value"]].tolist() == ["绩效等级.csv", 2, "最终等级 (final_grade)", "优+"]

    text = at.text_area[0].value.replace('"不合格" = "D"', '"不合格" = "D"\n"优+" = "S"')
    at.text_area[0].set_value(text).run()
    assert metrics(at)["Errors (block the import)"] == "0"
    assert at.dataframe[0].value["final_grade"].tolist() == ["S"]


def test_a_bad_mapping_is_shown_as_one_error(dataset, tmp_path):
    at = open_page()
    at.text_area[0].set_value("[tables.staff]\n").run()
    at = upload(at, export_folder(tmp_path / "export", only=("grades",)))
    assert "[tables.staff] is not a table of the contract" in at.error[0].value


def test_files_can_go_into_a_new_dataset_under_data(dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(web, "DATA_DIR", tmp_path / "data")
    at = open_page()
    at.toggle(key="data_into_new").set_value(True).run()
    at = upload(at, export_folder(tmp_path / "export"))
    assert any("Type a name" in warning.value for warning in at.warning)
    at.text_input(key="data_new_name").set_value("company 2026").run()
    at.button(key="data_import").click().run()
    assert not at.exception and not at.error
    assert answers(tmp_path / "data" / "company 2026") == answers(dataset)


def test_a_snapshot_can_be_rolled_back_from_the_page(dataset, tmp_path):
    original = answers(dataset)
    source = export_folder(tmp_path / "export", only=("grades",))
    write_csv(source / "grades.csv", [["cycle_id", "employee_id", "proposed_grade"], ["2025H2", "E1", "A"]])
    at = upload(open_page(), source)
    at.text_input(key="data_cycle").set_value("2025H2").run()
    at.button(key="data_import").click().run()
    assert answers(dataset) != original

    assert at.button(key="data_rollback").disabled is True  # not before the box is ticked
    assert at.selectbox(key="data_rollback_to").options == [list_snapshots(dataset)[0]["id"]]
    at.checkbox(key="data_rollback_sure").check().run()
    at.button(key="data_rollback").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("Restored 0000-")
    assert answers(dataset) == original
