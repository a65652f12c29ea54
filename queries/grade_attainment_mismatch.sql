-- Whose final grade disagrees with their KPI attainment by two or more grades?
-- attainment is the employee's weighted goal attainment at the cycle's end (owner_attainment);
-- expected_grade is the grade of the attainment band it falls in. bands gives the lowest
-- attainment of each grade but the worst, best first; the default (S >= 125%, A >= 110%,
-- B >= 95%, C >= 70%, D below) is gradelens.analyses.grades.DEFAULT_ATTAINMENT_BANDS.
-- gap = grade steps from expected_grade to final_grade, positive when the final grade is better
-- than attainment suggests. People without a final grade or without attainment are left out.
-- @param cycle cycle=latest  The performance cycle.
-- @param bands text=1.25,1.10,0.95,0.70  Lowest attainment of each grade but the worst, best first.
-- @param min_gap int=2  Smallest disagreement listed, in grade steps.
-- @param department text=null  Only this department_id (default: all).
-- @param region text=null  Only this region (default: all).
-- @needs grades, employees, goals, kpi_actuals, cycles
-- @returns employee_id, department, final_grade, attainment, expected_grade, gap, name, manager_id, region, job_level
WITH bound_list AS (
    SELECT string_split($bands, ',') AS bounds
),
checked AS (
    SELECT
        CASE WHEN len(bounds) <> (SELECT count(*) - 1 FROM policy_grades)
                  OR list_count(list_transform(bounds, lambda b: TRY_CAST(trim(b) AS DOUBLE))) <> len(bounds)
                  OR list_transform(bounds, lambda b: TRY_CAST(trim(b) AS DOUBLE))
                     <> list_reverse_sort(list_transform(bounds, lambda b: TRY_CAST(trim(b) AS DOUBLE)))
             THEN error('bands must be ' || (SELECT count(*) - 1 FROM policy_grades)::VARCHAR
                        || ' decreasing numbers separated by commas, the lowest attainment of each grade but the worst, best first (e.g. 1.25,1.10,0.95,0.70); got ''' || $bands || '''')
             ELSE bounds
        END AS bounds
    FROM bound_list
),
bands AS (
    SELECT p.grade, p.grade_rank, TRY_CAST(trim(checked.bounds[p.grade_rank + 1]) AS DOUBLE) AS min_attainment
    FROM policy_grades AS p CROSS JOIN checked
),
band_list AS (  -- the bands as one list: looked up per person without a correlated subquery
    SELECT list({'grade_rank': grade_rank, 'min_attainment': min_attainment}) FILTER (WHERE min_attainment IS NOT NULL) AS bands,
           (SELECT max(grade_rank) FROM policy_grades) AS worst_rank
    FROM bands
),
judged AS (
    SELECT
        g.employee_id, g.name, g.department, g.manager_id, g.region, g.job_level,
        g.final_grade,
        final.grade_rank AS final_rank,
        o.attainment,
        -- the best grade whose lowest attainment is reached; else the worst grade
        coalesce(
            list_min(list_transform(list_filter(band_list.bands, lambda b: o.attainment >= b.min_attainment), lambda b: b.grade_rank)),
            band_list.worst_rank
        ) AS expected_rank
    FROM graded_people AS g  -- the cycle's graded employees (grades joined to employee_units, derived.py)
    JOIN policy_grades AS final ON final.grade = g.final_grade
    JOIN owner_attainment($cycle, NULL) AS o ON o.owner_type = 'employee' AND o.owner_id = g.employee_id
    CROSS JOIN band_list
    WHERE g.cycle_id = $cycle
      AND ($department IS NULL OR g.department_id = $department)
      AND ($region IS NULL OR g.region = $region)
)
SELECT
    judged.employee_id,
    judged.department,
    judged.final_grade,
    judged.attainment,
    expected.grade AS expected_grade,
    judged.expected_rank - judged.final_rank AS gap,
    judged.name,
    judged.manager_id,
    judged.region,
    judged.job_level
FROM judged
JOIN policy_grades AS expected ON expected.grade_rank = judged.expected_rank
WHERE abs(judged.expected_rank - judged.final_rank) >= $min_gap
ORDER BY abs(gap) DESC, judged.department, judged.employee_id;
