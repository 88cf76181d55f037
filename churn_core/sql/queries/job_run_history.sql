-- job_run_history: the most recent runs of the scheduled jobs, newest first, each with its outcome.
-- Grain: one row per run (step = 'run'), at most :limit. Input: job_runs, append-only: a 'running' row
-- when a run (or step) starts and a second row with its outcome when it ends. A start with no end is
-- 'running' while its process holds the job lock (:running_run_id) or it started after :stale_before;
-- otherwise its process died before recording the end, and it reads 'interrupted'.
WITH latest AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY run_id, step
            ORDER BY CASE WHEN status = 'running' THEN 1 ELSE 0 END, ended_at DESC
        ) AS pick
    FROM job_runs
    WHERE step = 'run'
)
SELECT
    run_id,
    job,
    launched_by,
    started_at,
    ended_at,
    CASE
        WHEN status <> 'running' THEN status
        WHEN run_id = :running_run_id OR started_at >= :stale_before THEN 'running'
        ELSE 'interrupted'
    END AS status,
    CAST(date_diff('millisecond', started_at, ended_at) AS DOUBLE) / 1000 AS duration_seconds,
    rows_in,
    rows_out,
    model_version,
    bytes_scanned,
    error,
    detail
FROM latest
WHERE pick = 1
ORDER BY started_at DESC, run_id
LIMIT :limit
