-- holdout_evaluators: every evaluator whose trial started by :as_of, for the first holdout assignment (no
-- holdout_assignments table yet). Grain: one row per evaluator. Input: evaluators. Parameters: :as_of (DATE).
-- resolved = 1 when the outcome was known by :as_of: such an evaluator keeps its source's control_group.
SELECT
    instance,
    eval_start_date,
    product,
    control_group,
    CASE WHEN resolved_date <= :as_of THEN 1 ELSE 0 END AS resolved
FROM evaluators
WHERE eval_start_date <= :as_of
