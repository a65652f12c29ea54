-- How are grades spread in a cycle, against the forced-distribution guideline?
-- One row per policy grade (best first), zero when nobody has it. Stage final counts only
-- calibrated grades; proposed counts every proposed grade.
-- @param cycle cycle=latest  The performance cycle.
-- @param stage choice(proposed|final)=final  Proposed (before calibration) or final grades.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs grades
-- @privacy aggregate count=employees
-- @returns grade, employees, share, target_share
-- Without department or region filters it needs no employees table (grades-only exports): two
-- branches, one dropped for bound parameters, so the unfiltered count does not build the filter's
-- employee lookup (an OR would: a million employees hash-joined at 1M, 4x the count itself).
WITH population AS (
    SELECT g.proposed_grade, g.final_grade
    FROM grades AS g
    WHERE g.cycle_id = $cycle AND $department IS NULL AND $region IS NULL
    UNION ALL
    SELECT g.proposed_grade, g.final_grade
    FROM grades AS g
    WHERE g.cycle_id = $cycle AND ($department IS NOT NULL OR $region IS NOT NULL)
      AND g.employee_id IN (
          SELECT employee_id FROM employee_units
          WHERE cycle_id = $cycle
            AND ($department IS NULL OR department_id = $department)
            AND ($region IS NULL OR region = $region))
),
graded AS (
    SELECT CASE WHEN $stage = 'final' THEN final_grade ELSE proposed_grade END AS grade FROM population
),
counted AS (
    SELECT grade, count(*) AS employees FROM graded WHERE grade IS NOT NULL GROUP BY grade
)
SELECT
    p.grade,
    coalesce(c.employees, 0) AS employees,
    coalesce(c.employees, 0) / nullif(sum(coalesce(c.employees, 0)) OVER (), 0) AS share,
    p.target_share
FROM policy_grades AS p
LEFT JOIN counted AS c USING (grade)
ORDER BY p.grade_rank;
