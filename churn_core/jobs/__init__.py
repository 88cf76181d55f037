"""The jobs: their steps, the runner (lock, history, retries, logs, alerts), the schedule and the scheduler, and
the one-off demo pipeline."""
