-- How well did each region attain its goals in a cycle?
-- attainment is the mean of the region's employees' owner attainment (weights normalised per
-- employee); employees without any goal with an actual are counted in employees but not in the
-- mean. The region is the employee's own (employees.region).
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end).
-- @param department text=null  Only employees of this department_id (default: all).
-- @needs cycles, employees, goals
-- @privacy aggregate count=employees
-- @returns region, employees, employees_with_attainment, attainment
-- At the cycle's end (as_of NULL) employees come counted and summed per department and region
-- (people_end_sums: stored when the derived tables are current); as of a date each employee is
-- a row of one (definitions.sql, cycle_people_sums).
WITH people AS (
    SELECT * FROM cycle_people_sums($cycle, $as_of)
)
SELECT
    region,
    CAST(sum(employees) AS BIGINT) AS employees,
    CAST(sum(employees_with_attainment) AS BIGINT) AS employees_with_attainment,
    sum(attainment_sum) / nullif(sum(employees_with_attainment), 0) AS attainment
FROM people
WHERE $department IS NULL OR department_id = $department
GROUP BY region
ORDER BY region;
