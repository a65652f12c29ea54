"""The data contract: which tables a dataset holds, their columns, keys and allowed values.

docs/data-contract.md describes the same contract for people; this module is the one
place code reads it from (dataset views, validation, the demo generator, imports).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    nullable: bool = False

    @property
    def duckdb_type(self) -> str:
        return _DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str
    # The order rows are written in (the demo, imports). Queries that filter or group by the
    # leading columns then read whole row groups of one value and skip the rest by their min/max.
    stored_order: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])


_DUCKDB_TYPES = {pa.string(): "VARCHAR", pa.date32(): "DATE", pa.float64(): "DOUBLE"}

_S, _D, _F = pa.string(), pa.date32(), pa.float64()

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "cycles",
            (Column("cycle_id", _S), Column("name", _S), Column("start_date", _D), Column("end_date", _D)),
            ("cycle_id",),
            "Performance cycles (考核周期), ordered by start_date.",
        ),
        Table(
            "org_units",
            (
                Column("unit_id", _S),
                Column("parent_unit_id", _S, True),
                Column("name", _S),
                Column("unit_type", _S),
                Column("region", _S, True),
            ),
            ("unit_id",),
            "The organisation tree: one company root, departments, teams.",
        ),
        Table(
            "employees",
            (
                Column("cycle_id", _S),
                Column("employee_id", _S),
                Column("name", _S),
                Column("unit_id", _S),
                Column("manager_id", _S, True),
                Column("region", _S),
                Column("job_level", _S),
                Column("hire_date", _D),
            ),
            ("cycle_id", "employee_id"),
            "Who was in scope of each cycle, where they sat and who managed them.",
        ),
        Table(
            "goals",
            (
                Column("cycle_id", _S),
                Column("goal_id", _S),
                Column("parent_goal_id", _S, True),
                Column("owner_type", _S),
                Column("owner_id", _S),
                Column("title", _S),
                Column("kpi", _S),
                Column("strategy_theme", _S, True),
                Column("direction", _S),
                Column("target", _F),
                Column("weight", _F),
            ),
            ("goal_id",),
            "The goal cascade: company, department, team and individual goals with KPI targets and weights.",
        ),
        Table(
            "kpi_actuals",
            (Column("goal_id", _S), Column("as_of", _D), Column("actual", _F)),
            ("goal_id", "as_of"),
            "KPI actuals: the value for the cycle to date, as of each date.",
        ),
        Table(
            "ratings",
            (
                Column("cycle_id", _S),
                Column("ratee_id", _S),
                Column("rater_id", _S),
                Column("rater_role", _S),
                Column("dimension", _S),
                Column("score", _F),
            ),
            ("cycle_id", "ratee_id", "rater_id", "dimension"),
            "360 ratings: one score per rater, ratee and dimension.",
            # The leniency questions read one role (manager) and group by rater and ratee.
            stored_order=("rater_role", "rater_id", "ratee_id"),
        ),
        Table(
            "grades",
            (
                Column("cycle_id", _S),
                Column("employee_id", _S),
                Column("proposed_by", _S, True),
                Column("overall_score", _F, True),
                Column("proposed_grade", _S),
                Column("final_grade", _S, True),
            ),
            ("cycle_id", "employee_id"),
            "Proposed and calibrated (final) grades.",
        ),
        Table(
            "appeals",
            (
                Column("appeal_id", _S),
                Column("cycle_id", _S),
                Column("employee_id", _S),
                Column("filed_on", _D),
                Column("reason", _S),
                Column("status", _S),
                Column("resolved_on", _D, True),
                Column("grade_before", _S),
                Column("grade_after", _S, True),
            ),
            ("appeal_id",),
            "Grade appeals and their outcomes.",
        ),
    )
}

UNIT_TYPES = ("company", "department", "team")
OWNER_TYPES = ("company", "department", "team", "employee")
DIRECTIONS = ("higher_better", "lower_better")
RATER_ROLES = ("self", "manager", "peer", "subordinate", "customer")
DIMENSIONS = ("results", "competency", "attitude")
APPEAL_STATUSES = ("open", "upheld", "partially_upheld", "rejected", "withdrawn")
APPEAL_REASONS = (
    "unclear_criteria",
    "wrong_data",
    "rater_bias",
    "unreasonable_target",
    "calibration_downgrade",
    "other",
)
"""Reasons the demo uses and the UI translates; datasets may use other reason codes."""
