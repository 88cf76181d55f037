-- channel_effects: each channel's average uplift with its 95% interval for one score set, best first.
-- Input: channel_effects. Parameters: :as_of (DATE, or NULL for the newest set).
SELECT *
FROM channel_effects
WHERE as_of_date = coalesce(CAST(:as_of AS DATE), (SELECT max(as_of_date) FROM channel_effects))
ORDER BY uplift DESC, channel
