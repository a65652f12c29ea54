-- Who is who in a cycle's ratings: name, department and region of every employee of the
-- cycle and of every rater who is not one (customers keep their id as name and have no
-- department or region). Used to label raters and ratees on the leniency page.
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only people of this department_id (default: all; customers and other
-- raters who are not employees belong to no department).
-- @needs ratings
-- @returns person_id, name, department_id, department, region
SELECT employee_id AS person_id, name, department_id, department, region
FROM employee_units
WHERE cycle_id = $cycle AND ($department IS NULL OR department_id = $department)
UNION ALL
SELECT r.rater_id, r.rater_id, NULL, NULL, NULL
FROM (  -- distinct first: the cycle's millions of ratings have far fewer raters to look up
    SELECT DISTINCT rater_id FROM ratings WHERE cycle_id = $cycle AND $department IS NULL AND rater_id IS NOT NULL
) AS r
WHERE r.rater_id NOT IN (SELECT employee_id FROM employees WHERE cycle_id = $cycle)
ORDER BY person_id;
