-- How are grades spread in each group (department, region, job level or manager), against the guideline?
-- One row per group with graded people and per policy grade (best first), zero when nobody has
-- it; share is of the group's graded people. Stage final counts calibrated grades only.
-- A manager's group is their direct reports; people without a department, region, job level
-- or manager form the group '(none)'.
-- @param cycle cycle=latest  The performance cycle.
-- @param stage choice(proposed|final)=final  Proposed (before calibration) or final grades.
-- @param group_by choice(department|region|job_level|manager)=department  What a group is.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs grades, employees
-- @privacy aggregate count=group_employees by=group_id
-- @returns group_id, group_name, grade, employees, share, target_share, grade_rank, group_employees, expected
WITH members AS (
    SELECT group_id, group_name, proposed_grade, final_grade
    FROM graded_groups($group_by)
    WHERE cycle_id = $cycle
      AND ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
graded AS (
    SELECT m.group_id, m.group_name, CASE WHEN $stage = 'final' THEN m.final_grade ELSE m.proposed_grade END AS grade
    FROM members AS m
),
groups AS (
    SELECT group_id, min(group_name) AS group_name, count(*) AS group_employees
    FROM graded JOIN policy_grades USING (grade)
    GROUP BY group_id
),
counted AS (
    SELECT group_id, grade, count(*) AS employees FROM graded GROUP BY group_id, grade
)
SELECT
    groups.group_id,
    groups.group_name,
    p.grade,
    coalesce(c.employees, 0) AS employees,
    coalesce(c.employees, 0) / groups.group_employees AS share,
    p.target_share,
    p.grade_rank,
    groups.group_employees,
    groups.group_employees * p.target_share AS expected
FROM groups
CROSS JOIN policy_grades AS p
LEFT JOIN counted AS c ON c.group_id = groups.group_id AND c.grade = p.grade
ORDER BY groups.group_name, groups.group_id, p.grade_rank;
