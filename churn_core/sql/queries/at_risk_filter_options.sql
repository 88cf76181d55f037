-- at_risk_filter_options: the values each filter of the at-risk list can take in one score set.
-- Grain: one row per (field, value), with the number of evaluators. Input: evaluator_scores.
-- Parameters: :as_of (DATE). channels_reached is a comma-separated list; the caller splits it.
SELECT 'product' AS field, product AS value, count(*) AS evaluators
FROM evaluator_scores WHERE as_of_date = :as_of GROUP BY product
UNION ALL
SELECT 'edition', edition, count(*)
FROM evaluator_scores WHERE as_of_date = :as_of GROUP BY edition
UNION ALL
SELECT 'region', region, count(*)
FROM evaluator_scores WHERE as_of_date = :as_of GROUP BY region
UNION ALL
SELECT 'cohort_week', CAST(cohort_week AS VARCHAR), count(*)
FROM evaluator_scores WHERE as_of_date = :as_of GROUP BY cohort_week
UNION ALL
SELECT 'channels_reached', channels_reached, count(*)
FROM evaluator_scores WHERE as_of_date = :as_of GROUP BY channels_reached
UNION ALL
SELECT 'team_size_max', CAST(max(team_size) AS VARCHAR), count(*)
FROM evaluator_scores WHERE as_of_date = :as_of
UNION ALL
SELECT 'day_of_trial_max', CAST(max(day_of_trial) AS VARCHAR), count(*)
FROM evaluator_scores WHERE as_of_date = :as_of
