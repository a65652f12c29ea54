-- What does a cycle look like at a glance: people, attainment, grading progress, open appeals?
-- Filters narrow the employees counted; company_goal_attainment is always the company's own
-- goals (the top of the cascade), whatever the filters.
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs employees
-- @privacy aggregate count=employees
-- @returns employees, employees_with_attainment, attainment, company_goal_attainment, graded, calibrated, appeals, open_appeals
WITH people_sums AS (
    -- Head-counts and attainment are sums of cycle_people_sums' rows (a few hundred, stored per
    -- data version), graded and calibrated a count of graded_people (stored too): joining a
    -- cycle's million employees to their units, grades and attainment grew faster than the people.
    SELECT employees, employees_with_attainment, attainment_sum
    FROM cycle_people_sums($cycle, NULL)
    WHERE ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
graded_counts AS (
    SELECT count(*) AS graded, count(final_grade) AS calibrated
    FROM graded_people
    WHERE cycle_id = $cycle
      AND ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
-- The cycle's appeals (a few percent of the people) find their employee, then the unit.
appeal_counts AS (
    SELECT count(*) AS appeals, count(*) FILTER (WHERE a.status = 'open') AS open_appeals
    FROM appeals AS a
    JOIN employees AS e ON e.cycle_id = a.cycle_id AND e.employee_id = a.employee_id
    LEFT JOIN unit_lookup AS unit ON unit.unit_id = e.unit_id
    WHERE a.cycle_id = $cycle
      AND ($department IS NULL OR unit.department_id = $department)
      AND ($region IS NULL OR e.region = $region)
)
SELECT
    CAST(coalesce((SELECT sum(employees) FROM people_sums), 0) AS BIGINT) AS employees,
    CAST(coalesce((SELECT sum(employees_with_attainment) FROM people_sums), 0) AS BIGINT) AS employees_with_attainment,
    (SELECT sum(attainment_sum) / nullif(sum(employees_with_attainment), 0) FROM people_sums) AS attainment,
    (SELECT avg(attainment) FROM owner_attainment($cycle, NULL) WHERE owner_type = 'company') AS company_goal_attainment,
    graded_counts.graded,
    graded_counts.calibrated,
    appeal_counts.appeals,
    appeal_counts.open_appeals
FROM graded_counts, appeal_counts;
