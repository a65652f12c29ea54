"""The Grade distribution page (AppTest) and what it draws (charts, tables, the printable sheet),
on the grades fixture (tests/grades_fixture.py), partial datasets and the demo."""

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from gradelens.analyses import grades
from gradelens.dataset import open_dataset
from gradelens.i18n import t
from gradelens.demo import generate
from gradelens.queries import run_query
from tests.grades_fixture import grades_company_tables
from tests.tiny_company import tiny_company_tables, write_dataset

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages/grades.py")
H2 = "2025H2"


@pytest.fixture(scope="module")
def company_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("grades_page"), grades_company_tables())


@pytest.fixture
def on_company(monkeypatch, company_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(company_dir))
    return company_dir


def run_page(**query_params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in query_params.items():
        at.query_params[key] = value
    return at.run()


def frames(at: AppTest) -> list[pd.DataFrame]:
    return [element.value.data if hasattr(element.value, "data") else element.value for element in at.dataframe]


TABS = ("tab_shares", "tab_worksheet", "tab_test", "tab_calibration", "tab_attainment", "tab_drift")


def open_tab(at: AppTest, tab: str) -> AppTest:
    """Click a tab: only the open tab's sections run (st.tabs on_change="rerun")."""
    at.session_state["grades_tab"] = t(f"grades.{tab}", "en")
    return at.run()


def every_tab(at: AppTest, what=frames) -> list:
    """`what(at)` of each tab in turn, concatenated (the tables of all six tabs, in tab order)."""
    return [item for tab in TABS for item in what(open_tab(at, tab))]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_renders_every_section_in_both_languages(on_company, lang):
    at = run_page(lang=lang)
    assert not at.exception, at.exception
    assert not at.error and not at.warning, [e.value for e in [*at.error, *at.warning]]
    assert at.title[0].value == {"en": "Grade distribution", "zh": "绩效等级分布"}[lang]
    assert len(at.tabs) == 6
    assert len(at.dataframe) == 1  # only the open tab (shares) runs its queries
    assert len(every_tab(at)) == 6  # shares, sheet, test, changes, mismatch, drifted groups
    assert not at.exception and not at.error and not at.warning


def test_the_page_shows_the_hand_computed_numbers(on_company):
    shares, sheet, tested, changes, mismatch, drifted = every_tab(run_page())
    assert shares.iloc[0]["group_name"] == "Guideline" and shares.iloc[0]["S"] == "5.0%"
    assert shares.set_index("group_id").loc["D3", ["S", "A", "B", "C", "D"]].tolist() == ["8.0%", "27.0%", "55.0%", "10.0%", "0.0%"]
    assert sheet.set_index("group_id").loc["D3", ["S", "A", "B", "C", "D"]].tolist() == [
        "8 / 5 (+3)", "27 / 20 (+7)", "55 / 60 (-5)", "10 / 10", "0 / 5 (-5)"]
    assert tested.iloc[0]["group_name"] == "Marketing" and tested.iloc[0]["method"] == "Chi-square"
    assert set(tested.loc[tested["group_name"] != "Marketing", "method"]) == {"Not tested (group too small)"}
    assert changes.set_index("group_name").loc["Marketing", ["moved_up", "moved_down", "share_down"]].tolist() == [2, 9, "9.0%"]
    assert mismatch["employee_id"].tolist() == ["M002", "M003", "M005", "M004", "M006", "M007"]
    assert mismatch["gap"].tolist() == ["+4", "-3", "+3", "-2", "+2", "-2"]
    assert drifted[["group_name", "cycle_id", "psi"]].values.tolist() == [["Marketing", H2, "0.350"]]


def test_choosing_a_grouping_and_a_stage_reruns_every_section(on_company):
    at = run_page()
    at.segmented_control(key="grades_group_by").set_value("manager").run()
    assert not at.exception
    assert set(frames(at)[0]["group_name"]) == {"Guideline", "(no manager)", "Wang Wei", "Marketer 1"}
    at.segmented_control(key="grades_stage").set_value("proposed").run()
    sheet = frames(open_tab(at, "tab_worksheet"))[0].set_index("group_name")
    assert sheet.loc["Marketer 1", "S"] == "10 / 5 (+5)"  # M001's reports, proposed: S 10 of 99, cap ceil(4.95) = 5


def test_the_transition_matrix_can_narrow_to_one_group(on_company):
    at = open_tab(run_page(), "tab_calibration")
    at.selectbox(key="grades_matrix_group").set_value("D3").run()
    assert not at.exception and not at.warning
    assert at.selectbox(key="grades_matrix_group").value == "D3"
    open_tab(open_tab(at, "tab_drift"), "tab_calibration")  # the choice survives a visit to another tab
    assert at.selectbox(key="grades_matrix_group").value == "D3"


def test_the_sidebar_department_filter_narrows_every_section(on_company):
    at = run_page(department="D3")
    shares = frames(at)[0]
    assert shares["group_id"].tolist() == ["", "D3"]


def test_a_custom_grade_scale_explains_that_attainment_bands_are_needed(monkeypatch, tmp_path):
    tables = tiny_company_tables()
    rename = {"S": "E", "A": "E", "B": "M", "C": "L", "D": "L"}
    for row in tables["grades"]:
        row["proposed_grade"] = rename[row["proposed_grade"]]
        row["final_grade"] = rename.get(row["final_grade"])
    folder = write_dataset(tmp_path / "custom", {k: v for k, v in tables.items() if k != "appeals"})
    (folder / "policy.toml").write_text('grades = ["E", "M", "L"]\n[target_shares]\nE = 0.3\nM = 0.6\nL = 0.1\n', encoding="utf-8")
    monkeypatch.setenv("GRADELENS_DATA", str(folder))
    at = run_page()
    assert not at.exception, at.exception
    assert list(frames(at)[0].columns[-3:]) == ["E", "M", "L"]
    assert any("own grade scale" in info.value for info in open_tab(at, "tab_attainment").info)


@pytest.mark.parametrize("keep, message", [
    (("grades",), "needs the table(s) employees"),
    (("cycles", "employees", "org_units"), "needs the table(s) grades,"),
    (("cycles",), "needs the table(s) grades, employees"),
])
def test_a_partial_dataset_says_what_is_missing(monkeypatch, tmp_path, keep, message):
    tables = {name: rows for name, rows in tiny_company_tables().items() if name in keep}
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "partial", tables)))
    at = run_page()
    assert not at.exception, at.exception
    assert any(message in info.value for info in at.info), [info.value for info in at.info]


