-- Shared definitions every named query builds on (docs/data-contract.md, "Shared definitions").
-- Loaded once per dataset connection, after the table views and the policy tables.

-- goal_attainment(actual, target, direction, cap)
-- higher_better: actual / target; lower_better: max(0, 2 - actual / target); clipped to [0, cap].
-- NULL when there is no actual or the target is not positive (such goals are excluded, not zero).
CREATE MACRO goal_attainment(actual, target, direction, cap) AS
    CASE
        WHEN actual IS NULL OR target IS NULL OR target <= 0 THEN NULL
        WHEN direction = 'higher_better' THEN least(cap, greatest(0.0, actual / target))
        WHEN direction = 'lower_better' THEN least(cap, greatest(0.0, 2.0 - actual / target))
    END;

-- The department of each org unit: the nearest ancestor (or itself) of type department.
-- Units outside any department (the company root) get NULL.
CREATE VIEW unit_departments AS
WITH RECURSIVE walk(unit_id, ancestor_id, depth) AS (
    SELECT unit_id, unit_id, 0 FROM org_units
    UNION ALL
    SELECT walk.unit_id, org_units.parent_unit_id, walk.depth + 1
    FROM walk JOIN org_units ON org_units.unit_id = walk.ancestor_id
    WHERE org_units.parent_unit_id IS NOT NULL AND walk.depth < 64  -- guards against cycles in bad data
)
SELECT walk.unit_id, arg_min(walk.ancestor_id, walk.depth) AS department_id
FROM walk JOIN org_units AS ancestor ON ancestor.unit_id = walk.ancestor_id
WHERE ancestor.unit_type = 'department'
GROUP BY walk.unit_id;

-- Employees of every cycle with their unit, department and team names resolved.
CREATE VIEW employee_units AS
SELECT
    e.cycle_id,
    e.employee_id,
    e.name,
    e.unit_id,
    unit.name AS unit_name,
    d.department_id,
    coalesce(department.name, '(no department)') AS department,
    e.region,
    e.job_level,
    e.manager_id,
    e.hire_date
FROM employees AS e
LEFT JOIN org_units AS unit ON unit.unit_id = e.unit_id
LEFT JOIN unit_departments AS d ON d.unit_id = e.unit_id
LEFT JOIN org_units AS department ON department.unit_id = d.department_id;

-- The goals of one cycle with their latest actual up to `until_date` (NULL: the cycle's end) and
-- their attainment. Actuals dated outside the cycle are ignored.
CREATE MACRO cycle_goal_attainment(for_cycle, until_date) AS TABLE
WITH cycle_goals AS (
    -- Cycle dates join on cycle_id (an equi-join), so the date window below is a plain
    -- filter; a cross join with the bounds made DuckDB plan a nested-loop join.
    SELECT g.*, c.start_date AS window_start, least(c.end_date, coalesce(until_date, c.end_date)) AS window_end
    FROM goals AS g JOIN cycles AS c ON c.cycle_id = g.cycle_id
    WHERE g.cycle_id = for_cycle
),
latest AS (
    SELECT a.goal_id, arg_max(a.actual, a.as_of) AS actual, max(a.as_of) AS actual_as_of
    FROM kpi_actuals AS a
    JOIN cycle_goals AS g ON g.goal_id = a.goal_id
    WHERE a.as_of >= g.window_start AND a.as_of <= g.window_end
    GROUP BY a.goal_id
)
SELECT
    g.* EXCLUDE (window_start, window_end),
    latest.actual,
    latest.actual_as_of,
    goal_attainment(latest.actual, g.target, g.direction, (SELECT attainment_cap FROM policy_settings)) AS attainment
FROM cycle_goals AS g
LEFT JOIN latest ON latest.goal_id = g.goal_id;

-- An owner's attainment: sum(weight * attainment) / sum(weight) over its goals that have an
-- attainment. Dividing by the weights present normalises weights that do not sum to 1.
CREATE MACRO owner_attainment(for_cycle, until_date) AS TABLE
SELECT
    owner_type,
    owner_id,
    sum(weight * attainment) / sum(weight) AS attainment,
    count(*) AS goals_with_actuals
FROM cycle_goal_attainment(for_cycle, until_date)
WHERE attainment IS NOT NULL AND weight > 0
GROUP BY owner_type, owner_id;

-- The group each employee belongs to in every cycle, for "group by" choices:
-- department, region, job_level, or manager (a manager's group is their direct reports).
-- People without that attribute form the group '(none)'.
CREATE MACRO employee_groups(group_by) AS TABLE
SELECT
    e.cycle_id,
    e.employee_id,
    e.department_id,
    e.region,
    coalesce(CASE group_by
        WHEN 'department' THEN e.department_id
        WHEN 'region' THEN e.region
        WHEN 'job_level' THEN e.job_level
        WHEN 'manager' THEN e.manager_id
    END, '(none)') AS group_id,
    CASE group_by
        WHEN 'department' THEN e.department
        WHEN 'region' THEN coalesce(e.region, '(no region)')
        WHEN 'job_level' THEN coalesce(e.job_level, '(no job level)')
        WHEN 'manager' THEN coalesce(manager.name, e.manager_id, '(no manager)')
    END AS group_name
FROM employee_units AS e
LEFT JOIN employees AS manager ON manager.cycle_id = e.cycle_id AND manager.employee_id = e.manager_id;
