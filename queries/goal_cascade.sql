-- How does strategy cascade from company goals to people? Each goal's and its children's attainment.
-- Company goal -> department goals -> team goals -> individual goals, each goal with its own
-- attainment and the weighted attainment of its children.
-- children_attainment is sum(weight * attainment) / sum(weight) over the goal's direct children
-- that have an attainment (null for leaves), so a goal whose own number is on track while the
-- goals under it are not stands out (masks_shortfall: own >= 100% while children < 80%).
-- A parent link counts only when it points to a goal of the same cycle; a goal whose link points
-- to a missing goal or to another cycle is shown as a root with parent_issue parent_missing or
-- parent_other_cycle. strategy_theme is inherited from the top ancestor (its own when it is a
-- root). Filters keep the goals owned within them (a region filter leaves out company and
-- department goals, which have no region) plus, with in_scope false, their ancestors, so the
-- tree stays whole; the figures of every goal are the same whatever the filters.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end).
-- @param department text=null  Only goals owned within this department_id (default: all).
-- @param region text=null  Only goals owned within this region (default: all).
-- @needs cycles, goals
-- @returns goal_id, parent_goal_id, parent_issue, top_goal_id, depth, owner_type, owner_id, owner_name, department_id, department, region, title, kpi, strategy_theme, direction, target, actual, actual_as_of, weight, attainment, children, children_with_attainment, children_attainment, status, children_status, masks_shortfall, in_scope
WITH RECURSIVE cycle_goals AS (
    SELECT * FROM cycle_goal_attainment($cycle, $as_of)
),
linked AS (
    SELECT
        g.*,
        parent.goal_id AS linked_parent_id,
        CASE
            WHEN g.parent_goal_id IS NULL OR parent.goal_id IS NOT NULL THEN NULL
            WHEN g.parent_goal_id IN (SELECT goal_id FROM cycle_foreign_parents($cycle)) THEN 'parent_other_cycle'
            ELSE 'parent_missing'
        END AS parent_issue
    FROM cycle_goals AS g
    LEFT JOIN cycle_goals AS parent ON parent.goal_id = g.parent_goal_id
),
walk AS (
    SELECT goal_id, ancestor_id, steps FROM cycle_goal_ancestors($cycle)
),
tops AS (
    SELECT goal_id, arg_max(ancestor_id, steps) AS top_goal_id, max(steps) AS depth
    FROM walk GROUP BY goal_id
),
children AS (
    SELECT
        linked_parent_id AS goal_id,
        count(*) AS children,
        count(attainment) AS children_with_attainment,
        sum(weight * attainment) FILTER (WHERE attainment IS NOT NULL AND weight > 0)
            / sum(weight) FILTER (WHERE attainment IS NOT NULL AND weight > 0) AS children_attainment
    FROM linked
    WHERE linked_parent_id IS NOT NULL
    GROUP BY linked_parent_id
),
placed AS (
    SELECT
        g.*,
        CASE g.owner_type WHEN 'employee' THEN e.name ELSE u.name END AS owner_name,
        CASE g.owner_type WHEN 'employee' THEN e.department_id WHEN 'company' THEN NULL ELSE d.department_id END AS department_id,
        CASE g.owner_type WHEN 'employee' THEN e.region WHEN 'company' THEN NULL ELSE u.region END AS region
    FROM linked AS g
    LEFT JOIN employee_units AS e ON g.owner_type = 'employee' AND e.cycle_id = g.cycle_id AND e.employee_id = g.owner_id
    LEFT JOIN org_units AS u ON g.owner_type <> 'employee' AND u.unit_id = g.owner_id
    LEFT JOIN unit_departments AS d ON g.owner_type NOT IN ('employee', 'company') AND d.unit_id = g.owner_id
),
scoped AS (
    SELECT goal_id FROM placed
    WHERE ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
shown AS (
    SELECT DISTINCT walk.ancestor_id AS goal_id FROM walk JOIN scoped USING (goal_id)
),
-- Thresholds as in gradelens/attainment.py (ON_TRACK, AT_RISK) and charts.ATTAINMENT_COLORSCALE,
-- compared after rounding to 9 decimals so 1.6 / 1.6 summed as 0.9999999999999999 is on track.
figures AS (
    SELECT
        placed.*,
        tops.top_goal_id,
        tops.depth,
        top.strategy_theme AS inherited_theme,
        coalesce(children.children, 0) AS child_count,
        coalesce(children.children_with_attainment, 0) AS child_count_with_attainment,
        children.children_attainment,
        round(placed.attainment, 9) AS own_rounded,
        round(children.children_attainment, 9) AS children_rounded
    FROM placed
    JOIN tops USING (goal_id)
    JOIN placed AS top ON top.goal_id = tops.top_goal_id
    LEFT JOIN children USING (goal_id)
)
SELECT
    f.goal_id,
    f.parent_goal_id,
    f.parent_issue,
    f.top_goal_id,
    f.depth,
    f.owner_type,
    f.owner_id,
    f.owner_name,
    f.department_id,
    CASE
        WHEN f.owner_type = 'company' THEN NULL
        ELSE coalesce(department.name, '(no department)')
    END AS department,
    f.region,
    f.title,
    f.kpi,
    f.inherited_theme AS strategy_theme,
    f.direction,
    f.target,
    f.actual,
    f.actual_as_of,
    f.weight,
    f.attainment,
    f.child_count AS children,
    f.child_count_with_attainment AS children_with_attainment,
    f.children_attainment,
    CASE WHEN f.own_rounded >= 1.0 THEN 'on_track' WHEN f.own_rounded >= 0.8 THEN 'at_risk' WHEN f.own_rounded < 0.8 THEN 'off_track' END AS status,
    CASE WHEN f.children_rounded >= 1.0 THEN 'on_track' WHEN f.children_rounded >= 0.8 THEN 'at_risk' WHEN f.children_rounded < 0.8 THEN 'off_track' END AS children_status,
    coalesce(f.own_rounded >= 1.0 AND f.children_rounded < 0.8, false) AS masks_shortfall,
    f.goal_id IN (SELECT goal_id FROM scoped) AS in_scope
FROM figures AS f
JOIN shown USING (goal_id)
LEFT JOIN org_units AS department ON department.unit_id = f.department_id
ORDER BY f.top_goal_id, f.depth, f.goal_id;
