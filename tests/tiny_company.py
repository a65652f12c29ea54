"""A hand-made five-person company whose answers are worked out by hand in the tests.

Cycles 2025H1 (E1-E3) and 2025H2 (E1-E5). Org: company CO; departments D1 Sales and
D2 R&D; teams T1 (Sales, East), T2 (Sales, North), T3 (R&D, East).

2025H2 attainment at the cycle end (cap 1.5):
  G-CO   company     higher  target 100, actual 90             -> 0.90
  G-D1   dept D1     higher  target 50,  actual 60             -> 1.20
  G-E2a  E2 w0.5     higher  target 10,  actual 20             -> 2.00 capped to 1.50
  G-E2b  E2 w0.5     lower   target 5,   actual 6              -> 2 - 1.2 = 0.80
  G-E3a  E3 w0.6     higher  target 20,  actual 15             -> 0.75
  G-E3b  E3 w0.4     lower   target 10,  actual 25             -> 2 - 2.5 < 0 -> 0.00
  G-E4a  E4 w0.3     higher  target 8,   actual 8              -> 1.00
  G-E4b  E4 w0.7     higher  target 4,   actual dated after the cycle -> no attainment
  G-E5a  E5 w1.0     higher  target 3,   no actuals            -> no attainment
  E2 = 0.5*1.5 + 0.5*0.8 = 1.15; E3 = 0.6*0.75 + 0.4*0 = 0.45; E4 = 0.3*1.0/0.3 = 1.00
  As of 2025-09-30: G-E2a 4/10 = 0.40, G-E2b 2 - 2/5 = 1.6 -> 1.5; E2 = 0.95
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from gradelens.contract import TABLES

D = dt.date


def _employee(cycle, eid, name, unit, manager, region, level="P5"):
    return dict(cycle_id=cycle, employee_id=eid, name=name, unit_id=unit, manager_id=manager,
                region=region, job_level=level, hire_date=D(2020, 1, 1))


def _goal(cycle, gid, parent, owner_type, owner, kpi, direction, target, weight, theme=None):
    return dict(cycle_id=cycle, goal_id=gid, parent_goal_id=parent, owner_type=owner_type, owner_id=owner,
                title=f"{kpi} goal", kpi=kpi, strategy_theme=theme, direction=direction, target=target, weight=weight)


def _grade(cycle, eid, proposed, final, by="E1", score=3.0):
    return dict(cycle_id=cycle, employee_id=eid, proposed_by=by, overall_score=score,
                proposed_grade=proposed, final_grade=final)


def tiny_company_tables() -> dict[str, list[dict]]:
    h1, h2 = "2025H1", "2025H2"
    ratings = []
    for ratee, rater, role, scores in [
        ("E2", "E1", "manager", (4, 3, 5)),
        ("E2", "E2", "self", (5, 5, 5)),
        ("E3", "E1", "manager", (2, 3, 3)),
        ("E5", "E4", "manager", (3, 3, 4)),
    ]:
        for dimension, score in zip(("results", "competency", "attitude"), scores):
            ratings.append(dict(cycle_id=h2, ratee_id=ratee, rater_id=rater, rater_role=role, dimension=dimension, score=float(score)))
    return {
        "cycles": [
            dict(cycle_id=h1, name="2025 H1", start_date=D(2025, 1, 1), end_date=D(2025, 6, 30)),
            dict(cycle_id=h2, name="2025 H2", start_date=D(2025, 7, 1), end_date=D(2025, 12, 31)),
        ],
        "org_units": [
            dict(unit_id="CO", parent_unit_id=None, name="Tiny Co", unit_type="company", region=None),
            dict(unit_id="D1", parent_unit_id="CO", name="Sales", unit_type="department", region=None),
            dict(unit_id="D2", parent_unit_id="CO", name="R&D", unit_type="department", region=None),
            dict(unit_id="T1", parent_unit_id="D1", name="Sales East", unit_type="team", region="East"),
            dict(unit_id="T2", parent_unit_id="D1", name="Sales North", unit_type="team", region="North"),
            dict(unit_id="T3", parent_unit_id="D2", name="R&D Core", unit_type="team", region="East"),
        ],
        "employees": [
            _employee(h1, "E1", "Wang Wei", "T1", None, "East", "M2"),
            _employee(h1, "E2", "Li Na", "T1", "E1", "East"),
            _employee(h1, "E3", "Zhang Min", "T2", "E1", "North"),
            _employee(h2, "E1", "Wang Wei", "T1", None, "East", "M2"),
            _employee(h2, "E2", "Li Na", "T1", "E1", "East"),
            _employee(h2, "E3", "Zhang Min", "T2", "E1", "North"),
            _employee(h2, "E4", "Liu Yang", "T3", "E1", "East", "M1"),
            _employee(h2, "E5", "Chen Jie", "T3", "E4", "East"),
        ],
        "goals": [
            _goal(h1, "H1-E2", None, "employee", "E2", "revenue", "higher_better", 10, 1.0),
            _goal(h2, "G-CO", None, "company", "CO", "revenue", "higher_better", 100, 1.0, "Grow market share"),
            _goal(h2, "G-D1", "G-CO", "department", "D1", "revenue", "higher_better", 50, 1.0),
            _goal(h2, "G-E2a", "G-D1", "employee", "E2", "revenue", "higher_better", 10, 0.5),
            _goal(h2, "G-E2b", "G-D1", "employee", "E2", "defects", "lower_better", 5, 0.5),
            _goal(h2, "G-E3a", "G-D1", "employee", "E3", "new customers", "higher_better", 20, 0.6),
            _goal(h2, "G-E3b", None, "employee", "E3", "complaints", "lower_better", 10, 0.4),
            _goal(h2, "G-E4a", None, "employee", "E4", "milestones", "higher_better", 8, 0.3),
            _goal(h2, "G-E4b", None, "employee", "E4", "releases", "higher_better", 4, 0.7),
            _goal(h2, "G-E5a", None, "employee", "E5", "tickets", "higher_better", 3, 1.0),
        ],
        "kpi_actuals": [
            dict(goal_id="H1-E2", as_of=D(2025, 6, 30), actual=11.0),
            dict(goal_id="G-CO", as_of=D(2025, 9, 30), actual=40.0),
            dict(goal_id="G-CO", as_of=D(2025, 12, 31), actual=90.0),
            dict(goal_id="G-D1", as_of=D(2025, 12, 31), actual=60.0),
            dict(goal_id="G-E2a", as_of=D(2025, 9, 30), actual=4.0),
            dict(goal_id="G-E2a", as_of=D(2025, 12, 31), actual=20.0),
            dict(goal_id="G-E2b", as_of=D(2025, 9, 30), actual=2.0),
            dict(goal_id="G-E2b", as_of=D(2025, 12, 31), actual=6.0),
            dict(goal_id="G-E3a", as_of=D(2025, 12, 31), actual=15.0),
            dict(goal_id="G-E3b", as_of=D(2025, 12, 31), actual=25.0),
            dict(goal_id="G-E4a", as_of=D(2025, 12, 31), actual=8.0),
            dict(goal_id="G-E4b", as_of=D(2026, 1, 15), actual=4.0),
        ],
        "ratings": ratings,
        "grades": [
            _grade(h1, "E1", "B", "B", by=None),
            _grade(h1, "E2", "A", "A"),
            _grade(h1, "E3", "B", "B"),
            _grade(h2, "E1", "B", "B", by=None),
            _grade(h2, "E2", "A", "B"),
            _grade(h2, "E3", "C", "D"),
            _grade(h2, "E4", "S", "A"),
            _grade(h2, "E5", "B", None, by="E4"),
        ],
        "appeals": [
            dict(appeal_id="AP1", cycle_id=h2, employee_id="E3", filed_on=D(2026, 1, 10), reason="rater_bias",
                 status="upheld", resolved_on=D(2026, 1, 20), grade_before="D", grade_after="C"),
            dict(appeal_id="AP2", cycle_id=h2, employee_id="E2", filed_on=D(2026, 1, 12), reason="calibration_downgrade",
                 status="open", resolved_on=None, grade_before="B", grade_after=None),
        ],
    }


def write_dataset(folder: Path, tables: dict[str, list[dict]]) -> Path:
    """Write tables as <table>.parquet with the contract's column types (rows may omit columns).

    Every column is written nullable so tests can store the bad data validation must catch.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        schema = pa.schema([field.with_nullable(True) for field in TABLES[name].arrow_schema])
        columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
        pq.write_table(pa.table(columns, schema=schema), folder / f"{name}.parquet")
    return folder
