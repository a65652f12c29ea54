"""The Appeals page (AppTest) on the appeals fixture: hand-computed figures, the data-quality
note, the open-appeals date, raters with and without leniency, and partial datasets."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import gradelens.queries
from gradelens.i18n import t
from gradelens.queries import NamedQuery, Param
from tests.appeals_fixture import appeals_company_tables
from tests.tiny_company import write_dataset

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "appeals.py")


def page_test(**query_params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    for key, value in query_params.items():
        at.query_params[key] = value
    return at.run()


@pytest.fixture(scope="module")
def company_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("appeals-page"), appeals_company_tables())


@pytest.fixture
def on_company(monkeypatch, company_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(company_dir))
    return company_dir


def frames(at: AppTest) -> list[pd.DataFrame]:
    return [element.value for element in at.dataframe]


TABS = ("tab_rates", "tab_outcomes", "tab_resolution", "tab_where")


def open_tab(at: AppTest, tab: str) -> AppTest:
    """Click a tab: only the open tab's sections run (st.tabs on_change="rerun")."""
    at.session_state["appeals_tab"] = t(f"appeals.{tab}", "en")
    return at.run()


def every_tab(at: AppTest, what=frames) -> list:
    """`what(at)` of each tab in turn, concatenated."""
    return [item for tab in TABS for item in what(open_tab(at, tab))]


def frame_with(at: AppTest, *headers: str) -> pd.DataFrame:
    matches = [f for f in frames(at) if all(h in f.columns for h in headers)]
    assert matches, f"no table with columns {headers}: {[list(f.columns) for f in frames(at)]}"
    return matches[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_renders_in_both_languages(on_company, lang):
    at = page_test(lang=lang)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == {"en": "Appeals", "zh": "绩效申诉"}[lang]


def test_the_selected_cycle_shows_its_hand_computed_outcomes(on_company):
    at = open_tab(page_test(cycle="2025H2"), "tab_outcomes")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Appeals this cycle": "4", "Upheld (fully or partly)": "66.7%", "Appeals that changed the grade": "50.0%"}
    outcomes = frame_with(at, "Reason", "Status")
    assert outcomes[["Reason", "Status", "Appeals"]].values.tolist() == [
        ["Calibration downgrade", "Open", 1], ["Rater bias", "Upheld", 1],
        ["Unclear criteria", "Withdrawn", 1], ["Wrong data", "Partially upheld", 1]]


def test_rates_by_cycle_keep_the_cycle_without_appeals_at_zero(on_company):
    at = page_test()
    rates = frame_with(at, "Cycle", "Appeals per 100 graded", "Upheld share")
    assert rates[["Cycle", "Graded", "Appeals", "Appeals per 100 graded", "Upheld share"]].values.tolist() == [
        ["2025 H1", 3, 3, 100.0, "33.3%"], ["2025 H2", 5, 4, 80.0, "66.7%"], ["2026 H1", 4, 0, 0.0, "–"]]
    times = frame_with(open_tab(at, "tab_resolution"), "Median days to resolve")
    assert times[["Median days to resolve", "90th percentile days"]].values.tolist()[1] == [10.0, 18.0]
    assert {m.label: m.value for m in open_tab(at, "tab_outcomes").metric}["Appeals this cycle"] == "0"  # 2026H1, the latest
    assert any("No appeals in this cycle" in i for i in every_tab(at, lambda page: [i.value for i in page.info]))


def test_breaking_down_by_department_shows_a_row_per_department_and_cycle(on_company):
    at = page_test()
    at.segmented_control(key="appeals_group_by").set_value("department").run()
    table = frame_with(at, "Department", "Appeals per 100 graded")
    assert table[["Cycle", "Department", "Appeals"]].values.tolist()[:3] == [
        ["2025 H1", "Sales", 3], ["2025 H2", "R&D", 2], ["2025 H2", "Sales", 2]]


def test_bad_appeals_are_counted_in_a_data_quality_note(on_company):
    at = page_test()
    assert at.expander[0].label == "Data quality: appeals left out of some figures (5)"
    quality = frame_with(at, "Problem", "Left out of")
    assert quality["Appeal"].tolist() == ["BAD1", "BAD2", "BAD5", "BAD4", "BAD3"]
    assert quality["Problem"].iloc[0] == "Cycle not in the dataset"


def test_open_appeals_default_to_the_latest_date_in_the_data_and_follow_the_date_input(on_company):
    at = open_tab(page_test(), "tab_resolution")
    assert at.date_input(key="appeals_as_of").value == dt.date(2026, 1, 26)
    assert any(m.value == "Open on 2026-01-26: **1**; past the 15-day service target: **0**." for m in at.markdown)
    assert frame_with(at, "Age (days)")[["Appeal", "Age (days)", "Past service target"]].values.tolist() == [["AP2", 14, "no"]]
    at.date_input(key="appeals_as_of").set_value(dt.date(2026, 1, 15)).run()
    assert frame_with(at, "Age (days)")["Appeal"].tolist() == ["AP4", "AP1", "AP2"]
    at.date_input(key="appeals_as_of").set_value(dt.date(2025, 6, 1)).run()
    assert any(s.value == "No appeals were open on 2025-06-01." for s in at.success)


def test_raters_below_the_minimum_group_size_are_hidden(on_company):
    at = open_tab(page_test(cycle="2025H2"), "tab_where")
    assert any("Raters not shown" in c.value and ": 2." in c.value for c in at.caption)
    assert not [f for f in frames(at) if "Rater" in f.columns]
    assert any("No rater to show" in i.value for i in at.info)


@pytest.fixture
def open_company(monkeypatch, tmp_path):
    """The fixture with min_group_size 1, so every rater may be shown."""
    folder = write_dataset(tmp_path / "open", appeals_company_tables())
    (folder / "policy.toml").write_text("[privacy]\nmin_group_size = 1\n", encoding="utf-8")
    monkeypatch.setenv("GRADELENS_DATA", str(folder))
    return folder


def test_raters_are_shown_without_leniency_when_no_estimator_exists(open_company, monkeypatch):
    real = gradelens.queries.all_queries
    monkeypatch.setattr(gradelens.queries, "all_queries", lambda: {k: v for k, v in real().items() if k != "rater_leniency"})
    at = open_tab(page_test(cycle="2025H2"), "tab_where")
    raters = frame_with(at, "Rater", "Appeals per 100 graded")
    assert raters[["Rater", "Graded", "Appeals", "Upheld share"]].values.tolist() == [
        ["Wang Wei", 3, 3, "50.0%"], ["Liu Yang", 1, 1, "100.0%"]]
    assert "Leniency effect" not in raters.columns
    assert any("Rater leniency is not available" in c.value for c in at.caption)


def test_raters_show_their_leniency_beside_their_appeals_when_the_estimator_exists(open_company, monkeypatch):
    asked = {}

    def rater_leniency(dataset, cycle, role):
        asked.update(cycle=cycle, role=role)
        return pd.DataFrame({"rater_id": ["E1"], "effect": [-0.65], "flagged": [True]})

    stub = NamedQuery("rater_leniency", "stub", (Param("cycle", "cycle", "latest"), Param("role", "text", "manager")),
                      ("ratings",), ("rater_id", "effect", "flagged"), function=rater_leniency)
    real = gradelens.queries.all_queries
    monkeypatch.setattr(gradelens.queries, "all_queries", lambda: {**real(), "rater_leniency": stub})
    at = page_test(cycle="2025H2")
    assert not at.exception, at.exception
    assert asked == {}  # the raters' tab is not open yet
    open_tab(at, "tab_where")
    assert asked == {"cycle": "2025H2", "role": "manager"}
    raters = frame_with(at, "Rater", "Leniency effect")
    assert raters[["Rater", "Leniency effect", "Flagged lenient/severe"]].values.tolist()[0] == ["Wang Wei", -0.65, "yes"]
    assert pd.isna(raters["Leniency effect"].iloc[1])


def test_appeal_rates_by_grade_for_the_selected_cycle(on_company):
    at = open_tab(page_test(cycle="2025H2"), "tab_where")
    by_grade = frame_with(at, "Grade before appeal", "Graded")
    assert by_grade[["Grade before appeal", "Graded", "Appeals"]].values.tolist() == [
        ["S", 0, 0], ["A", 1, 1], ["B", 3, 2], ["C", 0, 0], ["D", 1, 1]]


def test_every_table_has_a_download(on_company):
    at = page_test(cycle="2025H2")
    downloads = set()
    for tab in TABS:
        open_tab(at, tab)
        assert len(at.get("download_button")) == len(frames(at)), tab
        downloads |= {button.key for button in at.get("download_button")}
    assert len(downloads) == 7  # raters are hidden (small groups)


def test_the_sidebar_filters_narrow_the_page(on_company):
    at = open_tab(page_test(cycle="2025H2", department="D2"), "tab_outcomes")
    assert {m.label: m.value for m in at.metric}["Appeals this cycle"] == "2"


@pytest.mark.parametrize("keep", [("grades",), ("cycles", "employees", "org_units"), ("cycles",)],
                         ids=["grades-only", "people-only", "cycles-only"])
def test_a_partial_dataset_says_which_tables_are_missing(monkeypatch, tmp_path, keep):
    tables = {name: rows for name, rows in appeals_company_tables().items() if name in keep}
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "partial", tables)))
    at = page_test()
    assert not at.exception, at.exception
    assert any("appeals page needs the table(s)" in i.value for i in at.info)


