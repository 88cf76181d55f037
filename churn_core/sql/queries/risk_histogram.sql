-- risk_histogram: how many evaluators of a score set sit in each 1%-wide band of churn probability, to
-- count who would be flagged at any cut-off. Grain: one row per band (0..100). Input: evaluator_scores.
-- Parameters: :as_of (DATE).
SELECT
    CAST(floor(churn_probability * 100) AS INTEGER) AS band,
    count(*) AS evaluators,
    coalesce(sum(value_at_risk), 0.0) AS value_at_risk
FROM evaluator_scores
WHERE as_of_date = :as_of
GROUP BY 1
ORDER BY 1
