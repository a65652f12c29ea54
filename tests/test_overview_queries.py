"""The Overview page's named queries on the tiny company, answers worked out by hand."""

import pytest

from gradelens.queries import run_query


def test_overview_headline_for_the_whole_company(tiny):
    row = run_query(tiny, "overview_headline", {"cycle": "2025H2"}).iloc[0]
    assert row.employees == 5
    assert row.employees_with_attainment == 3  # E1 has no goals, E5 no actuals
    assert row.attainment == pytest.approx((1.15 + 0.45 + 1.0) / 3)
    assert row.company_goal_attainment == pytest.approx(0.9)
    assert (row.graded, row.calibrated, row.appeals, row.open_appeals) == (5, 4, 2, 1)


@pytest.mark.parametrize(
    "filters, employees, attainment, open_appeals",
    [
        ({"department": "D1"}, 3, (1.15 + 0.45) / 2, 1),
        ({"department": "D2"}, 2, 1.0, 0),
        ({"region": "North"}, 1, 0.45, 0),
        ({"department": "D1", "region": "East"}, 2, 1.15, 1),
    ],
)
def test_overview_headline_narrows_to_the_filters(tiny, filters, employees, attainment, open_appeals):
    row = run_query(tiny, "overview_headline", {"cycle": "2025H2", **filters}).iloc[0]
    assert row.employees == employees
    assert row.attainment == pytest.approx(attainment)
    assert row.open_appeals == open_appeals
    assert row.company_goal_attainment == pytest.approx(0.9)  # the company's goals, whatever the filter


def test_cycle_defaults_to_the_latest(tiny):
    assert run_query(tiny, "overview_headline").iloc[0].employees == 5


@pytest.mark.parametrize(
    "stage, department, expected",
    [
        ("final", None, {"S": 0, "A": 1, "B": 2, "C": 0, "D": 1}),      # E5 is not calibrated yet
        ("proposed", None, {"S": 1, "A": 1, "B": 2, "C": 1, "D": 0}),
        ("final", "D1", {"S": 0, "A": 0, "B": 2, "C": 0, "D": 1}),
    ],
)
def test_grade_mix_counts_every_policy_grade_with_its_share(tiny, stage, department, expected):
    mix = run_query(tiny, "grade_mix", {"cycle": "2025H2", "stage": stage, "department": department})
    assert list(mix["grade"]) == ["S", "A", "B", "C", "D"]
    assert dict(zip(mix["grade"], mix["employees"])) == expected
    total = sum(expected.values())
    assert list(mix["share"]) == pytest.approx([n / total for n in expected.values()])
    assert list(mix["target_share"]) == pytest.approx([0.05, 0.20, 0.60, 0.10, 0.05])


def test_grade_mix_of_an_empty_selection_has_zero_counts_and_no_shares(tiny):
    mix = run_query(tiny, "grade_mix", {"cycle": "2025H2", "region": "Nowhere"})
    assert mix["employees"].sum() == 0
    assert mix["share"].isna().all()


def test_lists_for_the_filters(tiny):
    assert run_query(tiny, "cycle_list")[["cycle_id", "employees", "graded"]].values.tolist() == [
        ["2025H1", 3, 3], ["2025H2", 5, 5]]
    assert run_query(tiny, "department_list", {"cycle": "2025H1"}).values.tolist() == [["D1", "Sales", 3]]
    assert run_query(tiny, "region_list", {"cycle": "2025H2"}).values.tolist() == [["East", 4], ["North", 1]]
