-- Which periods does the attainment headline compare? The chosen cycle as of the chosen date,
-- and the cycle before it at the same point: its end when the chosen date is the chosen cycle's
-- end, else as many days after its start as the chosen date is after the chosen cycle's start.
-- No `previous` row for the first cycle. until_date is as_of, or NULL when as_of is the cycle's
-- end (the attainment macros then read the precomputed figures).
-- @param cycle cycle=latest  The performance cycle.
-- @param as_of date=null  As of this date (default: the cycle's end; later dates count as the end).
-- @needs cycles
-- @privacy public
-- @returns period, cycle_id, as_of, until_date
WITH chosen AS (
    SELECT cycle_id, start_date, end_date, least(end_date, coalesce($as_of, end_date)) AS as_of
    FROM cycles WHERE cycle_id = $cycle
),
previous AS (
    SELECT
        c.cycle_id,
        CASE WHEN chosen.as_of = chosen.end_date THEN c.end_date
             ELSE least(c.end_date, c.start_date + CAST(chosen.as_of - chosen.start_date AS INTEGER)) END AS as_of,
        c.end_date
    FROM cycles AS c, chosen
    WHERE c.start_date < chosen.start_date
    ORDER BY c.start_date DESC
    LIMIT 1
)
SELECT 'current' AS period, cycle_id, as_of, CASE WHEN as_of < end_date THEN as_of END AS until_date FROM chosen
UNION ALL
SELECT 'previous', cycle_id, as_of, CASE WHEN as_of < end_date THEN as_of END FROM previous
ORDER BY period;
