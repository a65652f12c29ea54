"""ui.start: a named query run in the background gives what ui.query gives, on the page's
session and cache, shows its errors the same way, and still runs when the workers are busy."""

from concurrent.futures import Future

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from gradelens import ui


def started_page():
    import streamlit as st

    from gradelens import ui

    selection = ui.sidebar_filters()
    cycle = st.session_state.get("cycle_for_test", selection.cycle)
    started = ui.start("overview_headline", cycle=cycle, department=None, region=None)
    again = ui.query("overview_headline", cycle=cycle, department=None, region=None)  # meanwhile: the same question
    result = started.result()
    st.text(f"started {'none' if result is None else int(result.employees.iloc[0])}")
    st.text(f"query {'none' if again is None else int(again.employees.iloc[0])}")


@pytest.fixture
def counted_runs(monkeypatch, tiny_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(tiny_dir))
    st.cache_data.clear()
    runs = []
    real = ui.run_query

    def counting(dataset, name, params, viewer=None):
        runs.append(name)
        return real(dataset, name, params, viewer=viewer)

    monkeypatch.setattr(ui, "run_query", counting)
    return runs


def run(page, **state) -> AppTest:
    at = AppTest.from_function(page, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_a_started_query_gives_the_hand_computed_figure_once_for_both_calls(counted_runs):
    at = run(started_page)
    assert not at.exception, at.exception
    assert [t.value for t in at.text] == ["started 5", "query 5"]  # five employees in the tiny company's latest cycle
    assert counted_runs.count("overview_headline") == 1  # one cache, computed once


def test_a_started_query_that_fails_shows_its_message_and_gives_none(counted_runs):
    at = run(started_page, cycle_for_test="1999H1")
    assert not at.exception, at.exception
    assert [t.value for t in at.text] == ["started none", "query none"]
    assert len(at.warning) == 2 and all("1999H1" in w.value for w in at.warning)


class BusyWorkers:
    """An executor whose workers never get to the task, as when other sessions keep them busy."""

    def submit(self, fn, *args):
        return Future()


def test_a_started_query_runs_in_the_page_when_the_workers_are_busy(counted_runs, monkeypatch):
    monkeypatch.setattr(ui, "_BACKGROUND", BusyWorkers())
    at = run(started_page)
    assert not at.exception, at.exception
    assert [t.value for t in at.text] == ["started 5", "query 5"]
