-- How well did each department attain its goals in a cycle?
-- attainment is the mean of the department's employees' owner attainment (weights normalised
-- per employee); employees without any goal with an actual are counted in employees but not in
-- the mean. department_goal_attainment is the department's own goals, so a department whose
-- own number is high while its people's is low stands out. Employees outside any department
-- show as "(no department)" with an empty department_id.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end).
-- @param region text=null  Only employees of this region (default: all).
-- @param department text=null  Only this department_id (default: all).
-- @needs cycles, employees, goals
-- @privacy aggregate count=employees
-- @returns department_id, department, employees, employees_with_attainment, attainment, department_goal_attainment
-- At the cycle's end (as_of NULL) employees come counted and summed per department and region
-- (people_end_sums: stored when the derived tables are current); as of a date each employee is a
-- row of one. DuckDB drops the branch whose condition is false for the bound as_of.
-- people is definitions.sql's cycle_people_sums written out: this query also needs
-- the department's own goals from owners, and through the macro an as-of date would compute every owner's
-- attainment twice (0.9 -> 1.6 s at 200,000 employees).
WITH owners AS (
    SELECT * FROM owner_attainment($cycle, $as_of)
),
people AS (
    SELECT department_id, department, region, employees, employees_with_attainment, attainment_sum
    FROM people_end_sums
    WHERE cycle_id = $cycle AND $as_of IS NULL
    UNION ALL
    SELECT e.department_id, e.department, e.region, 1, CAST(o.attainment IS NOT NULL AS BIGINT), o.attainment
    FROM employee_units AS e
    LEFT JOIN owners AS o ON o.owner_type = 'employee' AND o.owner_id = e.employee_id
    WHERE e.cycle_id = $cycle AND $as_of IS NOT NULL
)
SELECT
    people.department_id,
    people.department,
    CAST(sum(people.employees) AS BIGINT) AS employees,
    CAST(sum(people.employees_with_attainment) AS BIGINT) AS employees_with_attainment,
    sum(people.attainment_sum) / nullif(sum(people.employees_with_attainment), 0) AS attainment,
    any_value(own.attainment) AS department_goal_attainment
FROM people
LEFT JOIN owners AS own ON own.owner_type = 'department' AND own.owner_id = people.department_id
WHERE ($region IS NULL OR people.region = $region)
  AND ($department IS NULL OR people.department_id = $department)
GROUP BY people.department_id, people.department
ORDER BY people.department_id IS NULL, people.department;
