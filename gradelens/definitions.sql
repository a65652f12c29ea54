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
    g.proposed_by,
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

-- goal_cascade (queries/goal_cascade.sql, which says what each column means) for any parameters,
-- computed from the goals, the goal tree and the actuals of one cycle. The query reads the rows of
-- its default views stored per data version instead (cycle_goal_cascade_defaults below) when its
-- parameters are those of a default view, and calls this otherwise.
CREATE MACRO cycle_goal_cascade(gc_cycle, gc_as_of, gc_department, gc_region, gc_root, gc_max_goals, gc_goals) AS TABLE
WITH RECURSIVE gcc_cycle_goals AS (
    SELECT * FROM cycle_goal_attainment(gc_cycle, gc_as_of)
),
-- The tree's columns only, for the work on every goal; the rest is joined to the goals returned.
gcc_tree AS (
    SELECT gc_t.goal_id, gc_t.linked_parent_id, gc_g.owner_type, gc_g.owner_id, gc_g.weight, gc_g.attainment
    FROM cycle_goal_tree(gc_cycle) AS gc_t JOIN gcc_cycle_goals AS gc_g USING (goal_id)
),
gcc_owners AS (
    SELECT * FROM cycle_goal_owners(gc_cycle)
),
-- Where each goal's owner sits (company goals in no department or region), for the filters.
gcc_placed AS (
    SELECT
        gc_g.*,
        gc_o.owner_name,
        CASE WHEN gc_g.owner_type <> 'company' THEN gc_o.department_id END AS department_id,
        CASE WHEN gc_g.owner_type <> 'company' THEN gc_o.region END AS region
    FROM gcc_cycle_goals AS gc_g
    LEFT JOIN gcc_owners AS gc_o
        ON gc_o.owner_kind = CASE WHEN gc_g.owner_type = 'employee' THEN 'employee' ELSE 'unit' END AND gc_o.owner_id = gc_g.owner_id
),
gcc_children AS (
    SELECT
        linked_parent_id AS goal_id,
        count(*) AS children,
        count(attainment) AS children_with_attainment,
        sum(weight * attainment) FILTER (WHERE attainment IS NOT NULL AND weight > 0)
            / sum(weight) FILTER (WHERE attainment IS NOT NULL AND weight > 0) AS children_attainment
    FROM gcc_tree
    WHERE linked_parent_id IS NOT NULL
    GROUP BY linked_parent_id
),
-- Without filters every goal is in scope; DuckDB drops the branch that does not apply.
gcc_scoped AS (
    SELECT goal_id FROM gcc_tree WHERE gc_department IS NULL AND gc_region IS NULL
    UNION ALL
    SELECT goal_id FROM gcc_placed
    WHERE (gc_department IS NOT NULL OR gc_region IS NOT NULL)
      AND (gc_department IS NULL OR department_id = gc_department)
      AND (gc_region IS NULL OR region = gc_region)
),
-- Paths (the top ancestor down to the goal) are read only for a filter or a branch.
gcc_paths AS (
    SELECT goal_id, path FROM cycle_goal_tree(gc_cycle)
    WHERE gc_department IS NOT NULL OR gc_region IS NOT NULL OR gc_root IS NOT NULL
),
-- The goals in scope with their ancestors, so the tree stays whole; then only the root's branch.
gcc_whole AS (
    SELECT goal_id FROM gcc_scoped WHERE gc_department IS NULL AND gc_region IS NULL
    UNION ALL
    SELECT DISTINCT unnest(gcc_paths.path) AS goal_id FROM gcc_paths JOIN gcc_scoped USING (goal_id)
    WHERE gc_department IS NOT NULL OR gc_region IS NOT NULL
),
gcc_shown AS (
    SELECT goal_id FROM gcc_whole WHERE gc_root IS NULL
    UNION ALL
    SELECT goal_id FROM gcc_whole
    WHERE gc_root IS NOT NULL AND goal_id IN (SELECT goal_id FROM gcc_paths WHERE list_contains(path, gc_root))
),
gcc_shown_tree AS (
    SELECT * FROM gcc_tree WHERE goal_id IN (SELECT goal_id FROM gcc_shown)
),
-- Roots with goals beneath them are always kept (no parent stands in for those goals); the
-- branch's root too.
gcc_held AS (
    SELECT goal_id, goal_id IS NOT DISTINCT FROM gc_root
        OR linked_parent_id IS NULL AND goal_id IN (SELECT linked_parent_id FROM gcc_shown_tree WHERE linked_parent_id IS NOT NULL) AS held
    FROM gcc_shown_tree
),
-- With max_goals: the lowest level kept.
gcc_detail AS (
    SELECT CASE
        WHEN coalesce(gc_max_goals, 0) <= 0 OR count(*) <= gc_max_goals THEN 'employee'
        WHEN count(*) FILTER (WHERE owner_type <> 'employee' OR held) <= gc_max_goals THEN 'team'
        ELSE 'department'
    END AS detail
    FROM gcc_shown_tree JOIN gcc_held USING (goal_id)
),
gcc_kept AS (
    SELECT
        gc_s.*,
        gcc_held.held
            OR NOT (gc_s.owner_type = 'employee' AND gcc_detail.detail IN ('team', 'department')
                    OR gc_s.owner_type = 'team' AND gcc_detail.detail = 'department') AS kept
    FROM gcc_shown_tree AS gc_s JOIN gcc_held USING (goal_id), gcc_detail
),
-- Each left-out goal counts for every left-out goal above it and the kept goal it hangs under.
-- Left-out roots (no goal beneath them) are summed per owner type instead (gcc_loose).
gcc_left_out_up(goal_id, steps) AS (
    SELECT linked_parent_id, 1 FROM gcc_kept WHERE NOT kept AND linked_parent_id IS NOT NULL
    UNION ALL
    SELECT gcc_kept.linked_parent_id, gcc_left_out_up.steps + 1
    FROM gcc_left_out_up JOIN gcc_kept USING (goal_id)
    WHERE NOT gcc_kept.kept AND gcc_left_out_up.steps < 64  -- guards against loops in bad data
),
-- The left-out goals summed per kept parent, and the left-out roots per owner type.
gcc_left_out_sums AS (
    SELECT
        linked_parent_id AS goal_id,
        CASE WHEN linked_parent_id IS NULL THEN owner_type END AS root_owner_type,
        count(*) AS left_out_children,
        sum(weight) FILTER (WHERE attainment IS NOT NULL AND weight > 0) AS weight,
        sum(weight * attainment) FILTER (WHERE attainment IS NOT NULL AND weight > 0)
            / sum(weight) FILTER (WHERE attainment IS NOT NULL AND weight > 0) AS left_out_attainment
    FROM gcc_kept
    WHERE NOT kept
    GROUP BY ALL
),
gcc_left_out AS (
    SELECT goal_id, left_out_children, left_out_attainment FROM gcc_left_out_sums WHERE goal_id IS NOT NULL
),
-- The left-out roots, one row per owner type (the attainment page's "not linked" group: at
-- 200,000 employees 24,239 individual goals that would otherwise be returned one by one).
gcc_loose AS (
    SELECT root_owner_type AS owner_type, left_out_children, weight, left_out_attainment
    FROM gcc_left_out_sums
    WHERE goal_id IS NULL AND gc_goals = 'all'
),
gcc_left_out_below AS (
    SELECT goal_id, count(*) AS left_out_goals FROM gcc_left_out_up GROUP BY goal_id
),
gcc_returned AS (
    SELECT gcc_kept.goal_id FROM gcc_kept LEFT JOIN gcc_children USING (goal_id)
    WHERE gcc_kept.kept
      AND (gc_goals = 'all' OR coalesce(round(gcc_kept.attainment, 9) >= 1.0 AND round(gcc_children.children_attainment, 9) < 0.8, false)
                             AND gcc_kept.goal_id IN (SELECT goal_id FROM gcc_scoped))
),
-- Thresholds as in gradelens/attainment.py (ON_TRACK, AT_RISK) and charts.ATTAINMENT_COLORSCALE,
-- compared after rounding to 9 decimals so 1.6 / 1.6 summed as 0.9999999999999999 is on track.
gcc_figures AS (
    SELECT
        gc_g.*,
        gc_o.owner_name,
        CASE WHEN gc_g.owner_type <> 'company' THEN gc_o.department_id END AS department_id,
        CASE WHEN gc_g.owner_type <> 'company' THEN gc_o.region END AS region,
        gc_t.linked_parent_id,
        gc_t.parent_issue,
        gc_t.top_goal_id,
        gc_t.depth,
        gc_top.strategy_theme AS inherited_theme,
        coalesce(gcc_children.children, 0) AS child_count,
        coalesce(gcc_children.children_with_attainment, 0) AS child_count_with_attainment,
        gcc_children.children_attainment,
        round(gc_g.attainment, 9) AS own_rounded,
        round(gcc_children.children_attainment, 9) AS children_rounded,
        gc_g.goal_id IN (SELECT goal_id FROM gcc_scoped) AS in_scope
    FROM (SELECT * FROM gcc_cycle_goals WHERE goal_id IN (SELECT goal_id FROM gcc_returned)) AS gc_g
    LEFT JOIN gcc_owners AS gc_o
        ON gc_o.owner_kind = CASE WHEN gc_g.owner_type = 'employee' THEN 'employee' ELSE 'unit' END AND gc_o.owner_id = gc_g.owner_id
    JOIN (SELECT * FROM cycle_goal_tree(gc_cycle) WHERE goal_id IN (SELECT goal_id FROM gcc_returned)) AS gc_t USING (goal_id)
    JOIN gcc_cycle_goals AS gc_top ON gc_top.goal_id = gc_t.top_goal_id
    LEFT JOIN gcc_children USING (goal_id)
)
SELECT
    gc_f.goal_id,
    gc_f.parent_goal_id,
    gc_f.parent_issue,
    gc_f.top_goal_id,
    gc_f.depth,
    gc_f.owner_type,
    gc_f.owner_id,
    gc_f.owner_name,
    gc_f.department_id,
    CASE
        WHEN gc_f.owner_type = 'company' THEN NULL
        ELSE coalesce(gc_department_unit.name, '(no department)')
    END AS department,
    gc_f.region,
    gc_f.title,
    gc_f.kpi,
    gc_f.inherited_theme AS strategy_theme,
    gc_f.direction,
    gc_f.target,
    gc_f.actual,
    gc_f.actual_as_of,
    gc_f.weight,
    gc_f.attainment,
    gc_f.child_count AS children,
    gc_f.child_count_with_attainment AS children_with_attainment,
    gc_f.children_attainment,
    CASE WHEN gc_f.own_rounded >= 1.0 THEN 'on_track' WHEN gc_f.own_rounded >= 0.8 THEN 'at_risk' WHEN gc_f.own_rounded < 0.8 THEN 'off_track' END AS status,
    CASE WHEN gc_f.children_rounded >= 1.0 THEN 'on_track' WHEN gc_f.children_rounded >= 0.8 THEN 'at_risk' WHEN gc_f.children_rounded < 0.8 THEN 'off_track' END AS children_status,
    coalesce(gc_f.own_rounded >= 1.0 AND gc_f.children_rounded < 0.8, false) AS masks_shortfall,
    gc_f.in_scope,
    coalesce(gcc_left_out.left_out_children, 0) AS left_out_children,
    coalesce(gcc_left_out_below.left_out_goals, 0) AS left_out_goals,
    gcc_left_out.left_out_attainment,
    (SELECT detail FROM gcc_detail) AS detail
