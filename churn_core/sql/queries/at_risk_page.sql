-- at_risk_page: one page of a score set's evaluators, filtered and sorted, for the at-risk table.
-- Grain: one row per evaluator. Input: evaluator_scores.
-- Parameters: :as_of (DATE), :sort ('risk', 'value' or 'change'), :offset, :limit, and the bound values
-- of the filter conditions churn_core.views puts in place of the filters marker (never a literal value).
SELECT
    instance,
    churn_probability,
    risk_tier,
    day_of_trial,
    top_reason,
    segment,
    worth_saving,
    might_swing,
    recommended_channel,
    channel_uplift,
    expected_value,
    value_at_risk,
    probability_change,
    product,
    edition,
    team_size,
    region,
    channels_reached,
    cohort_week,
    activated
FROM evaluator_scores
WHERE as_of_date = :as_of
    AND TRUE /*filters*/
ORDER BY
    CASE :sort
        WHEN 'value' THEN expected_value
        WHEN 'change' THEN coalesce(probability_change, -2.0)
        ELSE churn_probability
    END DESC,
    instance
OFFSET :offset
LIMIT :limit
