-- Which departments had employees in a cycle, and how many?
-- Used for the department filter.
-- @param cycle cycle=latest  The performance cycle.
-- @needs employees, org_units
-- @privacy public
-- @returns department_id, department, employees
SELECT department_id, department, count(*) AS employees
FROM employee_units
WHERE cycle_id = $cycle AND department_id IS NOT NULL
GROUP BY department_id, department
ORDER BY department;
