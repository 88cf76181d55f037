-- data_span: the days the raw tables cover, from the first evaluation's start to the last day of telemetry (the
-- dates the ETL may be built as of). Grain: one row. Inputs: evaluators, daily_usage.
SELECT
    (SELECT min(eval_start_date) FROM evaluators) AS first_day,
    (SELECT max(usage_date) FROM daily_usage) AS last_day
