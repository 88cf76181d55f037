-- evaluator_daily_activity: one evaluator's product usage per day of its trial.
-- Grain: one row per day. Input: daily_usage. Parameters: :instance.
SELECT *
FROM daily_usage
WHERE instance = :instance
ORDER BY day_index
