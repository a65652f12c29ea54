"""The Appeals page's named queries on the appeals fixture (tests/appeals_fixture.py), answers
worked out by hand in that module's docstring."""

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradelens.dataset import open_dataset
from gradelens.queries import run_query
from tests.appeals_fixture import _appeal, appeals_company_tables
from tests.tiny_company import write_dataset

D = dt.date
TREND_COLUMNS = ["cycle_id", "group_id", "group_name", "graded", "appeals", "appeal_rate", "upheld_share",
                 "median_days_to_resolve", "p90_days_to_resolve"]


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    return open_dataset(write_dataset(tmp_path_factory.mktemp("appeals"), appeals_company_tables()))


def rows(frame: pd.DataFrame, columns: list[str]) -> list[list]:
    return frame[columns].astype(object).where(frame[columns].notna(), None).values.tolist()


def test_appeal_rates_by_cycle_are_per_100_graded_and_a_cycle_without_appeals_shows_zero(company):
    trends = run_query(company, "appeal_trends")
    assert list(trends["cycle_id"]) == ["2025H1", "2025H2", "2026H1"]
    assert list(trends["graded"]) == [3, 5, 4]
    assert list(trends["appeals"]) == [3, 4, 0]
    assert list(trends["appeal_rate"]) == pytest.approx([100.0, 80.0, 0.0])
    assert list(trends["group_id"]) == ["all"] * 3


def test_outcome_counts_and_upheld_share_count_withdrawn_as_resolved_and_open_as_not(company):
    trends = run_query(company, "appeal_trends").set_index("cycle_id")
    h1, h2 = trends.loc["2025H1"], trends.loc["2025H2"]
    assert (h1.open, h1.upheld, h1.partially_upheld, h1.rejected, h1.withdrawn, h1.resolved) == (0, 1, 0, 2, 0, 3)
    assert (h2.open, h2.upheld, h2.partially_upheld, h2.rejected, h2.withdrawn, h2.resolved) == (1, 1, 1, 0, 1, 3)
    assert h1.upheld_share == pytest.approx(1 / 3)
    assert h2.upheld_share == pytest.approx(2 / 3)  # (AP1 upheld + AP4 partial) / (those + AP3 withdrawn)
    assert pd.isna(trends.loc["2026H1"].upheld_share)
    assert (h1.grade_raised, h1.grade_lowered, h2.grade_raised, h2.grade_lowered) == (1, 0, 2, 0)


def test_days_to_resolve_use_linear_interpolation_and_skip_impossible_dates(company):
    trends = run_query(company, "appeal_trends").set_index("cycle_id")
    # 2025H2: 3, 10, 20 days -> median 10; p90 at rank 0.9 * 2 = 1.8 -> 10 + 0.8 * 10 = 18.
    assert trends.loc["2025H2", "median_days_to_resolve"] == pytest.approx(10.0)
    assert trends.loc["2025H2", "p90_days_to_resolve"] == pytest.approx(18.0)
    # 2025H1: BAD3 (resolved before filed) and BAD4 (no resolved_on) are counted but not timed.
    assert trends.loc["2025H1", ["timed", "median_days_to_resolve", "p90_days_to_resolve"]].tolist() == [1, 4.0, 4.0]
    assert pd.isna(trends.loc["2026H1", "median_days_to_resolve"])


