-- score_columns: no rows, only the columns of evaluator_scores (the shap_<feature> and uplift_<channel>
-- columns depend on the model and the channels). Input: evaluator_scores.
SELECT *
FROM evaluator_scores
LIMIT 0
