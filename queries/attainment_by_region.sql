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
SELECT
    e.region,
    count(*) AS employees,
    count(o.attainment) AS employees_with_attainment,
    avg(o.attainment) AS attainment
FROM employee_units AS e
LEFT JOIN owner_attainment($cycle, $as_of) AS o ON o.owner_type = 'employee' AND o.owner_id = e.employee_id
WHERE e.cycle_id = $cycle AND ($department IS NULL OR e.department_id = $department)
GROUP BY e.region
ORDER BY e.region;
