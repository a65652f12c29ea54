-- Whose proposed grades are appealed most, and how often do those appeals succeed?
-- The rater is grades.proposed_by, the manager who proposed the grade; grades nobody proposed
-- are left out. graded: employees whose grade the rater proposed in the cycle; appeals: their
-- appeals (counted as in appeal_trends); appeal_rate: appeals per 100 graded. upheld and
-- partially_upheld are counted apart; upheld_share = (upheld + partially_upheld) / resolved,
-- resolved being every status but open. small_group: graded is below the policy's
-- min_group_size, so the rate describes very few people. Highest appeal rate first.
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only raters in this department_id, counting only their ratees in it (default: all).
-- @param region text=null  Only ratees in this region (default: all).
-- @needs cycles, employees, grades, appeals
-- @returns rater_id, rater_name, graded, appeals, appeal_rate, upheld, partially_upheld, resolved, upheld_share, small_group
-- graded_people: grades joined to employees once per data version (stored when current).
WITH population AS (
    SELECT g.cycle_id, g.employee_id, g.proposed_by
    FROM graded_people AS g
    WHERE g.cycle_id = $cycle
      AND g.proposed_by IS NOT NULL
      AND ($department IS NULL OR (g.department_id = $department AND g.proposed_by IN (
          SELECT employee_id FROM employee_units WHERE cycle_id = $cycle AND department_id = $department)))
      AND ($region IS NULL OR g.region = $region)
),
appealed AS (
    SELECT
        a.cycle_id,
        a.employee_id,
        count(*) AS appeals,
        count(*) FILTER (WHERE a.status = 'upheld') AS upheld,
        count(*) FILTER (WHERE a.status = 'partially_upheld') AS partially_upheld,
        count(*) FILTER (WHERE a.status IN ('upheld', 'partially_upheld', 'rejected', 'withdrawn')) AS resolved
    FROM appeals AS a
    WHERE a.cycle_id = $cycle
    GROUP BY a.cycle_id, a.employee_id
),
raters AS (
    SELECT
        p.proposed_by AS rater_id,
        count(*) AS graded,
        coalesce(sum(x.appeals), 0)::BIGINT AS appeals,
        coalesce(sum(x.upheld), 0)::BIGINT AS upheld,
        coalesce(sum(x.partially_upheld), 0)::BIGINT AS partially_upheld,
        coalesce(sum(x.resolved), 0)::BIGINT AS resolved
    FROM population AS p
    LEFT JOIN appealed AS x USING (cycle_id, employee_id)
    GROUP BY p.proposed_by
)
SELECT
    r.rater_id,
    e.name AS rater_name,
    r.graded,
    r.appeals,
    100.0 * r.appeals / r.graded AS appeal_rate,
    r.upheld,
    r.partially_upheld,
    r.resolved,
    (r.upheld + r.partially_upheld) / nullif(r.resolved, 0) AS upheld_share,
    r.graded < s.min_group_size AS small_group
FROM raters AS r
CROSS JOIN policy_settings AS s
LEFT JOIN employees AS e ON e.cycle_id = $cycle AND e.employee_id = r.rater_id
ORDER BY appeal_rate DESC, r.appeals DESC, r.rater_id;
