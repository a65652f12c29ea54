"""Check a dataset against the data contract (docs/data-contract.md).

Each rule is a SQL query over the dataset's views that returns the offending rows as
(row_key, found); a violation names the table, the row, the rule and how to fix it.
Identifiers come from the contract, never from the data; values are compared in SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from gradelens.contract import (
    APPEAL_STATUSES,
    DIMENSIONS,
    DIRECTIONS,
    OWNER_TYPES,
    RATER_ROLES,
    TABLES,
    UNIT_TYPES,
)
from gradelens.dataset import Dataset
from gradelens.i18n import t


@dataclass(frozen=True)
class Violation:
    table: str
    row_key: str
    rule: str  # in English, whatever the interface language (stable for code to compare)
    found: str
    fix: str
    key: str = ""
    values: tuple[tuple[str, str], ...] = ()

    def rule_text(self, language: str | None = None) -> str:
        return t(f"validate.{self.key}_rule", language, **dict(self.values)) if self.key else self.rule

    def fix_text(self, language: str | None = None) -> str:
        return t(f"validate.{self.key}_fix", language, **dict(self.values)) if self.key else self.fix

    def line(self, language: str | None = None) -> str:
        found = t("validate.found", language, found=self.found) if self.found else ""
        return t("validate.line", language, table=self.table, row_key=self.row_key, rule=self.rule_text(language),
                 found=found, fix=self.fix_text(language))


@dataclass(frozen=True)
class Rule:
    table: str
    key: str  # messages validate.<key>_rule and validate.<key>_fix in gradelens/locales/validate.toml
    sql: str  # SELECT row_key, found ... : the rows that break the rule
    values: tuple[tuple[str, str], ...] = ()

    @property
    def rule(self) -> str:
        return t(f"validate.{self.key}_rule", "en", **dict(self.values))

    @property
    def fix(self) -> str:
        return t(f"validate.{self.key}_fix", "en", **dict(self.values))


def row_key_sql(table: str, alias: str = "t") -> str:
    """SQL that renders a row's key as text, e.g. '2025H2 / E2' (used in every report)."""
    return " || ' / ' || ".join(f"coalesce(CAST({alias}.{k} AS VARCHAR), 'NULL')" for k in TABLES[table].key)


def _allowed(table: str, column: str, values: tuple[str, ...], nullable: bool = False) -> Rule:
    listed = ", ".join(f"'{v}'" for v in values)  # contract constants, not data
    null_ok = f"t.{column} IS NOT NULL AND " if nullable else ""
    return Rule(
        table,
        "allowed",
        f"SELECT {row_key_sql(table)}, CAST(t.{column} AS VARCHAR) FROM {table} t WHERE {null_ok}(t.{column} IS NULL OR t.{column} NOT IN ({listed}))",
        (("column", column), ("values", ", ".join(values))),
    )


def _grade_rule(table: str, column: str, nullable: bool) -> Rule:
    null_ok = f"t.{column} IS NOT NULL AND " if nullable else ""
    return Rule(
        table,
        "grade",
        f"SELECT {row_key_sql(table)}, CAST(t.{column} AS VARCHAR) FROM {table} t "
        f"WHERE {null_ok}(t.{column} IS NULL OR t.{column} NOT IN (SELECT grade FROM policy_grades))",
        (("column", column),),
    )


def _not_null_rules() -> list[Rule]:
    rules = []
    for table in TABLES.values():
        for column in table.columns:
            if not column.nullable:
                rules.append(
                    Rule(
                        table.name,
                        "not_null",
                        f"SELECT {row_key_sql(table.name)}, NULL FROM {table.name} t WHERE t.{column.name} IS NULL",
                        (("column", column.name),),
                    )
                )
    return rules


def _key_rules() -> list[Rule]:
    rules = []
    for table in TABLES.values():
        keys = ", ".join(table.key)
        rules.append(
            Rule(
                table.name,
                "unique",
                f"SELECT {row_key_sql(table.name)}, count(*) || ' rows' FROM {table.name} t GROUP BY ALL HAVING count(*) > 1",
                (("keys", keys),),
            )
        )
    return rules


def _employee_exists(table: str, column: str, extra: str = "") -> Rule:
    return Rule(
        table,
        "employee_exists",
        f"SELECT {row_key_sql(table)}, t.{column} FROM {table} t WHERE t.{column} IS NOT NULL {extra} AND NOT EXISTS "
        f"(SELECT 1 FROM employees e WHERE e.cycle_id = t.cycle_id AND e.employee_id = t.{column})",
        (("column", column),),
    )


def _cycle_exists(table: str) -> Rule:
    return Rule(
        table,
        "cycle_exists",
        f"SELECT {row_key_sql(table)}, t.cycle_id FROM {table} t WHERE t.cycle_id IS NOT NULL AND t.cycle_id NOT IN (SELECT cycle_id FROM cycles)",
    )


