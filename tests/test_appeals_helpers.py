"""The Appeals page's helpers: the spike rule, the leniency join, tables and charts."""

import datetime as dt
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradelens import appeals
from gradelens.i18n import set_language
from gradelens.queries import NamedQuery, Param, REQUIRED


@pytest.fixture(autouse=True)
def english():
    set_language("en")
    yield
    set_language("en")


def trend(group_id, rates, graded=500, name=None):
    """appeal_trends rows for one group over cycles C1, C2, ...; appeals = rate * graded / 100."""
    return pd.DataFrame({
        "cycle_id": [f"C{i + 1}" for i in range(len(rates))],
        "cycle_name": [f"Cycle {i + 1}" for i in range(len(rates))],
        "group_id": group_id, "group_name": name or group_id, "graded": graded,
        "appeals": [0 if r is None else round(r * graded / 100) for r in rates], "appeal_rate": rates,
    })


@pytest.mark.parametrize(
    "rates, graded, spiking",
    [
        ([2.0, 2.0, 6.0, 2.0], 500, {"C3": 3.0}),        # 6 > 2 x median(2, 2, 2); 30 appeals where 10 are usual
        ([2.0, 3.0, 5.0, 2.0], 500, {"C3": 2.5}),        # 5 > 2 x median(2, 3, 2) = 4; C2: 3 < 2 x 2
        ([2.0, 2.0, 4.0, 2.0], 500, {}),                 # exactly 2x is not above 2x
        ([2.0, 2.0, 8.0, 2.0], 50, {}),                  # 4 appeals: too few to call
        ([0.2, 0.2, 0.5, 0.2], 2000, {}),                # 10 appeals where 4 are usual: P(X >= 10) = 0.008
        ([0.2, 0.2, 0.9, 0.2], 2000, {"C3": 4.5}),       # 18 where 4 are usual: P(X >= 18) < 0.00001
        ([0.0, 0.0, 3.0], 200, {"C3": math.nan}),        # from nothing: a spike with no ratio
        ([2.0, 9.0], 500, {}),                           # one other cycle is not a baseline
        ([2.0, None, 9.0, 2.0], 500, {"C3": 4.5}),       # a cycle without graded people is skipped
    ],
)
def test_the_spike_rule(rates, graded, spiking):
    spikes = appeals.appeal_spikes(trend("g", rates, graded))
    assert list(spikes["cycle_id"]) == list(spiking)
    assert spikes["times"].tolist() == pytest.approx(list(spiking.values()), nan_ok=True)


def test_spikes_are_judged_within_each_group_and_sorted_by_the_jump():
    trends = pd.concat([trend("a", [1.0, 1.0, 3.0]), trend("b", [1.0, 1.0, 5.0]), trend(None, [1.0, 1.0, 1.0], name="(none)")])
    spikes = appeals.appeal_spikes(trends)
    assert spikes[["group_id", "cycle_id", "baseline_rate", "times"]].values.tolist() == [["b", "C3", 1.0, 5.0], ["a", "C3", 1.0, 3.0]]


@settings(deadline=None)
@given(rate=st.floats(0.5, 50), cycles=st.integers(3, 8), graded=st.integers(20, 5000))
def test_a_steady_group_never_spikes_and_a_tripled_rate_among_many_does(rate, cycles, graded):
    assert appeals.appeal_spikes(trend("g", [rate] * cycles, graded)).empty
    tripled = [rate] * (cycles - 1) + [rate * 3]
    assert list(appeals.appeal_spikes(trend("g", tripled, 2000))["cycle_id"]) == [f"C{cycles}"]  # 10+ usual appeals


@settings(deadline=None, max_examples=150)
@given(rates=st.lists(st.floats(0.0, 30), min_size=3, max_size=7), graded=st.integers(10, 2000))
def test_more_people_at_the_same_rates_never_hide_a_spike(rates, graded):
    few = set(appeals.appeal_spikes(trend("g", rates, graded))["cycle_id"])
    many = set(appeals.appeal_spikes(trend("g", rates, graded * 4))["cycle_id"])
    assert few <= many


def test_spike_messages_name_reasons_in_words_and_group_departments_of_a_cycle():
    overall = trend("all", [2.0, 2.0, 7.0])
    by_reason = trend("unclear_criteria", [1.0, 1.0, 4.0])
    by_department = pd.concat([trend("D1", [1.0, 1.0, 3.0], name="Sales"), trend("D2", [2.0, 2.0, 2.0], name="R&D"),
                               trend("D3", [1.0, 1.0, 5.0], name="Admin")])
    messages = appeals.spike_messages(overall, by_reason, by_department)
    assert len(messages) == 3
    assert "7.0 per 100 graded" in messages[0] and "3.5 times" in messages[0]
    assert "**Unclear criteria**" in messages[1] and "Cycle 3" in messages[1]
    assert messages[2] == ("Departments with a spike in Cycle 3 (appeals per 100 graded): "
                           "**Admin** 5.0 (5.0 times the median), **Sales** 3.0 (3.0 times the median).")
    assert appeals.spike_messages(None, None, None) == []
    set_language("zh")
    assert "评分标准不清" in appeals.spike_messages(None, by_reason, None)[0]


