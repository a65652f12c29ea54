-- What came of a cycle's appeals, reason by reason?
-- One row per reason and status with appeals; statuses in the order open, upheld,
-- partially_upheld, rejected, withdrawn, then any unknown code. grade_raised / grade_lowered:
-- appeals whose grade_after is better / worse than grade_before in the policy's order.
-- Counts the same appeals as appeal_trends: those of graded employees of the cycle.
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs cycles, employees, grades, appeals
-- @privacy aggregate count=appeals
-- @returns reason, status, appeals, grade_raised, grade_lowered
WITH population AS (
    SELECT g.cycle_id, g.employee_id
    FROM graded_people AS g
    WHERE g.cycle_id = $cycle
      AND ($department IS NULL OR g.department_id = $department)
      AND ($region IS NULL OR g.region = $region)
)
SELECT
    a.reason,
    a.status,
    count(*) AS appeals,
    count(*) FILTER (WHERE after.grade_rank < before.grade_rank) AS grade_raised,
    count(*) FILTER (WHERE after.grade_rank > before.grade_rank) AS grade_lowered
FROM appeals AS a
JOIN population AS p USING (cycle_id, employee_id)
LEFT JOIN policy_grades AS before ON before.grade = a.grade_before
LEFT JOIN policy_grades AS after ON after.grade = a.grade_after
GROUP BY a.reason, a.status
ORDER BY
    a.reason,
    coalesce(list_position(['open', 'upheld', 'partially_upheld', 'rejected', 'withdrawn'], a.status), 99),
    a.status;
