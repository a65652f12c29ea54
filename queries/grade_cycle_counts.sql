-- How many people had each grade in each group, cycle by cycle?
-- The input of grade_drift: one row per cycle, group with graded people and policy grade (best
-- first), zero when nobody has it. Groups are formed within each cycle (people move).
-- @param stage choice(proposed|final)=final  Proposed (before calibration) or final grades.
-- @param group_by choice(department|region|job_level|manager)=department  What a group is.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs grades, employees
-- @privacy aggregate count=employees within=cycle_id,group_id
-- @returns cycle_id, group_id, group_name, grade, employees, grade_rank, target_share
WITH graded AS (
    SELECT m.cycle_id, m.group_id, m.group_name, p.grade
    FROM graded_groups($group_by) AS m
    JOIN policy_grades AS p ON p.grade = CASE WHEN $stage = 'final' THEN m.final_grade ELSE m.proposed_grade END
    WHERE ($department IS NULL OR m.department_id = $department)
      AND ($region IS NULL OR m.region = $region)
),
groups AS (
    SELECT cycle_id, group_id, min(group_name) AS group_name FROM graded GROUP BY cycle_id, group_id
),
counted AS (
    SELECT cycle_id, group_id, grade, count(*) AS employees FROM graded GROUP BY cycle_id, group_id, grade
)
SELECT
    groups.cycle_id,
    groups.group_id,
    groups.group_name,
    p.grade,
    coalesce(c.employees, 0) AS employees,
    p.grade_rank,
    p.target_share
FROM groups
CROSS JOIN policy_grades AS p
LEFT JOIN counted AS c ON c.cycle_id = groups.cycle_id AND c.group_id = groups.group_id AND c.grade = p.grade
ORDER BY groups.cycle_id, groups.group_name, groups.group_id, p.grade_rank;
