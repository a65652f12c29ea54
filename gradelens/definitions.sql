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

-- Every org unit with its name, department and department name: one small join for each
-- employee row instead of three (employee rows are millions; units are thousands).
CREATE TABLE unit_lookup AS
SELECT unit.unit_id, unit.name AS unit_name, d.department_id, department.name AS department
FROM org_units AS unit
LEFT JOIN unit_departments AS d ON d.unit_id = unit.unit_id
LEFT JOIN org_units AS department ON department.unit_id = d.department_id;

-- Employees of every cycle with their unit, department and team names resolved.
CREATE VIEW employee_units AS
SELECT
    e.cycle_id,
    e.employee_id,
    e.name,
    e.unit_id,
    unit.unit_name,
    unit.department_id,
    coalesce(unit.department, '(no department)') AS department,
    e.region,
    e.job_level,
    e.manager_id,
    e.hire_date
FROM employees AS e
LEFT JOIN unit_lookup AS unit ON unit.unit_id = e.unit_id;

-- Everyone with a grade, with the unit attributes the grade questions group and filter by:
-- grades joined to employee_units. Every multi-cycle grade and appeal question starts with this
-- join (1.6M x 1.6M rows at 200,000 employees x 8 cycles), so gradelens/derived.py writes it
-- once per data version and replaces this view with those rows.
CREATE VIEW graded_people AS
SELECT
    g.cycle_id,
    g.employee_id,
    u.name,
    g.proposed_grade,
    g.final_grade,
    u.department_id,
    u.department,
    u.region,
    u.job_level,
    u.manager_id
FROM grades AS g
JOIN employee_units AS u USING (cycle_id, employee_id);

-- The KPI actuals dated within their goal's cycle (kpi_actuals carries its goal's cycle_id:
-- imports and the demo write it partitioned by cycle). Actuals dated outside are ignored.
CREATE VIEW cycle_actuals AS
SELECT k.cycle_id, k.goal_id, k.as_of, k.actual
FROM kpi_actuals AS k JOIN cycles AS c ON c.cycle_id = k.cycle_id
WHERE k.as_of BETWEEN c.start_date AND c.end_date;

-- Each goal's latest actual dated within its cycle. Queries read goal_end_actuals: these rows
-- precomputed (gradelens/derived.py), or this view.
CREATE VIEW goal_end_actuals AS
SELECT cycle_id, goal_id, arg_max(actual, as_of) AS actual, max(as_of) AS actual_as_of
FROM cycle_actuals
GROUP BY cycle_id, goal_id;

