-- holdout_arrivals: evaluators whose trial started by :as_of and that have no holdout assignment yet.
-- Grain: one row per evaluator. Inputs: evaluators, holdout_assignments. Parameters: :as_of (DATE).
-- resolved = 1 when the outcome was known by :as_of: such an evaluator keeps its source's control_group.
SELECT
    e.instance,
    e.eval_start_date,
    e.product,
    e.control_group,
    CASE WHEN e.resolved_date <= :as_of THEN 1 ELSE 0 END AS resolved
FROM evaluators AS e
LEFT JOIN holdout_assignments AS h
    ON h.instance = e.instance
WHERE e.eval_start_date <= :as_of
    AND h.instance IS NULL
