-- Which teams attain the most and the least? Each team's attainment with its headcount.
-- A team is the org unit employees belong to (usually a team; people placed directly in a
-- department make that unit a row too, with its unit_type). attainment is the mean of the
-- members' owner attainment; members without any goal with an actual are counted in employees
-- but not in the mean. team_goal_attainment is the unit's own goals. region is the unit's, or
-- the members' when the unit has none and they share one. below_min_group marks units with
-- fewer members with attainment than the policy's privacy.min_group_size: the page leaves them
-- out of its top and bottom lists. Best attainment first.
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  Attainment as of this date (default: the cycle's end).
-- @param department text=null  Only members of this department_id (default: all).
-- @param region text=null  Only members of this region (default: all).
-- @needs cycles, employees, goals
-- @privacy aggregate count=employees
-- @returns team_id, team, unit_type, department_id, department, region, employees, employees_with_attainment, attainment, team_goal_attainment, below_min_group
WITH owners AS (
    SELECT * FROM owner_attainment($cycle, $as_of)
),
members AS (
    SELECT e.unit_id, e.unit_name, e.department_id, e.department, e.region, o.attainment
    FROM employee_units AS e
    LEFT JOIN owners AS o ON o.owner_type = 'employee' AND o.owner_id = e.employee_id
    WHERE e.cycle_id = $cycle
      AND ($department IS NULL OR e.department_id = $department)
      AND ($region IS NULL OR e.region = $region)
)
SELECT
    m.unit_id AS team_id,
    coalesce(any_value(m.unit_name), m.unit_id) AS team,
    any_value(u.unit_type) AS unit_type,
    m.department_id,
    any_value(m.department) AS department,
    coalesce(any_value(u.region), CASE WHEN count(DISTINCT m.region) = 1 THEN any_value(m.region) END) AS region,
    count(*) AS employees,
    count(m.attainment) AS employees_with_attainment,
    avg(m.attainment) AS attainment,
    any_value(own.attainment) AS team_goal_attainment,
    count(m.attainment) < (SELECT min_group_size FROM policy_settings) AS below_min_group
FROM members AS m
LEFT JOIN org_units AS u ON u.unit_id = m.unit_id
LEFT JOIN owners AS own ON own.owner_type IN ('team', 'department') AND own.owner_id = m.unit_id
GROUP BY m.unit_id, m.department_id
ORDER BY attainment DESC NULLS LAST, team;
