-- realised_performance: how past score sets did once outcomes became known. For each set: evaluators whose
-- outcome has resolved since, how many churned, the mean predicted churn probability, the confusion matrix
-- at the model's own threshold (predicted_churn), the Brier score and the ROC AUC (rank-sum, ties averaged).
-- Grain: one row per score set with at least one resolved evaluator. Inputs: evaluator_scores, evaluators.
WITH scored AS (
    SELECT
        s.as_of_date,
        s.model_version,
        s.churn_probability AS p,
        s.predicted_churn AS predicted,
        1 - e.retained AS churned
    FROM evaluator_scores AS s
    JOIN evaluators AS e
        ON e.instance = s.instance
    WHERE e.retained IS NOT NULL
),
ranked AS (
    SELECT
        *,
        rank() OVER (PARTITION BY as_of_date ORDER BY p)
            + (count(*) OVER (PARTITION BY as_of_date, p) - 1) / 2e0 AS r
    FROM scored
)
SELECT
    as_of_date,
    max(model_version) AS model_version,
    count(*) AS resolved,
    sum(churned) AS churned,
    avg(p) AS mean_predicted,
    count_if(predicted = 1 AND churned = 1) AS tp,
    count_if(predicted = 1 AND churned = 0) AS fp,
    count_if(predicted = 0 AND churned = 1) AS fn,
    count_if(predicted = 0 AND churned = 0) AS tn,
    avg((p - churned) * (p - churned)) AS brier,
    (sum(CASE WHEN churned = 1 THEN r ELSE 0 END) - sum(churned) * (sum(churned) + 1) / 2e0)
        / nullif(CAST(sum(churned) AS DOUBLE) * (count(*) - sum(churned)), 0) AS auc
FROM ranked
GROUP BY as_of_date
ORDER BY as_of_date
