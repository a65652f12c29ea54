-- Is the strategy landing? Attainment and the shares of goals on track, at risk and off track.
-- For a cycle and for the cycle before it.
-- One row per period: `current` (the chosen cycle as of the chosen date) and `previous` (the
-- cycle before it at the same point: its end when the chosen date is the chosen cycle's end,
-- else as many days after its start as the chosen date is after the chosen cycle's start). No `previous` row for the first
-- cycle. attainment is the mean of the employees' owner attainment; employees without any
-- goal with an actual are counted in employees but not in the mean. The goals counted are those
-- owned within the filters (company and department goals have no region, so a region filter
-- leaves them out); on track is >= 100%, at risk 80-100%, off track < 80%, shares of the goals
-- with an attainment. company_goal_attainment is the company's own goals, whatever the filters.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end; later dates count as the end).
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs cycles, employees, goals
-- @privacy aggregate count=employees
-- @returns period, cycle_id, as_of, employees, employees_with_attainment, attainment, company_goal_attainment, goals, goals_with_attainment, on_track, at_risk, off_track, on_track_share, at_risk_share, off_track_share
WITH chosen AS (
    SELECT cycle_id, start_date, end_date, least(end_date, coalesce($as_of, end_date)) AS as_of
    FROM cycles WHERE cycle_id = $cycle
),
previous AS (
    SELECT
        c.cycle_id,
        CASE WHEN chosen.as_of = chosen.end_date THEN c.end_date
             ELSE least(c.end_date, c.start_date + CAST(chosen.as_of - chosen.start_date AS INTEGER)) END AS as_of
    FROM cycles AS c, chosen
    WHERE c.start_date < chosen.start_date
    ORDER BY c.start_date DESC
    LIMIT 1
),
periods AS (
    SELECT 'current' AS period, cycle_id, as_of FROM chosen
    UNION ALL
    SELECT 'previous', cycle_id, as_of FROM previous
),
people AS (
    SELECT periods.period, e.employee_id
    FROM periods JOIN employee_units AS e ON e.cycle_id = periods.cycle_id
    WHERE ($department IS NULL OR e.department_id = $department)
      AND ($region IS NULL OR e.region = $region)
),
owners AS (
    SELECT periods.period, o.*
    FROM periods, LATERAL (SELECT * FROM owner_attainment(periods.cycle_id, periods.as_of)) AS o
),
goal_attainment AS (
    SELECT periods.period, g.*
    FROM periods, LATERAL (SELECT * FROM cycle_goal_attainment(periods.cycle_id, periods.as_of)) AS g
),
-- Where each goal sits: an employee's department and region, a unit's department and region.
goal_places AS (
    SELECT
        g.period,
        g.goal_id,
        g.attainment,
        CASE g.owner_type WHEN 'employee' THEN e.department_id WHEN 'company' THEN NULL ELSE d.department_id END AS department_id,
        CASE g.owner_type WHEN 'employee' THEN e.region WHEN 'company' THEN NULL ELSE u.region END AS region
    FROM goal_attainment AS g
    LEFT JOIN employee_units AS e ON g.owner_type = 'employee' AND e.cycle_id = g.cycle_id AND e.employee_id = g.owner_id
    LEFT JOIN org_units AS u ON g.owner_type NOT IN ('employee', 'company') AND u.unit_id = g.owner_id
    LEFT JOIN unit_departments AS d ON g.owner_type NOT IN ('employee', 'company') AND d.unit_id = g.owner_id
),
scoped_goals AS (
    SELECT * FROM goal_places
    WHERE ($department IS NULL OR department_id = $department)
      AND ($region IS NULL OR region = $region)
),
employee_figures AS (
    SELECT
        people.period,
        count(*) AS employees,
        count(o.attainment) AS employees_with_attainment,
        avg(o.attainment) AS attainment
    FROM people
    LEFT JOIN owners AS o ON o.period = people.period AND o.owner_type = 'employee' AND o.owner_id = people.employee_id
    GROUP BY people.period
),
-- Thresholds as in gradelens/attainment.py (ON_TRACK, AT_RISK) and charts.ATTAINMENT_COLORSCALE,
-- compared after rounding to 9 decimals (as goal_cascade's status).
goal_figures AS (
    SELECT
        period,
        count(*) AS goals,
        count(attainment) AS goals_with_attainment,
        count(*) FILTER (WHERE round(attainment, 9) >= 1.0) AS on_track,
        count(*) FILTER (WHERE round(attainment, 9) >= 0.8 AND round(attainment, 9) < 1.0) AS at_risk,
        count(*) FILTER (WHERE round(attainment, 9) < 0.8) AS off_track
    FROM scoped_goals
    GROUP BY period
)
SELECT
    periods.period,
    periods.cycle_id,
    periods.as_of,
    coalesce(ef.employees, 0) AS employees,
    coalesce(ef.employees_with_attainment, 0) AS employees_with_attainment,
    ef.attainment,
    (SELECT avg(o.attainment) FROM owners AS o WHERE o.period = periods.period AND o.owner_type = 'company') AS company_goal_attainment,
    coalesce(gf.goals, 0) AS goals,
    coalesce(gf.goals_with_attainment, 0) AS goals_with_attainment,
    coalesce(gf.on_track, 0) AS on_track,
    coalesce(gf.at_risk, 0) AS at_risk,
    coalesce(gf.off_track, 0) AS off_track,
    gf.on_track / nullif(gf.goals_with_attainment, 0) AS on_track_share,
    gf.at_risk / nullif(gf.goals_with_attainment, 0) AS at_risk_share,
    gf.off_track / nullif(gf.goals_with_attainment, 0) AS off_track_share
FROM periods
LEFT JOIN employee_figures AS ef ON ef.period = periods.period
LEFT JOIN goal_figures AS gf ON gf.period = periods.period
ORDER BY periods.period = 'previous', periods.period;
