-- channel_uplift_estimates: the scoring job's uplift estimate of each channel for one score set.
-- Grain: one row per channel. Input: channel_effects (written by `churn score`). Parameters: :as_of (DATE).
SELECT *
FROM channel_effects
WHERE as_of_date = :as_of
ORDER BY uplift DESC
