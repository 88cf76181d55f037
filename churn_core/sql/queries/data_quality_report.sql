-- data_quality_report: the latest profile of every raw column (written by ingest).
-- Grain: one row per table and column. Input: data_quality.
SELECT
    table_name,
    column_name,
    row_count,
    missing_rate,
    nonzero_rate,
    distinct_count,
    min_value,
    median_value,
    max_value,
    checked_at
FROM data_quality
ORDER BY table_name, column_name
