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
WITH cycle_goals AS (
    SELECT * FROM cycle_goal_attainment($cycle, $as_of)
),
-- Each goal's top ancestor comes with the cycle's goal tree (precomputed when current).
themed AS (
    SELECT g.*, top.strategy_theme AS inherited_theme
    FROM cycle_goals AS g
    JOIN cycle_goal_tree($cycle) AS tree USING (goal_id)
    JOIN cycle_goals AS top ON top.goal_id = tree.top_goal_id
),
-- Who owns goals: the cycle's employees and the org units, each with its department and region.
owners AS (
    SELECT 'employee' AS owner_kind, employee_id AS owner_id, department_id, region
    FROM employee_units WHERE cycle_id = $cycle
    UNION ALL
    SELECT 'unit', u.unit_id, d.department_id, u.region
    FROM org_units AS u LEFT JOIN unit_departments AS d USING (unit_id)
),
placed AS (
    SELECT
        g.*,
        CASE WHEN g.owner_type <> 'company' THEN o.department_id END AS department_id,
        CASE WHEN g.owner_type <> 'company' THEN o.region END AS region
    FROM themed AS g
    LEFT JOIN owners AS o
        ON o.owner_kind = CASE WHEN g.owner_type = 'employee' THEN 'employee' ELSE 'unit' END AND o.owner_id = g.owner_id
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
