-- Which appeals were still open on a date, oldest first, and which are past the service target?
-- Open on as_of: filed on or before as_of and not resolved by then (status open, or resolved_on
-- after as_of), so a past date shows the backlog of that day. as_of defaults to the latest
-- filed_on or resolved_on in the data (appeal_dates.latest_date), not today's date, so the
-- answer is reproducible. Every cycle's appeals are included: the backlog does not belong to
-- one cycle. age_days = as_of - filed_on; overdue when age_days is above the policy's service
-- target ([appeals] service_target_days, default 15). Appeals that are not counted elsewhere,
-- with an unknown status, or with impossible dates are left out (see appeal_data_quality).
-- @param as_of date=null  The day to look at (default: the latest date in the appeals data).
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs cycles, employees, grades, appeals
-- @returns appeal_id, cycle_id, employee_id, employee_name, department, region, reason, grade_before, filed_on, as_of, age_days, service_target_days, overdue
WITH counted AS (
    SELECT a.*, u.name AS employee_name, u.department_id, u.department, u.region
    FROM appeals AS a
    JOIN graded_people AS u USING (cycle_id, employee_id)
    JOIN cycles AS c USING (cycle_id)
    WHERE a.filed_on IS NOT NULL
      AND (a.status = 'open'
           OR (a.status IN ('upheld', 'partially_upheld', 'rejected', 'withdrawn') AND a.resolved_on >= a.filed_on))
),
day AS (
    SELECT coalesce($as_of::DATE, (SELECT greatest(max(filed_on), max(resolved_on)) FROM counted)) AS as_of
)
SELECT
    a.appeal_id,
    a.cycle_id,
    a.employee_id,
    a.employee_name,
    a.department,
    a.region,
    a.reason,
    a.grade_before,
    a.filed_on,
    day.as_of,
    date_diff('day', a.filed_on, day.as_of) AS age_days,
    s.appeal_service_target_days AS service_target_days,
    date_diff('day', a.filed_on, day.as_of) > s.appeal_service_target_days AS overdue
FROM counted AS a
CROSS JOIN day
CROSS JOIN policy_settings AS s
WHERE a.filed_on <= day.as_of
  AND (a.status = 'open' OR a.resolved_on > day.as_of)
  AND ($department IS NULL OR a.department_id = $department)
  AND ($region IS NULL OR a.region = $region)
ORDER BY a.filed_on, a.appeal_id;
