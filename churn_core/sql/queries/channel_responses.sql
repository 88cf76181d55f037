-- channel_responses: per channel, touches sent, delivered, opened and responded to.
-- Grain: one row per channel. Input: engagements.
SELECT
    channel,
    count(*) AS touches,
    sum(delivered) AS delivered,
    sum(opened) AS opened,
    sum(responded) AS responded
FROM engagements
GROUP BY channel
ORDER BY channel
