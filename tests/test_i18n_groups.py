"""Group labels for people without a group are codes in the data and words on screen; errors
and command-line lines follow the page language or --lang."""

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from gradelens.cli import main
from gradelens.i18n import group_codes, localise_groups, set_language
from gradelens.queries import run_query
from tests.tiny_company import tiny_company_tables, write_dataset

ROOT = Path(__file__).resolve().parent.parent
SQL_FILES = sorted((ROOT / "queries").glob("*.sql")) + [ROOT / "gradelens" / "definitions.sql"]


@pytest.fixture
def english_after():
    yield
    set_language("en")  # the CLI's --lang is module state


def test_every_no_group_label_written_in_sql_is_a_declared_code():
    declared = set(group_codes())
    written = set()
    for path in SQL_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.split("--")[0]
            written |= {c for c in ("'(no department)'", "'(no region)'", "'(no job level)'", "'(no manager)'") if c in code}
    assert written and {c.strip("'") for c in written} <= declared


@pytest.mark.parametrize("language, department", [("en", "(no department)"), ("zh", "（无部门）")])
def test_label_columns_are_translated_and_ids_are_left_alone(language, department):
    frame = pd.DataFrame({"department_id": [None, "D1"], "department": ["(no department)", "Sales"],
                          "group_id": ["(none)", "D1"], "group_name": ["(no manager)", "Wang Wei"]})
    shown = localise_groups(frame, language)
    assert shown["department"].tolist() == [department, "Sales"]
    assert shown["group_id"].tolist() == ["(none)", "D1"]
    assert shown["group_name"].tolist() == [{"en": "(no manager)", "zh": "（无上级）"}[language], "Wang Wei"]


def test_an_english_frame_without_codes_is_returned_as_it_is():
    frame = pd.DataFrame({"department": ["Sales"]})
    assert localise_groups(frame, "zh") is frame and localise_groups(frame, "en") is frame


def test_an_employee_without_a_department_is_labelled_in_the_language_shown(tmp_path):
    tables = tiny_company_tables()
    tables["employees"] = [dict(row, unit_id=None) if row["employee_id"] == "E5" else row for row in tables["employees"]]
    from gradelens.dataset import open_dataset

    rows = run_query(open_dataset(write_dataset(tmp_path / "nodept", tables)), "attainment_by_department", {"cycle": "2025H2"})
    assert "(no department)" in rows["department"].tolist()  # the code, in the data
    assert "（无部门）" in localise_groups(rows, "zh")["department"].tolist()


def test_the_cli_prints_group_labels_in_the_chosen_language(capsys, tiny_dir, english_after):
    assert main(["--lang", "zh", "query", "grade_distribution", "--data", str(tiny_dir), "--param", "group_by=manager",
                 "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "（无上级）" in out and "(no manager)" not in out
    assert "(none)" in out  # the group id stays the code


def test_a_cli_error_is_one_line_in_the_chosen_language(capsys, tiny_dir, english_after):
    code = main(["query", "grade_mix", "--data", str(tiny_dir), "--param", "cycle=2031H1", "--lang", "zh"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "gradelens: 查询 grade_mix：未知的考核周期 '2031H1'；数据集中的周期为 2025H1, 2025H2。\n"


def test_a_cli_line_follows_the_chosen_language(capsys, tmp_path, english_after):
    assert main(["snapshots", str(tmp_path), "--lang", "zh"]) == 0
    assert capsys.readouterr().out == f"{tmp_path.resolve()} 还没有快照（尚未向其导入过数据）。\n"


@pytest.mark.parametrize("lang, expected", [
    ("en", "table cycles lacks column(s) name, start_date, end_date"),
    ("zh", "表 cycles 缺少列 name, start_date, end_date"),
])
def test_a_dataset_error_on_a_page_is_shown_in_the_page_language(monkeypatch, tmp_path, lang, expected):
    folder = write_dataset(tmp_path / "broken", {"grades": tiny_company_tables()["grades"]})
    pq.write_table(pa.table({"cycle_id": ["2025H1"]}), folder / "cycles.parquet")
    monkeypatch.setenv("GRADELENS_DATA", str(folder))
    at = AppTest.from_file(str(ROOT / "pages/overview.py"), default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    assert any(expected in error.value for error in at.error), [e.value for e in at.error]


def test_the_grades_page_in_chinese_shows_the_no_manager_group_in_chinese(monkeypatch, tiny_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(tiny_dir))
    at = AppTest.from_file(str(ROOT / "pages/grades.py"), default_timeout=120)
    at.query_params["lang"] = "zh"
    at.run()
    at.segmented_control(key="grades_group_by").set_value("manager").run()
    assert not at.exception
    names = set(at.dataframe[0].value["group_name"])
    assert "（无上级）" in names and "(no manager)" not in names


def test_the_ungrouped_group_id_is_shown_in_words_in_the_grades_tables(monkeypatch, tiny_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(tiny_dir))
    at = AppTest.from_file(str(ROOT / "pages/grades.py"), default_timeout=120)
    at.query_params["lang"] = "zh"
    at.run()
    at.segmented_control(key="grades_group_by").set_value("manager").run()
    shares = at.dataframe[0].value
    from gradelens.i18n import t

    at.session_state["grades_tab"] = t("grades.tab_worksheet", "zh")  # only the open tab runs (st.tabs on_change="rerun")
    sheet = at.run().dataframe[0].value  # the styled worksheet arrives as its data
    assert "（无）" in set(shares["group_id"]) and "(none)" not in set(shares["group_id"])
    assert "（无）" in set(sheet["group_id"])
