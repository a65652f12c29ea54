"""The shared definitions (attainment, owner attainment, departments) on the tiny company,
against answers worked out by hand in tests/tiny_company.py."""

import datetime as dt

import pytest

from tests.tiny_company import tiny_company_tables, write_dataset
from gradelens.dataset import open_dataset


def goal_attainment(tiny, cycle="2025H2", as_of=None):
    rows = tiny.cursor().execute(
        "SELECT goal_id, attainment FROM cycle_goal_attainment($cycle, $as_of)", {"cycle": cycle, "as_of": as_of}
    ).fetchall()
    return dict(rows)


def owner_attainment(tiny, cycle="2025H2", as_of=None):
    rows = tiny.cursor().execute(
        "SELECT owner_id, attainment FROM owner_attainment($cycle, $as_of)", {"cycle": cycle, "as_of": as_of}
    ).fetchall()
    return dict(rows)


@pytest.mark.parametrize(
    "goal_id, expected",
    [
        ("G-CO", 0.90),   # higher is better: 90 / 100
        ("G-D1", 1.20),
        ("G-E2a", 1.50),  # 20 / 10 = 2.0, capped at the policy's 1.5
        ("G-E2b", 0.80),  # lower is better: 2 - 6 / 5
        ("G-E3a", 0.75),
        ("G-E3b", 0.00),  # lower is better and 2.5x the target: floored at 0
        ("G-E4a", 1.00),
        ("G-E4b", None),  # its only actual is dated after the cycle
        ("G-E5a", None),  # no actuals at all
    ],
)
def test_goal_attainment_follows_direction_cap_and_cycle_bounds(tiny, goal_id, expected):
    attainment = goal_attainment(tiny)[goal_id]
    if expected is None:
        assert attainment is None
    else:
        assert attainment == pytest.approx(expected)


def test_owner_attainment_is_the_weighted_mean_over_goals_with_actuals(tiny):
    owners = owner_attainment(tiny)
    assert owners["E2"] == pytest.approx(0.5 * 1.5 + 0.5 * 0.8)
    assert owners["E3"] == pytest.approx(0.6 * 0.75 + 0.4 * 0.0)
    assert owners["E4"] == pytest.approx(1.0)  # weight 0.3 alone, normalised by the weights present
    assert "E5" not in owners and "E1" not in owners


def test_attainment_as_of_a_mid_cycle_date_uses_the_latest_actual_up_to_it(tiny):
    goals = goal_attainment(tiny, as_of=dt.date(2025, 9, 30))
    assert goals["G-E2a"] == pytest.approx(0.4)
    assert goals["G-E2b"] == pytest.approx(1.5)  # 2 - 2/5 = 1.6, capped
    assert goals["G-CO"] == pytest.approx(0.4)
    assert goals["G-D1"] is None  # first actual is at the cycle end
    assert owner_attainment(tiny, as_of=dt.date(2025, 9, 30))["E2"] == pytest.approx(0.95)


def test_attainment_cap_comes_from_the_policy(tmp_path):
    folder = write_dataset(tmp_path / "capped", tiny_company_tables())
    (folder / "policy.toml").write_text("[attainment]\ncap = 1.2\n")
    goals = goal_attainment(open_dataset(folder))
    assert goals["G-E2a"] == pytest.approx(1.2)
    assert goals["G-D1"] == pytest.approx(1.2)


def test_employee_department_is_the_nearest_department_ancestor(tiny):
    rows = tiny.cursor().execute(
        "SELECT employee_id, department_id, department FROM employee_units WHERE cycle_id = '2025H2' ORDER BY employee_id"
    ).fetchall()
    assert rows == [
        ("E1", "D1", "Sales"), ("E2", "D1", "Sales"), ("E3", "D1", "Sales"), ("E4", "D2", "R&D"), ("E5", "D2", "R&D"),
    ]


def test_a_unit_directly_under_the_company_has_no_department(tmp_path):
    tables = tiny_company_tables()
    tables["org_units"].append(dict(unit_id="X", parent_unit_id="CO", name="Board office", unit_type="team", region="East"))
    tables["employees"].append(dict(cycle_id="2025H2", employee_id="E9", name="Zhao Lei", unit_id="X", manager_id="E1",
                                    region="East", job_level="M3", hire_date=dt.date(2020, 1, 1)))
    dataset = open_dataset(write_dataset(tmp_path / "x", tables))
    row = dataset.cursor().execute(
        "SELECT department_id, department FROM employee_units WHERE employee_id = 'E9'").fetchone()
    assert row == (None, "(no department)")


def test_macros_do_not_capture_the_callers_aliases(tiny):
    # DuckDB substitutes macro arguments into the body; an outer alias named like an inner
    # one (c, g, a) used to return every cycle's goals for each cycle.
    rows = tiny.cursor().execute(
        "SELECT c.cycle_id, (SELECT count(*) FROM cycle_goal_attainment(c.cycle_id, NULL)) AS goals "
        "FROM cycles AS c ORDER BY c.cycle_id"
    ).fetchall()
    assert rows == [("2025H1", 1), ("2025H2", 9)]
