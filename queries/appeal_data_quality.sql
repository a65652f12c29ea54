-- Which appeals are left out of the appeal figures, and why?
-- One row per appeal and problem (an appeal can have several). excluded_from says what the
-- appeal is left out of: all (rates, outcomes, times, open list, raters: it has no graded
-- employee of a dataset cycle to belong to), outcomes (it still counts as an appeal, but not
-- as resolved, upheld or open) or times (days to resolve and the open list: its dates cannot
-- be trusted). Problems: unknown_cycle, unknown_employee (not an employee of that cycle),
-- not_graded (an employee without a grade in that cycle), unknown_status, missing_filed_on,
-- resolved_without_date (resolved status, no resolved_on), resolved_before_filed.
-- @param department text=null  Only appeals of employees of this department_id in that cycle (default: all;
-- appeals of unknown employees or cycles belong to no department).
-- @needs cycles, employees, grades, appeals
-- @returns appeal_id, cycle_id, employee_id, status, filed_on, resolved_on, problem, excluded_from
WITH appellants AS (
    SELECT DISTINCT cycle_id, employee_id FROM appeals
),
-- The appellants' grades, from graded_people (stored per data version; a graded appellant is a
-- known employee too), and then employees only for the few appellants without a grade: a semi
-- join against every appellant in employees and again in grades was most of the query's time
-- (8M rows probed into a hash table of 380k appellants, twice, at 1M employees).
graded AS (
    SELECT DISTINCT g.cycle_id, g.employee_id, g.department_id
    FROM graded_people AS g
    SEMI JOIN appellants AS p ON p.cycle_id = g.cycle_id AND p.employee_id = g.employee_id
),
ungraded AS (
    SELECT * FROM appellants AS p
    ANTI JOIN graded AS g ON g.cycle_id = p.cycle_id AND g.employee_id = p.employee_id
),
known AS (
    SELECT cycle_id, employee_id, department_id FROM graded
    UNION ALL
    SELECT e.cycle_id, e.employee_id, unit.department_id
    FROM employees AS e
    SEMI JOIN ungraded AS p ON p.cycle_id = e.cycle_id AND p.employee_id = e.employee_id
    LEFT JOIN unit_lookup AS unit ON unit.unit_id = e.unit_id
),
checked AS (
    SELECT
        a.*,
        c.cycle_id IS NOT NULL AS known_cycle,
        u.employee_id IS NOT NULL AS known_employee,
        g.employee_id IS NOT NULL AS graded,
        u.department_id AS employee_department_id
    FROM appeals AS a
    LEFT JOIN cycles AS c ON c.cycle_id = a.cycle_id
    LEFT JOIN known AS u ON u.cycle_id = a.cycle_id AND u.employee_id = a.employee_id
    LEFT JOIN graded AS g ON g.cycle_id = a.cycle_id AND g.employee_id = a.employee_id
),
problems AS (
    SELECT *, 'unknown_cycle' AS problem, 'all' AS excluded_from, 1 AS problem_order
    FROM checked WHERE NOT known_cycle
    UNION ALL
    SELECT *, 'unknown_employee', 'all', 2 FROM checked WHERE known_cycle AND NOT known_employee
    UNION ALL
    SELECT *, 'not_graded', 'all', 3 FROM checked WHERE known_employee AND NOT graded
    UNION ALL
    SELECT *, 'unknown_status', 'outcomes', 4
    FROM checked WHERE status IS NULL OR status NOT IN ('open', 'upheld', 'partially_upheld', 'rejected', 'withdrawn')
    UNION ALL
    SELECT *, 'missing_filed_on', 'times', 5 FROM checked WHERE filed_on IS NULL
    UNION ALL
    SELECT *, 'resolved_without_date', 'times', 6
    FROM checked WHERE status IN ('upheld', 'partially_upheld', 'rejected', 'withdrawn') AND resolved_on IS NULL
    UNION ALL
    SELECT *, 'resolved_before_filed', 'times', 7 FROM checked WHERE resolved_on < filed_on
)
SELECT appeal_id, cycle_id, employee_id, status, filed_on, resolved_on, problem, excluded_from
FROM problems
WHERE $department IS NULL OR employee_department_id = $department
ORDER BY problem_order, cycle_id, appeal_id;