FROM gcc_figures AS gc_f
LEFT JOIN gcc_left_out USING (goal_id)
LEFT JOIN gcc_left_out_below USING (goal_id)
LEFT JOIN org_units AS gc_department_unit ON gc_department_unit.unit_id = gc_f.department_id
UNION ALL
-- A left-out root group is no goal: no goal_id; it sits in the filters' department and region.
SELECT
    NULL, NULL, NULL, NULL, NULL, gcc_loose.owner_type, NULL, NULL,
    gc_department, CASE WHEN gc_department IS NOT NULL THEN coalesce(gc_loose_unit.name, '(no department)') END, gc_region,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    gcc_loose.weight, NULL, 0, 0, NULL, NULL, NULL, false, true,
    gcc_loose.left_out_children, gcc_loose.left_out_children, gcc_loose.left_out_attainment,
    (SELECT detail FROM gcc_detail)
FROM gcc_loose
LEFT JOIN org_units AS gc_loose_unit ON gc_loose_unit.unit_id = gc_department
ORDER BY top_goal_id, depth, goal_id, owner_type;

-- Which stored default view of goal_cascade the parameters ask for: 'all' (what the attainment
-- page shows first: the cycle's end, no filter, no branch, max_goals 2500 as the query's default
-- and gradelens.attainment.MAX_TABLE_GOALS) or 'masks_shortfall' (the page's masking list: the
-- same with goals=masks_shortfall and max_goals 0), else NULL (computed by cycle_goal_cascade).
-- Every argument is a bound parameter, so DuckDB folds it to a constant and drops the branch of
-- goal_cascade that does not apply.
CREATE MACRO goal_cascade_default_view(gcd_as_of, gcd_department, gcd_region, gcd_root, gcd_max_goals, gcd_goals) AS
    CASE WHEN gcd_as_of IS NULL AND gcd_department IS NULL AND gcd_region IS NULL AND gcd_root IS NULL THEN
        CASE
            WHEN gcd_goals = 'all' AND gcd_max_goals = 2500 THEN 'all'
            WHEN gcd_goals = 'masks_shortfall' AND coalesce(gcd_max_goals, 0) <= 0 THEN 'masks_shortfall'
        END
    END;

