"""The journeys people take through gradelens, in a real browser.

A journey on a page that is not registered in gradelens.navigation yet is skipped; it runs as
soon as the page is registered. Controls are found by their catalog labels (gradelens.i18n.t),
so a renamed message fails here with the missing key's name.
"""

import csv
from pathlib import Path

import pytest

from gradelens.i18n import t, value_label
from gradelens.navigation import PAGES
from tests.browser.app_page import AppPage
from tests.browser.conftest import VIEWPORT
from tests.tiny_company import tiny_company_tables, write_dataset

LANGUAGE = t("common.sidebar_language", "en")
DEPARTMENT = t("common.sidebar_department", "en")


def registered(path: str) -> bool:
    return any(page.path == path for page in PAGES)


def not_yet(path: str):
    return pytest.mark.skipif(not registered(path), reason=f"{path} is not registered in gradelens.navigation.PAGES yet")


def count(shown: str) -> int:
    return int(shown.replace(",", ""))


def assert_no_problems(*apps) -> None:
    for app in apps:
        assert app.problems() == {"exceptions": [], "console errors": [], "page errors": []}


def test_a_copied_url_opens_the_same_filtered_view_in_a_new_browser(new_tab):
    first = new_tab()
    first.open()
    everyone = count(first.metrics()[t("overview.employees", "en")])
    department = first.options(DEPARTMENT, sidebar=True)[1]  # [0] is "All departments"
    first.choose(DEPARTMENT, department, sidebar=True)
    first.press_segment(LANGUAGE, "中文", sidebar=True)
    view = {"title": first.title(), "filters": first.selectbox_values(), "metrics": first.metrics()}

    assert view["title"] == t("overview.title", "zh")
    assert view["filters"][t("common.sidebar_department", "zh")] == department
    assert 0 < count(view["metrics"][t("overview.employees", "zh")]) < everyone

    # A colleague whose browser speaks English opens the copied link: the URL decides.
    second = new_tab(locale="en-US")
    second.open_url(first.page.url)
    assert {"title": second.title(), "filters": second.selectbox_values(), "metrics": second.metrics()} == view
    assert_no_problems(first, second)


@not_yet("pages/grades.py")
def test_the_sidebar_selection_survives_switching_pages_through_the_menu(app):
    """Streamlit ties a widget to its page; without persist_state the filters reset on a switch."""
    app.open()
    department = app.options(DEPARTMENT, sidebar=True)[1]
    app.choose(DEPARTMENT, department, sidebar=True)
    app.press_segment(LANGUAGE, "中文", sidebar=True)
    chosen = app.selectbox_values()
    since = app.runs_finished()
    app.page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=t("grades.title", "zh")).click()
    app.wait_idle(since)
    assert app.title() == t("grades.title", "zh")
    assert app.selectbox_values() == chosen
    assert_no_problems(app)


def test_a_page_address_opened_first_on_a_fresh_server_shows_the_apps_menu(browser, fresh_server):
    """With pages/ beside app.py, Streamlit ran a page opened by its address before anyone had
    opened / without app.py: a menu of file names (app, appeals, attainment...)."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    try:
        app = AppPage(context.new_page(), fresh_server).watch()
        app.open("grades", lang="en")
        assert app.menu() == [t(f"{Path(page.path).stem}.title", "en") for page in PAGES]
        assert app.title() == t("grades.title", "en")
        assert_no_problems(app)
    finally:
        context.close()


@not_yet("pages/attainment.py")
def test_an_executive_clicks_a_heatmap_cell_and_the_page_narrows_to_it(app):
    app.open("attainment")
    alerts_before = app.alerts()
    # The cells are a square-marker layer over the heatmap: go.Heatmap reports no clicks to
    # Streamlit (streamlit/streamlit#8760). x is the region, y the department.
    region, department = app.click_chart_point(chart=app.chart_with("heatmap"), index=0)

    narrowed = [alert for alert in app.alerts() if alert not in alerts_before]
    assert any(department in alert and region in alert for alert in narrowed), (department, region, narrowed)
    assert_no_problems(app)


@not_yet("pages/grades.py")
def test_a_performance_manager_switches_stage_and_group_by_and_downloads_the_calibration_worksheet(app, tmp_path):
    app.open("grades")
    app.pick(t("grades.stage", "en"), value_label("stage", "proposed", "en"))
    app.pick(t("grades.group_by", "en"), t("grades.group_by_region", "en"))
    app.open_tab(t("grades.tab_worksheet", "en"))
    worksheet = app.download(app.page.locator('[class*="st-key-download-calibration_worksheet_"] button'), tmp_path)

    assert worksheet.name.endswith("_proposed_region.csv"), worksheet.name
    with worksheet.open(encoding="utf-8-sig", newline="") as sheet:
        rows = list(csv.DictReader(sheet))
    assert rows, "the worksheet has no rows"
    assert {"group_name", "grade", "actual", "guideline"} <= set(rows[0]), list(rows[0])
    regions = set(app.options(t("common.sidebar_region", "en"), sidebar=True)[1:])  # [0] is "All regions"
    assert {row["group_name"] for row in rows} <= regions, "the worksheet is not grouped by region"
    assert_no_problems(app)


@not_yet("pages/leniency.py")
def test_an_hrbp_opens_a_flagged_rater_from_the_funnel_table_and_sees_the_drill_down(app):
    app.open("leniency")
    metrics = app.metrics()
    flagged = count(metrics[t("leniency.metric_lenient", "en")]) + count(metrics[t("leniency.metric_severe", "en")])
    assert flagged > 1, "the demo company plants lenient and severe raters; none is flagged"
    drill_down = t("leniency.drill_rater", "en")
    shown_before = app.main_selectbox_value(drill_down)
    # The table lists flagged raters first; pick one the drill-down is not showing yet.
    rows = app.table_cells("leniency_table")[:flagged]
    row = next(index for index, cells in enumerate(rows) if not shown_before.startswith(cells[0] + " ("))
    rater = rows[row][0]
    app.select_table_row("leniency_table", row)

    shown = app.main_selectbox_value(drill_down)
    assert shown.startswith(rater + " ("), f"the drill-down shows {shown}, not {rater}"
    assert_no_problems(app)


@not_yet("pages/data.py")
def test_an_upload_of_a_bad_file_shows_the_validation_report(app, tmp_path):
    bad = tmp_path / "grades.csv"
    bad.write_text("cycle_id,employee_id,proposed_by,overall_score,proposed_grade,final_grade\n"
                   "2026H1,E-NOBODY,,3.0,B,X9\n", encoding="utf-8")
    app.open("data")
    app.upload(bad)

    assert count(app.metrics()[t("data.errors", "en")]) > 0, "the report finds no error in a file with an unknown grade"
    assert app.shows("X9"), "the validation report does not show the grade that breaks the contract"
    assert_no_problems(app)
