-- scoring_instances: every evaluator to score, on its current day of trial, with what the score set reports
-- besides the model's output. Grain: one row per instance in instances_w1 built for :as_of.
-- Inputs: instances_w1, activation_daily. Parameters: :as_of (DATE).
-- activated: the activation rule on the evaluator's current day, capped at day 7 (activation_daily's last).
-- Unordered: sorting a million wide rows costs more than the job's own numpy argsort of the ids.
SELECT
    w.*,
    CAST(w.eval_start_date AS DATE) AS eval_start_day,
    CAST(date_trunc('week', CAST(w.eval_start_date AS DATE)) AS DATE) AS cohort_week,
    CAST(coalesce(a.activated, 0) AS INTEGER) AS activated
FROM instances_w1 AS w
LEFT JOIN activation_daily AS a
    ON a.instance = w.instance
    AND a.day_index = least(w.day_of_trial, 7)
WHERE w.as_of_date = :as_of
