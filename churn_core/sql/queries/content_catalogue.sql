-- content_catalogue: the content items and the channel each is made for. Grain: one row per item.
-- Input: content.
SELECT content_id, channel, title
FROM content
ORDER BY content_id