-- The rows of one default view of goal_cascade (for_view: 'all' or 'masks_shortfall', as
-- goal_cascade_default_view names them) for one cycle. They depend on the data only, so
-- gradelens/derived.py stores them per cycle (goal_cascade_defaults) and attach replaces
-- cycle_goal_cascade_defaults with a read of those rows.
CREATE MACRO goal_cascade_defaults_computed(for_cycle, for_view) AS TABLE
SELECT 'all' AS default_view, * FROM cycle_goal_cascade(for_cycle, NULL, NULL, NULL, NULL, 2500, 'all') WHERE for_view = 'all'
UNION ALL
SELECT 'masks_shortfall', * FROM cycle_goal_cascade(for_cycle, NULL, NULL, NULL, NULL, 0, 'masks_shortfall') WHERE for_view = 'masks_shortfall';

-- Replaced by a read of the precomputed rows when they are current (derived.attach).
CREATE MACRO cycle_goal_cascade_defaults(for_cycle, for_view) AS TABLE
SELECT * EXCLUDE (default_view) FROM goal_cascade_defaults_computed(for_cycle, for_view);

-- Per cycle, department and region (of the owning employee: goals of people not among the cycle's
-- employees have neither), the individual goals, those linked to a parent goal of the same cycle,
-- and those whose link is broken (a missing goal or another cycle): goal_alignment sums them for
-- its filters. They depend on goals and employees only, so gradelens/derived.py stores them per
-- cycle (goal_alignment_counts) and attach replaces cycle_goal_alignment_counts with a read.
CREATE MACRO cycle_goal_alignment_counts_computed(for_cycle) AS TABLE
SELECT
    gac_person.department_id,
    coalesce(gac_person.department, '(no department)') AS department,
    gac_person.region,
    count(*) AS individual_goals,
    count(*) FILTER (WHERE gac_tree.linked_parent_id IS NOT NULL) AS linked_goals,
    count(*) FILTER (WHERE gac_goal.parent_goal_id IS NOT NULL AND gac_tree.linked_parent_id IS NULL) AS broken_links
