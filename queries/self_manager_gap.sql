-- How much higher do people rate themselves than their managers rate them, by department?
-- Per employee with both a self rating and a manager rating in the cycle: gap = self score -
-- manager score, each the dimension-weighted score (policy dimension weights, renormalised over
-- the dimensions scored; several managers are averaged). Self ratings are left out of the
-- leniency model but are a useful signal. small_group: fewer employees than the policy's
-- min_group_size, so the mean describes very few people. Largest gap first.
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs ratings, employees
-- @privacy aggregate count=employees
-- @returns department_id, department, employees, mean_self, mean_manager, mean_gap, small_group
WITH pair_scores AS (
    SELECT r.ratee_id, r.rater_id, r.rater_role, sum(w.weight * r.score) / sum(w.weight) AS score
    FROM ratings AS r
    JOIN policy_dimension_weights AS w ON w.dimension = r.dimension
    WHERE r.cycle_id = $cycle
      AND w.weight > 0
      AND r.score IS NOT NULL
      AND r.rater_role IN ('self', 'manager')
    GROUP BY r.ratee_id, r.rater_id, r.rater_role
),
people AS (
    SELECT
        ratee_id,
        avg(score) FILTER (WHERE rater_role = 'self' AND rater_id = ratee_id) AS self_score,
        avg(score) FILTER (WHERE rater_role = 'manager') AS manager_score
    FROM pair_scores
    GROUP BY ratee_id
)
SELECT
    u.department_id,
    u.department,
    count(*) AS employees,
    avg(people.self_score) AS mean_self,
    avg(people.manager_score) AS mean_manager,
    avg(people.self_score - people.manager_score) AS mean_gap,
    count(*) < (SELECT min_group_size FROM policy_settings) AS small_group
FROM people
JOIN employee_units AS u ON u.cycle_id = $cycle AND u.employee_id = people.ratee_id
WHERE people.self_score IS NOT NULL
  AND people.manager_score IS NOT NULL
  AND ($department IS NULL OR u.department_id = $department)
  AND ($region IS NULL OR u.region = $region)
GROUP BY u.department_id, u.department
ORDER BY mean_gap DESC, u.department;
