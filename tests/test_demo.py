"""The demo generator: contract-shaped, deterministic, realistic, and carrying its planted phenomena."""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from gradelens.contract import (
    APPEAL_REASONS,
    APPEAL_STATUSES,
    DIMENSIONS,
    DIRECTIONS,
    OWNER_TYPES,
    RATER_ROLES,
    TABLES,
    UNIT_TYPES,
)
from gradelens.demo import GENERATOR_VERSION, MANIFEST_FILE, DemoManifest, generate, read_manifest
from gradelens.errors import GradelensError
from gradelens.policy import Policy

SMALL = {"employees": 300, "cycles": 4}
FLAT_TABLES = ("cycles", "org_units", "employees", "goals", "grades", "appeals")


def connect(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for table in FLAT_TABLES:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{folder / table}.parquet')")
    con.execute(
        f"CREATE VIEW ratings AS SELECT * FROM read_parquet('{folder}/ratings/*/*.parquet', "
        "hive_partitioning = true, hive_types = {'cycle_id': 'VARCHAR'})"
    )
    # The partition names the goal's cycle; the contract's kpi_actuals has no cycle_id column.
    con.execute(
        f"CREATE VIEW kpi_actuals AS SELECT * EXCLUDE (cycle_id) FROM read_parquet('{folder}/kpi_actuals/*/*.parquet', "
        "hive_partitioning = true, hive_types = {'cycle_id': 'VARCHAR'})"
    )
    return con


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "dataset"
    generate(folder, seed=7, **SMALL)
    return folder


@pytest.fixture(scope="module")
def manifest(demo_dir) -> DemoManifest:
    return read_manifest(demo_dir)


@pytest.fixture(scope="module")
def con(demo_dir) -> duckdb.DuckDBPyConnection:
    return connect(demo_dir)


def scalar(con, sql: str, params=None):
    return con.execute(sql, params or []).fetchone()[0]


def all_files(folder: Path) -> dict[str, bytes]:
    """Every file by its path, the derived tables' folders (named by file mtimes) as `_derived/*`
    and `_derived/*/leniency/*`."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            parts = list(path.relative_to(folder).parts)
            if parts[0] == "_derived":
                parts[1] = "*"
                if len(parts) > 3 and parts[2] == "leniency":
                    parts[3] = "*"
            files["/".join(parts)] = path.read_bytes()
    return files


# ---------------------------------------------------------------- files and determinism


def test_the_folder_holds_one_parquet_file_per_table_a_partition_per_cycle_and_the_manifest(demo_dir, manifest):
    derived = ("_derived/*/goal_end_actuals", "_derived/*/owner_end_attainment", "_derived/*/owner_month_attainment", "_derived/*/graded_people",
               "_derived/*/goal_tree", "_derived/*/goal_alignment_counts", "_derived/*/unlinked_goal_rows", "_derived/*/people_end_sums",
               "_derived/*/team_end_sums", "_derived/*/people_month_sums", "_derived/*/theme_end_sums", "_derived/*/goal_problems",
               "_derived/*/leniency/*/leniency_raters", "_derived/*/leniency/*/leniency_pairs", "_derived/*/leniency/*/leniency_fits",
               "_derived/*/leniency/*/leniency_outside_raters", "_derived/*/leniency/*/self_manager_sums")
    expected = {f"{table}.parquet" for table in FLAT_TABLES} | {MANIFEST_FILE, "_derived/*/complete", "_derived/*/leniency/*/complete"} | {
        f"{table}/cycle_id={cycle_id}/part-0.parquet"
        for table in ("ratings", "kpi_actuals", *derived)
        for cycle_id in manifest.cycle_ids
    } | {f"_derived/*/goal_cascade_defaults/cycle_id={cycle_id}/all-0.parquet" for cycle_id in manifest.cycle_ids}
    files = set(all_files(demo_dir))
    # The masking list's stored rows: a file only for the cycles that have such goals.
    masking = {f for f in files if f.startswith("_derived/*/goal_cascade_defaults/") and f.endswith("/masks_shortfall-0.parquet")}
    assert masking <= {f"_derived/*/goal_cascade_defaults/cycle_id={c}/masks_shortfall-0.parquet" for c in manifest.cycle_ids}
    assert files - masking == expected


def test_the_same_seed_writes_byte_identical_files(tmp_path):
    generate(tmp_path / "first", seed=11, **SMALL)
    generate(tmp_path / "second", seed=11, **SMALL)
    assert all_files(tmp_path / "first") == all_files(tmp_path / "second")


def test_a_different_seed_writes_different_data(tmp_path, demo_dir):
    generate(tmp_path / "other", seed=8, **SMALL)
    for table in ("employees", "goals", "grades"):
        assert not pq.read_table(tmp_path / "other" / f"{table}.parquet").equals(pq.read_table(demo_dir / f"{table}.parquet"))


def test_generating_leaves_no_staging_folder_behind(tmp_path):
    generate(tmp_path / "demo", seed=1, **SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_an_existing_demo_is_replaced(tmp_path):
    first = generate(tmp_path / "demo", seed=1, **SMALL)
    second = generate(tmp_path / "demo", seed=2, **SMALL)
    assert read_manifest(tmp_path / "demo") == second != first
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]


def test_a_folder_holding_other_data_is_left_alone(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(GradelensError, match="not a gradelens demo"):
        generate(tmp_path / "mine", **SMALL)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("arguments", [{"employees": 10}, {"cycles": 0}, {"cycles": 21}, {"employees": 300.5}])
def test_sizes_the_demo_cannot_build_are_refused_with_a_message(tmp_path, arguments):
    with pytest.raises(GradelensError, match="demo"):
        generate(tmp_path / "demo", **{**SMALL, **arguments})
    assert not (tmp_path / "demo").exists()


def test_progress_is_reported_in_order_and_ends_at_one(tmp_path):
    calls = []
    generate(tmp_path / "demo", progress=lambda fraction, message: calls.append((fraction, message)), **SMALL)
    fractions = [fraction for fraction, _ in calls]
    assert len(calls) >= SMALL["cycles"] + 2
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] == 1.0
    assert all(isinstance(message, str) and message for _, message in calls)


def test_the_manifest_on_disk_is_what_generate_returned(tmp_path):
    returned = generate(tmp_path / "demo", seed=3, **SMALL)
    assert read_manifest(tmp_path / "demo") == returned


def test_the_manifest_names_the_generator_version_and_older_manifests_read_as_version_1(demo_dir, manifest, tmp_path):
    assert manifest.generator == GENERATOR_VERSION > 1
    raw = json.loads((demo_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    del raw["generator"]
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(raw), encoding="utf-8")
    assert read_manifest(tmp_path) == dataclasses.replace(manifest, generator=1)


# ---------------------------------------------------------------- the contract


@pytest.mark.parametrize("table", FLAT_TABLES)
def test_every_table_file_has_exactly_the_contract_schema(demo_dir, table):
    assert pq.read_schema(demo_dir / f"{table}.parquet").remove_metadata() == TABLES[table].arrow_schema


def test_kpi_actual_partitions_have_the_contract_schema_and_hold_their_goals_cycle(demo_dir, con):
    partitions = sorted((demo_dir / "kpi_actuals").glob("cycle_id=*/part-0.parquet"))
    assert partitions
    for partition in partitions:
        assert pq.read_schema(partition).remove_metadata() == TABLES["kpi_actuals"].arrow_schema
    misplaced = scalar(con, f"""SELECT count(*) FROM read_parquet('{demo_dir}/kpi_actuals/*/*.parquet', hive_partitioning = true,
        hive_types = {{'cycle_id': 'VARCHAR'}}) AS k JOIN goals AS g USING (goal_id) WHERE g.cycle_id <> k.cycle_id""")
    assert misplaced == 0


def test_rating_partitions_have_the_contract_schema_without_cycle_id(demo_dir):
    contract = TABLES["ratings"].arrow_schema
    expected = contract.remove(contract.get_field_index("cycle_id"))
    partitions = sorted((demo_dir / "ratings").glob("cycle_id=*/part-0.parquet"))
    assert partitions
    for partition in partitions:
        assert pq.read_schema(partition).remove_metadata() == expected


def test_rating_partitions_are_written_in_the_contracts_stored_order(demo_dir):
    order = TABLES["ratings"].stored_order
    assert order[0] == "rater_role"
    for partition in sorted((demo_dir / "ratings").glob("cycle_id=*/part-0.parquet")):
        written = pq.read_table(partition)
        assert written.equals(written.sort_by([(column, "ascending") for column in order])), partition.parent.name


@pytest.mark.parametrize("table", [*FLAT_TABLES, "ratings", "kpi_actuals"])
def test_duckdb_reads_every_table_with_the_contract_columns_and_types(con, table):
    described = con.execute(f"DESCRIBE {table}").fetchall()
    columns = {name: kind for name, kind, *_ in described}
    assert columns == {c.name: c.duckdb_type for c in TABLES[table].columns}


@pytest.mark.parametrize("table", [*FLAT_TABLES, "ratings", "kpi_actuals"])
def test_non_nullable_columns_hold_no_nulls(con, table):
    for column in TABLES[table].columns:
        if not column.nullable:
            assert scalar(con, f"SELECT count(*) FROM {table} WHERE {column.name} IS NULL") == 0, column.name


@pytest.mark.parametrize("table", [*FLAT_TABLES, "ratings", "kpi_actuals"])
def test_keys_are_unique(con, table):
    key = ", ".join(TABLES[table].key)
    assert scalar(con, f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY ALL HAVING count(*) > 1)") == 0


@pytest.mark.parametrize(
    "table, column, allowed",
    [
        ("org_units", "unit_type", UNIT_TYPES),
        ("goals", "owner_type", OWNER_TYPES),
        ("goals", "direction", DIRECTIONS),
        ("ratings", "rater_role", RATER_ROLES),
        ("ratings", "dimension", DIMENSIONS),
        ("grades", "proposed_grade", Policy().grades),
        ("grades", "final_grade", Policy().grades),
        ("appeals", "reason", APPEAL_REASONS),
        ("appeals", "status", APPEAL_STATUSES),
        ("appeals", "grade_before", Policy().grades),
        ("appeals", "grade_after", Policy().grades),
        ("employees", "region", ("East", "North", "South", "West", "Central")),
        ("employees", "job_level", ("P3", "P4", "P5", "P6", "P7", "M1", "M2", "M3")),
    ],
)
def test_coded_columns_hold_only_allowed_values(con, table, column, allowed):
    found = {row[0] for row in con.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()}
    assert found and found <= set(allowed)


@pytest.mark.parametrize(
    "what, sql",
    [
        ("targets are positive", "SELECT count(*) FROM goals WHERE target <= 0"),
        ("weights are in (0, 1]", "SELECT count(*) FROM goals WHERE weight <= 0 OR weight > 1"),
        ("cycles start before they end", "SELECT count(*) FROM cycles WHERE start_date >= end_date"),
        ("scores are on the 1-5 scale", "SELECT count(*) FROM ratings WHERE score < 1 OR score > 5"),
        ("scores have one decimal", "SELECT count(*) FROM ratings WHERE abs(score * 10 - round(score * 10)) > 1e-9"),
        ("overall scores are on the scale", "SELECT count(*) FROM grades WHERE overall_score NOT BETWEEN 1 AND 5"),
        ("actuals are not negative", "SELECT count(*) FROM kpi_actuals WHERE actual < 0 OR isnan(actual)"),
        ("hired before the cycle ends", "SELECT count(*) FROM employees JOIN cycles USING (cycle_id) WHERE hire_date > end_date"),
    ],
)
def test_values_are_in_range(con, what, sql):
    assert scalar(con, sql) == 0, what


# ---------------------------------------------------------------- references


@pytest.mark.parametrize(
    "what, sql",
    [
        ("managers are employees of the same cycle",
         "SELECT count(*) FROM employees e WHERE manager_id IS NOT NULL AND NOT EXISTS "
         "(SELECT 1 FROM employees m WHERE m.cycle_id = e.cycle_id AND m.employee_id = e.manager_id)"),
        ("employees sit in known units",
         "SELECT count(*) FROM employees WHERE unit_id NOT IN (SELECT unit_id FROM org_units)"),
        ("unit parents exist",
         "SELECT count(*) FROM org_units WHERE parent_unit_id IS NOT NULL AND parent_unit_id NOT IN (SELECT unit_id FROM org_units)"),
        ("employee cycles exist", "SELECT count(*) FROM employees WHERE cycle_id NOT IN (SELECT cycle_id FROM cycles)"),
        ("goal parents are goals of the same cycle",
         "SELECT count(*) FROM goals g WHERE parent_goal_id IS NOT NULL AND NOT EXISTS "
         "(SELECT 1 FROM goals p WHERE p.goal_id = g.parent_goal_id AND p.cycle_id = g.cycle_id)"),
        ("individual goals belong to employees of the cycle",
         "SELECT count(*) FROM goals g WHERE owner_type = 'employee' AND NOT EXISTS "
         "(SELECT 1 FROM employees e WHERE e.cycle_id = g.cycle_id AND e.employee_id = g.owner_id)"),
        ("unit goals belong to units of that type",
         "SELECT count(*) FROM goals g WHERE owner_type <> 'employee' AND NOT EXISTS "
         "(SELECT 1 FROM org_units u WHERE u.unit_id = g.owner_id AND u.unit_type = g.owner_type)"),
        ("actuals belong to goals", "SELECT count(*) FROM kpi_actuals WHERE goal_id NOT IN (SELECT goal_id FROM goals)"),
        ("ratees are employees of the cycle",
         "SELECT count(*) FROM ratings r WHERE NOT EXISTS "
         "(SELECT 1 FROM employees e WHERE e.cycle_id = r.cycle_id AND e.employee_id = r.ratee_id)"),
        ("raters other than customers are employees of the cycle",
         "SELECT count(*) FROM ratings r WHERE rater_role <> 'customer' AND NOT EXISTS "
         "(SELECT 1 FROM employees e WHERE e.cycle_id = r.cycle_id AND e.employee_id = r.rater_id)"),
        ("grades belong to employees of the cycle",
         "SELECT count(*) FROM grades g WHERE NOT EXISTS "
         "(SELECT 1 FROM employees e WHERE e.cycle_id = g.cycle_id AND e.employee_id = g.employee_id)"),
        ("grades are proposed by the person's manager",
         "SELECT count(*) FROM grades g JOIN employees e USING (cycle_id, employee_id) WHERE g.proposed_by IS DISTINCT FROM e.manager_id"),
        ("appeals are about a graded person's final grade",
         "SELECT count(*) FROM appeals a WHERE NOT EXISTS (SELECT 1 FROM grades g WHERE g.cycle_id = a.cycle_id "
         "AND g.employee_id = a.employee_id AND g.final_grade = a.grade_before)"),
    ],
)
def test_references_are_valid(con, what, sql):
    assert scalar(con, sql) == 0, what


def test_only_the_ceo_has_no_manager_and_is_neither_rated_nor_graded(con, manifest):
    assert {row[0] for row in con.execute("SELECT DISTINCT employee_id FROM employees WHERE manager_id IS NULL").fetchall()} == {manifest.ceo_id}
    assert scalar(con, "SELECT count(*) FROM grades WHERE employee_id = ?", [manifest.ceo_id]) == 0
    assert scalar(con, "SELECT count(*) FROM ratings WHERE ratee_id = ?", [manifest.ceo_id]) == 0
    assert scalar(con, "SELECT count(*) FROM grades") == scalar(con, "SELECT count(*) FROM employees") - SMALL["cycles"]


# ---------------------------------------------------------------- realism


def test_cycles_are_half_years_ending_with_2026_h1(con, manifest):
    rows = con.execute("SELECT cycle_id, name, start_date::VARCHAR, end_date::VARCHAR FROM cycles ORDER BY start_date").fetchall()
    assert rows == [
        ("2024H2", "2024 H2", "2024-07-01", "2024-12-31"),
        ("2025H1", "2025 H1", "2025-01-01", "2025-06-30"),
        ("2025H2", "2025 H2", "2025-07-01", "2025-12-31"),
        ("2026H1", "2026 H1", "2026-01-01", "2026-06-30"),
    ]
    assert manifest.cycle_ids == tuple(row[0] for row in rows)


def test_the_org_is_a_company_with_seven_departments_and_regional_teams(con):
    departments = con.execute(
        "SELECT unit_id, name FROM org_units WHERE unit_type = 'department' AND parent_unit_id = 'HQ' AND region IS NULL ORDER BY 1"
    ).fetchall()
    assert departments == [
        ("D-ADM", "Admin"), ("D-MKT", "Marketing"), ("D-PRD", "Production"), ("D-PUR", "Purchasing"),
        ("D-QUA", "Quality"), ("D-RND", "R&D"), ("D-SAL", "Sales"),
    ]
    assert scalar(con, "SELECT count(*) FROM org_units WHERE unit_type = 'company' AND parent_unit_id IS NULL") == 1
    assert scalar(con, "SELECT count(*) FROM org_units WHERE unit_type = 'team' AND (region IS NULL OR parent_unit_id NOT LIKE 'D-%')") == 0
    assert scalar(con, "SELECT count(DISTINCT region) FROM org_units WHERE unit_type = 'team'") >= 4


def test_teams_have_six_to_twelve_people_led_by_one_lead_who_reports_to_the_department_head(con):
    rows = con.execute("""
        SELECT e.cycle_id, e.unit_id, count(*) AS size,
               count(DISTINCT e.manager_id) FILTER (WHERE e.job_level NOT LIKE 'M%') AS leads,
               bool_and(m.unit_id = u.parent_unit_id) FILTER (WHERE e.job_level = 'M1') AS lead_reports_to_head
        FROM employees e JOIN org_units u ON u.unit_id = e.unit_id
        JOIN employees m ON m.cycle_id = e.cycle_id AND m.employee_id = e.manager_id
        WHERE u.unit_type = 'team' GROUP BY ALL
    """).fetchall()
    assert rows
    for cycle_id, unit_id, size, leads, lead_reports_to_head in rows:
        assert 6 <= size <= 12, (cycle_id, unit_id, size)
        assert leads == 1 and lead_reports_to_head, (cycle_id, unit_id)


def test_employee_ids_are_stable_with_about_eight_percent_turnover_per_cycle(con):
    rows = con.execute("""
        SELECT c.cycle_id, count(*) FILTER (WHERE n.employee_id IS NULL) / count(*) AS left_share
        FROM employees c JOIN cycles cy USING (cycle_id)
        LEFT JOIN employees n ON n.employee_id = c.employee_id
             AND n.cycle_id = (SELECT cycle_id FROM cycles WHERE start_date > cy.start_date ORDER BY start_date LIMIT 1)
        WHERE cy.start_date < (SELECT max(start_date) FROM cycles) GROUP BY 1
    """).fetchall()
    assert len(rows) == SMALL["cycles"] - 1
    for cycle_id, left_share in rows:
        assert 0.03 < left_share < 0.15, cycle_id
    newcomers = con.execute("""
        WITH first_seen AS (
          SELECT employee_id, any_value(hire_date) AS hire_date, min(c.start_date) AS first_start
          FROM employees JOIN cycles c USING (cycle_id) GROUP BY 1)
        SELECT count(*), count(*) FILTER (WHERE abs(hire_date - first_start) > 90)
        FROM first_seen WHERE first_start > (SELECT min(start_date) FROM cycles)
    """).fetchone()
    assert newcomers[0] > 0 and newcomers[1] == 0  # new hires join around the start of their first cycle


def test_names_are_chinese_and_stable_across_cycles(con):
    assert scalar(con, "SELECT count(*) FROM employees WHERE NOT regexp_full_match(name, '[\\x{4e00}-\\x{9fff}]{2,3}')") == 0
    assert scalar(con, "SELECT count(*) FROM (SELECT employee_id FROM employees GROUP BY 1 HAVING count(DISTINCT name) > 1)") == 0


def test_the_goal_cascade_has_four_levels_each_under_the_one_above(con, manifest):
    rows = con.execute("""
        SELECT g.owner_type, p.owner_type AS parent_type, count(*) FROM goals g
        LEFT JOIN goals p ON p.goal_id = g.parent_goal_id GROUP BY ALL
    """).fetchall()
    pairs = {(owner, parent) for owner, parent, _ in rows}
    assert pairs == {
        ("company", None), ("department", "company"), ("team", "department"),
        ("employee", "team"), ("employee", "department"), ("employee", None),
    }
    per_cycle = con.execute("SELECT cycle_id, count(*) FROM goals WHERE owner_type = 'company' GROUP BY 1").fetchall()
    assert all(count == 5 for _, count in per_cycle)
    assert scalar(con, "SELECT count(*) FROM goals WHERE owner_type = 'company' AND strategy_theme IS NULL") == 0


@pytest.mark.parametrize("owner_type, low, high", [("department", 3, 5), ("team", 2, 4), ("employee", 3, 5)])
def test_owners_have_a_realistic_number_of_goals(con, owner_type, low, high):
    low_found, high_found = con.execute(
        "SELECT min(n), max(n) FROM (SELECT cycle_id, owner_id, count(*) AS n FROM goals WHERE owner_type = ? GROUP BY ALL)",
        [owner_type],
    ).fetchone()
    assert low <= low_found and high_found <= high


def test_goal_weights_sum_to_one_per_owner_except_the_planted_unbalanced_people(con, manifest):
    off = con.execute(
        "SELECT cycle_id, owner_id FROM goals GROUP BY cycle_id, owner_type, owner_id HAVING abs(sum(weight) - 1) > 1e-9 ORDER BY 1, 2"
    ).fetchall()
    assert [tuple(row) for row in off] == sorted(manifest.unbalanced_weight_owners)
    assert 0 < len(off) < 0.03 * scalar(con, "SELECT count(*) FROM grades")


def test_unlinked_goals_are_the_planted_individual_goals_in_two_departments(con, manifest):
    unlinked = con.execute("""
        SELECT g.goal_id, e.unit_id FROM goals g JOIN employees e ON e.cycle_id = g.cycle_id AND e.employee_id = g.owner_id
        WHERE g.parent_goal_id IS NULL AND g.owner_type = 'employee'
    """).fetchall()
    assert sorted(goal_id for goal_id, _ in unlinked) == sorted(manifest.unlinked_goal_ids)
    departments = {unit if unit.startswith("D-") else "D-" + unit.split("-")[1] for _, unit in unlinked}
    assert departments == set(manifest.unlinked_goal_department_ids)
    share = len(unlinked) / scalar(con, "SELECT count(*) FROM goals WHERE owner_type = 'employee'")
    assert 0.015 < share < 0.05
    assert scalar(con, "SELECT count(*) FROM goals WHERE parent_goal_id IS NULL AND strategy_theme IS NOT NULL AND owner_type <> 'company'") == 0


def test_every_goal_has_one_actual_per_month_end_of_its_cycle(con):
    rows = con.execute("""
        SELECT count(*) FILTER (WHERE n <> 6), count(*) FILTER (WHERE bad > 0) FROM (
          SELECT g.goal_id, count(k.as_of) AS n,
                 count(*) FILTER (WHERE k.as_of NOT BETWEEN c.start_date AND c.end_date OR k.as_of <> last_day(k.as_of)) AS bad
          FROM goals g JOIN cycles c USING (cycle_id) LEFT JOIN kpi_actuals k USING (goal_id) GROUP BY 1)
    """).fetchone()
    assert rows == (0, 0)


def test_volume_kpis_accumulate_over_the_cycle(con):
    assert scalar(con, """
        SELECT count(*) FROM (
          SELECT actual < lag(actual) OVER (PARTITION BY goal_id ORDER BY as_of) AS falls
          FROM kpi_actuals JOIN goals USING (goal_id) WHERE kpi IN ('sales_revenue', 'output_units', 'qualified_leads', 'defects_escaped'))
        WHERE falls
    """) == 0


def test_attainment_spreads_around_one_with_some_above_the_cap_and_some_failing_lower_better_goals(con):
    mean, sd, above_cap, failing_lower = con.execute("""
        WITH final AS (
          SELECT g.*, k.actual, CASE WHEN direction = 'higher_better' THEN k.actual / target ELSE target / k.actual END AS attainment
          FROM goals g JOIN kpi_actuals k USING (goal_id) JOIN cycles c USING (cycle_id)
          WHERE k.as_of = c.end_date AND owner_type = 'employee')
        SELECT avg(attainment), stddev(attainment), count(*) FILTER (WHERE attainment > 1.5),
               count(*) FILTER (WHERE direction = 'lower_better' AND actual > target)
        FROM final
    """).fetchone()
    assert 0.95 < mean < 1.05 and 0.05 < sd < 0.3
    assert above_cap > 0 and failing_lower > 0


def attainment_by(con, grouping: str) -> dict[str, float]:
    """Mean capped attainment of individual goals at cycle end, per region or per department."""
    column = "e.region" if grouping == "region" else "CASE u.unit_type WHEN 'team' THEN u.parent_unit_id ELSE u.unit_id END"
    return dict(con.execute(f"""
        SELECT {column}, avg(least(CASE WHEN direction = 'higher_better' THEN k.actual / target ELSE target / k.actual END, 1.5))
        FROM goals g JOIN kpi_actuals k USING (goal_id) JOIN cycles c USING (cycle_id)
        JOIN employees e ON e.cycle_id = g.cycle_id AND e.employee_id = g.owner_id JOIN org_units u ON u.unit_id = e.unit_id
        WHERE k.as_of = c.end_date GROUP BY 1
    """).fetchall())


def test_the_weak_region_and_strong_department_lean_the_planted_way(con, manifest):
    by_region, by_department = attainment_by(con, "region"), attainment_by(con, "department")
    assert by_region[manifest.weak_region] < statistics.mean(by_region.values()) - 0.01
    assert by_department[manifest.strong_department_id] > statistics.mean(by_department.values()) + 0.01


def test_everyone_rated_has_a_self_rating_a_manager_rating_and_peers(con):
    rows = con.execute("""
        SELECT count(*) FILTER (WHERE self <> 3 OR manager <> 3 OR peers NOT BETWEEN 6 AND 9) FROM (
          SELECT cycle_id, ratee_id,
                 count(*) FILTER (WHERE rater_role = 'self') AS self,
                 count(*) FILTER (WHERE rater_role = 'manager') AS manager,
                 count(*) FILTER (WHERE rater_role = 'peer') AS peers
          FROM ratings GROUP BY ALL)
    """).fetchone()
    assert rows == (0,)
    assert scalar(con, """
        SELECT count(*) FROM ratings r JOIN employees e ON e.cycle_id = r.cycle_id AND e.employee_id = r.ratee_id
        WHERE r.rater_role = 'subordinate' AND e.job_level NOT LIKE 'M%'""") == 0
    assert scalar(con, """
        SELECT count(*) FROM ratings r JOIN employees e ON e.cycle_id = r.cycle_id AND e.employee_id = r.ratee_id
        WHERE r.rater_role = 'customer' AND e.unit_id NOT LIKE 'T-SAL-%'""") == 0


def test_self_ratings_are_inflated(con):
    self_mean, others_mean = con.execute(
        "SELECT avg(score) FILTER (WHERE rater_role = 'self'), avg(score) FILTER (WHERE rater_role IN ('manager', 'peer')) FROM ratings"
    ).fetchone()
    assert 0.15 < self_mean - others_mean < 0.5


def test_overall_score_is_the_policy_weighted_score_without_self(con):
    worst = scalar(con, """
        WITH role_means AS (
          SELECT cycle_id, ratee_id, rater_role, dimension, avg(score) AS score FROM ratings GROUP BY ALL),
        weighted AS (
          SELECT cycle_id, ratee_id, dimension,
                 sum(score * CASE rater_role WHEN 'manager' THEN 0.6 WHEN 'peer' THEN 0.2 WHEN 'subordinate' THEN 0.1 WHEN 'customer' THEN 0.1 ELSE 0 END)
                 / sum(CASE rater_role WHEN 'manager' THEN 0.6 WHEN 'peer' THEN 0.2 WHEN 'subordinate' THEN 0.1 WHEN 'customer' THEN 0.1 ELSE 0 END) AS score
          FROM role_means GROUP BY ALL),
        overall AS (
          SELECT cycle_id, ratee_id AS employee_id,
                 sum(score * CASE dimension WHEN 'results' THEN 0.6 WHEN 'competency' THEN 0.3 ELSE 0.1 END) AS score
          FROM weighted GROUP BY ALL)
        SELECT max(abs(o.score - g.overall_score)) FROM overall o JOIN grades g USING (cycle_id, employee_id)
    """)
    assert worst <= 0.005 + 1e-9


def test_calibration_moves_grades_toward_the_forced_distribution(con):
    shares = Policy().target_shares
    proposed = dict(con.execute("SELECT proposed_grade, count(*) / sum(count(*)) OVER () FROM grades GROUP BY 1").fetchall())
    final = dict(con.execute("SELECT final_grade, count(*) / sum(count(*)) OVER () FROM grades GROUP BY 1").fetchall())
    distance = lambda observed: sum(abs(observed.get(g, 0) - share) for g, share in shares.items())
    assert distance(final) < distance(proposed)
    assert distance(final) > 0.01  # close to the guideline, not exactly on it
    rank = "CASE {0} WHEN 'S' THEN 0 WHEN 'A' THEN 1 WHEN 'B' THEN 2 WHEN 'C' THEN 3 ELSE 4 END"
    down, up = con.execute(
        f"SELECT count(*) FILTER (WHERE {rank.format('final_grade')} > {rank.format('proposed_grade')}), "
        f"count(*) FILTER (WHERE {rank.format('final_grade')} < {rank.format('proposed_grade')}) FROM grades"
    ).fetchone()
    assert down > up > 0


def test_appeal_outcomes_follow_the_rules(con, manifest):
    rank = "CASE {0} WHEN 'S' THEN 0 WHEN 'A' THEN 1 WHEN 'B' THEN 2 WHEN 'C' THEN 3 ELSE 4 END"
    rows = dict(con.execute(f"""
        SELECT status, count(*) FILTER (WHERE NOT (
          CASE status
            WHEN 'upheld' THEN {rank.format('grade_after')} < {rank.format('grade_before')}
            WHEN 'partially_upheld' THEN {rank.format('grade_after')} < {rank.format('grade_before')}
            WHEN 'rejected' THEN grade_after = grade_before
            ELSE grade_after IS NULL END)) FROM appeals GROUP BY 1
    """).fetchall())
    assert set(rows) >= {"upheld", "partially_upheld", "rejected", "withdrawn"}
    assert all(bad == 0 for bad in rows.values()), rows
    assert scalar(con, """
        SELECT count(*) FROM appeals a JOIN cycles c USING (cycle_id)
        WHERE filed_on - c.end_date NOT BETWEEN 7 AND 20
           OR (status = 'open') <> (resolved_on IS NULL)
           OR resolved_on - filed_on NOT BETWEEN 2 AND 40
    """) == 0
    open_by_cycle = dict(con.execute("SELECT cycle_id, avg((status = 'open')::INT) FROM appeals GROUP BY 1").fetchall())
    assert open_by_cycle.pop(manifest.cycle_ids[-1]) > 0.05
    assert set(open_by_cycle.values()) == {0}


def test_appeal_ids_name_their_cycle(con):
    assert scalar(con, "SELECT count(*) FROM appeals WHERE NOT starts_with(appeal_id, 'AP-' || cycle_id || '-')") == 0
    assert scalar(con, "SELECT count(*) FROM goals WHERE NOT starts_with(goal_id, cycle_id || '-G')") == 0


# ---------------------------------------------------------------- planted phenomena


def manager_minus_peer_gaps(con) -> dict[str, float]:
    """Per manager, over all cycles: mean manager rating they gave minus the mean peer rating their reports got."""
    return dict(con.execute("""
        WITH given AS (
          SELECT r.cycle_id, r.rater_id AS manager_id, avg(score) AS manager_mean FROM ratings r WHERE rater_role = 'manager' GROUP BY ALL),
        peers AS (
          SELECT r.cycle_id, e.manager_id, avg(score) AS peer_mean FROM ratings r
          JOIN employees e ON e.cycle_id = r.cycle_id AND e.employee_id = r.ratee_id WHERE rater_role = 'peer' GROUP BY ALL)
        SELECT manager_id, avg(manager_mean - peer_mean) FROM given JOIN peers USING (cycle_id, manager_id) GROUP BY 1
    """).fetchall())


def test_lenient_and_severe_raters_stand_clear_of_everyone_else(con, manifest):
    gaps = manager_minus_peer_gaps(con)
    planted = set(manifest.lenient_rater_ids) | set(manifest.severe_rater_ids)
    others = [gap for manager, gap in gaps.items() if manager not in planted]
    assert len(manifest.lenient_rater_ids) == len(manifest.severe_rater_ids) == 4
    low, *_, high = statistics.quantiles(others, n=20)  # 5th and 95th percentiles
    assert min(gaps[m] for m in manifest.lenient_rater_ids) > 0.4 > high
    assert max(gaps[m] for m in manifest.severe_rater_ids) < -0.4 < low
    assert abs(statistics.mean(others)) < 0.15


def test_planted_raters_manage_at_least_six_people_in_every_cycle(con, manifest):
    rows = con.execute("""
        SELECT manager_id, count(DISTINCT cycle_id), min(reports) FROM (
          SELECT cycle_id, manager_id, count(*) AS reports FROM employees GROUP BY ALL)
        WHERE list_contains(?, manager_id) GROUP BY 1
    """, [[*manifest.lenient_rater_ids, *manifest.severe_rater_ids]]).fetchall()
    assert len(rows) == 8
    assert all(cycles == SMALL["cycles"] and reports >= 6 for _, cycles, reports in rows)


def test_lenient_managers_propose_more_top_grades(con, manifest):
    lenient, others = con.execute("""
        SELECT avg((proposed_grade IN ('S', 'A'))::INT) FILTER (WHERE list_contains(?, proposed_by)),
               avg((proposed_grade IN ('S', 'A'))::INT) FILTER (WHERE NOT list_contains(?, proposed_by))
        FROM grades
    """, [list(manifest.lenient_rater_ids), list(manifest.lenient_rater_ids)]).fetchone()
    assert lenient > others + 0.2


@pytest.mark.parametrize("grade_column", ["proposed_grade", "final_grade"])
def test_the_drifting_department_s_and_a_share_rises_every_cycle(con, manifest, grade_column):
    shares = [share for _, share in con.execute(f"""
        SELECT g.cycle_id, avg(({grade_column} IN ('S', 'A'))::INT)
        FROM grades g JOIN employees e USING (cycle_id, employee_id) JOIN org_units u ON u.unit_id = e.unit_id
        JOIN cycles c USING (cycle_id)
        WHERE ? IN (u.unit_id, u.parent_unit_id) GROUP BY g.cycle_id, c.start_date ORDER BY c.start_date
    """, [manifest.drifting_department_id]).fetchall()]
    assert len(shares) == SMALL["cycles"]
    assert all(later > earlier for earlier, later in zip(shares, shares[1:])), shares
    assert shares[-1] - shares[0] > 0.15


def test_the_spike_cycle_has_at_least_twice_the_usual_appeal_rate_mostly_downgrades_and_unclear_criteria(con, manifest):
    rates = dict(con.execute("""
        SELECT g.cycle_id, count(a.appeal_id) / count(*) FROM grades g
        LEFT JOIN appeals a USING (cycle_id, employee_id) GROUP BY 1
    """).fetchall())
    spike = rates.pop(manifest.appeal_spike_cycle_id)
    assert spike >= 2 * statistics.median(rates.values())
    assert all(0.02 <= rate <= 0.07 for rate in rates.values()), rates
    top_reasons = scalar(con, """
        SELECT avg((reason IN ('calibration_downgrade', 'unclear_criteria'))::INT) FROM appeals WHERE cycle_id = ?
    """, [manifest.appeal_spike_cycle_id])
    assert top_reasons > 0.6


def test_the_spike_is_the_third_cycle_from_the_end(manifest):
    assert manifest.appeal_spike_cycle_id == manifest.cycle_ids[-3]


def test_reports_of_severe_managers_appeal_more_often(con, manifest):
    severe, others = con.execute("""
        SELECT avg((a.appeal_id IS NOT NULL)::INT) FILTER (WHERE list_contains(?, g.proposed_by)),
               avg((a.appeal_id IS NOT NULL)::INT) FILTER (WHERE NOT list_contains(?, g.proposed_by))
        FROM grades g LEFT JOIN appeals a USING (cycle_id, employee_id)
    """, [list(manifest.severe_rater_ids)] * 2).fetchone()
    assert severe > 2 * others


# ---------------------------------------------------------------- default size


def test_the_default_size_demo_generates(tmp_path):
    manifest = generate(tmp_path / "demo")
    con = connect(tmp_path / "demo")
    assert manifest.employees == 2000 and len(manifest.cycle_ids) == 6 and manifest.seed == 7
    assert con.execute("SELECT DISTINCT count(*) FROM employees GROUP BY cycle_id").fetchall() == [(2000,)]
    gaps = manager_minus_peer_gaps(con)
    assert all(gaps[m] > 0.4 for m in manifest.lenient_rater_ids)
    assert all(gaps[m] < -0.4 for m in manifest.severe_rater_ids)
    by_region, by_department = attainment_by(con, "region"), attainment_by(con, "department")
    assert min(by_region, key=by_region.get) == manifest.weak_region
    assert max(by_department, key=by_department.get) == manifest.strong_department_id


def test_the_default_demo_validates_clean_and_renders_the_overview(tmp_path, monkeypatch):
    """The quickstart's promise: `gradelens validate data/demo` is clean, and the app opens on it."""
    from streamlit.testing.v1 import AppTest

    from gradelens.cli import main
    from gradelens.dataset import open_dataset
    from gradelens.validate import validate

    folder = tmp_path / "demo"
    generate(folder)
    assert validate(open_dataset(folder)) == []
    assert main(["validate", str(folder)]) == 0
    monkeypatch.setenv("GRADELENS_DATA", str(folder))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "pages" / "overview.py"), default_timeout=60).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Employees"] == "2,000"
