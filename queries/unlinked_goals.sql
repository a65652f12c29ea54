-- Which goals are not linked into the cascade, and why?
-- Every department, team and individual goal of a cycle without a parent goal of the same cycle.
-- reason: no_parent (no parent_goal_id), parent_missing (it names a goal that does not exist) or
-- parent_other_cycle (it names a goal of another cycle). Company goals are the top of the
-- cascade and never listed. Filters keep the goals owned within them (a region filter leaves out
-- department goals, which have no region). Individual goals first, then by department and owner.
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only goals owned within this department_id (default: all).
-- @param region text=null  Only goals owned within this region (default: all).
-- @needs goals
-- @returns goal_id, owner_type, owner_id, owner_name, department_id, department, region, title, kpi, weight, parent_goal_id, reason
WITH unlinked AS (
    SELECT g.*, coalesce(tree.parent_issue, 'no_parent') AS reason
    FROM goals AS g
    JOIN cycle_goal_tree($cycle) AS tree USING (goal_id)
    WHERE g.cycle_id = $cycle AND g.owner_type <> 'company' AND tree.linked_parent_id IS NULL
),
owners AS (
    SELECT * FROM cycle_goal_owners($cycle)
),
placed AS (
    SELECT g.*, o.owner_name, o.department_id, o.region
    FROM unlinked AS g
    LEFT JOIN owners AS o
        ON o.owner_kind = CASE WHEN g.owner_type = 'employee' THEN 'employee' ELSE 'unit' END AND o.owner_id = g.owner_id
)
SELECT
    p.goal_id,
    p.owner_type,
    p.owner_id,
    p.owner_name,
    p.department_id,
    coalesce(department.name, '(no department)') AS department,
    p.region,
    p.title,
    p.kpi,
    p.weight,
    p.parent_goal_id,
    p.reason
FROM placed AS p
LEFT JOIN org_units AS department ON department.unit_id = p.department_id
WHERE ($department IS NULL OR p.department_id = $department)
  AND ($region IS NULL OR p.region = $region)
ORDER BY p.owner_type <> 'employee', p.department_id IS NULL, department, p.owner_id, p.goal_id;
