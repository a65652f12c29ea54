"""The rater leniency page (AppTest), its selection handler and its charts."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from gradelens import leniency
from gradelens.i18n import set_language, t
from tests.leniency_fixture import contract_tables_from_pairs, simulate_teams, three_managers_tables
from tests.tiny_company import tiny_company_tables, write_dataset

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages/leniency.py")


def page_test(**query_params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in query_params.items():
        at.query_params[key] = value
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def param(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


@pytest.fixture(scope="module")
def three_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("three"), three_managers_tables())


@pytest.fixture
def on_three(monkeypatch, three_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(three_dir))
    return three_dir


@pytest.mark.parametrize("lang, title", [("en", "Rater leniency"), ("zh", "评分宽严度")])
def test_the_page_renders_on_the_tiny_company_in_both_languages(monkeypatch, tiny_dir, lang, title):
    monkeypatch.setenv("GRADELENS_DATA", str(tiny_dir))
    at = page_test(lang=lang)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == title
    assert len(at.metric) == 4


def test_the_page_shows_the_hand_computed_raters(on_three):
    at = page_test()
    assert not at.exception, at.exception
    assert metrics(at) == {"Raters": "3", "Flagged lenient": "0", "Flagged severe": "0", "Spread of rater effects (SD)": "1.00"}
    assert at.selectbox(key="leniency_rater").value == "M1"  # the top-ranked rater by default
    assert param(at, "rater") == "M1" and param(at, "role") == "manager"
    summary = [m.value for m in at.markdown if "Wang Wei" in m.value]
    assert summary and "+1.00" in summary[0] and "4.50" in summary[0]
    # each ratee has one rater here and there is no KPI data: both limits are explained
    notes = " ".join(m.value for m in at.markdown)
    assert "only one rater" in notes and "no KPI attainment" in notes


def test_the_rater_in_the_url_opens_its_drill_down_and_a_new_choice_is_written_back(on_three):
    at = page_test(rater="M2")
    assert at.selectbox(key="leniency_rater").value == "M2"
    at.selectbox(key="leniency_rater").set_value("M3").run()
    assert param(at, "rater") == "M3"
    assert any("Zhang Min" in m.value for m in at.markdown)


def test_the_drill_down_runs_only_the_open_tabs_queries_and_a_click_opens_the_others(on_three, monkeypatch):
    from gradelens import ui

    asked = []
    real_call = ui._cached_call  # every named query a page asks for (ui.query and ui.start), cached or not

    def watched(dataset, name, params):
        asked.append(name)
        return real_call(dataset, name, params)

    monkeypatch.setattr(ui, "_cached_call", watched)
    at = page_test()
    downloads = lambda: {b.key for b in at.get("download_button")}  # noqa: E731
    assert "rater_ratee_scores" in asked and "rater_leniency_history" not in asked and "rater_grade_mix" not in asked
    assert "download-rater_ratee_scores_2026H1_M1" in downloads()
    assert "download-rater_leniency_history_M1" not in downloads()
    at.session_state["leniency_drill_tab"] = t("leniency.drill_history", "en")
    at.run()
    assert not at.exception, at.exception
    assert "rater_leniency_history" in asked
    assert "download-rater_leniency_history_M1" in downloads() and "download-rater_ratee_scores_2026H1_M1" not in downloads()


def test_an_unknown_rater_in_the_url_falls_back_to_the_top_ranked(on_three):
    at = page_test(rater="'; DROP TABLE ratings; --")
    assert not at.exception
    assert at.selectbox(key="leniency_rater").value == "M1"


def test_a_role_without_ratings_explains_what_to_do(on_three):
    at = page_test(role="peer")
    assert not at.exception
    assert at.selectbox(key="leniency_role").value == "peer"
    assert any("No ratings by Peer in this cycle" in i.value for i in at.info)
    at.selectbox(key="leniency_role").set_value("all_but_self").run()
    assert metrics(at)["Raters"] == "3" and param(at, "role") == "all_but_self"


def test_a_cycle_without_ratings_explains_what_to_do(monkeypatch, tiny_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(tiny_dir))
    at = page_test(cycle="2025H1")
    assert not at.exception
    assert any("No ratings by Manager in this cycle" in i.value for i in at.info)
    assert not at.metric


def test_filters_narrow_the_raters_shown(on_three):
    at = page_test()
    at.selectbox(key="filter_department").set_value("D2").run()
    assert metrics(at)["Raters"] == "1"
    assert at.selectbox(key="leniency_rater").value == "M3"


def test_a_region_without_raters_explains_what_to_do(monkeypatch, tiny_dir):
    monkeypatch.setenv("GRADELENS_DATA", str(tiny_dir))
    at = page_test(region="North")  # only Zhang Min works there, and she rates nobody
    assert not at.exception
    assert any("No Manager raters in this department or region" in i.value for i in at.info)
    assert not at.metric


def test_a_dataset_without_ratings_says_what_is_missing(monkeypatch, tmp_path):
    tables = {k: v for k, v in tiny_company_tables().items() if k != "ratings"}
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "noratings", tables)))
    at = page_test()
    assert not at.exception
    assert any("ratings" in i.value for i in at.info)


@pytest.mark.parametrize("keep", [("grades",), ("cycles", "employees", "org_units"), ("ratings",), ("cycles", "ratings")])
def test_the_page_renders_on_partial_datasets(monkeypatch, tmp_path, keep):
    tables = {name: rows for name, rows in three_managers_tables().items() if name in keep}
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "partial", tables)))
    at = page_test()
    assert not at.exception, at.exception


def test_the_threshold_setting_changes_what_is_flagged(monkeypatch, tmp_path):
    planted = {2: 0.8, 9: -0.8, 20: 0.8}
    sim = simulate_teams(teams=30, team_size=10, peers=1, planted=planted, seed=5)
    monkeypatch.setenv("GRADELENS_DATA", str(write_dataset(tmp_path / "sim", contract_tables_from_pairs(sim.pairs))))
    at = page_test()
    assert not at.exception, at.exception
    assert (metrics(at)["Flagged lenient"], metrics(at)["Flagged severe"]) == ("2", "1")
    assert at.selectbox(key="leniency_rater").value in set(sim.lenient) | set(sim.severe)  # flagged rank first
    at.number_input(key="leniency_threshold").set_value(2.0).run()
    assert (metrics(at)["Flagged lenient"], metrics(at)["Flagged severe"]) == ("0", "0")


# ----------------------------------------------------------------------------- the selection handler


@pytest.mark.parametrize(
    "rows, expected",
    [([], None), ([1], "B"), ([0, 2], "A"), ([7], None)],
)
def test_the_picked_row_is_the_rater_of_that_position(rows, expected):
    assert leniency.picked_rater(rows, pd.Series(["A", "B", "C"])) == expected


OPTIONS = ["A", "B", "C"]


@pytest.mark.parametrize(
    "current, url, table_pick, last_table_pick, expected",
    [
        (None, None, None, None, "A"),  # first visit: the top-ranked rater
        (None, "C", None, None, "C"),  # a link reopens its rater
        (None, "Z", None, None, "A"),  # an unknown rater in the link is ignored
        ("B", "C", None, None, "B"),  # the rater already chosen stays
        ("B", "C", "C", None, "C"),  # a newly clicked row wins
        ("B", None, "C", "C", "B"),  # a row clicked earlier does not undo a later choice in the box
        ("B", None, "Z", None, "B"),  # a pick outside the options is ignored
        ("Z", None, None, None, "A"),  # a choice that left the options (new cycle or filter) falls back
    ],
)
def test_choosing_the_drill_down_rater(current, url, table_pick, last_table_pick, expected):
    assert leniency.choose_rater(OPTIONS, current=current, url=url, table_pick=table_pick, last_table_pick=last_table_pick) == expected


def test_choosing_from_no_raters_gives_none():
    assert leniency.choose_rater([], current="A", url="A", table_pick="A", last_table_pick=None) is None


# ----------------------------------------------------------------------------- charts


def _board() -> pd.DataFrame:
    n = np.array([3, 5, 8, 12, 20, 6])
    se = 1 / np.sqrt(n / 0.1 + 1 / 0.02)  # the conditional standard error exactly
    effect = np.array([0.05, 0.5, -0.4, 0.1, -0.02, 0.3])
    return pd.DataFrame({
        "rater_id": list("ABCDEF"), "rater_name": ["An", "Bo", "Cai", "Du", "En", "Fu"],
        "department": ["Sales", "Sales", None, "R&D", "R&D", "Sales"], "ratees": n, "effect": effect, "se": se,
        "q_value": [0.9, 0.001, 0.002, 0.5, 0.9, 0.2], "flagged": [False, True, True, False, False, False],
    })


def test_funnel_limits_follow_the_conditional_standard_error():
    limits = leniency.funnel_limits(_board(), z_values=(1.96,), points=5)
    expected_se = 1 / np.sqrt(limits["ratees"] / 0.1 + 1 / 0.02)
    assert limits["se"].to_numpy() == pytest.approx(expected_se.to_numpy(), rel=1e-9)
    assert limits["upper_1.96"].to_numpy() == pytest.approx(1.96 * expected_se.to_numpy())
    assert leniency.funnel_limits(_board().iloc[:1]).empty  # one size of team: no funnel to draw


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_funnel_highlights_flagged_raters(lang):
    set_language(lang)
    try:
        fig = leniency.funnel_chart(_board(), threshold=0.25)
    finally:
        set_language("en")
    markers = [trace for trace in fig.data if trace.mode == "markers"]
    assert [list(trace.x) for trace in markers] == [[5], [8], [3, 12, 20, 6]]  # lenient, severe, the rest
    assert markers[0].marker.color == leniency.LENIENT_COLOR and markers[1].marker.color == leniency.SEVERE_COLOR
    assert markers[0].text[0] == "Bo" and markers[1].hovertext[0] == "–"  # name and department in the hover
    assert list(markers[0].customdata[0]) == pytest.approx([1 / np.sqrt(5 / 0.1 + 1 / 0.02), 0.001])  # se and q
    assert len([trace for trace in fig.data if trace.mode == "lines"]) == 4  # 95% and 99.8% limits, both sides


def test_the_drill_down_and_summary_charts_build():
    ratees = pd.DataFrame({"ratee_name": ["X", "Y", "Z"], "attainment": [0.8, 1.1, np.nan], "score": [3.5, 4.2, 3.0],
                           "expected_score": [2.6, 3.4, 3.0], "rater_effect": [0.5] * 3})
    curve = pd.DataFrame({"mean_attainment": [0.85, 1.05], "mean_score": [2.7, 3.2], "pairs": [10, 12]})
    fig = leniency.ratee_chart(ratees, curve, "Bo")
    assert [trace.name for trace in fig.data] == ["Company mean by attainment", "Expected score", "Bo"]
    assert list(fig.data[2].x) == [0.8, 1.1]  # a ratee without attainment cannot be placed
    mix = pd.DataFrame({"grade": list("SABCD"), "proposed": [1, 1, 0, 0, 0], "proposed_share": [0.5, 0.5, 0, 0, 0],
                        "final": [0, 2, 0, 0, 0], "final_share": [0, 1.0, 0, 0, 0], "target_share": [0.05, 0.2, 0.6, 0.1, 0.05]})
    assert len(leniency.rater_grade_chart(mix).data) == 3
    history = pd.DataFrame({"cycle_id": ["2025H1", "2025H2"], "ratees": [6, 7], "effect": [0.4, 0.5], "se": [0.1, 0.1],
                            "q_value": [0.01, 0.001], "flagged": [True, True]})
    assert list(leniency.history_chart(history, 0.25).data[0].error_y.array) == pytest.approx([0.196, 0.196])
    departments = leniency.department_chart(_board(), min_ratees=5)
    assert [trace.name for trace in departments.data][:2] == ["Sales", "R&D"]  # widest spread first
    gap = pd.DataFrame({"department": ["Sales", "R&D"], "employees": [4, 2], "mean_self": [3.75, 3.5],
                        "mean_manager": [3.0, 3.0], "mean_gap": [0.75, 0.5]})
    assert list(leniency.gap_chart(gap).data[0].y) == ["R&D", "Sales"]  # largest gap on top


def test_box_statistics_are_tukey_s():
    """1..8 and 30: quartiles 3 and 7 (linear interpolation), so the whiskers reach within
    3 - 6 = -3 and 7 + 6 = 13: 1 and 8; 30 is beyond them."""
    box = leniency.box_statistics(np.array([1, 2, 3, 4, 5, 6, 7, 8, 30], dtype=float))
    assert box == pytest.approx({"q1": 3, "median": 5, "q3": 7, "lowerfence": 1, "upperfence": 8, "mean": 66 / 9})
    assert leniency.box_statistics(np.array([0.4])) == pytest.approx(
        {"q1": 0.4, "median": 0.4, "q3": 0.4, "lowerfence": 0.4, "upperfence": 0.4, "mean": 0.4})


def test_the_department_chart_draws_boxes_and_only_the_raters_beyond_them_or_flagged():
    """Sales: nine unflagged raters with effects 0.01..0.08 and 0.9 (beyond the whiskers) and a
    flagged severe one at -0.5 (also beyond); R&D: two raters."""
    effects = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.9, -0.5, 0.1, -0.02]
    board = pd.DataFrame({
        "rater_name": [f"R{i}" for i in range(12)], "department": ["Sales"] * 10 + ["R&D"] * 2, "ratees": [6] * 12,
        "effect": effects, "flagged": [False] * 9 + [True, False, False],
    })
    fig = leniency.department_chart(board, min_ratees=5)
    boxes = [trace for trace in fig.data if trace.type == "box"]
    assert [box.name for box in boxes] == ["Sales", "R&D"]
    sales = np.array(effects[:10])
    assert boxes[0].q1[0] == pytest.approx(np.quantile(sales, 0.25)) and boxes[0].median[0] == pytest.approx(0.045)
    assert (boxes[0].lowerfence[0], boxes[0].upperfence[0]) == pytest.approx((0.01, 0.08))
    points = {trace.name: list(trace.text) for trace in fig.data if trace.type == "scatter"}
    assert points == {"Beyond the whiskers": ["R8"], "Flagged lenient": [], "Flagged severe": ["R9"]}
