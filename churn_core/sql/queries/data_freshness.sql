-- data_freshness: the last day product telemetry covers and when the raw tables were last checked.
-- Grain: one row. Inputs: daily_usage, data_quality.
SELECT
    (SELECT max(usage_date) FROM daily_usage) AS last_usage_date,
    (SELECT max(checked_at) FROM data_quality) AS quality_checked_at,
    (SELECT count(*) FROM evaluators) AS evaluators
