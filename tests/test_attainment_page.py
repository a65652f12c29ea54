"""The Attainment page (AppTest): hand-computed figures, the linkable heatmap cell, the as-of date,
the data-quality note, and datasets that lack tables. Plotly charts are invisible to AppTest; their
builders and the selection handler are tested in test_attainment_helpers.py."""

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.attainment_fixture import write_attainment_dataset
from tests.tiny_company import tiny_company_tables, write_dataset

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages/attainment.py")
TEAM_COLUMNS = ["team", "department", "region", "employees", "employees_with_attainment", "attainment", "team_goal_attainment"]


def page(**query_params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    for key, value in query_params.items():
        at.query_params[key] = value
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def tables(at: AppTest, columns: list[str]) -> list:
    """The page's tables showing exactly these columns, in page order."""
    return [frame.value for frame in at.dataframe if list(frame.value.columns) == columns]


def narrowed_to(at: AppTest) -> list[str]:
    """The cell the page says it is narrowed to, if any."""
    return [i.value for i in at.info if i.value.startswith("The sections below show")]


def url(at: AppTest, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


@pytest.fixture
def on_tiny(monkeypatch, tiny_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(tiny_dir))
    return tiny_dir


@pytest.fixture
def on_messy(monkeypatch, tmp_path):
    folder = write_attainment_dataset(tmp_path / "messy", min_group_size=1)
    monkeypatch.setenv("GRADELENS_DATA", str(folder))
    return folder


def test_the_headline_shows_the_hand_computed_attainment_against_the_previous_cycle(on_tiny):
    at = ok(page())
    assert at.title[0].value == "Goal attainment"
    assert metrics(at) == {
        "Company goals": ("90.0%", ""),  # no company goals in 2025H1: no change to show
        "Attainment (mean per employee)": ("86.7%", "-23.3 pp vs previous"),  # 2025H1: 110.0%
        "On track (≥ 100%)": ("42.9%", "-57.1 pp vs previous"),  # 3 of 7 goals against 1 of 1
        "At risk (80–100%)": ("28.6%", "+28.6 pp vs previous"),
        "Off track (< 80%)": ("28.6%", "+28.6 pp vs previous"),
    }
    coverage = at.caption[1].value
    assert "3 of 5 employees" in coverage and "counted in the headcount but not in the mean" in coverage
    assert "2025H1 as of 2025-06-30" in coverage


def test_a_mid_cycle_as_of_date_from_the_url_recomputes_everything(on_tiny):
    at = ok(page(as_of="2025-09-30"))
    assert at.date_input(key="attainment_as_of_2025H2").value.isoformat() == "2025-09-30"
    assert metrics(at)["Attainment (mean per employee)"] == ("95.0%", "")  # E2 only; 2025H1 had nothing by 04-02
    assert metrics(at)["Company goals"] == ("40.0%", "")
    (trend,) = tables(at, ["as_of", "employees", "employees_with_attainment", "attainment", "company_goal_attainment"])
    assert [d.date().isoformat() for d in trend["as_of"]] == ["2025-07-31", "2025-08-31", "2025-09-30"]


def test_choosing_the_cycle_end_again_drops_the_date_from_the_url(on_tiny):
    at = ok(page(as_of="2025-09-30"))
    at.date_input(key="attainment_as_of_2025H2").set_value(dt.date(2025, 12, 31)).run()
    assert url(at, "as_of") is None
    assert metrics(at)["Attainment (mean per employee)"][0] == "86.7%"


def test_the_heatmap_tables_give_each_department_and_region(on_tiny):
    at = ok(page())
    (cells,) = tables(at, ["department", "region", "employees", "employees_with_attainment", "attainment"])
    assert cells[["department", "region", "employees"]].values.tolist() == [["R&D", "East", 2], ["Sales", "East", 2], ["Sales", "North", 1]]
    (by_department,) = tables(at, ["department", "employees", "employees_with_attainment", "attainment", "department_goal_attainment"])
    assert by_department["attainment"].tolist() == pytest.approx([100.0, 80.0])  # shown as percent
    assert [b.label for b in at.button] == []  # nothing selected, nothing to clear


def test_a_linked_cell_narrows_the_rest_of_the_page_and_can_be_cleared(on_messy):
    at = ok(page(cell="D1|North"))
    assert narrowed_to(at) == ["The sections below show **Sales × North** only."]
    top, bottom = tables(at, TEAM_COLUMNS)[:2]
    assert top["team"].tolist() == ["Sales North"] and bottom.empty
    (themes,) = tables(at, ["strategy_theme", "goals", "goals_with_attainment", "attainment", "individual_attainment",
                            "company_goal_attainment", "on_track_share"])
    assert themes["goals"].tolist() == [3, 1]  # G-T2, G-E3a, G-E3c and the unthemed G-E3b
    at.button(key="attainment_clear_cell").click().run()
    ok(at)
    assert url(at, "cell") is None and not narrowed_to(at)
    top, bottom = tables(at, TEAM_COLUMNS)[:2]
    assert top["team"].tolist() == ["Sales East", "R&D Core"] and bottom["team"].tolist() == ["Sales North"]


def test_teams_smaller_than_the_policy_s_minimum_group_are_not_ranked(on_tiny):
    at = ok(page())  # the tiny company's teams have one or two people with actuals; the default minimum is 5
    assert any(i.value.startswith("No team has at least 5 members with actuals") for i in at.info)
    assert tables(at, TEAM_COLUMNS) == []
    (every_team,) = tables(at, TEAM_COLUMNS + ["below_min_group"])
    assert every_team["team"].tolist() == ["Sales East", "R&D Core", "Sales North"]


def test_a_cell_outside_the_sidebar_filters_is_dropped(on_tiny):
    at = ok(page(cell="D1|East"))
    assert url(at, "cell") == "D1|East"
    at.selectbox(key="filter_region").set_value("North").run()
    ok(at)
    assert url(at, "cell") is None and not narrowed_to(at)


@pytest.mark.parametrize("cell", ["D9|Mars", "nonsense", "'; DROP TABLE goals; --|East"])
def test_a_cell_that_does_not_exist_is_ignored(on_tiny, cell):
    at = ok(page(cell=cell))
    assert not narrowed_to(at) and url(at, "cell") is None


def test_the_data_quality_note_says_how_many_problems_and_which(on_messy):
    at = ok(page())
    note = at.warning[0].value
    assert note.startswith("Data quality: ") and "(9 in all)" in note
    for part in ("Target zero or negative: 1", "Weight outside (0, 1]: 1", "Weights not summing to 1: 3", "Parent goal missing: 1",
                 "Parent goal in another cycle: 1", "Actuals dated outside the cycle: 2"):
        assert part in note
    (issues,) = tables(at, ["issue", "goal_id", "owner_type", "owner_id", "value", "related_id", "first_date", "last_date"])
    assert issues["goal_id"].dropna().tolist() == ["G-E5a", "G-E4b", "G-E4c", "G-E5b", "G-E3a", "G-E4b"]
    assert "weights_not_one" not in set(issues["issue"])  # codes are shown in words
    assert "Weights not summing to 1" in set(issues["issue"])


def test_the_cascade_shows_goals_hiding_a_shortfall_and_the_unlinked_goals(on_messy):
    at = ok(page())
    assert "Goals on track while the goals under them are off track: 1." in [w.value for w in at.warning]
    labels = [e.label for e in at.expander]
    assert "revenue goal — own 90.0% · below 120.0%" in labels
    assert "Not linked to a company goal (6 goals)" in labels
    assert "Goals not linked to a parent goal (6)" in labels
    (alignment,) = tables(at, ["department", "individual_goals", "linked_goals", "alignment_rate", "broken_links"])
    assert alignment.values.tolist() == [["R&D", 5, 0, 0.0, 2], ["Sales", 5, 4, 80.0, 0]]


def test_a_cascade_branch_draws_its_goals_only_when_opened(on_messy):
    goal_columns = ["goal", "owner_type", "department", "region", "attainment", "children_attainment", "children", "weight",
                    "strategy_theme", "goal_id"]
    at = ok(page())
    (masking,) = tables(at, goal_columns)  # closed branches draw nothing: 2,500 goals at 200k, on every visit
    assert masking["goal_id"].tolist() == ["G-T2"]
    at.session_state["attainment_branch_1"] = True  # the first branch: the company's revenue goal
    ok(at.run())
    (masking, shown) = tables(at, goal_columns)
    assert shown["goal"].iloc[0] == "revenue goal" and len(shown) > 1
    assert shown["goal"].iloc[1].startswith("\u2003↳ ")  # the goals below it, indented


def test_the_page_speaks_chinese(on_tiny):
    at = ok(page(lang="zh"))
    assert at.title[0].value == "目标达成"
    assert metrics(at)["目标达成率（人均）"] == ("86.7%", "较上期 -23.3 个百分点")


@pytest.mark.parametrize(
    "keep, message",
    [
        (("grades",), "needs the table(s) cycles, employees, goals"),
        (("cycles",), "needs the table(s) employees, goals"),
        (("cycles", "employees", "org_units"), "needs the table(s) goals"),
        (("cycles", "employees", "org_units", "goals"), "Attainment needs the table(s) kpi_actuals"),
    ],
)
def test_a_dataset_that_lacks_tables_says_what_is_missing(monkeypatch, tmp_path, keep, message):
    tables_kept = {name: rows for name, rows in tiny_company_tables().items() if name in keep}
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "partial", tables_kept)))
    at = ok(page())
    assert any(message in info.value for info in at.info), [info.value for info in at.info]


def test_the_first_cycle_has_nothing_to_compare_with(monkeypatch, tmp_path):
    tables = tiny_company_tables()
    tables["cycles"] = tables["cycles"][1:]
    for name in ("employees", "goals", "grades"):
        tables[name] = [row for row in tables[name] if row["cycle_id"] == "2025H2"]
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "one", tables)))
    at = ok(page())
    assert metrics(at)["Attainment (mean per employee)"] == ("86.7%", "")
    assert at.caption[1].value.endswith("No earlier cycle to compare with.")