def rules() -> list[Rule]:
    """Every contract rule, in the order they are reported."""
    return [
        *_not_null_rules(),
        *_key_rules(),
        Rule("cycles", "cycle_dates",
             "SELECT t.cycle_id, t.start_date || ' .. ' || t.end_date FROM cycles t WHERE t.start_date >= t.end_date"),
        _allowed("org_units", "unit_type", UNIT_TYPES),
        Rule("org_units", "one_root",
             "SELECT string_agg(t.unit_id, ', ') , count(*)::VARCHAR FROM org_units t WHERE t.parent_unit_id IS NULL "
             "HAVING count(*) <> 1 OR bool_or(t.unit_type <> 'company') "
             "UNION ALL SELECT '-', '0' FROM (SELECT count(*) n FROM org_units) c, (SELECT count(*) r FROM org_units WHERE parent_unit_id IS NULL) r WHERE c.n > 0 AND r.r = 0"),
        Rule("org_units", "parent_unit",
             "SELECT t.unit_id, t.parent_unit_id FROM org_units t WHERE t.parent_unit_id IS NOT NULL AND t.parent_unit_id NOT IN (SELECT unit_id FROM org_units)"),
        Rule("org_units", "unit_tree",
             "WITH RECURSIVE up(unit_id, ancestor, depth) AS (SELECT unit_id, parent_unit_id, 1 FROM org_units WHERE parent_unit_id IS NOT NULL "
             "UNION ALL SELECT up.unit_id, o.parent_unit_id, up.depth + 1 FROM up JOIN org_units o ON o.unit_id = up.ancestor "
             "WHERE o.parent_unit_id IS NOT NULL AND up.depth < 64 AND up.ancestor <> up.unit_id) "
             "SELECT DISTINCT unit_id, unit_id FROM up WHERE ancestor = unit_id"),
        _cycle_exists("employees"),
        Rule("employees", "unit_exists",
             "SELECT " + row_key_sql("employees") + ", t.unit_id FROM employees t WHERE t.unit_id NOT IN (SELECT unit_id FROM org_units)"),
        _employee_exists("employees", "manager_id"),
        _cycle_exists("goals"),
        _allowed("goals", "owner_type", OWNER_TYPES),
        _allowed("goals", "direction", DIRECTIONS),
        Rule("goals", "target_positive",
             "SELECT t.goal_id, CAST(t.target AS VARCHAR) FROM goals t WHERE t.target <= 0"),
        Rule("goals", "weight_range",
             "SELECT t.goal_id, CAST(t.weight AS VARCHAR) FROM goals t WHERE t.weight <= 0 OR t.weight > 1"),
        Rule("goals", "parent_goal",
             "SELECT t.goal_id, t.parent_goal_id FROM goals t WHERE t.parent_goal_id IS NOT NULL AND NOT EXISTS "
             "(SELECT 1 FROM goals p WHERE p.goal_id = t.parent_goal_id AND p.cycle_id = t.cycle_id)"),
        Rule("goals", "owner_exists",
             "SELECT t.goal_id, t.owner_type || ' ' || t.owner_id FROM goals t WHERE t.owner_type IN ('company', 'department', 'team') "
             "AND NOT EXISTS (SELECT 1 FROM org_units o WHERE o.unit_id = t.owner_id AND o.unit_type = t.owner_type) "
             "UNION ALL SELECT t.goal_id, 'employee ' || t.owner_id FROM goals t WHERE t.owner_type = 'employee' "
             "AND NOT EXISTS (SELECT 1 FROM employees e WHERE e.employee_id = t.owner_id AND e.cycle_id = t.cycle_id)"),
        Rule("kpi_actuals", "goal_exists",
             "SELECT " + row_key_sql("kpi_actuals") + ", t.goal_id FROM kpi_actuals t WHERE t.goal_id NOT IN (SELECT goal_id FROM goals)"),
        _cycle_exists("ratings"),
        _allowed("ratings", "rater_role", RATER_ROLES),
        _allowed("ratings", "dimension", DIMENSIONS),
        Rule("ratings", "score_scale",
             "SELECT " + row_key_sql("ratings") + ", CAST(t.score AS VARCHAR) FROM ratings t, policy_settings p WHERE t.score < p.score_min OR t.score > p.score_max"),
        _employee_exists("ratings", "ratee_id"),
        _employee_exists("ratings", "rater_id", "AND t.rater_role <> 'customer'"),
        _cycle_exists("grades"),
        _employee_exists("grades", "employee_id"),
        _grade_rule("grades", "proposed_grade", False),
        _grade_rule("grades", "final_grade", True),
        _cycle_exists("appeals"),
        _employee_exists("appeals", "employee_id"),
        _allowed("appeals", "status", APPEAL_STATUSES),
        Rule("appeals", "resolved_set",
             "SELECT t.appeal_id, t.status || ' / ' || coalesce(CAST(t.resolved_on AS VARCHAR), 'NULL') FROM appeals t "
             "WHERE (t.status <> 'open' AND t.resolved_on IS NULL) OR (t.status = 'open' AND t.resolved_on IS NOT NULL)"),
        Rule("appeals", "resolved_order",
             "SELECT t.appeal_id, t.filed_on || ' > ' || t.resolved_on FROM appeals t WHERE t.resolved_on < t.filed_on"),
        _grade_rule("appeals", "grade_before", False),
        _grade_rule("appeals", "grade_after", True),
    ]


def referenced_tables(rule: Rule) -> set[str]:
    """The contract tables a rule's SQL reads."""
    return {name for name in re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", rule.sql) if name in TABLES}


def validate(dataset: Dataset, limit: int | None = None) -> list[Violation]:
    """Every violation of the contract in a dataset (at most `limit` per rule when given).

    Rules that check a reference into a table the dataset lacks are skipped: a dataset may
    hold only some tables (docs/data-contract.md), and an empty table is not a violation.
    """
    con = dataset.cursor()
    violations: list[Violation] = []
    for rule in rules():
        if referenced_tables(rule) & set(dataset.missing) or rule.table in dataset.missing:
            continue
        sql = rule.sql if limit is None else f"SELECT * FROM ({rule.sql}) LIMIT {int(limit)}"
        try:
            rows = con.execute(sql).fetchall()
        except duckdb.Error as exc:
            types = Rule(rule.table, "types", "")
            violations.append(Violation(rule.table, "-", types.rule, str(exc).strip().splitlines()[0], types.fix, types.key))
            break
        violations.extend(
            Violation(rule.table, str(key), rule.rule, "" if found is None else str(found), rule.fix, rule.key, rule.values)
            for key, found in rows
        )
    return violations
