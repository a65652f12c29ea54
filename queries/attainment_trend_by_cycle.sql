-- How has attainment moved from cycle to cycle? Attainment at each cycle's end.
-- One row per cycle, oldest first. attainment is the mean of the employees' owner attainment
-- (employees without any goal with an actual are counted in employees but not in the mean);
-- company_goal_attainment the company's own goals, whatever the filters. Department ids are
-- matched as they are in each cycle.
-- @param department text=null  Only employees of this department_id (default: all).
-- @param region text=null  Only employees of this region (default: all).
-- @needs cycles, employees, goals
-- @privacy aggregate count=employees
-- @returns cycle_id, name, start_date, end_date, employees, employees_with_attainment, attainment, company_goal_attainment
-- The outer alias must not be one the macros use inside (g, c, a, ...): DuckDB substitutes the
-- argument `c.cycle_id` into cycle_goal_attainment's body, where `c` is its own cycles alias, so
-- the cycle filter would compare a column with itself and keep every cycle's goals.
WITH owners AS (
    SELECT * FROM owner_end_attainment
),
people AS (
    SELECT e.cycle_id, e.employee_id, o.attainment
    FROM employee_units AS e
    LEFT JOIN owners AS o ON o.cycle_id = e.cycle_id AND o.owner_type = 'employee' AND o.owner_id = e.employee_id
    WHERE ($department IS NULL OR e.department_id = $department)
      AND ($region IS NULL OR e.region = $region)
)
SELECT
    c.cycle_id,
    c.name,
    c.start_date,
    c.end_date,
    count(people.employee_id) AS employees,
    count(people.attainment) AS employees_with_attainment,
    avg(people.attainment) AS attainment,
    (SELECT avg(o.attainment) FROM owners AS o WHERE o.cycle_id = c.cycle_id AND o.owner_type = 'company') AS company_goal_attainment
FROM cycles AS c
LEFT JOIN people ON people.cycle_id = c.cycle_id
GROUP BY c.cycle_id, c.name, c.start_date, c.end_date
ORDER BY c.start_date, c.cycle_id;