FROM goals AS gac_goal
JOIN cycle_goal_tree(for_cycle) AS gac_tree USING (goal_id)
LEFT JOIN (SELECT * FROM employee_units WHERE cycle_id = for_cycle) AS gac_person ON gac_person.employee_id = gac_goal.owner_id
WHERE gac_goal.cycle_id = for_cycle AND gac_goal.owner_type = 'employee'
GROUP BY ALL;

-- Replaced by a read of the precomputed rows when they are current (derived.attach).
CREATE MACRO cycle_goal_alignment_counts(for_cycle) AS TABLE
SELECT * FROM cycle_goal_alignment_counts_computed(for_cycle);

-- The department, team and individual goals of one cycle without a parent goal of the same cycle,
-- with their owner's name, department and region and the reason (unlinked_goals says what each
-- column means). They depend on goals, employees and org units only, so gradelens/derived.py
-- stores them per cycle (unlinked_goal_rows) and attach replaces cycle_unlinked_goals with a read.
CREATE MACRO cycle_unlinked_goals_computed(for_cycle) AS TABLE
WITH ug_unlinked AS (
    SELECT ug_goal.*, coalesce(ug_tree.parent_issue, 'no_parent') AS reason
    FROM goals AS ug_goal
    JOIN cycle_goal_tree(for_cycle) AS ug_tree USING (goal_id)
    WHERE ug_goal.cycle_id = for_cycle AND ug_goal.owner_type <> 'company' AND ug_tree.linked_parent_id IS NULL
)
SELECT
    ug_g.goal_id,
    ug_g.owner_type,
    ug_g.owner_id,
    ug_o.owner_name,
    ug_o.department_id,
    coalesce(ug_department.name, '(no department)') AS department,
    ug_o.region,
    ug_g.title,
    ug_g.kpi,
    ug_g.weight,
    ug_g.parent_goal_id,
    ug_g.reason