-- The goals of one cycle with their latest actual up to `until_date` (NULL: the cycle's end) and
-- their attainment. Actuals dated outside the cycle are ignored (cycle_actuals).
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

-- Replaced by the precomputed rows when they are current (gradelens/derived.py, attach).
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

-- The month ends within each cycle, before its end (the end itself is owner_end_attainment's):
-- with the end, the points of attainment_trend's default view.
CREATE VIEW cycle_month_ends AS
SELECT cycle_id, until_date
FROM (
    SELECT cycle_id, start_date, end_date,
           CAST(unnest(generate_series(CAST(date_trunc('month', start_date) AS TIMESTAMP), CAST(end_date AS TIMESTAMP), INTERVAL 1 MONTH))
                + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS until_date
    FROM cycles
)
WHERE until_date >= start_date AND until_date < end_date;

-- Each owner's attainment (as owner_attainment) at every month end of cycle_month_ends. Queries
-- read owner_month_attainment: these rows precomputed (gradelens/derived.py), or this view.
-- Each goal's actuals are gathered into one date-sorted list and each month end's latest actual
-- is looked up in it: no row per goal and date is sorted or joined (an ASOF join of every goal
-- with every month end held 26M goal-dates and 8.5 GB at 1M employees). Actuals without a value
-- are left out, as arg_max in cycle_goal_attainment leaves them out.
CREATE VIEW owner_month_attainment_computed AS
WITH oma_actuals AS (
    -- list_sort of (date, actual) pairs: several times faster than an ordered aggregate list(... ORDER BY)
    SELECT cycle_id, goal_id, list_sort(list({'as_of': as_of, 'actual': actual})) AS dated
    FROM cycle_actuals
    WHERE actual IS NOT NULL
    GROUP BY cycle_id, goal_id
),
oma_goal AS (
    SELECT
        oma_point.cycle_id,
        oma_point.until_date,
        oma_g.owner_type,
        oma_g.owner_id,
        oma_g.weight,
        goal_attainment(oma_a.dated[len(list_filter(oma_a.dated, lambda d: d.as_of <= oma_point.until_date))].actual,
                        oma_g.target, oma_g.direction, (SELECT attainment_cap FROM policy_settings)) AS attainment
    FROM goals AS oma_g
    JOIN cycle_month_ends AS oma_point ON oma_point.cycle_id = oma_g.cycle_id
    LEFT JOIN oma_actuals AS oma_a ON oma_a.cycle_id = oma_g.cycle_id AND oma_a.goal_id = oma_g.goal_id
)
SELECT
    cycle_id,
    until_date,
    owner_type,
    owner_id,
    sum(weight * attainment) / sum(weight) AS attainment,
    count(*) AS goals_with_actuals
FROM oma_goal
WHERE attainment IS NOT NULL AND weight > 0
GROUP BY cycle_id, until_date, owner_type, owner_id;

-- Replaced by the precomputed rows when they are current (gradelens/derived.py, attach).
CREATE VIEW owner_month_attainment AS SELECT * FROM owner_month_attainment_computed;

-- Everyone graded with the group they belong to in each cycle, for "group by" choices:
-- department, region, job_level, or manager (a manager's group is their direct reports).
-- People without that attribute form the group '(none)'. Managers' names need a second pass
-- over employees; DuckDB drops the branch whose condition is false for the bound group_by, so
-- the other groupings do not pay for it.
CREATE MACRO graded_groups(group_by) AS TABLE
SELECT
    gg_person.*,
    coalesce(CASE group_by
        WHEN 'department' THEN gg_person.department_id
        WHEN 'region' THEN gg_person.region
        WHEN 'job_level' THEN gg_person.job_level
    END, '(none)') AS group_id,
    CASE group_by
        WHEN 'department' THEN gg_person.department
        WHEN 'region' THEN coalesce(gg_person.region, '(no region)')
        WHEN 'job_level' THEN coalesce(gg_person.job_level, '(no job level)')
    END AS group_name
FROM graded_people AS gg_person
WHERE group_by <> 'manager'
UNION ALL
SELECT
    gg_person.*,
    coalesce(gg_person.manager_id, '(none)') AS group_id,
    coalesce(gg_manager.name, gg_person.manager_id, '(no manager)') AS group_name
FROM graded_people AS gg_person
LEFT JOIN employees AS gg_manager ON gg_manager.cycle_id = gg_person.cycle_id AND gg_manager.employee_id = gg_person.manager_id
WHERE group_by = 'manager';

-- Who can own a cycle's goals: its employees and the org units, each with name, department
-- and region (company goals are placed in none).
CREATE MACRO cycle_goal_owners(for_cycle) AS TABLE
SELECT 'employee' AS owner_kind, employee_id AS owner_id, name AS owner_name, department_id, region
FROM employee_units WHERE cycle_id = for_cycle
UNION ALL
SELECT 'unit', cgo_unit.unit_id, cgo_unit.name, cgo_department.department_id, cgo_unit.region
FROM org_units AS cgo_unit LEFT JOIN unit_departments AS cgo_department ON cgo_department.unit_id = cgo_unit.unit_id;

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
-- derived tables are current (gradelens/derived.py: attach replaces cycle_goal_tree).
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

-- Replaced by a read of the precomputed rows when they are current (derived.attach).
CREATE MACRO cycle_goal_tree(for_cycle) AS TABLE
SELECT * FROM cycle_goal_tree_computed(for_cycle);
