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
-- The sums per department and region of cycle_self_manager_sums (definitions.sql), stored with
-- the leniency fits when current: a few hundred rows instead of the cycle's ratings.
SELECT
    department_id,
    department,
    CAST(sum(employees) AS BIGINT) AS employees,
    sum(self_sum) / sum(employees) AS mean_self,
    sum(manager_sum) / sum(employees) AS mean_manager,
    sum(gap_sum) / sum(employees) AS mean_gap,
    sum(employees) < (SELECT min_group_size FROM policy_settings) AS small_group
FROM cycle_self_manager_sums($cycle)
WHERE ($department IS NULL OR department_id = $department)
  AND ($region IS NULL OR region = $region)
GROUP BY department_id, department
ORDER BY mean_gap DESC, department;
