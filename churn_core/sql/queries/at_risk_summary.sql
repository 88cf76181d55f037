-- at_risk_summary: how many evaluators of a score set match the filters, and what they are worth.
-- Grain: one row. Input: evaluator_scores. Parameters: :as_of (DATE) and the filter conditions' values.
SELECT
    count(*) AS evaluators,
    count_if(risk_tier = 'high') AS high_risk,
    coalesce(sum(value_at_risk), 0.0) AS value_at_risk,
    count_if(worth_saving = 1) AS worth_saving,
    count_if(might_swing = 1) AS might_swing
FROM evaluator_scores
WHERE as_of_date = :as_of
    AND TRUE /*filters*/
