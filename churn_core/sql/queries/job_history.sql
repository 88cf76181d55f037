-- job_history: the most recent runs of the scheduled jobs, newest first.
-- Grain: one row per job run (at most :limit). Input: job_runs (written by the scheduler).
SELECT *
FROM job_runs
ORDER BY started_at DESC
LIMIT :limit
