-- Attainment and the shares of goals on track, at risk and off track, for one cycle as of one
-- date: one period of the attainment headline (attainment_headline puts two side by side).
-- attainment is the mean of the employees' owner attainment; employees without any goal with an
-- actual are counted in employees but not in the mean. The goals counted are those owned within
-- the filters (company and department goals have no region, so a region filter leaves them
-- out); on track is >= 100%, at risk 80-100%, off track < 80%, shares of the goals with an
-- attainment. company_goal_attainment is the company's own goals, whatever the filters.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end; later dates count as the end).
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs cycles, employees, goals
-- @privacy aggregate count=employees
-- @returns employees, employees_with_attainment, attainment, company_goal_attainment, goals, goals_with_attainment, on_track, at_risk, off_track, on_track_share, at_risk_share, off_track_share
-- At the cycle's end (as_of NULL) employees and goals come counted per department and region
-- (people_end_sums; cycle_theme_sums, also per strategy theme: stored when the derived tables
-- are current), so the figures add up a few hundred rows; as of a date each employee and goal
-- is counted here. DuckDB drops the branches whose conditions are false for the bound values.
-- people is definitions.sql's cycle_people_sums written out: this query also needs
-- the company's goals from owners, and through the macro an as-of date would compute every owner's
-- attainment twice (0.9 -> 1.6 s at 200,000 employees).
WITH owners AS (
    SELECT * FROM owner_attainment($cycle, $as_of)
),
people AS (
    SELECT department_id, department, region, employees, employees_with_attainment, attainment_sum
    FROM people_end_sums
    WHERE cycle_id = $cycle AND $as_of IS NULL
    UNION ALL
    SELECT e.department_id, e.department, e.region, 1, CAST(o.attainment IS NOT NULL AS BIGINT), o.attainment
    FROM employee_units AS e
    LEFT JOIN owners AS o ON o.owner_type = 'employee' AND o.owner_id = e.employee_id
    WHERE e.cycle_id = $cycle AND $as_of IS NOT NULL
),
-- Where each goal sits as of a date: an employee's department and region, a unit's department and region.
goal_places AS (
    SELECT
        g.attainment,
        CASE g.owner_type WHEN 'employee' THEN e.department_id WHEN 'company' THEN NULL ELSE d.department_id END AS department_id,
        CASE g.owner_type WHEN 'employee' THEN e.region WHEN 'company' THEN NULL ELSE u.region END AS region
    FROM cycle_goal_attainment($cycle, $as_of) AS g
    LEFT JOIN employee_units AS e ON g.owner_type = 'employee' AND e.cycle_id = $cycle AND e.employee_id = g.owner_id
    LEFT JOIN org_units AS u ON g.owner_type NOT IN ('employee', 'company') AND u.unit_id = g.owner_id
    LEFT JOIN unit_departments AS d ON g.owner_type NOT IN ('employee', 'company') AND d.unit_id = g.owner_id
),
-- Goals owned within the filters, as of a date one row per goal. Without filters every goal of
-- the cycle counts, so the places of its owners are not looked up (the company-wide headline
-- skips joining 0.9M goals to their owners).
goal_attainments AS (
    SELECT attainment FROM cycle_goal_attainment($cycle, $as_of)
    WHERE $as_of IS NOT NULL AND $department IS NULL AND $region IS NULL
    UNION ALL
    SELECT attainment FROM goal_places
    WHERE $as_of IS NOT NULL AND ($department IS NOT NULL OR $region IS NOT NULL)
      AND ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
-- Thresholds as in gradelens/attainment.py (ON_TRACK, AT_RISK) and charts.ATTAINMENT_COLORSCALE,
-- compared after rounding to 9 decimals (as goal_cascade's status and cycle_theme_sums).
counted_goals AS (
    SELECT goals, goals_with_attainment, on_track, at_risk, off_track
    FROM cycle_theme_sums($cycle, NULL)
    WHERE $as_of IS NULL
      AND ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
    UNION ALL
    SELECT
        count(*),
        count(attainment),
        count(*) FILTER (WHERE round(attainment, 9) >= 1.0),
        count(*) FILTER (WHERE round(attainment, 9) >= 0.8 AND round(attainment, 9) < 1.0),
        count(*) FILTER (WHERE round(attainment, 9) < 0.8)
    FROM goal_attainments
    HAVING $as_of IS NOT NULL
),
goal_figures AS (
    SELECT
        CAST(coalesce(sum(goals), 0) AS BIGINT) AS goals,
        CAST(coalesce(sum(goals_with_attainment), 0) AS BIGINT) AS goals_with_attainment,
        CAST(coalesce(sum(on_track), 0) AS BIGINT) AS on_track,
        CAST(coalesce(sum(at_risk), 0) AS BIGINT) AS at_risk,
        CAST(coalesce(sum(off_track), 0) AS BIGINT) AS off_track
    FROM counted_goals
),
employee_figures AS (
    SELECT
        CAST(coalesce(sum(employees), 0) AS BIGINT) AS employees,
        CAST(coalesce(sum(employees_with_attainment), 0) AS BIGINT) AS employees_with_attainment,
        sum(attainment_sum) / nullif(sum(employees_with_attainment), 0) AS attainment
    FROM people
    WHERE ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
)
SELECT
    ef.employees,
    ef.employees_with_attainment,
    ef.attainment,
    (SELECT avg(attainment) FROM owners WHERE owner_type = 'company') AS company_goal_attainment,
    gf.goals,
    gf.goals_with_attainment,
    gf.on_track,
    gf.at_risk,
    gf.off_track,
    gf.on_track / nullif(gf.goals_with_attainment, 0) AS on_track_share,
    gf.at_risk / nullif(gf.goals_with_attainment, 0) AS at_risk_share,
    gf.off_track / nullif(gf.goals_with_attainment, 0) AS off_track_share
FROM employee_figures AS ef, goal_figures AS gf;
