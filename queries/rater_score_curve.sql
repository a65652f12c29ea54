-- How do scores rise with attainment across the company? Mean score per attainment band.
-- The company's relationship the leniency drill-down draws a rater's ratees against: pairs of
-- rater_pair_scores (same role) grouped into bands of 0.1 (10%) of the ratee's attainment,
-- band = floor(attainment * 10) / 10; pairs without attainment are left out.
-- @param cycle cycle=latest  The performance cycle.
-- @param role choice(manager|all_but_self|peer|subordinate|customer)=manager  Which raters' scores.
-- @param department text=null  Only pairs whose rater and ratee are both in this department_id (default: all).
-- @needs ratings
-- @privacy aggregate count=pairs
-- @returns attainment_band, pairs, mean_attainment, mean_score
WITH in_scope AS (  -- people of $department in the cycle; a pair counts only when both are
    SELECT employee_id FROM employee_units WHERE cycle_id = $cycle AND department_id = $department
),
pairs AS (
    SELECT r.rater_id, r.ratee_id, sum(w.weight * r.score) / sum(w.weight) AS score
    FROM ratings AS r
    JOIN policy_dimension_weights AS w ON w.dimension = r.dimension
    WHERE r.cycle_id = $cycle
      AND w.weight > 0
      AND r.score IS NOT NULL
      AND CASE $role WHEN 'all_but_self' THEN r.rater_role <> 'self' ELSE r.rater_role = $role END
      AND ($department IS NULL OR (r.rater_id IN (SELECT employee_id FROM in_scope)
                                AND r.ratee_id IN (SELECT employee_id FROM in_scope)))
    GROUP BY r.rater_id, r.ratee_id
)
SELECT
    floor(o.attainment * 10) / 10 AS attainment_band,
    count(*) AS pairs,
    avg(o.attainment) AS mean_attainment,
    avg(pairs.score) AS mean_score
FROM pairs
JOIN owner_attainment($cycle, NULL) AS o ON o.owner_type = 'employee' AND o.owner_id = pairs.ratee_id
GROUP BY attainment_band
ORDER BY attainment_band;
