-- content_effect_estimates: the scoring job's estimate of each content item's effect on retention for one score
-- set, with the item's title, channel and topic. Grain: one row per content item.
-- Inputs: content_effects (written by `churn score`), content. Parameters: :as_of (DATE).
SELECT
    f.*,
    coalesce(c.title, f.content_id) AS title,
    c.channel,
    c.topic
FROM content_effects AS f
LEFT JOIN content AS c
    ON c.content_id = f.content_id
WHERE f.as_of_date = :as_of
ORDER BY f.lift DESC