def test_a_cycle_not_calibrated_yet_says_so_with_the_next_step(monkeypatch, tmp_path):
    tables = tiny_company_tables()
    for row in tables["grades"]:
        row["final_grade"] = None
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "uncalibrated", tables)))
    at = run_page()
    assert not at.exception, at.exception
    infos = every_tab(at, lambda page: [info.value for info in page.info])
    assert any(text.startswith("No Final (calibrated) grades for this selection yet") for text in infos), infos
    assert any("calibration meeting" in text for text in infos)
    at.segmented_control(key="grades_stage").set_value("proposed").run()
    assert len(every_tab(at)) >= 3  # proposed grades still show against the guideline


def test_a_one_cycle_dataset_has_no_previous_cycle_to_drift_from(monkeypatch, tmp_path):
    tables = tiny_company_tables()
    tables["cycles"] = tables["cycles"][1:]
    for name in ("employees", "goals", "grades"):
        tables[name] = [row for row in tables[name] if row["cycle_id"] == H2]
    tables["kpi_actuals"] = [row for row in tables["kpi_actuals"] if row["goal_id"] != "H1-E2"]
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "one", tables)))
    at = open_tab(run_page(), "tab_drift")
    assert not at.exception, at.exception
    assert any("No group drifts" in success.value for success in at.success)


# --- What the page draws, tested directly (AppTest cannot see plotly charts) ---


@pytest.fixture(scope="module")
def company(company_dir):
    return open_dataset(company_dir)


def test_the_distribution_chart_stacks_one_trace_per_grade_with_the_guideline_on_top(company):
    mix = run_query(company, "grade_distribution", {"cycle": H2})
    fig = grades.distribution_chart(mix)
    assert [trace.name for trace in fig.data] == ["S", "A", "B", "C", "D"]
    s_trace = fig.data[0]
    assert list(s_trace.y) == ["Guideline", "Marketing · 100", "R&D · 1", "Sales · 3"]
    assert list(s_trace.x) == pytest.approx([0.05, 0.08, 0.0, 0.0])
    # farthest from the guideline first (drawn top-down): R&D (0.8), Sales (0.55), Marketing (0.1)
    assert list(fig.layout.yaxis.categoryarray) == ["Marketing · 100", "Sales · 3", "R&D · 1", "Guideline"]
    assert fig.layout.barmode == "stack"


def test_the_distribution_chart_keeps_the_groups_farthest_from_the_guideline(company):
    mix = run_query(company, "grade_distribution", {"cycle": H2})
    fig = grades.distribution_chart(mix, max_groups=1)
    assert set(fig.data[0].y) == {"Guideline", "R&D · 1"}


def test_the_transition_heatmap_puts_proposed_grades_in_rows_and_final_in_columns(company):
    moves = run_query(company, "calibration_transitions", {"cycle": H2, "group_id": "D3"})
    heatmap = grades.transition_heatmap(moves).data[0]
    assert list(heatmap.y) == list(heatmap.x) == ["S", "A", "B", "C", "D"]
    assert heatmap.z[1].tolist() == [2, 23, 5, 0, 0]  # proposed A


