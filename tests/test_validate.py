"""`validate` finds every kind of contract violation, names the row, and passes clean data."""

import datetime as dt

import pytest

from gradelens.dataset import open_dataset
from gradelens.validate import validate
from tests.tiny_company import tiny_company_tables, write_dataset


def test_the_tiny_company_is_valid(tiny):
    assert validate(tiny) == []


def _set(table, index, **changes):
    def mutate(tables):
        tables[table][index].update(changes)
    return mutate


def _append(table, row):
    def mutate(tables):
        tables[table].append({**tables[table][0], **row})
    return mutate


CASES = [
    ("cycle dates reversed", _set("cycles", 0, start_date=dt.date(2025, 7, 1)), "cycles", "2025H1", "start_date must be before end_date"),
    ("duplicate key", _append("cycles", {}), "cycles", "2025H1", "(cycle_id) must be unique"),
    ("unknown unit type", _set("org_units", 3, unit_type="squad"), "org_units", "T1", "unit_type must be one of"),
    ("two roots", _set("org_units", 2, parent_unit_id=None), "org_units", "CO, D2", "exactly one company root"),
    ("dangling parent unit", _set("org_units", 3, parent_unit_id="D9"), "org_units", "T1", "parent_unit_id must be an existing unit"),
    ("unit loop", lambda t: (t["org_units"][1].update(parent_unit_id="T1")), "org_units", "D1", "must form a tree"),
    ("manager from another cycle", _set("employees", 7, manager_id="E9"), "employees", "2025H2 / E5", "manager_id must be an employee of the same cycle"),
    ("employee in unknown unit", _set("employees", 0, unit_id="T9"), "employees", "2025H1 / E1", "unit_id must be an existing org unit"),
    ("zero target", _set("goals", 1, target=0.0), "goals", "G-CO", "target must be greater than 0"),
    ("weight above one", _set("goals", 3, weight=1.5), "goals", "G-E2a", "weight must be greater than 0 and at most 1"),
    ("bad direction", _set("goals", 3, direction="up"), "goals", "G-E2a", "direction must be one of"),
    ("parent in another cycle", _set("goals", 3, parent_goal_id="H1-E2"), "goals", "G-E2a", "parent_goal_id must be a goal of the same cycle"),
    ("owner missing", _set("goals", 3, owner_id="E42"), "goals", "G-E2a", "owner_id must be an existing owner"),
    ("actual of unknown goal", _append("kpi_actuals", {"goal_id": "G-404"}), "kpi_actuals", "G-404 / 2025-06-30", "goal_id must be an existing goal"),
    ("score off the scale", _set("ratings", 0, score=7.0), "ratings", "2025H2 / E2 / E1 / results", "score must be inside"),
    ("unknown rater role", _set("ratings", 0, rater_role="boss"), "ratings", "2025H2 / E2 / E1 / results", "rater_role must be one of"),
    ("rating by a stranger", _set("ratings", 0, rater_id="E77"), "ratings", "2025H2 / E2 / E77 / results", "rater_id must be an employee"),
    ("grade off the scale", _set("grades", 4, final_grade="A+"), "grades", "2025H2 / E2", "final_grade must be a grade of the policy"),
    ("empty required column", _set("grades", 4, proposed_grade=None), "grades", "2025H2 / E2", "proposed_grade must not be empty"),
    ("resolved without date", _set("appeals", 0, resolved_on=None), "appeals", "AP1", "resolved_on must be set unless the appeal is open"),
    ("resolved before filed", _set("appeals", 0, resolved_on=dt.date(2026, 1, 1)), "appeals", "AP1", "resolved_on must not be before filed_on"),
    ("unknown status", _set("appeals", 1, status="pending"), "appeals", "AP2", "status must be one of"),
    ("appeal of unknown cycle", _set("appeals", 1, cycle_id="2019H1"), "appeals", "AP2", "cycle_id must be a cycle in cycles"),
]


@pytest.mark.parametrize("label, mutate, table, row_key, rule", CASES, ids=[c[0] for c in CASES])
def test_each_rule_names_the_table_row_and_rule(tmp_path, label, mutate, table, row_key, rule):
    tables = tiny_company_tables()
    mutate(tables)
    violations = validate(open_dataset(write_dataset(tmp_path / "ds", tables)))
    assert any(v.table == table and v.row_key == row_key and rule in v.rule for v in violations), [v.line() for v in violations]
    assert all(v.fix for v in violations)


def test_a_customer_rater_need_not_be_an_employee(tmp_path):
    tables = tiny_company_tables()
    tables["ratings"][0].update(rater_id="CUST-1", rater_role="customer")
    assert validate(open_dataset(write_dataset(tmp_path / "ds", tables))) == []


def test_a_wrongly_typed_column_is_reported_not_raised(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = write_dataset(tmp_path / "ds", tiny_company_tables())
    pq.write_table(pa.table({"goal_id": ["G-CO"], "as_of": ["not a date"], "actual": [1.0]}), folder / "kpi_actuals.parquet")
    violations = validate(open_dataset(folder))
    assert violations and "contract's types" in violations[0].rule


def test_a_grades_only_dataset_is_not_blamed_for_missing_employees(tmp_path):
    tables = {"grades": tiny_company_tables()["grades"]}
    assert validate(open_dataset(write_dataset(tmp_path / "gradesonly", tables))) == []
    tables["grades"][0]["proposed_grade"] = "Z"
    violations = validate(open_dataset(write_dataset(tmp_path / "badgrade", tables)))
    assert [(v.table, v.row_key) for v in violations] == [("grades", "2025H1 / E1")]
