-- How many people per grade does the guideline allow each group, and how far is each group from it?
-- The calibration sheet (绩效校准表): per group and policy grade (best first), the actual
-- headcount, the guideline headcount and gap = actual - guideline (positive: excess).
-- Guideline rounding (gradelens.distribution.guideline_counts; docs/methods-grades.md): grades
-- better than the middle grade (largest target share, B) are caps on the cumulative share from
-- the top rounded up (S <= ceil(5% N), S+A <= ceil(25% N)); grades worse than it are floors on
-- the cumulative share from the bottom rounded down (D >= floor(5% N), C+D >= floor(15% N));
-- the middle grade gets the rest. N x share is rounded to 9 decimals first (float noise).
-- outside_guideline: the cumulative cap is exceeded (at_most) or the cumulative floor is not met
-- (at_least); the middle grade is never outside by itself.
-- @param cycle cycle=latest  The performance cycle.
-- @param stage choice(proposed|final)=final  Proposed grades (to prepare the meeting) or final ones.
-- @param group_by choice(department|region|job_level|manager)=department  What a group is.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs grades, employees
-- @privacy aggregate count=employees by=group_id
-- @returns group_id, group_name, grade, actual, guideline, gap, grade_rank, employees, target_share, rule, cumulative_actual, cumulative_guideline, outside_guideline
WITH members AS (
    SELECT group_id, group_name, proposed_grade, final_grade
    FROM graded_groups($group_by)
    WHERE cycle_id = $cycle
      AND ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
graded AS (
    SELECT m.group_id, m.group_name, p.grade
    FROM members AS m
    JOIN policy_grades AS p ON p.grade = CASE WHEN $stage = 'final' THEN m.final_grade ELSE m.proposed_grade END
),
groups AS (
    SELECT group_id, min(group_name) AS group_name, count(*) AS employees FROM graded GROUP BY group_id
),
counted AS (
    SELECT group_id, grade, count(*) AS actual FROM graded GROUP BY group_id, grade
),
middle AS (
    SELECT grade_rank AS middle_rank FROM policy_grades ORDER BY target_share DESC, grade_rank LIMIT 1
),
-- Cumulative target shares summed one grade at a time, best first and worst first, in the
-- order gradelens.distribution.guideline_counts sums them.
shares AS (
    SELECT
        p.grade,
        p.grade_rank,
        p.target_share,
        sum(p.target_share) OVER (ORDER BY p.grade_rank ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS share_from_top,
        sum(p.target_share) OVER (ORDER BY p.grade_rank DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS share_from_bottom,
        CASE WHEN p.grade_rank < middle.middle_rank THEN 'at_most'
             WHEN p.grade_rank > middle.middle_rank THEN 'at_least'
             ELSE 'remainder' END AS rule
    FROM policy_grades AS p CROSS JOIN middle
),
sheet AS (
    SELECT
        groups.group_id,
        groups.group_name,
        groups.employees,
        s.grade,
        s.grade_rank,
        s.target_share,
        s.rule,
        coalesce(c.actual, 0) AS actual,
        CASE s.rule
            WHEN 'at_most' THEN ceil(round(groups.employees * s.share_from_top, 9))
            WHEN 'at_least' THEN floor(round(groups.employees * s.share_from_bottom, 9))
        END::BIGINT AS bound
    FROM groups
    CROSS JOIN shares AS s
    LEFT JOIN counted AS c ON c.group_id = groups.group_id AND c.grade = s.grade
),
per_grade AS (
    SELECT
        *,
        CASE rule
            WHEN 'at_most' THEN bound - coalesce(lag(bound) OVER (PARTITION BY group_id ORDER BY grade_rank), 0)
            WHEN 'at_least' THEN bound - coalesce(lead(bound) OVER (PARTITION BY group_id ORDER BY grade_rank), 0)
        END AS bounded_guideline,
        CASE rule
            WHEN 'at_most' THEN sum(actual) OVER (PARTITION BY group_id ORDER BY grade_rank ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            WHEN 'at_least' THEN sum(actual) OVER (PARTITION BY group_id ORDER BY grade_rank DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            ELSE actual
        END AS cumulative_actual
    FROM sheet
),
guided AS (
    SELECT
        *,
        coalesce(bounded_guideline, employees - sum(bounded_guideline) OVER (PARTITION BY group_id))::BIGINT AS guideline
    FROM per_grade
)
SELECT
    group_id,
    group_name,
    grade,
    actual,
    guideline,
    actual - guideline AS gap,
    grade_rank,
    employees,
    target_share,
    rule,
    cumulative_actual::BIGINT AS cumulative_actual,
    coalesce(bound, guideline) AS cumulative_guideline,
    CASE rule
        WHEN 'at_most' THEN cumulative_actual > bound
        WHEN 'at_least' THEN cumulative_actual < bound
        ELSE false
    END AS outside_guideline
FROM guided
ORDER BY group_name, group_id, grade_rank;
