-- channels_reached: the channels whose touches reached each evaluator to be scored, up to :as_of.
-- Grain: one row per instance in instances_w1 and channel with at least one delivered touch sent on or
-- before :as_of. Inputs: engagements, instances_w1. Parameters: :as_of (DATE).
SELECT
    g.instance,
    g.channel,
    count(*) AS touches
FROM engagements AS g
JOIN instances_w1 AS w
    ON w.instance = g.instance
WHERE g.delivered = 1
  AND CAST(g.sent_at AS DATE) <= :as_of
GROUP BY g.instance, g.channel