FROM ug_unlinked AS ug_g
LEFT JOIN cycle_goal_owners(for_cycle) AS ug_o
    ON ug_o.owner_kind = CASE WHEN ug_g.owner_type = 'employee' THEN 'employee' ELSE 'unit' END AND ug_o.owner_id = ug_g.owner_id
LEFT JOIN org_units AS ug_department ON ug_department.unit_id = ug_o.department_id;

-- Replaced by a read of the precomputed rows when they are current (derived.attach).
CREATE MACRO cycle_unlinked_goals(for_cycle) AS TABLE
SELECT * FROM cycle_unlinked_goals_computed(for_cycle);
-- Cycle-level sums: what the attainment questions add up at a cycle's end, per department and
-- region, so that those questions, with or without a department or region filter, read a few
-- hundred rows instead of joining a cycle's goals or employees. The same for every visit of a
-- data version, so gradelens/derived.py writes them (people_end_sums, theme_end_sums,
-- goal_problems); the view and macros here compute the same rows otherwise.
-- A mean is then sum(attainment_sum) / sum(..._with_attainment) over the rows a filter keeps.

-- Employees of every cycle at its end by org unit, department and region (team_attainment's
-- rows): how many, how many have an owner attainment (owner_end_attainment), and the sum of it.
-- One row per unit and region its members sit in: tens of thousands per cycle at 200,000
-- employees instead of every employee.
CREATE VIEW team_end_sums AS
SELECT
    e.cycle_id,
    e.unit_id,
    e.unit_name,
    e.department_id,
    e.department,
    e.region,
    count(*) AS employees,
    count(o.attainment) AS employees_with_attainment,
    sum(o.attainment ORDER BY e.employee_id) AS attainment_sum  -- a fixed order: the same bytes each build
FROM employee_units AS e
LEFT JOIN owner_end_attainment AS o ON o.cycle_id = e.cycle_id AND o.owner_type = 'employee' AND o.owner_id = e.employee_id
GROUP BY e.cycle_id, e.unit_id, e.unit_name, e.department_id, e.department, e.region;

