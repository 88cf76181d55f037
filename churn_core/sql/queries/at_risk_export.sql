-- at_risk_export: the filtered, sorted list for a CSV or Excel export: the at-risk page without paging.
-- Grain: one row per evaluator, at most :limit rows. Input: evaluator_scores.
-- Parameters: :as_of (DATE), :sort, :limit and the filter conditions' values; the column list is chosen
-- from the table's own columns by churn_core.views.
SELECT
    instance /*columns*/
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
LIMIT :limit
