"""Every registered page, in a real browser and in both languages: it renders without an
exception or a JavaScript error, draws every chart with data, and is photographed.

AppTest cannot see any of this: plotly charts, the browser console, the layout.
"""

import os
from pathlib import Path

import pytest

from gradelens.i18n import t
from gradelens.navigation import PAGES

ROOT = Path(__file__).resolve().parents[2]
README_SCREENSHOTS = ROOT / "docs" / "screenshots"
# The README shows these pages. Their pictures are written when missing, or all again with
# GRADELENS_UPDATE_SCREENSHOTS=1 (PNG bytes differ run to run, so they are not rewritten always).
README_PAGES = ("overview", "attainment", "grades", "leniency", "appeals")
UPDATE_SCREENSHOTS = os.environ.get("GRADELENS_UPDATE_SCREENSHOTS") == "1"

# The fewest charts each page must draw on the demo company; a page missing here need not draw any.
MIN_CHARTS = {"overview": 1, "attainment": 1, "grades": 1, "leniency": 1, "appeals": 1}


def name(page) -> str:
    return Path(page.path).stem


def url_path(page) -> str:
    """Where st.navigation serves a page: the default (first) page at /, any other at its
    file name without .py (/overview would show "Page not found" for the default page)."""
    return "" if page == PAGES[0] else name(page)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES, ids=[name(p) for p in PAGES])
def test_every_page_draws_its_charts_without_errors_in_a_real_browser(app, save_screenshot, page, lang):
    app.open(url_path(page), lang=lang)

    save_screenshot(app, name(page) if lang == "en" else f"{name(page)}-{lang}")  # first: a failure has a picture too
    assert app.page.url.split("?")[0] == f"{app.base_url}/{url_path(page)}", "the page is not served at its own URL"
    assert app.title(), "the page has no title"
    assert app.problems() == {"exceptions": [], "console errors": [], "page errors": []}
    charts = app.charts()
    assert len(charts) >= MIN_CHARTS.get(name(page), 0), f"{name(page)} drew {len(charts)} charts"
    empty = [index for index, chart in enumerate(charts) if not (chart["traces"] and chart["points"] and chart["drawn"])]
    assert not empty, f"charts {empty} of {name(page)} are empty: {charts}"

    if lang == "en" and name(page) in README_PAGES:
        picture = README_SCREENSHOTS / f"{name(page)}.png"
        if UPDATE_SCREENSHOTS or not picture.exists():
            README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            app.screenshot(picture, whole_page=False)  # what a visitor sees first


def test_the_app_requests_nothing_outside_its_own_server(app):
    app.open()
    app.press_segment(t("common.sidebar_language", "en"), "中文", sidebar=True)
    assert app.outside_resources() == []


@pytest.mark.skipif(len(PAGES) < 2, reason="Streamlit shows no page menu for a single page")
def test_the_page_menu_speaks_the_chosen_language(app):
    app.open(lang="zh")
    assert app.menu() == [t(f"{name(page)}.title", "zh") for page in PAGES]

