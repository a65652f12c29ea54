-- Which departments had employees in a cycle, and how many?
-- Used for the department filter.
-- @param cycle cycle=latest  The performance cycle.
-- @needs employees, org_units
-- @privacy public
-- @returns department_id, department, employees
-- Read through a macro (definitions.sql, cycle_department_counts): stored sums when current.
SELECT department_id, department, employees
FROM cycle_department_counts($cycle)
ORDER BY department, department_id;
