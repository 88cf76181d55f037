-- at_risk_list: a score set's evaluators, filtered and sorted: a page of the at-risk table, or an export.
-- Grain: one row per evaluator, at most :limit rows from :offset on. Input: evaluator_scores.
-- Parameters: :as_of (DATE), :sort ('plan', 'risk', 'value' or 'change'), :offset, :limit, and the bound values
-- of the filter conditions churn_core.views puts in place of the filters marker (never a literal value);
-- the column list is chosen from the table's own columns by churn_core.views. 'plan' lists today's plan first,
-- most valuable contact first (the order it was planned in), then everyone else by the value of contacting
-- them; the holdout, whose value is NULL, comes last in the value orders.
SELECT
    instance /*columns*/
FROM evaluator_scores
WHERE as_of_date = :as_of
    AND TRUE /*filters*/
ORDER BY
    CASE WHEN :sort = 'plan' THEN worth_saving ELSE 0 END DESC,
    CASE :sort
        WHEN 'risk' THEN churn_probability
        WHEN 'change' THEN coalesce(probability_change, -2.0)
        ELSE coalesce(expected_value, -1.0E18)
    END DESC,
    instance
OFFSET :offset
LIMIT :limit