-- The same by department and region only: what the other attainment questions add up (a few
-- hundred rows per cycle), summed from the units' rows in a fixed order so that a build writes
-- the same bytes for the same data.
CREATE VIEW people_end_sums AS
SELECT
    cycle_id,
    department_id,
    department,
    region,
    CAST(sum(employees) AS BIGINT) AS employees,
    CAST(sum(employees_with_attainment) AS BIGINT) AS employees_with_attainment,
    sum(attainment_sum ORDER BY unit_id) AS attainment_sum
FROM team_end_sums
GROUP BY cycle_id, department_id, department, region;

-- The departments with employees in a cycle and how many (department_list's rows, read on every
-- page for the filter): counted from the cycle's employees here; when people_end_sums is stored,
-- derived.attach replaces it with a sum of those few hundred rows (a hash join of a million
-- employees with a hundred thousand units at 1M employees otherwise).
CREATE MACRO cycle_department_counts(for_cycle) AS TABLE
SELECT department_id, department, count(*) AS employees
FROM employee_units
WHERE cycle_id = for_cycle AND department_id IS NOT NULL
GROUP BY department_id, department;

-- One cycle's employees by department and region as of `until_date`, as the attainment
-- questions add them up: at the cycle's end (NULL) the rows of people_end_sums, else one row per
-- employee with their owner attainment as of the date. DuckDB drops the branch whose condition
-- is false for a bound until_date.
CREATE MACRO cycle_people_sums(for_cycle, until_date) AS TABLE
SELECT department_id, department, region, employees, employees_with_attainment, attainment_sum
FROM people_end_sums
WHERE cycle_id = for_cycle AND until_date IS NULL
UNION ALL
SELECT cps_e.department_id, cps_e.department, cps_e.region, 1, CAST(cps_o.attainment IS NOT NULL AS BIGINT), cps_o.attainment
FROM employee_units AS cps_e
LEFT JOIN owner_attainment(for_cycle, until_date) AS cps_o ON cps_o.owner_type = 'employee' AND cps_o.owner_id = cps_e.employee_id
WHERE cps_e.cycle_id = for_cycle AND until_date IS NOT NULL;

-- Employees with an owner attainment at each month end before their cycle's end
-- (owner_month_attainment), counted and summed by department and region: attainment_trend's
-- earlier points. Employees without one have no row; people_end_sums counts everyone.
CREATE VIEW people_month_sums AS
SELECT
    e.cycle_id,
    m.until_date,
    e.department_id,
    e.region,
    count(m.attainment) AS employees_with_attainment,
    -- In a fixed order: the build's files are the same bytes for the same data (parallel
    -- partial sums would round differently from run to run).
    sum(m.attainment ORDER BY m.owner_id) AS attainment_sum
FROM owner_month_attainment AS m
JOIN employee_units AS e ON e.cycle_id = m.cycle_id AND e.employee_id = m.owner_id
WHERE m.owner_type = 'employee'
GROUP BY e.cycle_id, m.until_date, e.department_id, e.region;

