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
-- Employees with an attainment and its sum at each point, in the filters. The month ends before
-- the last point are the same whatever the as-of date: read from people_month_sums (stored per
-- data version, gradelens/derived.py). The last point comes from people_end_sums when as_of is
-- NULL (the page's default), else from the actuals up to it; DuckDB drops the branch whose
-- condition is false for the bound as_of.
last_owners AS (
    SELECT * FROM owner_attainment($cycle, $as_of)
),
sums AS (
    SELECT m.until_date AS as_of, sum(m.employees_with_attainment) AS employees_with_attainment, sum(m.attainment_sum) AS attainment_sum
    FROM people_month_sums AS m, bounds
    WHERE m.cycle_id = $cycle AND m.until_date < bounds.until
      AND ($department IS NULL OR m.department_id = $department)
      AND ($region IS NULL OR m.region = $region)
    GROUP BY m.until_date
    UNION ALL
    SELECT any_value(bounds.until), sum(s.employees_with_attainment), sum(s.attainment_sum)
    FROM people_end_sums AS s, bounds
    WHERE $as_of IS NULL AND s.cycle_id = $cycle
      AND ($department IS NULL OR s.department_id = $department)
      AND ($region IS NULL OR s.region = $region)
    UNION ALL
    SELECT any_value(bounds.until), count(o.attainment), sum(o.attainment)
    FROM employee_units AS e
    JOIN last_owners AS o ON o.owner_type = 'employee' AND o.owner_id = e.employee_id, bounds
    WHERE $as_of IS NOT NULL AND e.cycle_id = $cycle
      AND ($department IS NULL OR e.department_id = $department)
      AND ($region IS NULL OR e.region = $region)
),
-- The company's own goals, whatever the filters.
company AS (
    SELECT m.until_date AS as_of, avg(m.attainment) AS attainment
    FROM owner_month_attainment AS m, bounds
    WHERE m.cycle_id = $cycle AND m.owner_type = 'company' AND m.until_date < bounds.until
    GROUP BY m.until_date
    UNION ALL
    SELECT any_value(bounds.until), avg(l.attainment)
    FROM last_owners AS l, bounds
    WHERE l.owner_type = 'company'
)
SELECT
    points.as_of,
    (SELECT coalesce(CAST(sum(employees) AS BIGINT), 0) FROM people_end_sums
     WHERE cycle_id = $cycle AND ($department IS NULL OR department_id = $department) AND ($region IS NULL OR region = $region)) AS employees,
    coalesce(CAST(sums.employees_with_attainment AS BIGINT), 0) AS employees_with_attainment,
    sums.attainment_sum / nullif(sums.employees_with_attainment, 0) AS attainment,
    company.attainment AS company_goal_attainment
FROM points
LEFT JOIN sums ON sums.as_of = points.as_of
LEFT JOIN company ON company.as_of = points.as_of
ORDER BY points.as_of;
