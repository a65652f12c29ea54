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
-- Units outside any department (the company root) get NULL. A table, not a view: the org
-- chart is small and nearly every query needs it, so the walk is done once per connection.
CREATE TABLE unit_departments AS
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
-- their attainment. Actuals dated outside the cycle are ignored (cycle_actuals, gradelens/derived.py).
-- At the cycle's end the latest actuals come precomputed (goal_end_actuals); DuckDB drops the
-- branch whose condition is false for the bound `until_date`, so only one of them runs.
CREATE MACRO cycle_goal_attainment(for_cycle, until_date) AS TABLE
WITH cga_latest AS (
    SELECT goal_id, actual, actual_as_of
    FROM goal_end_actuals
    WHERE cycle_id = for_cycle AND until_date IS NULL
    UNION ALL
    SELECT cga_actual.goal_id, arg_max(cga_actual.actual, cga_actual.as_of), max(cga_actual.as_of)
    FROM cycle_actuals AS cga_actual
    WHERE cga_actual.cycle_id = for_cycle AND until_date IS NOT NULL AND cga_actual.as_of <= until_date
    GROUP BY cga_actual.goal_id
)
SELECT
    cga_goal.*,
    cga_latest.actual,
    cga_latest.actual_as_of,
    goal_attainment(cga_latest.actual, cga_goal.target, cga_goal.direction, (SELECT attainment_cap FROM policy_settings)) AS attainment
FROM goals AS cga_goal
LEFT JOIN cga_latest ON cga_latest.goal_id = cga_goal.goal_id
WHERE cga_goal.cycle_id = for_cycle;

-- Every cycle's goals at the cycle's end, with their latest actual and attainment: for questions
-- across cycles (trends), one pass instead of one macro call per cycle.
CREATE VIEW goal_end_attainment AS
SELECT
    g.*,
    e.actual,
    e.actual_as_of,
    goal_attainment(e.actual, g.target, g.direction, (SELECT attainment_cap FROM policy_settings)) AS attainment
FROM goals AS g
LEFT JOIN goal_end_actuals AS e ON e.cycle_id = g.cycle_id AND e.goal_id = g.goal_id;

-- Owner attainment (as owner_attainment below) of every cycle at its end. Queries read
-- owner_end_attainment: these rows precomputed (gradelens/derived.py), or this view.
CREATE VIEW owner_end_attainment_computed AS
SELECT
    cycle_id,
    owner_type,
    owner_id,
    sum(weight * attainment) / sum(weight) AS attainment,
    count(*) AS goals_with_actuals
FROM goal_end_attainment
WHERE attainment IS NOT NULL AND weight > 0
GROUP BY cycle_id, owner_type, owner_id;

-- Replaced by the precomputed rows when they are current (gradelens/derived.py, attach_owners).
CREATE VIEW owner_end_attainment AS SELECT * FROM owner_end_attainment_computed;

-- An owner's attainment: sum(weight * attainment) / sum(weight) over its goals that have an
-- attainment. Dividing by the weights present normalises weights that do not sum to 1.
-- At the cycle's end (until_date NULL) the figures come from owner_end_attainment (precomputed
-- or computed); DuckDB drops the branch whose condition is false for a bound `until_date`.
CREATE MACRO owner_attainment(for_cycle, until_date) AS TABLE
SELECT owner_type, owner_id, attainment, goals_with_actuals
FROM owner_end_attainment
WHERE cycle_id = for_cycle AND until_date IS NULL
UNION ALL
SELECT
    owner_type,
    owner_id,
    sum(weight * attainment) / sum(weight) AS attainment,
    count(*) AS goals_with_actuals
FROM cycle_goal_attainment(for_cycle, until_date)
WHERE until_date IS NOT NULL AND attainment IS NOT NULL AND weight > 0
GROUP BY owner_type, owner_id;

-- The goals of one cycle at several dates (a DATE[] list `until_dates`): one row per goal and
-- date (goal_id, owner, target, direction, weight) with its latest actual up to that date. An ASOF join does all dates in one pass over the
-- cycle's actuals; it matches on hash(goal_id) because sorting 64-bit hashes is several times
-- faster than sorting the ids. Two ids with the same hash (odds about n^2 / 2^65 for n goals:
-- 1 in 10^7 at a million goals) can only lose a goal's actual (NULL), never lend it another's.
CREATE MACRO cycle_goal_attainment_series(for_cycle, until_dates) AS TABLE
WITH cgs_goal AS (
    -- Only the columns owner figures need: the join sorts everything it carries.
    SELECT cgs_point.until_date, hash(cgs_g.goal_id) AS cgs_key, cgs_g.goal_id, cgs_g.owner_type, cgs_g.owner_id,
           cgs_g.target, cgs_g.direction, cgs_g.weight
    FROM (SELECT unnest(until_dates) AS until_date) AS cgs_point, goals AS cgs_g
    WHERE cgs_g.cycle_id = for_cycle
),
cgs_actual AS (
    SELECT hash(goal_id) AS cgs_key, goal_id, as_of, actual FROM cycle_actuals WHERE cycle_id = for_cycle
),
cgs_matched AS (
    SELECT
        cgs_goal.* EXCLUDE (cgs_key),
        CASE WHEN cgs_actual.goal_id = cgs_goal.goal_id THEN cgs_actual.actual END AS actual,
        CASE WHEN cgs_actual.goal_id = cgs_goal.goal_id THEN cgs_actual.as_of END AS actual_as_of
    FROM cgs_goal
    ASOF LEFT JOIN cgs_actual ON cgs_actual.cgs_key = cgs_goal.cgs_key AND cgs_goal.until_date >= cgs_actual.as_of
)
SELECT
    cgs_matched.*,
    goal_attainment(cgs_matched.actual, cgs_matched.target, cgs_matched.direction, (SELECT attainment_cap FROM policy_settings)) AS attainment
