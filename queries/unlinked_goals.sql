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
WITH cycle_goals AS (
    SELECT * FROM goals WHERE cycle_id = $cycle
),
unlinked AS (
    SELECT
        g.*,
        CASE
            WHEN g.parent_goal_id IS NULL THEN 'no_parent'
            WHEN g.parent_goal_id IN (SELECT goal_id FROM cycle_foreign_parents($cycle)) THEN 'parent_other_cycle'
            ELSE 'parent_missing'
        END AS reason
    FROM cycle_goals AS g
    LEFT JOIN cycle_goals AS parent ON parent.goal_id = g.parent_goal_id
    WHERE g.owner_type <> 'company' AND parent.goal_id IS NULL
),
placed AS (
    SELECT
        g.*,
        CASE g.owner_type WHEN 'employee' THEN e.name ELSE u.name END AS owner_name,
        CASE g.owner_type WHEN 'employee' THEN e.department_id ELSE d.department_id END AS department_id,
        CASE g.owner_type WHEN 'employee' THEN e.region ELSE u.region END AS region
    FROM unlinked AS g
    LEFT JOIN employee_units AS e ON g.owner_type = 'employee' AND e.cycle_id = g.cycle_id AND e.employee_id = g.owner_id
    LEFT JOIN org_units AS u ON g.owner_type <> 'employee' AND u.unit_id = g.owner_id
    LEFT JOIN unit_departments AS d ON g.owner_type <> 'employee' AND d.unit_id = g.owner_id
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