def test_a_dataset_without_appeals_says_so(monkeypatch, tmp_path):
    tables = appeals_company_tables()
    tables["appeals"] = []
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "calm", tables)))
    at = page_test()
    assert not at.exception, at.exception
    assert any("No appeals that count" in i.value for i in at.info)


def test_a_one_cycle_dataset_renders_without_spikes(monkeypatch, tmp_path):
    tables = appeals_company_tables()
    tables["cycles"] = [c for c in tables["cycles"] if c["cycle_id"] == "2025H2"]
    for name in ("employees", "grades", "appeals"):
        tables[name] = [row for row in tables[name] if row["cycle_id"] == "2025H2"]
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "one", tables)))
    at = page_test()
    assert not at.exception, at.exception
    assert not at.warning
    assert any("No spike by this rule." in c.value for c in at.caption)


def test_a_dataset_without_ratings_shows_raters_without_leniency_and_no_warning(monkeypatch, tmp_path):
    tables = appeals_company_tables()
    del tables["ratings"]
    folder = write_dataset(tmp_path / "unrated", tables)
    (folder / "policy.toml").write_text("[privacy]\nmin_group_size = 1\n", encoding="utf-8")
    monkeypatch.setenv("GRADELENS_DATA", str(folder))
    at = open_tab(page_test(cycle="2025H2"), "tab_where")
    assert not at.exception, at.exception
    assert not [w.value for w in at.warning if "rater_leniency" in w.value]
    assert "Leniency effect" not in frame_with(at, "Rater", "Graded").columns