@pytest.mark.parametrize(
    "group_by, expected",
    [
        ("department", [["2025H1", "D1", "Sales", 3, 3, 100.0],
                        ["2025H2", "D2", "R&D", 2, 2, 100.0],
                        ["2025H2", "D1", "Sales", 3, 2, 200 / 3],
                        ["2026H1", "D2", "R&D", 1, 0, 0.0],
                        ["2026H1", "D1", "Sales", 3, 0, 0.0]]),
        ("region", [["2025H1", "East", "East", 2, 2, 100.0],
                    ["2025H1", "North", "North", 1, 1, 100.0],
                    ["2025H2", "East", "East", 4, 3, 75.0],
                    ["2025H2", "North", "North", 1, 1, 100.0],
                    ["2026H1", "East", "East", 3, 0, 0.0],
                    ["2026H1", "North", "North", 1, 0, 0.0]]),
    ],
)
def test_appeal_rates_by_department_and_region(company, group_by, expected):
    trends = run_query(company, "appeal_trends", {"group_by": group_by})
    got = rows(trends, ["cycle_id", "group_id", "group_name", "graded", "appeals", "appeal_rate"])
    assert [r[:5] for r in got] == [r[:5] for r in expected]
    assert [r[5] for r in got] == pytest.approx([r[5] for r in expected])


def test_appeal_rates_by_grade_list_every_policy_grade_best_first(company):
    trends = run_query(company, "appeal_trends", {"group_by": "grade"})
    h2 = trends[trends["cycle_id"] == "2025H2"]
    assert list(h2["group_id"]) == ["S", "A", "B", "C", "D"]
    assert list(h2["graded"]) == [0, 1, 3, 0, 1]
    assert list(h2["appeals"]) == [0, 1, 2, 0, 1]
    assert rows(h2, ["appeal_rate"]) == [[None], [100.0], [pytest.approx(200 / 3)], [None], [100.0]]


def test_reason_rates_divide_by_the_whole_cycle_and_add_up_to_the_cycle_rate(company):
    by_reason = run_query(company, "appeal_trends", {"group_by": "reason"})
    overall = run_query(company, "appeal_trends").set_index("cycle_id")
    # Only reasons of appeals that count; BAD1/BAD2/BAD5's "other" is not one of them.
    assert sorted(by_reason["group_id"].unique()) == ["calibration_downgrade", "rater_bias", "unclear_criteria", "wrong_data"]
    assert (by_reason["graded"] == by_reason["cycle_id"].map(overall["graded"])).all()
    h2 = by_reason[by_reason["cycle_id"] == "2025H2"]
    assert list(h2["appeals"]) == [1, 1, 1, 1]
    assert list(h2["appeal_rate"]) == pytest.approx([20.0] * 4)
    sums = by_reason.groupby("cycle_id")["appeal_rate"].sum()
    assert sums.to_dict() == pytest.approx(overall["appeal_rate"].to_dict())
    assert by_reason[by_reason["cycle_id"] == "2026H1"]["appeals"].tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize(
    "filters, graded, appeals",
    [({"department": "D2"}, [0, 2, 1], [0, 2, 0]), ({"region": "North"}, [1, 1, 1], [1, 1, 0]),
     ({"department": "D1", "region": "East"}, [2, 2, 2], [2, 1, 0])],
)
def test_filters_narrow_both_the_graded_and_the_appeals(company, filters, graded, appeals):
    trends = run_query(company, "appeal_trends", filters)
    assert list(trends["graded"]) == graded
    assert list(trends["appeals"]) == appeals


def test_appeal_outcomes_by_reason_and_status_for_a_cycle(company):
    outcomes = run_query(company, "appeal_outcomes", {"cycle": "2025H2"})
    assert outcomes.values.tolist() == [
        ["calibration_downgrade", "open", 1, 0, 0],
        ["rater_bias", "upheld", 1, 1, 0],
        ["unclear_criteria", "withdrawn", 1, 0, 0],
        ["wrong_data", "partially_upheld", 1, 1, 0],
    ]
    assert run_query(company, "appeal_outcomes", {"cycle": "2026H1"}).empty


def test_open_appeals_default_to_the_latest_date_in_the_data(company):
    dates = run_query(company, "appeal_dates").iloc[0]
    assert (dates.first_filed_on.date(), dates.latest_date.date()) == (D(2025, 7, 10), D(2026, 1, 26))
    open_now = run_query(company, "open_appeals")
    assert open_now[["appeal_id", "age_days", "overdue"]].values.tolist() == [["AP2", 14, False]]
    assert open_now["as_of"].iloc[0].date() == D(2026, 1, 26)
    assert open_now[["department", "employee_name", "service_target_days"]].values.tolist() == [["Sales", "Li Na", 15]]


