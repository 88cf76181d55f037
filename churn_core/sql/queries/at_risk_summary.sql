-- at_risk_summary: how many evaluators of a score set match the filters, what they are worth, today's plan.
-- Grain: one row. Input: evaluator_scores. Parameters: :as_of (DATE) and the filter conditions' values.
-- flagged = predicted to leave (churn probability at or above the model's threshold: predicted_churn);
-- plan_value = the expected incremental retained value of today's planned contacts; held_out = the holdout.
SELECT
    count(*) AS evaluators,
    count_if(predicted_churn = 1) AS flagged,
    count_if(risk_tier = 'high') AS high_risk,
    coalesce(sum(value_at_risk), 0.0) AS value_at_risk,
    count_if(worth_saving = 1) AS worth_saving,
    coalesce(sum(CASE WHEN worth_saving = 1 THEN expected_value END), 0.0) AS plan_value,
    count_if(might_swing = 1) AS might_swing,
    count_if(control_group = 1) AS held_out
FROM evaluator_scores
WHERE as_of_date = :as_of
    AND TRUE /*filters*/
