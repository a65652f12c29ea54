-- Which goals are not linked into the cascade, and why?
-- Every department, team and individual goal of a cycle without a parent goal of the same cycle.
-- reason: no_parent (no parent_goal_id), parent_missing (it names a goal that does not exist) or
-- parent_other_cycle (it names a goal of another cycle). Company goals are the top of the
-- cascade and never listed. Filters keep the goals owned within them (a region filter leaves out
-- department goals, which have no region). Individual goals first, then by department and owner.
-- The rows depend on the data only: stored per cycle (gradelens/derived.py, unlinked_goal_rows),
-- computed otherwise (definitions.sql, cycle_unlinked_goals).
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only goals owned within this department_id (default: all).
-- @param region text=null  Only goals owned within this region (default: all).
-- @needs goals
-- @returns goal_id, owner_type, owner_id, owner_name, department_id, department, region, title, kpi, weight, parent_goal_id, reason
SELECT *
FROM cycle_unlinked_goals($cycle)
WHERE ($department IS NULL OR department_id = $department)
  AND ($region IS NULL OR region = $region)
ORDER BY owner_type <> 'employee', department_id IS NULL, department, owner_id, goal_id;
