-- Shared definitions every named query builds on (docs/data-contract.md, "Shared definitions").
-- Table macros use prefixed aliases inside (cga_, eg_): DuckDB substitutes macro arguments
-- into the body, so an outer alias such as `c` passed in as c.cycle_id would be captured.
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
WITH cga_cycle_goals AS (
    -- Cycle dates join on cycle_id (an equi-join), so the date window below is a plain
    -- filter; a cross join with the bounds made DuckDB plan a nested-loop join.
    SELECT cga_goal.*, cga_cycle.start_date AS window_start, least(cga_cycle.end_date, coalesce(until_date, cga_cycle.end_date)) AS window_end
    FROM goals AS cga_goal JOIN cycles AS cga_cycle ON cga_cycle.cycle_id = cga_goal.cycle_id
    WHERE cga_goal.cycle_id = for_cycle
),
cga_latest AS (
    SELECT cga_actual.goal_id, arg_max(cga_actual.actual, cga_actual.as_of) AS actual, max(cga_actual.as_of) AS actual_as_of
    FROM kpi_actuals AS cga_actual
    JOIN cga_cycle_goals AS cga_goal ON cga_goal.goal_id = cga_actual.goal_id
    WHERE cga_actual.as_of >= cga_goal.window_start AND cga_actual.as_of <= cga_goal.window_end
    GROUP BY cga_actual.goal_id
)
SELECT
    cga_goal.* EXCLUDE (window_start, window_end),
    cga_latest.actual,
    cga_latest.actual_as_of,
    goal_attainment(cga_latest.actual, cga_goal.target, cga_goal.direction, (SELECT attainment_cap FROM policy_settings)) AS attainment
FROM cga_cycle_goals AS cga_goal
LEFT JOIN cga_latest ON cga_latest.goal_id = cga_goal.goal_id;

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
    eg_employee.cycle_id,
    eg_employee.employee_id,
    eg_employee.department_id,
    eg_employee.region,
    coalesce(CASE group_by
        WHEN 'department' THEN eg_employee.department_id
        WHEN 'region' THEN eg_employee.region
        WHEN 'job_level' THEN eg_employee.job_level
        WHEN 'manager' THEN eg_employee.manager_id
    END, '(none)') AS group_id,
    CASE group_by
        WHEN 'department' THEN eg_employee.department
        WHEN 'region' THEN coalesce(eg_employee.region, '(no region)')
        WHEN 'job_level' THEN coalesce(eg_employee.job_level, '(no job level)')
        WHEN 'manager' THEN coalesce(eg_manager.name, eg_employee.manager_id, '(no manager)')
    END AS group_name
FROM employee_units AS eg_employee
LEFT JOIN employees AS eg_manager ON eg_manager.cycle_id = eg_employee.cycle_id AND eg_manager.employee_id = eg_employee.manager_id;

-- Each goal of a cycle with every ancestor (itself at steps 0), following parent links within
-- the cycle only (a parent that is missing or in another cycle is not followed). The top
-- ancestor is the one with the most steps; a goal inherits its strategy theme from it.
CREATE MACRO cycle_goal_ancestors(for_cycle) AS TABLE
WITH RECURSIVE gt_goal AS (
    SELECT goal_id, parent_goal_id FROM goals WHERE cycle_id = for_cycle
),
gt_linked AS (
    SELECT gt_goal.goal_id, gt_parent.goal_id AS linked_parent_id
    FROM gt_goal LEFT JOIN gt_goal AS gt_parent ON gt_parent.goal_id = gt_goal.parent_goal_id
),
gt_walk(goal_id, ancestor_id, steps) AS (
    SELECT goal_id, goal_id, 0 FROM gt_linked
    UNION ALL
    SELECT gt_walk.goal_id, gt_linked.linked_parent_id, gt_walk.steps + 1
    FROM gt_walk JOIN gt_linked ON gt_linked.goal_id = gt_walk.ancestor_id
    WHERE gt_linked.linked_parent_id IS NOT NULL AND gt_walk.steps < 64  -- guards against loops in bad data
)
SELECT goal_id, ancestor_id, steps FROM gt_walk;
