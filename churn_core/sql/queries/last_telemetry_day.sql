-- last_telemetry_day: the last day product telemetry covers (NULL while daily_usage is empty).
-- Grain: one row. Input: daily_usage.
SELECT max(usage_date) AS last_usage_date
FROM daily_usage
