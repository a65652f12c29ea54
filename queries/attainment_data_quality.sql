-- Which goals of a cycle break the attainment rules, and how does attainment treat them?
-- One row per problem: target_not_positive (target <= 0 or empty: the goal has no attainment),
-- weight_out_of_range (weight <= 0, above 1 or empty: a weight <= 0 leaves the goal out of its
-- owner's attainment, one above 1 is kept), weights_not_one (an owner whose goal weights do not
-- sum to 1; goal_id is empty: its attainment divides by the weights of the goals that have an
-- attainment, which normalises them), parent_missing and parent_other_cycle (the parent link
-- points to no goal or to a goal of another cycle: the goal is shown as unlinked, a root of the
-- cascade), actual_outside_cycle (actuals dated before the cycle's start or after its end:
-- ignored). value is the target, the weight, the owner's weight sum or the number of such
-- actuals; related_id the parent goal named; first_date / last_date the actuals' dates.
-- @param cycle cycle=latest  The performance cycle.
-- @param department text=null  Only goals owned in this department_id: by its employees, by the
-- department or by its teams (default: all; company goals belong to no department).
-- @needs cycles, goals
-- @returns issue, goal_id, owner_type, owner_id, value, related_id, first_date, last_date
-- The problems themselves depend on the data version alone (cycle_goal_problems: stored when the
-- derived tables are current); only the department filter is applied here, and owners are
-- looked up only when it is given (joining every problem's owner to the cycle's employees read a
-- million employees at 1M for the default view).
SELECT *
FROM cycle_goal_problems($cycle)
WHERE $department IS NULL
   OR (owner_type = 'employee' AND owner_id IN (
           SELECT employee_id FROM employee_units WHERE cycle_id = $cycle AND department_id = $department))
   OR (owner_type <> 'employee' AND owner_id IN (SELECT unit_id FROM unit_departments WHERE department_id = $department))
ORDER BY
    CASE issue
        WHEN 'target_not_positive' THEN 1 WHEN 'weight_out_of_range' THEN 2 WHEN 'weights_not_one' THEN 3
        WHEN 'parent_missing' THEN 4 WHEN 'parent_other_cycle' THEN 5 ELSE 6
    END,
    owner_type, owner_id, goal_id;
