-- flagged_at_cutoff: how many evaluators of a score set a cut-off flags, exactly, and their value at risk.
-- Grain: one row. Input: evaluator_scores. Parameters: :as_of (DATE), :cutoff (churn probability).
-- At the model's own threshold this is the set's predicted_churn count (the "predicted to leave" figure).
SELECT
    count_if(churn_probability >= :cutoff) AS flagged,
    coalesce(sum(CASE WHEN churn_probability >= :cutoff THEN value_at_risk END), 0.0) AS value_at_risk
FROM evaluator_scores
WHERE as_of_date = :as_of
