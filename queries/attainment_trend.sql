-- How did attainment build up during a cycle? Attainment at each month end within the cycle.
-- One row per month end from the cycle's start up to the chosen date (default: the cycle's end),
-- plus the chosen date itself when it is not a month end. Each row uses the latest actual of each
-- goal dated within the cycle and on or before that date, as the page's as-of choice does.
-- attainment is the mean of the employees' owner attainment (employees without any goal with an
-- actual by then are left out of the mean); company_goal_attainment the company's own goals,
-- whatever the filters.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  The last date shown (default: the cycle's end).
-- @param department text=null  Only employees of this department_id (default: all).
-- @param region text=null  Only employees of this region (default: all).
-- @needs cycles, employees, goals
-- @privacy aggregate count=employees
-- @returns as_of, employees, employees_with_attainment, attainment, company_goal_attainment
WITH bounds AS (
    SELECT start_date, least(end_date, coalesce($as_of, end_date)) AS until
    FROM cycles WHERE cycle_id = $cycle
),
month_ends AS (
    SELECT CAST(month_start + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE) AS as_of
    FROM bounds, unnest(generate_series(CAST(date_trunc('month', bounds.start_date) AS TIMESTAMP), CAST(bounds.until AS TIMESTAMP), INTERVAL 1 MONTH)) AS months(month_start)
),
points AS (
    SELECT as_of FROM month_ends, bounds WHERE month_ends.as_of BETWEEN bounds.start_date AND bounds.until
    UNION
    SELECT until FROM bounds WHERE until >= start_date
),
people AS (
    SELECT employee_id
    FROM employee_units
    WHERE cycle_id = $cycle
      AND ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
-- The month ends before the last point are the same whatever the as-of date: precomputed per data
-- version (owner_month_attainment, gradelens/derived.py). Only the last point is computed, from
-- the cycle-end figures when as_of is NULL (the page's default), else from the actuals up to it.
owners AS (
    SELECT m.until_date AS as_of, m.owner_type, m.owner_id, m.attainment
    FROM owner_month_attainment AS m, bounds
    WHERE m.cycle_id = $cycle AND m.until_date < bounds.until
    UNION ALL
    SELECT bounds.until, l.owner_type, l.owner_id, l.attainment
    FROM owner_attainment($cycle, $as_of) AS l, bounds
)
SELECT
    points.as_of,
    (SELECT count(*) FROM people) AS employees,
    count(o.attainment) AS employees_with_attainment,
    avg(o.attainment) AS attainment,
    (SELECT avg(c.attainment) FROM owners AS c WHERE c.as_of = points.as_of AND c.owner_type = 'company') AS company_goal_attainment
FROM points
LEFT JOIN (
    SELECT owners.as_of, owners.attainment
    FROM owners JOIN people ON owners.owner_type = 'employee' AND owners.owner_id = people.employee_id
) AS o ON o.as_of = points.as_of
GROUP BY points.as_of
ORDER BY points.as_of;