-- One cycle's goals as of `until_date` (NULL: the cycle's end) by the strategy theme of their
-- top ancestor (cycle_goal_tree), owner type, department and region (where the owner sits:
-- cycle_goal_owners; company goals in none): goals, those with an attainment, its sum, those on
-- track (>= 100%), at risk (80-100%) and off track (< 80%) compared after rounding to 9 decimals
-- as gradelens/attainment.py does, and the weighted attainment's numerator and denominator over
-- goals with an attainment and a weight > 0 (owner_attainment's). At the cycle's end derived.py
-- stores the rows (theme_end_sums) and replaces cycle_theme_sums with a read of them.
CREATE MACRO cycle_theme_sums_computed(for_cycle, until_date) AS TABLE
WITH cts_tree AS (
    SELECT goal_id, top_goal_id FROM cycle_goal_tree(for_cycle)
),
-- The top ancestors' themes: the few distinct tops looked up first, so only one join is of
-- every goal with every goal (the goals with their tree rows), not two.
cts_top AS (
    SELECT goal_id AS top_goal_id, strategy_theme
    FROM goals
    WHERE cycle_id = for_cycle AND goal_id IN (SELECT top_goal_id FROM cts_tree)
),
cts_themed AS (
    SELECT cts_g.*, cts_top.strategy_theme AS inherited_theme
    FROM cycle_goal_attainment(for_cycle, until_date) AS cts_g
    JOIN cts_tree USING (goal_id)
    JOIN cts_top USING (top_goal_id)
),
cts_placed AS (
    SELECT
        cts_t.*,
        CASE WHEN cts_t.owner_type <> 'company' THEN cts_o.department_id END AS place_department_id,
        CASE WHEN cts_t.owner_type <> 'company' THEN cts_o.region END AS place_region
    FROM cts_themed AS cts_t
    LEFT JOIN cycle_goal_owners(for_cycle) AS cts_o
        ON cts_o.owner_kind = CASE WHEN cts_t.owner_type = 'employee' THEN 'employee' ELSE 'unit' END AND cts_o.owner_id = cts_t.owner_id
)
SELECT
    inherited_theme AS strategy_theme,
    owner_type,
    place_department_id AS department_id,
    place_region AS region,
    count(*) AS goals,
    count(attainment) AS goals_with_attainment,
    sum(attainment) AS attainment_sum,
    count(*) FILTER (WHERE round(attainment, 9) >= 1.0) AS on_track,
    count(*) FILTER (WHERE round(attainment, 9) >= 0.8 AND round(attainment, 9) < 1.0) AS at_risk,
    count(*) FILTER (WHERE round(attainment, 9) < 0.8) AS off_track,
    sum(weight * attainment) FILTER (WHERE attainment IS NOT NULL AND weight > 0) AS weighted_attainment,
    sum(weight) FILTER (WHERE attainment IS NOT NULL AND weight > 0) AS weight_sum
FROM cts_placed
GROUP BY inherited_theme, owner_type, place_department_id, place_region;

-- Replaced by a read of the stored rows at the cycle's end when current (derived.attach).
CREATE MACRO cycle_theme_sums(for_cycle, until_date) AS TABLE
SELECT * FROM cycle_theme_sums_computed(for_cycle, until_date);

-- The goals of one cycle that break the attainment rules, one row per problem (the rows of
-- attainment_data_quality before its department filter; the query says what each issue means).
-- They depend on the data version alone: derived.py stores them (goal_problems) and replaces
-- cycle_goal_problems with a read of them.
CREATE MACRO cycle_goal_problems_computed(for_cycle) AS TABLE
WITH cgp_goal AS (
    SELECT * FROM goals WHERE cycle_id = for_cycle
),
cgp_bounds AS (
    SELECT start_date, end_date FROM cycles WHERE cycle_id = for_cycle
),
-- An actual's cycle_id is its goal's cycle (its partition, or looked up for a flat file), so
-- this reads one cycle's actuals; materialised so that only the few dated outside the cycle
-- reach the join with the goals (joined first, all 5M of a cycle's actuals at 200k were).
cgp_outside AS MATERIALIZED (
    SELECT cgp_a.goal_id, cgp_a.as_of
    FROM kpi_actuals AS cgp_a, cgp_bounds
    WHERE cgp_a.cycle_id = for_cycle AND (cgp_a.as_of < cgp_bounds.start_date OR cgp_a.as_of > cgp_bounds.end_date)
)
SELECT 'target_not_positive' AS issue, goal_id, owner_type, owner_id, target AS value,
       CAST(NULL AS VARCHAR) AS related_id, CAST(NULL AS DATE) AS first_date, CAST(NULL AS DATE) AS last_date
FROM cgp_goal WHERE target IS NULL OR target <= 0
UNION ALL
SELECT 'weight_out_of_range', goal_id, owner_type, owner_id, weight, NULL, NULL, NULL
FROM cgp_goal WHERE weight IS NULL OR weight <= 0 OR weight > 1
UNION ALL
SELECT 'weights_not_one', NULL, owner_type, owner_id, sum(weight), NULL, NULL, NULL
FROM cgp_goal
GROUP BY owner_type, owner_id
HAVING sum(weight) IS NULL OR abs(sum(weight) - 1.0) > 1e-6
UNION ALL
-- parent_missing and parent_other_cycle as the goal tree has them (precomputed when current: a
-- hash table of the cycle's goal ids is then not built again).
SELECT cgp_tree.parent_issue, cgp_g.goal_id, cgp_g.owner_type, cgp_g.owner_id, NULL, cgp_g.parent_goal_id, NULL, NULL
FROM cgp_goal AS cgp_g
JOIN (SELECT goal_id, parent_issue FROM cycle_goal_tree(for_cycle) WHERE parent_issue IS NOT NULL) AS cgp_tree USING (goal_id)
UNION ALL
SELECT 'actual_outside_cycle', cgp_g.goal_id, cgp_g.owner_type, cgp_g.owner_id, count(*), NULL, min(cgp_a.as_of), max(cgp_a.as_of)
FROM cgp_outside AS cgp_a
JOIN cgp_goal AS cgp_g ON cgp_g.goal_id = cgp_a.goal_id
GROUP BY cgp_g.goal_id, cgp_g.owner_type, cgp_g.owner_id;

-- Replaced by a read of the stored rows when current (derived.attach).
CREATE MACRO cycle_goal_problems(for_cycle) AS TABLE
SELECT * FROM cycle_goal_problems_computed(for_cycle);

-- One cycle's employees with both a self rating and a manager rating, by department and region:
-- how many, and the sums of their self score, manager score and gap (self - manager), each score
-- dimension-weighted (policy_dimension_weights, renormalised over the dimensions scored; several
-- managers are averaged). self_manager_gap adds these up. Grouping a cycle's self and manager
-- ratings by ratee and rater (6M rows at 1M employees) grew faster than the employees, so
-- derived.py stores the rows with the leniency fits, whose fingerprint covers the ratings, the
-- departments and the policy's dimension weights, and replaces cycle_self_manager_sums.
CREATE MACRO cycle_self_manager_sums_computed(for_cycle) AS TABLE
WITH csm_pairs AS (
    SELECT csm_r.ratee_id, csm_r.rater_id, csm_r.rater_role, sum(csm_w.weight * csm_r.score) / sum(csm_w.weight) AS score
    FROM ratings AS csm_r
    JOIN policy_dimension_weights AS csm_w ON csm_w.dimension = csm_r.dimension
    WHERE csm_r.cycle_id = for_cycle
      AND csm_w.weight > 0
      AND csm_r.score IS NOT NULL
      AND csm_r.rater_role IN ('self', 'manager')
    GROUP BY csm_r.ratee_id, csm_r.rater_id, csm_r.rater_role
),
csm_people AS (
    SELECT
        ratee_id,
        avg(score) FILTER (WHERE rater_role = 'self' AND rater_id = ratee_id) AS self_score,
        avg(score) FILTER (WHERE rater_role = 'manager') AS manager_score
    FROM csm_pairs
    GROUP BY ratee_id
)
SELECT
    csm_u.department_id,
    csm_u.department,
    csm_u.region,
    count(*) AS employees,
    sum(csm_p.self_score ORDER BY csm_p.ratee_id) AS self_sum,  -- a fixed order: the same bytes each build
    sum(csm_p.manager_score ORDER BY csm_p.ratee_id) AS manager_sum,
    sum(csm_p.self_score - csm_p.manager_score ORDER BY csm_p.ratee_id) AS gap_sum
FROM csm_people AS csm_p
JOIN employee_units AS csm_u ON csm_u.cycle_id = for_cycle AND csm_u.employee_id = csm_p.ratee_id
WHERE csm_p.self_score IS NOT NULL
  AND csm_p.manager_score IS NOT NULL
GROUP BY csm_u.department_id, csm_u.department, csm_u.region;

-- Replaced by a read of the stored rows when current (derived.attach).
CREATE MACRO cycle_self_manager_sums(for_cycle) AS TABLE
SELECT * FROM cycle_self_manager_sums_computed(for_cycle);
