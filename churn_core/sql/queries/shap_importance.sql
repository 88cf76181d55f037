-- shap_importance: global importance of every model feature in one score set: the mean absolute SHAP
-- value (and the mean signed one). Grain: one row. Input: evaluator_scores. Parameters: :as_of (DATE).
-- churn_core.views appends one avg(abs(shap_<feature>)) and one avg(shap_<feature>) per SHAP column.
SELECT
    count(*) AS evaluators /*columns*/
FROM evaluator_scores
WHERE as_of_date = :as_of
