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
-- A whole cascade is large (864,603 goals at 200,000 employees), so a page asks for part of it:
-- max_goals leaves out the individual goals (then the team goals too) when the tree has more
-- goals than that, except roots (goals with no linked parent), as the page's tables do; each goal
-- then says what was left out beneath it (left_out_children: its children left out,
-- left_out_goals: the goals they stand for with every goal beneath them, left_out_attainment:
-- their weighted attainment) and detail says the lowest level kept (employee, team, department).
-- root keeps one branch: that goal and the goals beneath it. goals=masks_shortfall keeps only the
-- goals in scope that are on track while their children are off track. The defaults are what the
-- attainment page shows; max_goals=0 gives the whole cascade.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end).
-- @param department text=null  Only goals owned within this department_id (default: all).
-- @param region text=null  Only goals owned within this region (default: all).
-- @param root text=null  Only this goal_id and the goals beneath it (default: every goal).
-- @param max_goals int=2500  Leave out individual, then team goals when there are more goals than this (0: keep every goal).
-- @param goals choice(all|masks_shortfall)=all  Every goal, or only those in scope masking a shortfall below them.
-- @needs cycles, goals
-- @returns goal_id, parent_goal_id, parent_issue, top_goal_id, depth, owner_type, owner_id, owner_name, department_id, department, region, title, kpi, strategy_theme, direction, target, actual, actual_as_of, weight, attainment, children, children_with_attainment, children_attainment, status, children_status, masks_shortfall, in_scope, left_out_children, left_out_goals, left_out_attainment, detail
WITH RECURSIVE cycle_goals AS (
    SELECT * FROM cycle_goal_attainment($cycle, $as_of)
),
-- The tree's columns only, for the work on every goal; the rest is joined to the goals returned.
tree AS (
    SELECT t.goal_id, t.linked_parent_id, g.owner_type, g.owner_id, g.weight, g.attainment
    FROM cycle_goal_tree($cycle) AS t JOIN cycle_goals AS g USING (goal_id)
),
owners AS (
    SELECT * FROM cycle_goal_owners($cycle)
),
-- Where each goal's owner sits (company goals in no department or region), for the filters.
placed AS (
    SELECT
        g.*,
        o.owner_name,
        CASE WHEN g.owner_type <> 'company' THEN o.department_id END AS department_id,
        CASE WHEN g.owner_type <> 'company' THEN o.region END AS region
    FROM cycle_goals AS g
    LEFT JOIN owners AS o
        ON o.owner_kind = CASE WHEN g.owner_type = 'employee' THEN 'employee' ELSE 'unit' END AND o.owner_id = g.owner_id
),
children AS (
    SELECT
        linked_parent_id AS goal_id,
        count(*) AS children,
        count(attainment) AS children_with_attainment,
        sum(weight * attainment) FILTER (WHERE attainment IS NOT NULL AND weight > 0)
            / sum(weight) FILTER (WHERE attainment IS NOT NULL AND weight > 0) AS children_attainment
    FROM tree
    WHERE linked_parent_id IS NOT NULL
    GROUP BY linked_parent_id
),
-- Without filters every goal is in scope; DuckDB drops the branch that does not apply.
scoped AS (
    SELECT goal_id FROM tree WHERE $department IS NULL AND $region IS NULL
    UNION ALL
    SELECT goal_id FROM placed
    WHERE ($department IS NOT NULL OR $region IS NOT NULL)
      AND ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
-- Paths (the top ancestor down to the goal) are read only for a filter or a branch.
paths AS (
    SELECT goal_id, path FROM cycle_goal_tree($cycle)
    WHERE $department IS NOT NULL OR $region IS NOT NULL OR $root IS NOT NULL
),
-- The goals in scope with their ancestors, so the tree stays whole; then only the root's branch.
whole AS (
    SELECT goal_id FROM scoped WHERE $department IS NULL AND $region IS NULL
    UNION ALL
    SELECT DISTINCT unnest(paths.path) AS goal_id FROM paths JOIN scoped USING (goal_id)
    WHERE $department IS NOT NULL OR $region IS NOT NULL
),
shown AS (
    SELECT goal_id FROM whole WHERE $root IS NULL
    UNION ALL
    SELECT goal_id FROM whole
    WHERE $root IS NOT NULL AND goal_id IN (SELECT goal_id FROM paths WHERE list_contains(path, $root))
),
shown_tree AS (
    SELECT * FROM tree WHERE goal_id IN (SELECT goal_id FROM shown)
),
-- With max_goals: the lowest level kept. Roots are always kept (no parent stands in for them).
detail AS (
    SELECT CASE
        WHEN coalesce($max_goals, 0) <= 0 OR count(*) <= $max_goals THEN 'employee'
        WHEN count(*) FILTER (WHERE owner_type <> 'employee' OR linked_parent_id IS NULL OR goal_id IS NOT DISTINCT FROM $root) <= $max_goals THEN 'team'
        ELSE 'department'
    END AS detail
    FROM shown_tree
),
kept AS (
    SELECT
        s.*,
        s.linked_parent_id IS NULL OR s.goal_id IS NOT DISTINCT FROM $root
            OR NOT (s.owner_type = 'employee' AND detail.detail IN ('team', 'department')
                    OR s.owner_type = 'team' AND detail.detail = 'department') AS kept
    FROM shown_tree AS s, detail
),
-- Each left-out goal counts for every left-out goal above it and the kept goal it hangs under.
left_out_up(goal_id, steps) AS (
    SELECT linked_parent_id, 1 FROM kept WHERE NOT kept
    UNION ALL
    SELECT kept.linked_parent_id, left_out_up.steps + 1
    FROM left_out_up JOIN kept USING (goal_id)
    WHERE NOT kept.kept AND left_out_up.steps < 64  -- guards against loops in bad data
),
left_out AS (
    SELECT
        linked_parent_id AS goal_id,
        count(*) AS left_out_children,
        sum(weight * attainment) FILTER (WHERE attainment IS NOT NULL AND weight > 0)
            / sum(weight) FILTER (WHERE attainment IS NOT NULL AND weight > 0) AS left_out_attainment
    FROM kept
    WHERE NOT kept
    GROUP BY linked_parent_id
),
left_out_below AS (
    SELECT goal_id, count(*) AS left_out_goals FROM left_out_up GROUP BY goal_id
),
returned AS (
    SELECT kept.goal_id FROM kept LEFT JOIN children USING (goal_id)
    WHERE kept.kept
      AND ($goals = 'all' OR coalesce(round(kept.attainment, 9) >= 1.0 AND round(children.children_attainment, 9) < 0.8, false)
                             AND kept.goal_id IN (SELECT goal_id FROM scoped))
),
-- Thresholds as in gradelens/attainment.py (ON_TRACK, AT_RISK) and charts.ATTAINMENT_COLORSCALE,
-- compared after rounding to 9 decimals so 1.6 / 1.6 summed as 0.9999999999999999 is on track.
figures AS (
    SELECT
        g.*,
        o.owner_name,
        CASE WHEN g.owner_type <> 'company' THEN o.department_id END AS department_id,
        CASE WHEN g.owner_type <> 'company' THEN o.region END AS region,
        t.linked_parent_id,
        t.parent_issue,
        t.top_goal_id,
        t.depth,
        top.strategy_theme AS inherited_theme,
        coalesce(children.children, 0) AS child_count,
        coalesce(children.children_with_attainment, 0) AS child_count_with_attainment,
        children.children_attainment,
        round(g.attainment, 9) AS own_rounded,
        round(children.children_attainment, 9) AS children_rounded,
        g.goal_id IN (SELECT goal_id FROM scoped) AS in_scope
    FROM (SELECT * FROM cycle_goals WHERE goal_id IN (SELECT goal_id FROM returned)) AS g
    LEFT JOIN owners AS o
        ON o.owner_kind = CASE WHEN g.owner_type = 'employee' THEN 'employee' ELSE 'unit' END AND o.owner_id = g.owner_id
    JOIN (SELECT * FROM cycle_goal_tree($cycle) WHERE goal_id IN (SELECT goal_id FROM returned)) AS t USING (goal_id)
    JOIN cycle_goals AS top ON top.goal_id = t.top_goal_id
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
    f.in_scope,
    coalesce(left_out.left_out_children, 0) AS left_out_children,
    coalesce(left_out_below.left_out_goals, 0) AS left_out_goals,
    left_out.left_out_attainment,
    (SELECT detail FROM detail) AS detail
FROM figures AS f
LEFT JOIN left_out USING (goal_id)
LEFT JOIN left_out_below USING (goal_id)
LEFT JOIN org_units AS department ON department.unit_id = f.department_id
ORDER BY f.top_goal_id, f.depth, f.goal_id;
