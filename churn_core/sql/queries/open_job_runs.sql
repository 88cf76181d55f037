-- open_job_runs: runs and steps that recorded a start but no outcome (their process died), oldest first.
-- Grain: one row per run_id and step. Input: job_runs. The job runner closes them as 'interrupted'.
SELECT run_id, job, step, launched_by, min(started_at) AS started_at
FROM job_runs
GROUP BY run_id, job, step, launched_by
HAVING count_if(status <> 'running') = 0
ORDER BY started_at, run_id, step
