-- evaluator_touches: the marketing touches sent to one evaluator and how it responded, with the content.
-- Grain: one row per touch, oldest first. Inputs: engagements, content. Parameters: :instance.
SELECT
    g.sent_at,
    g.channel,
    g.content_id,
    c.title,
    c.topic,
    g.delivered,
    g.opened,
    g.responded
FROM engagements AS g
LEFT JOIN content AS c
    ON c.content_id = g.content_id
WHERE g.instance = :instance
ORDER BY g.sent_at, g.engagement_id
