-- at_risk_list: a score set's evaluators, filtered and sorted: a page of the at-risk table, or an export.
-- Grain: one row per evaluator, at most :limit rows from :offset on. Input: evaluator_scores.
-- Parameters: :as_of (DATE), :sort ('risk', 'value' or 'change'), :offset, :limit, and the bound values
-- of the filter conditions churn_core.views puts in place of the filters marker (never a literal value);
-- the column list is chosen from the table's own columns by churn_core.views.
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
OFFSET :offset
LIMIT :limit
