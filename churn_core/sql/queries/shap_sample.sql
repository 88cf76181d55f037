-- shap_sample: a deterministic sample of one score set's evaluators with their SHAP values and the feature
-- values the model saw, for the beeswarm and dependence plots.
-- Grain: one row per sampled evaluator (at most :limit). Inputs: evaluator_scores, feature_snapshots.
-- Parameters: :as_of (DATE), :limit, :cutoff (keep rows whose instance hash is below it, so that a big set
-- is thinned before it is sorted). churn_core.views appends the SHAP and feature columns.
SELECT
    s.instance,
    s.churn_probability /*columns*/
FROM evaluator_scores AS s
LEFT JOIN feature_snapshots AS f
    ON f.instance = s.instance
    AND f.as_of_day = s.as_of_day
WHERE s.as_of_date = :as_of
    AND (CAST(s.instance AS BIGINT) * 2654435761) % 1000003 < :cutoff
ORDER BY (CAST(s.instance AS BIGINT) * 2654435761) % 1000003, s.instance
LIMIT :limit
