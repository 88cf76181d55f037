-- evaluator_score_rows: one evaluator's score in a set and in the set before it (for what changed).
-- Grain: at most two rows, newest first. Input: evaluator_scores. Parameters: :instance, :as_of (DATE).
SELECT *
FROM evaluator_scores
WHERE instance = :instance
    AND as_of_date <= :as_of
ORDER BY as_of_date DESC
LIMIT 2
