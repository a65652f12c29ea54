-- Which performance cycles does the dataset hold, and how many people were in each?
-- Oldest first; used for the cycle filter and cross-cycle trends.
-- @needs cycles
-- @privacy public
-- @returns cycle_id, name, start_date, end_date, employees, graded
SELECT
    c.cycle_id,
    c.name,
    c.start_date,
    c.end_date,
    (SELECT count(*) FROM employees AS e WHERE e.cycle_id = c.cycle_id) AS employees,
    (SELECT count(*) FROM grades AS g WHERE g.cycle_id = c.cycle_id) AS graded
FROM cycles AS c
ORDER BY c.start_date, c.cycle_id;