def _leniency_query(*params):
    return {"rater_leniency": NamedQuery("rater_leniency", "stub", params, (), ())}


@pytest.mark.parametrize(
    "available, expected",
    [
        ({}, None),
        (_leniency_query(Param("cycle", "cycle", "latest"), Param("role", "text", "manager")), {"cycle": "C1", "role": "manager"}),
        (_leniency_query(Param("cycle", "cycle", "latest")), {"cycle": "C1"}),
        (_leniency_query(Param("cycle", "cycle", "latest"), Param("min_ratees", "int", REQUIRED)), None),
    ],
)
def test_leniency_is_asked_for_only_when_its_query_exists_and_fits(available, expected):
    assert appeals.leniency_params("C1", available) == expected


def test_leniency_is_not_asked_for_when_the_dataset_lacks_its_tables():
    available = {"rater_leniency": NamedQuery("rater_leniency", "stub", (Param("cycle", "cycle", "latest"),), ("ratings",), ())}
    assert appeals.leniency_params("C1", available, missing_tables=("ratings", "goals")) is None
    assert appeals.leniency_params("C1", available, missing_tables=("goals",)) == {"cycle": "C1"}


def test_leniency_is_joined_beside_each_rater_and_missing_raters_get_nothing():
    by_rater = pd.DataFrame({"rater_id": ["E1", "E4", "E7"], "appeal_rate": [100.0, 50.0, 0.0]})
    leniency = pd.DataFrame({"rater_id": ["E4", "E1", "E9"], "effect": [0.4, -0.7, 0.1], "flagged": [False, True, False],
                             "std_error": [0.1, 0.1, 0.1]})
    joined = appeals.with_leniency(by_rater, leniency)
    assert list(joined.columns) == ["rater_id", "appeal_rate", "leniency_effect", "leniency_flagged"]
    assert joined["leniency_effect"].tolist() == pytest.approx([-0.7, 0.4, math.nan], nan_ok=True)
    assert joined["leniency_flagged"].tolist()[:2] == [True, False]
    assert pd.isna(joined["leniency_flagged"].iloc[2])


@pytest.mark.parametrize("leniency", [None, pd.DataFrame({"rater": ["E1"], "score": [1.0]})])
def test_without_a_usable_leniency_frame_the_raters_are_left_as_they_are(leniency):
    by_rater = pd.DataFrame({"rater_id": ["E1"], "appeal_rate": [100.0]})
    assert appeals.with_leniency(by_rater, leniency).equals(by_rater)


def test_small_rater_groups_are_hidden_and_counted():
    by_rater = pd.DataFrame({"rater_id": ["E1", "E2", "E3"], "small_group": [False, True, True]})
    shown, hidden = appeals.visible_raters(by_rater)
    assert (shown["rater_id"].tolist(), hidden) == (["E1"], 2)


@pytest.mark.parametrize(
    "appeals_count, raised, lowered, share",
    [(4, 2, 0, 0.5), (5, 1, 1, 0.4), (0, 0, 0, None)],
)
def test_the_share_of_appeals_that_changed_the_grade(appeals_count, raised, lowered, share):
    change = appeals.grade_change(pd.Series({"appeals": appeals_count, "grade_raised": raised, "grade_lowered": lowered}))
    assert (change["raised"], change["lowered"]) == (raised, lowered)
    assert change["share"] == (pytest.approx(share) if share is not None else None)


def test_tables_show_codes_in_words_shares_as_percent_and_headers_in_the_language():
    frame = pd.DataFrame({"cycle_name": ["2025 H2"], "group_name": ["rater_bias"], "graded": [5], "appeals": [1],
                          "appeal_rate": [20.0 / 3], "upheld_share": [2 / 3]})
    shown = appeals.display_table(frame, ["cycle_name", "group_name", "graded", "appeal_rate", "upheld_share"], "reason")
    assert shown.values.tolist() == [["2025 H2", "Rater bias", 5, 6.7, "66.7%"]]
    assert list(shown.columns) == ["Cycle", "Reason", "Graded (whole cycle)", "Appeals per 100 graded", "Upheld share"]
    set_language("zh")
    shown = appeals.display_table(frame, ["cycle_name", "group_name", "graded"], "none")
    assert list(shown.columns) == ["考核周期", "已评级人数"]  # no group column for the whole company


