-- evaluator_risk_history: one evaluator's churn probability in every kept score set, oldest first.
-- Grain: one row per score set. Input: evaluator_scores. Parameters: :instance.
SELECT as_of_date, model_version, churn_probability, risk_tier, day_of_trial, segment
FROM evaluator_scores
WHERE instance = :instance
ORDER BY as_of_date
