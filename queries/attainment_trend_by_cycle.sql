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
-- Employees come counted and summed per cycle, department and region (people_end_sums: stored
-- when the derived tables are current), so the mean is a sum over a count.
WITH people AS (
    SELECT
        cycle_id,
        sum(employees) AS employees,
        sum(employees_with_attainment) AS employees_with_attainment,
        sum(attainment_sum) AS attainment_sum
    FROM people_end_sums
    WHERE ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
    GROUP BY cycle_id
),
company AS (
    SELECT cycle_id, avg(attainment) AS company_goal_attainment
    FROM owner_end_attainment
    WHERE owner_type = 'company'
    GROUP BY cycle_id
)
SELECT
    c.cycle_id,
    c.name,
    c.start_date,
    c.end_date,
    CAST(coalesce(people.employees, 0) AS BIGINT) AS employees,
    CAST(coalesce(people.employees_with_attainment, 0) AS BIGINT) AS employees_with_attainment,
    people.attainment_sum / nullif(people.employees_with_attainment, 0) AS attainment,
    company.company_goal_attainment
FROM cycles AS c
LEFT JOIN people ON people.cycle_id = c.cycle_id
LEFT JOIN company ON company.cycle_id = c.cycle_id
ORDER BY c.start_date, c.cycle_id;