@pytest.mark.parametrize(
    "as_of, expected",
    [
        ("2026-01-15", [["AP4", 9, False], ["AP1", 5, False], ["AP2", 3, False]]),  # oldest first
        ("2026-01-05", [["AP3", 0, False]]),
        ("2026-01-28", [["AP2", 16, True]]),
        ("2025-07-11", [["AP0", 1, False]]),
        ("2025-06-30", []),
    ],
)
def test_open_appeals_on_a_past_date_rebuild_that_days_backlog(company, as_of, expected):
    open_then = run_query(company, "open_appeals", {"as_of": as_of})
    assert open_then[["appeal_id", "age_days", "overdue"]].values.tolist() == expected


def test_the_service_target_comes_from_the_policy(tmp_path):
    folder = write_dataset(tmp_path / "strict", appeals_company_tables())
    (folder / "policy.toml").write_text("[appeals]\nservice_target_days = 10\n", encoding="utf-8")
    open_now = run_query(open_dataset(folder), "open_appeals")
    assert open_now[["appeal_id", "age_days", "service_target_days", "overdue"]].values.tolist() == [["AP2", 14, 10, True]]


def test_appeals_by_rater_count_the_grades_each_manager_proposed(company):
    by_rater = run_query(company, "appeals_by_rater", {"cycle": "2025H2"})
    assert rows(by_rater, ["rater_id", "rater_name", "graded", "appeals", "upheld", "partially_upheld", "resolved"]) == [
        ["E1", "Wang Wei", 3, 3, 1, 0, 2],
        ["E4", "Liu Yang", 1, 1, 0, 1, 1],
    ]
    assert list(by_rater["appeal_rate"]) == pytest.approx([100.0, 100.0])
    assert list(by_rater["upheld_share"]) == pytest.approx([0.5, 1.0])
    assert list(by_rater["small_group"]) == [True, True]  # policy min_group_size 5


def test_a_rater_without_appeals_shows_zero(company):
    by_rater = run_query(company, "appeals_by_rater", {"cycle": "2026H1"})
    assert rows(by_rater, ["rater_id", "graded", "appeals", "appeal_rate", "upheld_share"]) == [["E1", 3, 0, 0.0, None]]


def test_bad_appeals_are_listed_with_their_problem_and_what_they_are_left_out_of(company):
    quality = run_query(company, "appeal_data_quality")
    assert quality[["appeal_id", "problem", "excluded_from"]].values.tolist() == [
        ["BAD1", "unknown_cycle", "all"],
        ["BAD2", "unknown_employee", "all"],
        ["BAD5", "not_graded", "all"],
        ["BAD4", "resolved_without_date", "times"],
        ["BAD3", "resolved_before_filed", "times"],
    ]


def test_an_unknown_status_counts_as_an_appeal_but_not_as_an_outcome(tmp_path):
    tables = appeals_company_tables()
    tables["appeals"].append(_appeal("ODD", "2026H1", "E3", "other", "escalated", D(2026, 7, 1), None, "C", None))
    ds = open_dataset(write_dataset(tmp_path / "odd", tables))
    row = run_query(ds, "appeal_trends").set_index("cycle_id").loc["2026H1"]
    assert (row.appeals, row.appeal_rate, row.resolved, row.open) == (1, 25.0, 0, 0)
    assert run_query(ds, "appeal_outcomes", {"cycle": "2026H1"}).values.tolist() == [["other", "escalated", 1, 0, 0]]
    assert "ODD" not in set(run_query(ds, "open_appeals", {"as_of": "2026-07-20"})["appeal_id"])
    quality = run_query(ds, "appeal_data_quality")
    assert quality[quality["appeal_id"] == "ODD"][["problem", "excluded_from"]].values.tolist() == [["unknown_status", "outcomes"]]


