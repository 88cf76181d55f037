"""The scheduled jobs: their steps, the runner (lock, history, retries, logs, alerts) and the scheduler."""
