-- score_set_integrity: the fingerprint of one score set recomputed from its rows inside the warehouse (so a
-- set of a million rows is checked without reading it out), and how far its SHAP values are from adding up
-- to its margin. Grain: one row. Input: evaluator_scores. Parameters: :as_of (DATE), :model_version (VARCHAR,
-- from the signed manifest), :channels (VARCHAR, ',email,push,...,' in schema.CHANNELS order).
-- Every value is a whole number (doubles in micro-units, floored) so each engine sums it exactly in any
-- order; churn_core.scoring.integrity computes the same numbers in pandas when the set is written, and adds the
-- terms over the set's shap_* columns (names from its signed manifest, checked as identifiers). Each term is summed, and summed weighted by (instance % 9973 + 1) so that a value moved
-- to another evaluator changes the fingerprint too.
WITH terms AS (
    SELECT
        CAST(instance AS BIGINT) AS instance,
        CAST(instance % 9973 + 1 AS BIGINT) AS w,
        CASE WHEN model_version = :model_version THEN 1 ELSE 0 END AS model_row,
        CAST(floor(churn_probability * 1000000) AS BIGINT) AS probability,
        CAST(floor(churn_margin * 1000000) AS BIGINT) AS margin,
        CAST(risk_rank AS BIGINT) AS risk_rank,
        CASE risk_tier WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END AS tier,
        coalesce(predicted_churn, 0) AS predicted_churn,
        coalesce(worth_saving, 0) AS worth_saving,
        coalesce(might_swing, 0) AS might_swing,
        CAST(coalesce(strpos(:channels, ',' || recommended_channel || ','), 0) AS BIGINT) AS channel,
        CAST(coalesce(length(top_reason), 0) AS BIGINT) AS reason,
        /*shap_terms*/
    FROM evaluator_scores
    WHERE as_of_date = :as_of
)
SELECT
    count(*) AS row_count,
    count(DISTINCT instance) AS instances,
    CAST(coalesce(sum(model_row), 0) AS BIGINT) AS model_rows,
    CAST(coalesce(sum(instance), 0) AS BIGINT) AS instance_sum,
    CAST(coalesce(sum(probability), 0) AS BIGINT) AS probability,
    CAST(coalesce(sum(probability * w), 0) AS BIGINT) AS probability_w,
    CAST(coalesce(sum(margin), 0) AS BIGINT) AS margin,
    CAST(coalesce(sum(margin * w), 0) AS BIGINT) AS margin_w,
    CAST(coalesce(sum(risk_rank * w), 0) AS BIGINT) AS risk_rank_w,
    count_if(tier = 3) AS high_risk,
    count_if(tier = 2) AS medium_risk,
    count_if(tier = 1) AS low_risk,
    CAST(coalesce(sum(tier * w), 0) AS BIGINT) AS tier_w,
    CAST(coalesce(sum(predicted_churn), 0) AS BIGINT) AS predicted_churn,
    CAST(coalesce(sum(worth_saving), 0) AS BIGINT) AS worth_saving,
    CAST(coalesce(sum(might_swing), 0) AS BIGINT) AS might_swing,
    CAST(coalesce(sum((predicted_churn + 2 * worth_saving + 4 * might_swing) * w), 0) AS BIGINT) AS flags_w,
    CAST(coalesce(sum(channel * w), 0) AS BIGINT) AS channel_w,
    CAST(coalesce(sum(reason * w), 0) AS BIGINT) AS reason_w,
    CAST(coalesce(sum(shap), 0) AS BIGINT) AS shap,
    CAST(coalesce(sum(shap * w), 0) AS BIGINT) AS shap_w,
    CAST(coalesce(sum(shap_columns), 0) AS BIGINT) AS shap_columns,
    max(shap_gap) AS shap_gap
FROM terms
