-- How did calibration move grades in each group: how many people went up, down or stayed?
-- Counts people with both a proposed and a final grade (graded); up means a better final grade
-- than proposed. pending: proposed but not calibrated yet. Shares are of graded. net_steps_up:
-- grade steps moved up minus steps moved down (negative: calibration lowered grades on balance).
-- @param cycle cycle=latest  The performance cycle.
-- @param group_by choice(department|region|job_level|manager)=department  What a group is.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs grades, employees
-- @privacy aggregate count=graded
-- @returns group_id, group_name, graded, moved_up, moved_down, unchanged, share_up, share_down, share_unchanged, pending, net_steps_up
WITH members AS (
    SELECT group_id, group_name, proposed_grade, final_grade
    FROM graded_groups($group_by)
    WHERE cycle_id = $cycle
      AND ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
ranked AS (
    SELECT m.group_id, m.group_name, proposed.grade_rank AS proposed_rank, final.grade_rank AS final_rank
    FROM members AS m
    JOIN policy_grades AS proposed ON proposed.grade = m.proposed_grade
    LEFT JOIN policy_grades AS final ON final.grade = m.final_grade
),
counted AS (
    SELECT
        group_id,
        min(group_name) AS group_name,
        count(final_rank) AS graded,
        count(*) FILTER (WHERE final_rank < proposed_rank) AS moved_up,
        count(*) FILTER (WHERE final_rank > proposed_rank) AS moved_down,
        count(*) FILTER (WHERE final_rank = proposed_rank) AS unchanged,
        count(*) FILTER (WHERE final_rank IS NULL) AS pending,
        sum(proposed_rank - final_rank) AS net_steps_up
    FROM ranked
    GROUP BY group_id
)
SELECT
    group_id,
    group_name,
    graded,
    moved_up,
    moved_down,
    unchanged,
    moved_up / nullif(graded, 0) AS share_up,
    moved_down / nullif(graded, 0) AS share_down,
    unchanged / nullif(graded, 0) AS share_unchanged,
    pending,
    coalesce(net_steps_up, 0)::BIGINT AS net_steps_up
FROM counted
ORDER BY group_name, group_id;