def test_open_appeal_tables_show_dates_and_overdue_in_words():
    frame = pd.DataFrame({"appeal_id": ["AP2"], "status": ["partially_upheld"], "filed_on": [pd.Timestamp("2026-01-12")],
                          "overdue": [True]})
    shown = appeals.display_table(frame, ["appeal_id", "status", "filed_on", "overdue", "not_a_column"])
    assert shown.values.tolist() == [["AP2", "Partially upheld", dt.date(2026, 1, 12), "yes"]]


def test_dates_from_queries_become_plain_dates():
    assert appeals.as_date(pd.Timestamp("2026-01-26")) == dt.date(2026, 1, 26)
    assert appeals.as_date(pd.NaT) is None and appeals.as_date(None) is None


def _overall():
    return pd.DataFrame({
        "cycle_id": ["C1", "C2"], "cycle_name": ["Cycle 1", "Cycle 2"], "group_id": "all", "group_name": "all",
        "graded": [10, 20], "appeals": [2, 3], "appeal_rate": [20.0, 15.0], "open": [0, 1], "upheld": [1, 1],
        "partially_upheld": [0, 1], "rejected": [1, 0], "withdrawn": [0, 0],
        "median_days_to_resolve": [4.0, 10.0], "p90_days_to_resolve": [4.0, 18.0],
    })


def test_the_status_chart_stacks_every_status_per_cycle():
    fig = appeals.status_chart(_overall())
    assert [trace.name for trace in fig.data] == ["Open", "Upheld", "Partially upheld", "Rejected", "Withdrawn"]
    assert list(fig.data[1].y) == [1, 1]
    assert fig.layout.barmode == "stack"


def test_the_resolution_chart_draws_median_p90_and_the_service_target():
    fig = appeals.resolution_chart(_overall(), 15)
    assert [list(trace.y) for trace in fig.data] == [[4.0, 10.0], [4.0, 18.0]]
    assert fig.layout.shapes[0].y0 == 15


@pytest.mark.parametrize("group_by, traces", [("none", 1), ("department", 2)])
def test_the_rate_chart_draws_bars_overall_and_a_line_per_group(group_by, traces):
    frame = _overall() if group_by == "none" else pd.concat([_overall().assign(group_id="D1", group_name="Sales"),
                                                             _overall().assign(group_id="D2", group_name="R&D")])
    fig = appeals.rate_chart(frame, group_by)
    assert len(fig.data) == traces
    assert fig.data[0].type == ("bar" if group_by == "none" else "scatter")


def test_the_reason_chart_stacks_rates_with_reasons_in_words():
    frame = pd.concat([_overall().assign(group_id="rater_bias"), _overall().assign(group_id="made_up")])
    fig = appeals.reason_chart(frame)
    assert sorted(trace.name for trace in fig.data) == ["Rater bias", "made_up"]


def test_the_outcome_chart_skips_statuses_nobody_has():
    outcomes = pd.DataFrame({"reason": ["wrong_data", "rater_bias", "rater_bias"], "status": ["open", "upheld", "open"],
                             "appeals": [2, 1, 3]})
    fig = appeals.outcome_chart(outcomes)
    assert [trace.name for trace in fig.data] == ["Open", "Upheld"]
    assert list(fig.data[0].x) == [3, 2]  # rater_bias, wrong_data


def test_the_rater_chart_plots_leniency_against_the_appeal_rate_when_there_is_one():
    raters = pd.DataFrame({"rater_id": ["E1", "E4"], "rater_name": ["Wang", None], "graded": [9, 4], "appeals": [3, 1],
                           "appeal_rate": [33.3, 25.0], "upheld_share": [0.5, None]})
    bars = appeals.rater_chart(raters)
    assert bars.data[0].type == "bar" and list(bars.data[0].y) == ["Wang", "E4"]
    scatter = appeals.rater_chart(raters.assign(leniency_effect=[-0.7, None]))
    assert scatter.data[0].type == "scatter"
    assert list(scatter.data[0].x) == [-0.7] and list(scatter.data[0].y) == [33.3]


def test_the_grade_chart_colours_bars_by_grade():
    by_grade = pd.DataFrame({"group_name": ["S", "D"], "appeal_rate": [0.0, 50.0], "appeals": [0, 2], "graded": [1, 4]})
    fig = appeals.grade_chart(by_grade)
    assert list(fig.data[0].marker.color) == ["#1f4e9c", "#c8423b"]
