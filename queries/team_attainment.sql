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
-- At the cycle's end (as_of NULL) members come counted and summed per unit and region
-- (team_end_sums: stored when the derived tables are current); as of a date each member is a row
-- of one. DuckDB drops the branch whose condition is false for the bound as_of.
WITH owners AS (
    SELECT * FROM owner_attainment($cycle, $as_of)
),
members AS (
    SELECT unit_id, unit_name, department_id, department, region, employees, employees_with_attainment, attainment_sum
    FROM team_end_sums
    WHERE cycle_id = $cycle AND $as_of IS NULL
    UNION ALL
    SELECT e.unit_id, e.unit_name, e.department_id, e.department, e.region, 1, CAST(o.attainment IS NOT NULL AS BIGINT), o.attainment
    FROM employee_units AS e
    LEFT JOIN owners AS o ON o.owner_type = 'employee' AND o.owner_id = e.employee_id
    WHERE e.cycle_id = $cycle AND $as_of IS NOT NULL
)
SELECT
    m.unit_id AS team_id,
    coalesce(any_value(m.unit_name), m.unit_id) AS team,
    any_value(u.unit_type) AS unit_type,
    m.department_id,
    any_value(m.department) AS department,
    coalesce(any_value(u.region), CASE WHEN count(DISTINCT m.region) = 1 THEN any_value(m.region) END) AS region,
    CAST(sum(m.employees) AS BIGINT) AS employees,
    CAST(sum(m.employees_with_attainment) AS BIGINT) AS employees_with_attainment,
    sum(m.attainment_sum) / nullif(sum(m.employees_with_attainment), 0) AS attainment,
    any_value(own.attainment) AS team_goal_attainment,
    sum(m.employees_with_attainment) < (SELECT min_group_size FROM policy_settings) AS below_min_group
FROM members AS m
LEFT JOIN org_units AS u ON u.unit_id = m.unit_id
LEFT JOIN owners AS own ON own.owner_type IN ('team', 'department') AND own.owner_id = m.unit_id
WHERE ($department IS NULL OR m.department_id = $department)
  AND ($region IS NULL OR m.region = $region)
GROUP BY m.unit_id, m.department_id
ORDER BY attainment DESC NULLS LAST, team;
