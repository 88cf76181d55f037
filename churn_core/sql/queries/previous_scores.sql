-- previous_scores: each evaluator's most recent score before :as_of, to show how its risk moved.
-- Grain: one row per instance scored in an earlier set. Input: evaluator_scores. Parameters: :as_of (DATE).
SELECT
    instance,
    max(as_of_date) AS previous_as_of_date,
    max_by(churn_probability, as_of_date) AS previous_probability
FROM evaluator_scores
WHERE as_of_date < :as_of
GROUP BY instance
