-- Where is attainment high or low: each department in each region, with its headcount?
-- One row per department and region that has employees (the heatmap's cells). attainment is the
-- mean of the cell's employees' owner attainment; employees without any goal with an actual are
-- counted in employees but not in the mean, so a cell can have employees and no attainment.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end).
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs cycles, employees, goals
-- @privacy aggregate count=employees
-- @returns department_id, department, region, employees, employees_with_attainment, attainment
-- At the cycle's end (as_of NULL) employees come counted and summed per department and region
-- (people_end_sums: stored when the derived tables are current); as of a date each employee is
-- a row of one (definitions.sql, cycle_people_sums).
WITH people AS (
    SELECT * FROM cycle_people_sums($cycle, $as_of)
)
SELECT
    department_id,
    department,
    region,
    CAST(sum(employees) AS BIGINT) AS employees,
    CAST(sum(employees_with_attainment) AS BIGINT) AS employees_with_attainment,
    sum(attainment_sum) / nullif(sum(employees_with_attainment), 0) AS attainment
FROM people
WHERE ($department IS NULL OR department_id = $department)
  AND ($region IS NULL OR region = $region)
GROUP BY department_id, department, region
ORDER BY department_id IS NULL, department, region;
