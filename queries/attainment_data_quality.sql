-- Which goals of a cycle break the attainment rules, and how does attainment treat them?
-- One row per problem: target_not_positive (target <= 0 or empty: the goal has no attainment),
-- weight_out_of_range (weight <= 0, above 1 or empty: a weight <= 0 leaves the goal out of its
-- owner's attainment, one above 1 is kept), weights_not_one (an owner whose goal weights do not
-- sum to 1; goal_id is empty: its attainment divides by the weights of the goals that have an
-- attainment, which normalises them), parent_missing and parent_other_cycle (the parent link
-- points to no goal or to a goal of another cycle: the goal is shown as unlinked, a root of the
-- cascade), actual_outside_cycle (actuals dated before the cycle's start or after its end:
-- ignored). value is the target, the weight, the owner's weight sum or the number of such
-- actuals; related_id the parent goal named; first_date / last_date the actuals' dates.
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only goals owned in this department_id: by its employees, by the
-- department or by its teams (default: all; company goals belong to no department).
-- @needs cycles, goals
-- @returns issue, goal_id, owner_type, owner_id, value, related_id, first_date, last_date
WITH cycle_goals AS (
    SELECT * FROM goals WHERE cycle_id = $cycle
),
bounds AS (
    SELECT start_date, end_date FROM cycles WHERE cycle_id = $cycle
),
-- An actual's cycle_id is its goal's cycle (its partition, or looked up for a flat file), so
-- this reads one cycle's actuals; materialised so that only the few dated outside the cycle
-- reach the join with the goals (joined first, all 5M of a cycle's actuals at 200k were).
outside_actuals AS MATERIALIZED (
    SELECT a.goal_id, a.as_of
    FROM kpi_actuals AS a, bounds
    WHERE a.cycle_id = $cycle AND (a.as_of < bounds.start_date OR a.as_of > bounds.end_date)
),
problems AS (
    SELECT 'target_not_positive' AS issue, goal_id, owner_type, owner_id, target AS value,
           CAST(NULL AS VARCHAR) AS related_id, CAST(NULL AS DATE) AS first_date, CAST(NULL AS DATE) AS last_date
    FROM cycle_goals WHERE target IS NULL OR target <= 0
    UNION ALL
    SELECT 'weight_out_of_range', goal_id, owner_type, owner_id, weight, NULL, NULL, NULL
    FROM cycle_goals WHERE weight IS NULL OR weight <= 0 OR weight > 1
    UNION ALL
    SELECT 'weights_not_one', NULL, owner_type, owner_id, sum(weight), NULL, NULL, NULL
    FROM cycle_goals
    GROUP BY owner_type, owner_id
    HAVING sum(weight) IS NULL OR abs(sum(weight) - 1.0) > 1e-6
    UNION ALL
    SELECT
        CASE WHEN g.parent_goal_id IN (SELECT goal_id FROM cycle_foreign_parents($cycle)) THEN 'parent_other_cycle' ELSE 'parent_missing' END,
        g.goal_id, g.owner_type, g.owner_id, NULL, g.parent_goal_id, NULL, NULL
    FROM cycle_goals AS g
    WHERE g.parent_goal_id IS NOT NULL AND g.parent_goal_id NOT IN (SELECT goal_id FROM cycle_goals)
    UNION ALL
    SELECT 'actual_outside_cycle', g.goal_id, g.owner_type, g.owner_id, count(*), NULL, min(a.as_of), max(a.as_of)
    FROM outside_actuals AS a
    JOIN cycle_goals AS g ON g.goal_id = a.goal_id
    GROUP BY g.goal_id, g.owner_type, g.owner_id
)
SELECT problems.*
FROM problems
LEFT JOIN employee_units AS owner_employee
    ON problems.owner_type = 'employee' AND owner_employee.cycle_id = $cycle AND owner_employee.employee_id = problems.owner_id
LEFT JOIN unit_departments AS owner_unit
    ON problems.owner_type <> 'employee' AND owner_unit.unit_id = problems.owner_id
WHERE $department IS NULL OR coalesce(owner_employee.department_id, owner_unit.department_id) = $department
ORDER BY
    CASE issue
        WHEN 'target_not_positive' THEN 1 WHEN 'weight_out_of_range' THEN 2 WHEN 'weights_not_one' THEN 3
        WHEN 'parent_missing' THEN 4 WHEN 'parent_other_cycle' THEN 5 ELSE 6
    END,
    owner_type, owner_id, goal_id;
