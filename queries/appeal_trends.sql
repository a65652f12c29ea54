-- How often do graded employees appeal, why, with what result and how fast, cycle by cycle?
-- One row per cycle and group, oldest cycle first; a cycle or group without appeals shows 0.
-- graded: employees with a grade in the cycle (and the group); for group_by=reason it is the
-- cycle's whole graded headcount, since a reason is not a population, so the reasons' rates
-- add up to the cycle's rate. For group_by=grade, graded counts employees by their grade of
-- record (final, else proposed) and appeals by grade_before.
-- appeal_rate: appeals per 100 graded (NULL when nobody is graded). resolved: every status but
-- open (withdrawn counts as resolved). upheld_share: (upheld + partially_upheld) / resolved.
-- grade_raised / grade_lowered: grade_after better / worse than grade_before (policy order).
-- Days to resolve: resolved_on - filed_on over resolved appeals with valid dates; median and
-- p90 by quantile_cont (linear interpolation between the closest ranks).
-- Appeals of employees or cycles not in the dataset, or of employees without a grade, are not
-- counted; appeals with impossible dates are counted but not timed (see appeal_data_quality).
-- @param group_by choice(none|department|region|grade|reason)=none  What to break each cycle down by.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs cycles, employees, grades, appeals
-- @privacy aggregate count=graded
-- @returns cycle_id, cycle_name, group_id, group_name, graded, appeals, appeal_rate, open, upheld, partially_upheld, rejected, withdrawn, resolved, upheld_share, grade_raised, grade_lowered, timed, median_days_to_resolve, p90_days_to_resolve
-- population is NOT MATERIALIZED: the head-counts read only the columns they group by and the
-- appeals join only the appellants' columns, where one materialised copy of every graded person's
-- row (1.6M at 200,000 employees) fed both (a quarter of the query's time).
WITH population AS NOT MATERIALIZED (
    SELECT g.cycle_id, g.employee_id, coalesce(g.final_grade, g.proposed_grade) AS grade,
           g.department_id, g.department, g.region
    FROM graded_people AS g
    JOIN cycles AS c USING (cycle_id)
    WHERE ($department IS NULL OR g.department_id = $department)
      AND ($region IS NULL OR g.region = $region)
),
counted AS (
    SELECT
        a.*,
        p.department_id, p.department, p.region,
        before.grade_rank AS before_rank,
        after.grade_rank AS after_rank,
        CASE WHEN a.status IN ('upheld', 'partially_upheld', 'rejected', 'withdrawn') AND a.resolved_on >= a.filed_on
             THEN date_diff('day', a.filed_on, a.resolved_on) END AS days_to_resolve
    FROM appeals AS a
    JOIN population AS p USING (cycle_id, employee_id)
    LEFT JOIN policy_grades AS before ON before.grade = a.grade_before
    LEFT JOIN policy_grades AS after ON after.grade = a.grade_after
),
reasons AS (
    SELECT DISTINCT reason FROM counted
),
groups AS (
    SELECT c.cycle_id, 'all' AS group_id, 'all' AS group_name, NULL::INTEGER AS group_rank,
           (SELECT count(*) FROM population AS p WHERE p.cycle_id = c.cycle_id) AS graded
    FROM cycles AS c WHERE $group_by = 'none'
    UNION ALL
    SELECT cycle_id, department_id, department, NULL, count(*)
    FROM population WHERE $group_by = 'department' GROUP BY cycle_id, department_id, department
    UNION ALL
    SELECT cycle_id, region, region, NULL, count(*)
    FROM population WHERE $group_by = 'region' GROUP BY cycle_id, region
    UNION ALL
    SELECT c.cycle_id, pg.grade, pg.grade, pg.grade_rank,
           (SELECT count(*) FROM population AS p WHERE p.cycle_id = c.cycle_id AND p.grade = pg.grade)
    FROM cycles AS c CROSS JOIN policy_grades AS pg WHERE $group_by = 'grade'
    UNION ALL
    SELECT c.cycle_id, r.reason, r.reason, NULL,
           (SELECT count(*) FROM population AS p WHERE p.cycle_id = c.cycle_id)
    FROM cycles AS c CROSS JOIN reasons AS r WHERE $group_by = 'reason'
),
stats AS (
    SELECT
        cycle_id,
        CASE $group_by
            WHEN 'department' THEN department_id
            WHEN 'region' THEN region
            WHEN 'grade' THEN grade_before
            WHEN 'reason' THEN reason
            ELSE 'all'
        END AS group_id,
        any_value(CASE $group_by
            WHEN 'department' THEN department
            WHEN 'region' THEN region
            WHEN 'grade' THEN grade_before
            WHEN 'reason' THEN reason
            ELSE 'all'
        END) AS group_name,
        count(*) AS appeals,
        count(*) FILTER (WHERE status = 'open') AS open,
        count(*) FILTER (WHERE status = 'upheld') AS upheld,
        count(*) FILTER (WHERE status = 'partially_upheld') AS partially_upheld,
        count(*) FILTER (WHERE status = 'rejected') AS rejected,
        count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
        count(*) FILTER (WHERE after_rank < before_rank) AS grade_raised,
        count(*) FILTER (WHERE after_rank > before_rank) AS grade_lowered,
        count(days_to_resolve) AS timed,
        quantile_cont(days_to_resolve, 0.5) AS median_days_to_resolve,
        quantile_cont(days_to_resolve, 0.9) AS p90_days_to_resolve
    FROM counted
    GROUP BY ALL
)
SELECT
    coalesce(g.cycle_id, s.cycle_id) AS cycle_id,
    c.name AS cycle_name,
    coalesce(g.group_id, s.group_id) AS group_id,
    coalesce(g.group_name, s.group_name) AS group_name,
    coalesce(g.graded, 0) AS graded,
    coalesce(s.appeals, 0) AS appeals,
    100.0 * coalesce(s.appeals, 0) / nullif(g.graded, 0) AS appeal_rate,
    coalesce(s.open, 0) AS open,
    coalesce(s.upheld, 0) AS upheld,
    coalesce(s.partially_upheld, 0) AS partially_upheld,
    coalesce(s.rejected, 0) AS rejected,
    coalesce(s.withdrawn, 0) AS withdrawn,
    coalesce(s.upheld + s.partially_upheld + s.rejected + s.withdrawn, 0) AS resolved,
    (s.upheld + s.partially_upheld) / nullif(s.upheld + s.partially_upheld + s.rejected + s.withdrawn, 0) AS upheld_share,
    coalesce(s.grade_raised, 0) AS grade_raised,
    coalesce(s.grade_lowered, 0) AS grade_lowered,
    coalesce(s.timed, 0) AS timed,
    s.median_days_to_resolve,
    s.p90_days_to_resolve
FROM groups AS g
FULL JOIN stats AS s ON s.cycle_id = g.cycle_id AND s.group_id IS NOT DISTINCT FROM g.group_id
JOIN cycles AS c ON c.cycle_id = coalesce(g.cycle_id, s.cycle_id)
ORDER BY c.start_date, c.cycle_id, g.group_rank NULLS LAST, group_name, group_id;
