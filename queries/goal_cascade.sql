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
-- goals than that, as the page's tables do, except roots (goals with no linked parent) with goals
-- beneath them; each goal then says what was left out beneath it (left_out_children: its children
-- left out, left_out_goals: the goals they stand for with every goal beneath them,
-- left_out_attainment: their weighted attainment) and detail says the lowest level kept
-- (employee, team, department). The roots left out (goals linked to nothing, with nothing beneath
-- them) come last, one row per owner type with no goal_id: left_out_children and left_out_goals
-- count them, left_out_attainment is their weighted attainment, weight the weights it weighs,
-- department_id and region those of the filters.
-- root keeps one branch: that goal and the goals beneath it. goals=masks_shortfall keeps only the
-- goals in scope that are on track while their children are off track. The defaults are what the
-- attainment page shows; max_goals=0 gives the whole cascade.
-- The page's two default views (the defaults, and goals=masks_shortfall with max_goals=0, at the
-- cycle's end without filters or a branch) are the same for every visit of a data version: they are
-- read from rows stored per cycle (gradelens/derived.py, goal_cascade_defaults); any other
-- parameters compute (definitions.sql, cycle_goal_cascade). DuckDB drops the branch that does not
-- apply (goal_cascade_default_view is a constant for bound parameters).
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end).
-- @param department text=null  Only goals owned within this department_id (default: all).
-- @param region text=null  Only goals owned within this region (default: all).
-- @param root text=null  Only this goal_id and the goals beneath it (default: every goal).
-- @param max_goals int=2500  Leave out individual, then team goals when there are more goals than this (0: keep every goal).
-- @param goals choice(all|masks_shortfall)=all  Every goal, or only those in scope masking a shortfall below them.
-- @needs cycles, goals
-- @returns goal_id, parent_goal_id, parent_issue, top_goal_id, depth, owner_type, owner_id, owner_name, department_id, department, region, title, kpi, strategy_theme, direction, target, actual, actual_as_of, weight, attainment, children, children_with_attainment, children_attainment, status, children_status, masks_shortfall, in_scope, left_out_children, left_out_goals, left_out_attainment, detail
SELECT * FROM (
    SELECT * FROM cycle_goal_cascade_defaults($cycle, goal_cascade_default_view($as_of, $department, $region, $root, $max_goals, $goals))
    WHERE goal_cascade_default_view($as_of, $department, $region, $root, $max_goals, $goals) IS NOT NULL
    UNION ALL
    SELECT * FROM cycle_goal_cascade($cycle, $as_of, $department, $region, $root, $max_goals, $goals)
    WHERE goal_cascade_default_view($as_of, $department, $region, $root, $max_goals, $goals) IS NULL
)
ORDER BY top_goal_id, depth, goal_id, owner_type;