FROM cgs_matched;

-- owner_attainment at each of several dates.
CREATE MACRO owner_attainment_series(for_cycle, until_dates) AS TABLE
SELECT
    until_date,
    owner_type,
    owner_id,
    sum(weight * attainment) / sum(weight) AS attainment,
    count(*) AS goals_with_actuals
FROM cycle_goal_attainment_series(for_cycle, until_dates)
WHERE attainment IS NOT NULL AND weight > 0
GROUP BY until_date, owner_type, owner_id;

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

-- Parent goal ids that this cycle's goals link to but that belong to another cycle (their link
-- is not followed: parent_issue 'parent_other_cycle'). Few, so `IN` this set is a small lookup,
-- where `IN (SELECT goal_id FROM goals)` built a hash table of every goal of every cycle.
CREATE MACRO cycle_foreign_parents(for_cycle) AS TABLE
WITH fp_unfound AS (
    SELECT DISTINCT fp_child.parent_goal_id AS goal_id
    FROM goals AS fp_child
    WHERE fp_child.cycle_id = for_cycle
      AND fp_child.parent_goal_id IS NOT NULL
      AND fp_child.parent_goal_id NOT IN (SELECT goal_id FROM goals WHERE cycle_id = for_cycle AND goal_id IS NOT NULL)
)
SELECT DISTINCT goals.goal_id FROM goals JOIN fp_unfound ON fp_unfound.goal_id = goals.goal_id;


-- The goal tree of one cycle, one row per goal: the parent link that counts (linked_parent_id,
-- a goal of the same cycle), why a link does not count (parent_issue: parent_missing or
-- parent_other_cycle), the top ancestor, the depth (links up to it) and the path of goal ids
-- from the top ancestor down to the goal itself, as cycle_goal_ancestors gives them. It depends
-- on goals only (not on actuals or an as-of date), so it is precomputed per cycle when the
-- derived tables are current (gradelens/derived.py, attach_tree replaces cycle_goal_tree).
-- Walked down from the roots (one row per goal, where walking up from every goal makes one per
-- goal and ancestor: 0.9M rows instead of 3.3M at 200,000 employees); goals in a loop of links
-- (bad data), which no root reaches, are walked up as cycle_goal_ancestors does.
CREATE MACRO cycle_goal_tree_computed(for_cycle) AS TABLE
WITH RECURSIVE gtc_goal AS (
    SELECT goal_id, parent_goal_id FROM goals WHERE cycle_id = for_cycle
),
gtc_linked AS (
    SELECT gtc_goal.goal_id, gtc_goal.parent_goal_id, gtc_parent.goal_id AS linked_parent_id
    FROM gtc_goal LEFT JOIN gtc_goal AS gtc_parent ON gtc_parent.goal_id = gtc_goal.parent_goal_id
),
gtc_down(goal_id, top_goal_id, depth, path) AS (
    SELECT goal_id, goal_id, 0, [goal_id] FROM gtc_linked WHERE linked_parent_id IS NULL
    UNION ALL
    SELECT gtc_child.goal_id, gtc_down.top_goal_id, gtc_down.depth + 1, list_append(gtc_down.path, gtc_child.goal_id)
    FROM gtc_down JOIN gtc_linked AS gtc_child ON gtc_child.linked_parent_id = gtc_down.goal_id
),
gtc_unreached AS (
    SELECT goal_id, linked_parent_id FROM gtc_linked WHERE goal_id NOT IN (SELECT goal_id FROM gtc_down)
),
gtc_up(goal_id, ancestor_id, steps) AS (
    SELECT goal_id, goal_id, 0 FROM gtc_unreached
    UNION ALL
    SELECT gtc_up.goal_id, gtc_unreached.linked_parent_id, gtc_up.steps + 1
    FROM gtc_up JOIN gtc_unreached ON gtc_unreached.goal_id = gtc_up.ancestor_id
    WHERE gtc_unreached.linked_parent_id IS NOT NULL AND gtc_up.steps < 64  -- as cycle_goal_ancestors
),
gtc_placed AS (
    SELECT * FROM gtc_down
    UNION ALL
    SELECT goal_id, arg_max(ancestor_id, steps), max(steps), list(ancestor_id ORDER BY steps DESC)
    FROM gtc_up GROUP BY goal_id
)
SELECT
    gtc_linked.goal_id,
    gtc_linked.linked_parent_id,
    CASE
        WHEN gtc_linked.parent_goal_id IS NULL OR gtc_linked.linked_parent_id IS NOT NULL THEN NULL
        WHEN gtc_linked.parent_goal_id IN (SELECT goal_id FROM cycle_foreign_parents(for_cycle)) THEN 'parent_other_cycle'
        ELSE 'parent_missing'
    END AS parent_issue,
    gtc_placed.top_goal_id,
    gtc_placed.depth,
    gtc_placed.path
FROM gtc_linked JOIN gtc_placed USING (goal_id);

-- Replaced by a read of the precomputed rows when they are current (derived.attach_tree).
CREATE MACRO cycle_goal_tree(for_cycle) AS TABLE
SELECT * FROM cycle_goal_tree_computed(for_cycle);
