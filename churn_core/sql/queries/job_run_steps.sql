-- job_run_steps: the steps of one job run in the order they ran, each with its outcome.
-- Grain: one row per step of run :run_id. Input: job_runs (see job_run_history for how a start row
-- without an end row reads 'running' or 'interrupted').
WITH latest AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY step
            ORDER BY CASE WHEN status = 'running' THEN 1 ELSE 0 END, ended_at DESC
        ) AS pick
    FROM job_runs
    WHERE run_id = :run_id AND step <> 'run'
)
SELECT
    run_id,
    job,
    step,
    started_at,
    ended_at,
    CASE
        WHEN status <> 'running' THEN status
        WHEN run_id = :running_run_id OR started_at >= :stale_before THEN 'running'
        ELSE 'interrupted'
    END AS status,
    CAST(date_diff('millisecond', started_at, ended_at) AS DOUBLE) / 1000 AS duration_seconds,
    attempts,
    rows_in,
    rows_out,
    model_version,
    bytes_scanned,
    error,
    detail
FROM latest
WHERE pick = 1
ORDER BY started_at, step
