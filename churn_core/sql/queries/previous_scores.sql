-- previous_scores: each evaluator's row in the most recent score set before :as_of, to show how its risk
-- moved. Grain: one row per instance in that set. Input: evaluator_scores. Parameters: :as_of (DATE).
-- Only one earlier set is read, so the cost does not grow with the history kept.
SELECT
    instance,
    as_of_date AS previous_as_of_date,
    churn_probability AS previous_probability
FROM evaluator_scores
WHERE as_of_date = (
    SELECT max(as_of_date)
    FROM evaluator_scores
    WHERE as_of_date < :as_of
)
