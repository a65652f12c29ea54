-- One score per rater and ratee in a cycle, the input of the rater-leniency model.
-- The pair's dimension scores are combined with the policy's dimension weights (policy.toml
-- [dimension_weights]), renormalised over the dimensions the rater scored; dimensions of
-- weight 0 are left out. attainment is the ratee's own goal attainment (owner_attainment;
-- NULL without KPI actuals). role all_but_self pools every rater role except self.
-- @param cycle cycle=latest  The performance cycle.
-- @param role choice(manager|all_but_self|peer|subordinate|customer)=manager  Which raters' scores.
-- @param department text=null  Only pairs whose rater and ratee are both in this department_id (default: all).
-- @needs ratings
-- @returns rater_id, ratee_id, rater_role, score, dimensions, attainment
WITH in_scope AS (  -- people of $department in the cycle; a pair counts only when both are
    SELECT employee_id FROM employee_units WHERE cycle_id = $cycle AND department_id = $department
),
weighted AS (
    SELECT
        r.rater_id,
        r.ratee_id,
        any_value(r.rater_role) AS rater_role,
        sum(w.weight * r.score) / sum(w.weight) AS score,
        count(*) AS dimensions
    FROM ratings AS r
    JOIN policy_dimension_weights AS w ON w.dimension = r.dimension
    WHERE r.cycle_id = $cycle
      AND w.weight > 0
      AND r.score IS NOT NULL
      AND r.rater_id IS NOT NULL
      AND r.ratee_id IS NOT NULL
      AND CASE $role WHEN 'all_but_self' THEN r.rater_role <> 'self' ELSE r.rater_role = $role END
      AND ($department IS NULL OR (r.rater_id IN (SELECT employee_id FROM in_scope)
                                AND r.ratee_id IN (SELECT employee_id FROM in_scope)))
    GROUP BY r.rater_id, r.ratee_id
)
SELECT
    weighted.rater_id,
    weighted.ratee_id,
    weighted.rater_role,
    weighted.score,
    weighted.dimensions,
    o.attainment
FROM weighted
LEFT JOIN owner_attainment($cycle, NULL) AS o
    ON o.owner_type = 'employee' AND o.owner_id = weighted.ratee_id
ORDER BY weighted.rater_id, weighted.ratee_id;
