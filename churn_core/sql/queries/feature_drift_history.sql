-- feature_drift_history: PSI of every feature (and the score) in each kept score set, newest first.
-- Grain: one row per score set and feature. Input: score_drift (written by `churn score`).
SELECT as_of_date, feature, psi, status
FROM score_drift
ORDER BY as_of_date DESC, psi DESC, feature
