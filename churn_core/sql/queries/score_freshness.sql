-- score_freshness: the newest score set the dashboard serves by default, and when it was written.
-- Grain: one row (none before the first score set). Input: score_sets (written by `churn score`).
SELECT
    as_of_date,
    model_version,
    rows,
    created_at
FROM score_sets
ORDER BY as_of_date DESC, created_at DESC
LIMIT 1
