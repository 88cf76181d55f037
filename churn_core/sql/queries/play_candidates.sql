-- play_candidates: the evaluators of one score set that plays may take: everyone scored outside the
-- measurement holdout (control_group 1 is never contacted, by any play). Grain: one row per evaluator.
-- Input: evaluator_scores. Parameters: :as_of (DATE).
SELECT *
FROM evaluator_scores
WHERE as_of_date = :as_of AND control_group = 0
ORDER BY instance
