-- Which regions had employees in a cycle, and how many?
-- Used for the region filter.
-- @param cycle cycle=latest  The performance cycle.
-- @needs employees
-- @privacy public
-- @returns region, employees
SELECT region, count(*) AS employees
FROM employees
WHERE cycle_id = $cycle AND region IS NOT NULL
GROUP BY region
ORDER BY region;
