-- How are the grades of one rater's ratees spread, against the guideline?
-- Ratees: everyone the rater scored in the cycle in the chosen role (all_but_self: any role but
-- self). One row per policy grade, best first; proposed and final (calibrated) grades side by
-- side, shares of the ratees graded at that stage.
-- @param cycle cycle=latest  The performance cycle.
-- @param rater_id text  The rater's employee_id (or customer id).
-- @param role choice(manager|all_but_self|peer|subordinate|customer)=manager  Which of the rater's ratings.
-- @param department text=null  Only when the rater is in this department_id, and only their ratees in it
-- (default: all).
-- @needs ratings, grades
-- @returns grade, proposed, proposed_share, final, final_share, target_share
WITH in_scope AS (  -- people of $department in the cycle; a pair counts only when both are
    SELECT employee_id FROM employee_units WHERE cycle_id = $cycle AND department_id = $department
),
ratees AS (
    SELECT DISTINCT ratee_id
    FROM ratings
    WHERE cycle_id = $cycle
      AND rater_id = $rater_id
      AND CASE $role WHEN 'all_but_self' THEN rater_role <> 'self' ELSE rater_role = $role END
      AND ($department IS NULL OR (ratings.rater_id IN (SELECT employee_id FROM in_scope)
                                AND ratings.ratee_id IN (SELECT employee_id FROM in_scope)))
),
graded AS (
    SELECT g.proposed_grade, g.final_grade
    FROM grades AS g
    JOIN ratees ON ratees.ratee_id = g.employee_id
    WHERE g.cycle_id = $cycle
),
proposed AS (
    SELECT proposed_grade AS grade, count(*) AS employees FROM graded WHERE proposed_grade IS NOT NULL GROUP BY 1
),
final AS (
    SELECT final_grade AS grade, count(*) AS employees FROM graded WHERE final_grade IS NOT NULL GROUP BY 1
)
SELECT
    p.grade,
    coalesce(proposed.employees, 0) AS proposed,
    coalesce(proposed.employees, 0) / nullif(sum(coalesce(proposed.employees, 0)) OVER (), 0) AS proposed_share,
    coalesce(final.employees, 0) AS final,
    coalesce(final.employees, 0) / nullif(sum(coalesce(final.employees, 0)) OVER (), 0) AS final_share,
    p.target_share
FROM policy_grades AS p
LEFT JOIN proposed USING (grade)
LEFT JOIN final USING (grade)
ORDER BY p.grade_rank;
