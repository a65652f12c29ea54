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
WITH RECURSIVE cycle_goals AS (
    SELECT * FROM cycle_goal_attainment($cycle, $as_of)
),
linked AS (
    SELECT g.*, parent.goal_id AS linked_parent_id
    FROM cycle_goals AS g
    LEFT JOIN cycle_goals AS parent ON parent.goal_id = g.parent_goal_id
),
themed AS (
    SELECT linked.*, top.strategy_theme AS inherited_theme
    FROM linked
    JOIN (SELECT goal_id, arg_max(ancestor_id, steps) AS top_goal_id FROM cycle_goal_ancestors($cycle) GROUP BY goal_id) AS tops
        USING (goal_id)
    JOIN linked AS top ON top.goal_id = tops.top_goal_id
),
placed AS (
    SELECT
        g.*,
        CASE g.owner_type WHEN 'employee' THEN e.department_id WHEN 'company' THEN NULL ELSE d.department_id END AS department_id,
        CASE g.owner_type WHEN 'employee' THEN e.region WHEN 'company' THEN NULL ELSE u.region END AS region
    FROM themed AS g
    LEFT JOIN employee_units AS e ON g.owner_type = 'employee' AND e.cycle_id = g.cycle_id AND e.employee_id = g.owner_id
    LEFT JOIN org_units AS u ON g.owner_type NOT IN ('employee', 'company') AND u.unit_id = g.owner_id
    LEFT JOIN unit_departments AS d ON g.owner_type NOT IN ('employee', 'company') AND d.unit_id = g.owner_id
),
company AS (
    SELECT
        inherited_theme,
        sum(weight * attainment) FILTER (WHERE attainment IS NOT NULL AND weight > 0)
            / sum(weight) FILTER (WHERE attainment IS NOT NULL AND weight > 0) AS company_goal_attainment
    FROM placed
    WHERE owner_type = 'company'
    GROUP BY inherited_theme
)
SELECT
    placed.inherited_theme AS strategy_theme,
    count(*) AS goals,
    count(placed.attainment) AS goals_with_attainment,
    avg(placed.attainment) AS attainment,
    count(*) FILTER (WHERE placed.owner_type = 'employee') AS individual_goals,
    avg(placed.attainment) FILTER (WHERE placed.owner_type = 'employee') AS individual_attainment,
    any_value(company.company_goal_attainment) AS company_goal_attainment,
    -- On track as in gradelens/attainment.py (ON_TRACK).
    count(*) FILTER (WHERE round(placed.attainment, 9) >= 1.0) / nullif(count(placed.attainment), 0) AS on_track_share
FROM placed
LEFT JOIN company ON company.inherited_theme IS NOT DISTINCT FROM placed.inherited_theme
WHERE ($department IS NULL OR placed.department_id = $department)
  AND ($region IS NULL OR placed.region = $region)
GROUP BY placed.inherited_theme
ORDER BY placed.inherited_theme IS NULL, placed.inherited_theme;