def test_a_lowered_grade_counts_as_lowered(tmp_path):
    tables = appeals_company_tables()
    tables["appeals"].append(_appeal("DOWN", "2026H1", "E4", "other", "rejected", D(2026, 7, 1), D(2026, 7, 3), "A", "B"))
    ds = open_dataset(write_dataset(tmp_path / "down", tables))
    row = run_query(ds, "appeal_trends").set_index("cycle_id").loc["2026H1"]
    assert (row.grade_raised, row.grade_lowered) == (0, 1)
    assert run_query(ds, "appeal_outcomes", {"cycle": "2026H1"}).values.tolist() == [["other", "rejected", 1, 0, 1]]


def test_a_dataset_without_appeals_shows_every_cycle_at_zero(tmp_path):
    tables = appeals_company_tables()
    tables["appeals"] = []
    ds = open_dataset(write_dataset(tmp_path / "calm", tables))
    trends = run_query(ds, "appeal_trends")
    assert list(trends["appeals"]) == [0, 0, 0]
    assert list(trends["appeal_rate"]) == [0.0, 0.0, 0.0]
    assert run_query(ds, "appeal_trends", {"group_by": "reason"}).empty
    assert run_query(ds, "open_appeals").empty
    assert run_query(ds, "appeal_dates")["latest_date"].isna().all()


_STATUSES = ["open", "upheld", "partially_upheld", "rejected", "withdrawn"]
_REASONS = ["unclear_criteria", "wrong_data", "rater_bias"]
_GRADED = [("2025H1", e) for e in ("E1", "E2", "E3")] + [("2025H2", e) for e in ("E1", "E2", "E3", "E4", "E5")]


@st.composite
def appeal_rows(draw):
    appeals = []
    for i in range(draw(st.integers(0, 12))):
        cycle, who = draw(st.sampled_from(_GRADED))
        status = draw(st.sampled_from(_STATUSES))
        filed = D(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 30)))
        resolved = None if status == "open" else filed + dt.timedelta(days=draw(st.integers(0, 40)))
        appeals.append(_appeal(f"P{i}", cycle, who, draw(st.sampled_from(_REASONS)), status, filed, resolved,
                               draw(st.sampled_from("SABCD")), draw(st.sampled_from(["S", "A", "B", "C", "D", None]))))
    return appeals


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(appeals=appeal_rows())
def test_breakdowns_add_up_to_the_cycle_and_statuses_add_up_to_the_appeals(tmp_path_factory, appeals):
    tables = appeals_company_tables()
    tables["appeals"] = appeals
    ds = open_dataset(write_dataset(tmp_path_factory.mktemp("prop"), tables))
    overall = run_query(ds, "appeal_trends").set_index("cycle_id")
    statuses = overall[["open", "upheld", "partially_upheld", "rejected", "withdrawn"]].sum(axis=1)
    assert (statuses == overall["appeals"]).all()
    assert overall["appeals"].sum() == len(appeals)
    assert (overall["median_days_to_resolve"].fillna(0) <= overall["p90_days_to_resolve"].fillna(0)).all()
    for group_by in ("department", "region", "grade", "reason"):
        sums = run_query(ds, "appeal_trends", {"group_by": group_by}).groupby("cycle_id")["appeals"].sum()
        assert sums.reindex(overall.index, fill_value=0).tolist() == overall["appeals"].tolist(), group_by
    for cycle in ("2025H1", "2025H2"):
        by_rater = run_query(ds, "appeals_by_rater", {"cycle": cycle})
        ungraded_by_anyone = sum(1 for a in appeals if a["cycle_id"] == cycle and a["employee_id"] == "E1")
        assert by_rater["appeals"].sum() == overall.loc[cycle, "appeals"] - ungraded_by_anyone
