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
SELECT
    e.department_id,
    e.department,
    e.region,
    count(*) AS employees,
    count(o.attainment) AS employees_with_attainment,
    avg(o.attainment) AS attainment
FROM employee_units AS e
LEFT JOIN owner_attainment($cycle, $as_of) AS o ON o.owner_type = 'employee' AND o.owner_id = e.employee_id
WHERE e.cycle_id = $cycle
  AND ($department IS NULL OR e.department_id = $department)
  AND ($region IS NULL OR e.region = $region)
GROUP BY e.department_id, e.department, e.region
ORDER BY e.department_id IS NULL, e.department, e.region;
