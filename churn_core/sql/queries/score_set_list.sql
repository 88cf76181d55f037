-- score_set_list: the score sets kept in evaluator_scores, newest first, when no score_sets table exists.
-- Grain: one row per as_of_date. Input: evaluator_scores.
SELECT
    as_of_date,
    max(model_version) AS model_version,
    count(*) AS scored
FROM evaluator_scores
GROUP BY as_of_date
ORDER BY as_of_date DESC
