"""Every page renders without exception (AppTest) on the tiny company, on partial datasets,
and keeps its filters in the URL."""

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gradelens.navigation import PAGES
from tests.tiny_company import tiny_company_tables, write_dataset

ROOT = Path(__file__).resolve().parent.parent


def page_test(path: str, **query_params) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=60)
    for key, value in query_params.items():
        at.query_params[key] = value
    return at.run()


@pytest.fixture
def on_tiny(monkeypatch, tiny_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(tiny_dir))
    return tiny_dir


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
def test_every_page_renders_on_the_tiny_company_in_both_languages(on_tiny, page, lang):
    at = page_test(page.path, lang=lang)  # strict catalog: a missing message fails here
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
@pytest.mark.parametrize("keep", [("grades",), ("cycles", "employees", "org_units"), ("cycles",)], ids=["grades-only", "people-only", "cycles-only"])
def test_every_page_renders_on_a_partial_dataset(monkeypatch, tmp_path, page, keep):
    tables = {name: rows for name, rows in tiny_company_tables().items() if name in keep}
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "partial", tables)))
    at = page_test(page.path)
    assert not at.exception, at.exception


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
def test_every_page_renders_a_one_cycle_dataset(monkeypatch, tmp_path, page):
    tables = tiny_company_tables()
    tables["cycles"] = tables["cycles"][1:]
    for name in ("employees", "goals", "grades"):
        tables[name] = [row for row in tables[name] if row["cycle_id"] == "2025H2"]
    tables["kpi_actuals"] = [row for row in tables["kpi_actuals"] if row["goal_id"] != "H1-E2"]
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "one", tables)))
    at = page_test(page.path)
    assert not at.exception, at.exception


def test_the_overview_shows_the_hand_computed_headline(on_tiny):
    at = page_test("pages/overview.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Employees"] == "5"
    assert metrics["Attainment (mean per employee)"] == "86.7%"
    assert metrics["Graded / calibrated"] == "5 / 4"
    assert metrics["Open appeals"] == "1"


def test_the_overview_speaks_chinese_when_asked(on_tiny):
    at = page_test("pages/overview.py", lang="zh")
    assert at.title[0].value == "总览"
    assert {m.label: m.value for m in at.metric}["员工数"] == "5"


def test_filters_are_written_to_the_url_and_read_back(on_tiny):
    at = page_test("pages/overview.py")
    assert (_param(at, "data"), _param(at, "cycle")) == (on_tiny.name, "2025H2")
    assert "department" not in at.query_params
    at.selectbox(key="filter_department").set_value("D1").run()
    assert {m.label: m.value for m in at.metric}["Employees"] == "3"
    assert _param(at, "department") == "D1"

    reopened = page_test("pages/overview.py", data=on_tiny.name, cycle="2025H1", department="D1")
    assert reopened.selectbox(key="filter_cycle").value == "2025H1"
    assert reopened.selectbox(key="filter_department").value == "D1"
    assert {m.label: m.value for m in reopened.metric}["Employees"] == "3"


def test_a_url_with_values_that_do_not_exist_falls_back_to_defaults(on_tiny):
    at = page_test("pages/overview.py", cycle="1999H1", department="'; DROP TABLE grades; --", data="../../etc")
    assert not at.exception
    assert at.selectbox(key="filter_cycle").value == "2025H2"
    assert at.selectbox(key="filter_department").value == ""
    assert {m.label: m.value for m in at.metric}["Employees"] == "5"


def _param(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def test_after_the_chart_warm_up_no_page_loads_another_plotly_module(tiny_dir):
    """app.py's charts.warm_up loads, once per server, what the pages' charts would load on their
    first visit; a fresh process proves it, since this one has drawn charts already."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import sys
        from streamlit.testing.v1 import AppTest
        from gradelens import charts
        from gradelens.navigation import PAGES
        charts.warm_up()
        before = set(sys.modules)
        for page in PAGES:
            at = AppTest.from_file(page.path, default_timeout=120).run()
            assert not at.exception, (page.path, at.exception)
        print(sorted(m for m in set(sys.modules) - before if m.startswith(("plotly", "_plotly_utils", "narwhals"))))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "GRADELENS_DATA": str(tiny_dir)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
