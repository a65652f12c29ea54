-- Are individual goals aligned to the cascade? The share linked to a parent goal, by department.
-- Individual goals are those owned by employees.
-- A goal counts as linked only when its parent_goal_id is a goal of the same cycle; links to a
-- missing goal or to another cycle count as unlinked (broken_links says how many). The
-- department and region are the owning employee's; goals of people not among the cycle's
-- employees show under "(no department)". The counts per department and region depend on the data
-- only: stored per cycle (gradelens/derived.py, goal_alignment_counts), computed otherwise
-- (definitions.sql, cycle_goal_alignment_counts).
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only employees of this region (default: all).
-- @needs goals
-- @privacy aggregate count=individual_goals
-- @returns department_id, department, individual_goals, linked_goals, alignment_rate, broken_links
WITH counts AS (
    SELECT
        department_id,
        department,
        CAST(sum(individual_goals) AS BIGINT) AS individual_goals,
        CAST(sum(linked_goals) AS BIGINT) AS linked_goals,
        CAST(sum(broken_links) AS BIGINT) AS broken_links
    FROM cycle_goal_alignment_counts($cycle)
    WHERE ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
    GROUP BY department_id, department
)
SELECT
    department_id,
    department,
    individual_goals,
    linked_goals,
    linked_goals / individual_goals AS alignment_rate,
    broken_links
FROM counts
ORDER BY department_id IS NULL, department;
