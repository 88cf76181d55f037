-- score_set_catalogue: the score sets the scoring job recorded, newest first.
-- Grain: one row per as_of_date. Input: score_sets (written by `churn score`).
SELECT *
FROM score_sets
ORDER BY as_of_date DESC
