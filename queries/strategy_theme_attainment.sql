-- Which strategy themes are landing? Attainment per strategy theme.
-- A goal carries the theme of its top ancestor.
-- A parent link counts only when it points to a goal of the same cycle, so a goal with a broken
-- link is its own top ancestor; goals whose top ancestor has no theme form the row with an
-- empty strategy_theme. attainment is the mean attainment of the theme's goals within the
-- filters that have one (each goal counts once); individual_attainment the same over individual
-- (employee) goals only; company_goal_attainment the weighted attainment of the company's own
-- goals with the theme, whatever the filters. on_track_share: goals at >= 100%.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end).
-- @param department text=null  Only goals owned within this department_id (default: all).
-- @param region text=null  Only goals owned within this region (default: all).
-- @needs cycles, goals
-- @privacy aggregate count=goals
-- @returns strategy_theme, goals, goals_with_attainment, attainment, individual_goals, individual_attainment, company_goal_attainment, on_track_share
-- The goals come summed per theme, owner type, department and region (cycle_theme_sums: stored
-- for the cycle's end, computed as of an earlier date), so a mean is a sum over a count.
WITH sums AS (
    SELECT * FROM cycle_theme_sums($cycle, $as_of)
),
company AS (
    SELECT strategy_theme, sum(weighted_attainment) / sum(weight_sum) AS company_goal_attainment
    FROM sums
    WHERE owner_type = 'company'
    GROUP BY strategy_theme
),
kept AS (
    SELECT * FROM sums
    WHERE ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
)
SELECT
    kept.strategy_theme,
    CAST(sum(kept.goals) AS BIGINT) AS goals,
    CAST(sum(kept.goals_with_attainment) AS BIGINT) AS goals_with_attainment,
    sum(kept.attainment_sum) / nullif(sum(kept.goals_with_attainment), 0) AS attainment,
    CAST(coalesce(sum(kept.goals) FILTER (WHERE kept.owner_type = 'employee'), 0) AS BIGINT) AS individual_goals,
    sum(kept.attainment_sum) FILTER (WHERE kept.owner_type = 'employee')
        / nullif(sum(kept.goals_with_attainment) FILTER (WHERE kept.owner_type = 'employee'), 0) AS individual_attainment,
    any_value(company.company_goal_attainment) AS company_goal_attainment,
    -- On track as in gradelens/attainment.py (ON_TRACK).
    CAST(sum(kept.on_track) AS BIGINT) / nullif(CAST(sum(kept.goals_with_attainment) AS BIGINT), 0) AS on_track_share
FROM kept
LEFT JOIN company ON company.strategy_theme IS NOT DISTINCT FROM kept.strategy_theme
GROUP BY kept.strategy_theme
ORDER BY kept.strategy_theme IS NULL, kept.strategy_theme;