def test_the_drift_heatmap_marks_drift_beyond_the_threshold(company):
    drift = run_query(company, "grade_drift", {})
    shown = grades.drift_groups(drift, "target")
    assert shown == ["D3", "D2", "D1"]  # by name: Marketing, R&D, Sales
    heatmap = grades.drift_heatmap(drift, "target", shown).data[0]
    assert list(heatmap.x) == ["2025H1", H2] and list(heatmap.y) == ["Marketing", "R&D", "Sales"]
    assert heatmap.text[0] == ["0.000", "0.350 ●"]
    assert heatmap.text[1][0] == ""  # R&D had nobody graded in 2025H1
    assert "●" not in heatmap.text[2][1]  # Sales (3 people) is not judged
    # colour: PSI / threshold, so Marketing 2025H2 sits at 0.350 / 0.0949 = 3.7 times its threshold
    assert heatmap.z[0][1] == pytest.approx(0.349567 / (9.487729 / 100), rel=1e-5)
    assert heatmap.customdata[0][1][0] == pytest.approx(0.349567, abs=1e-6)
    assert grades.drift_groups(drift, "target", max_groups=1) == ["D3"]  # psi / threshold 3.68, the largest


def test_names_two_groups_share_get_their_ids():
    labels = grades.unique_labels(pd.Series(["E1", "E7", "E9"]), pd.Series(["Li Na", "Wang Wei", "Li Na"]))
    assert labels == ["Li Na (E1)", "Wang Wei", "Li Na (E9)"]


def test_the_printable_sheet_is_a_self_contained_html_page_that_shades_breaches(company):
    sheet = run_query(company, "calibration_worksheet", {"cycle": H2})
    page = grades.worksheet_html(sheet, "Calibration <2025H2>", "Dataset x")
    assert page.startswith("<!DOCTYPE html>") and "@media print" not in page and "@page" in page
    assert "Calibration &lt;2025H2&gt;" in page  # escaped
    assert "<td class=\"outside\">8 / 5 (+3)</td>" in page
    assert page.count('class="outside"') == int(sheet["outside_guideline"].sum()) == 4
    assert "http" not in page  # nothing to fetch: prints offline


def test_the_worksheet_table_shades_the_cells_outside_the_guideline(company):
    sheet = run_query(company, "calibration_worksheet", {"cycle": H2})
    styled = grades.worksheet_styled(sheet)
    css = styled._compute().ctx  # (row, column) -> [(property, value)]
    row = styled.data.index[styled.data["group_id"] == "D3"][0]
    shaded = {styled.data.columns[column] for (r, column), props in css.items() if r == row and props}
    assert shaded == {"S", "A", "C", "D"}


def test_the_bands_are_written_out_for_the_reader():
    assert grades.bands_text("1.25,1.10,0.95,0.70", ("S", "A", "B", "C", "D")) == (
        "S ≥ 125%, A ≥ 110%, B ≥ 95%, C ≥ 70%, D below 70%")


# --- The demo ---


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grades_demo") / "demo"
    manifest = generate(folder)  # the app's demo: 2,000 people, 6 cycles, seed 7
    return open_dataset(folder), manifest


@pytest.mark.parametrize("stage", ["final", "proposed"])
def test_the_drift_view_finds_the_demos_drifting_department(demo, stage):
    dataset, manifest = demo
    marketing = manifest.drifting_department_id
    drift = run_query(dataset, "grade_drift", {"stage": stage})
    latest = drift[(drift["cycle_id"] == manifest.cycle_ids[-1]) & (drift["reference"] == "first")].set_index("group_id")
    assert latest.loc[marketing, "drifted"]
    assert latest["top_share_change"].idxmax() == marketing  # toward S and A
    assert grades.drift_groups(drift, "first", max_groups=1) == [marketing]  # furthest past its threshold
    # Cycle to cycle its steps are small: the first-cycle and guideline views are what show it.
    assert not drift[(drift["group_id"] == marketing) & (drift["reference"] == "previous")]["drifted"].any()


def test_the_demos_drifting_department_is_the_one_that_deviates_from_the_guideline(demo):
    dataset, manifest = demo
    tested = run_query(dataset, "grade_deviation_test", {"stage": "final"})
    assert tested.loc[tested["deviates"].astype(bool), "group_id"].tolist() == [manifest.drifting_department_id]


def test_the_rounding_rule_is_spelled_out_for_the_policys_grades(company):
    sheet = run_query(company, "calibration_worksheet", {"cycle": H2})
    assert grades.rule_explanation(sheet) == (
        "Caps, rounded up in the group's favour: S ≤ ⌈5% N⌉, S+A ≤ ⌈25% N⌉. "
        "Floors, rounded down in the group's favour: D ≥ ⌊5% N⌋, C+D ≥ ⌊15% N⌋. "
        "B takes the rest, so the guideline adds up to N, the group's graded people.")
