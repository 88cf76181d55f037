-- score_drift: PSI of every model feature and of the score for one score set, worst first.
-- Parameters: :as_of (DATE, or NULL for the newest set).
SELECT as_of_date, feature, psi, status
FROM score_drift
WHERE as_of_date = coalesce(CAST(:as_of AS DATE), (SELECT max(as_of_date) FROM score_drift))
ORDER BY psi DESC, feature
