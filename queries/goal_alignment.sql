-- Are individual goals aligned to the cascade? The share linked to a parent goal, by department.
-- Individual goals are those owned by employees.
-- A goal counts as linked only when its parent_goal_id is a goal of the same cycle; links to a
-- missing goal or to another cycle count as unlinked (broken_links says how many). The
-- department and region are the owning employee's; goals of people not among the cycle's
-- employees show under "(no department)".
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only employees of this region (default: all).
-- @needs goals
-- @privacy aggregate count=individual_goals
-- @returns department_id, department, individual_goals, linked_goals, alignment_rate, broken_links
WITH individual AS (
    SELECT
        e.department_id,
        coalesce(e.department, '(no department)') AS department,
        e.region,
        g.parent_goal_id,
        tree.linked_parent_id IS NOT NULL AS linked
    FROM goals AS g
    JOIN cycle_goal_tree($cycle) AS tree USING (goal_id)
    LEFT JOIN (SELECT * FROM employee_units WHERE cycle_id = $cycle) AS e ON e.employee_id = g.owner_id
    WHERE g.cycle_id = $cycle AND g.owner_type = 'employee'
)
SELECT
    department_id,
    department,
    count(*) AS individual_goals,
    count(*) FILTER (WHERE linked) AS linked_goals,
    count(*) FILTER (WHERE linked) / count(*) AS alignment_rate,
    count(*) FILTER (WHERE parent_goal_id IS NOT NULL AND NOT linked) AS broken_links
FROM individual
WHERE ($department IS NULL OR department_id = $department)
  AND ($region IS NULL OR region = $region)
GROUP BY department_id, department
ORDER BY department_id IS NULL, department;
