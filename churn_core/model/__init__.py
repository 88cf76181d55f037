"""Training: data sets, the stored feature pipeline, tuning, calibration, evaluation and the registry."""
