-- drift_reference: the training reference bins stored for one model version (see churn_core/monitor.py).
-- Grain: one row per feature, as_of_day (0 = all days pooled) and bin. Parameters: :model_version.
SELECT model_version, feature, as_of_day, bin, lower, upper, share
FROM drift_reference
WHERE model_version = :model_version
ORDER BY feature, as_of_day, bin
