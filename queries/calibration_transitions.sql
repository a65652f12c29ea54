-- Which proposed grades became which final grades in calibration?
-- The proposed x final transition matrix, long form: one row per pair of policy grades (best
-- first), zero when nobody moved that way; only people with both grades count. group_id picks
-- one group of group_by (default: every group).
-- @param cycle cycle=latest  The performance cycle.
-- @param group_by choice(department|region|job_level|manager)=department  What a group is.
-- @param group_id text=null  Only this group (default: all).
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs grades, employees
-- @privacy aggregate count=employees
-- @returns proposed_grade, final_grade, employees, share_of_proposed, proposed_rank, final_rank
WITH members AS (
    SELECT group_id, group_name, proposed_grade, final_grade
    FROM graded_groups($group_by)
    WHERE cycle_id = $cycle
      AND ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
moved AS (
    SELECT m.proposed_grade, m.final_grade, count(*) AS employees
    FROM members AS m
    WHERE $group_id IS NULL OR m.group_id = $group_id
    GROUP BY m.proposed_grade, m.final_grade
),
pairs AS (
    SELECT
        proposed.grade AS proposed_grade,
        final.grade AS final_grade,
        proposed.grade_rank AS proposed_rank,
        final.grade_rank AS final_rank,
        coalesce(moved.employees, 0) AS employees
    FROM policy_grades AS proposed
    CROSS JOIN policy_grades AS final
    LEFT JOIN moved ON moved.proposed_grade = proposed.grade AND moved.final_grade = final.grade
)
SELECT
    proposed_grade,
    final_grade,
    employees,
    employees / nullif(sum(employees) OVER (PARTITION BY proposed_grade), 0) AS share_of_proposed,
    proposed_rank,
    final_rank
FROM pairs
ORDER BY proposed_rank, final_rank;
