-- Which dates do the dataset's appeals span, and which date do open-appeal ages default to?
-- latest_date is the latest filed_on or resolved_on of the appeals open_appeals considers (graded
-- employees of the dataset's cycles, a known status, consistent dates): the data's own "today",
-- so the answer does not change with the day it is asked. open_appeals uses it when as_of is
-- not given. Both are NULL when there are no such appeals.
-- @needs cycles, employees, grades, appeals
-- @privacy public
-- @returns first_filed_on, latest_date
WITH counted AS (
    SELECT a.filed_on, a.resolved_on
    FROM appeals AS a
    JOIN graded_people AS g USING (cycle_id, employee_id)  -- graded employees: grades joined to employees once per data version
    JOIN cycles AS c USING (cycle_id)
    WHERE a.filed_on IS NOT NULL
      AND (a.status = 'open'
           OR (a.status IN ('upheld', 'partially_upheld', 'rejected', 'withdrawn') AND a.resolved_on >= a.filed_on))
)
SELECT
    min(filed_on) AS first_filed_on,
    greatest(max(filed_on), max(resolved_on)) AS latest_date
FROM counted;
