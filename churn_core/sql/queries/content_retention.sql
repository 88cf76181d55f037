-- content_retention: retention of the evaluators who engaged (opened or responded) with each content item,
-- and of the no-contact control group (content_id NULL) to compare with.
-- Grain: one row per content item, plus one for the control. Inputs: engagements, content, evaluators.
WITH engaged AS (
    SELECT DISTINCT content_id, instance
    FROM engagements
    WHERE opened = 1 OR responded = 1
)
SELECT
    c.content_id,
    c.title,
    c.channel,
    c.topic,
    count(*) AS engaged,
    count(e.retained) AS resolved,
    coalesce(sum(e.retained), 0) AS retained
FROM engaged AS x
JOIN content AS c
    ON c.content_id = x.content_id
JOIN evaluators AS e
    ON e.instance = x.instance
GROUP BY c.content_id, c.title, c.channel, c.topic
UNION ALL
SELECT
    CAST(NULL AS VARCHAR) AS content_id,
    'no contact (control)' AS title,
    CAST(NULL AS VARCHAR) AS channel,
    CAST(NULL AS VARCHAR) AS topic,
    count(*) AS engaged,
    count(retained) AS resolved,
    coalesce(sum(retained), 0) AS retained
FROM evaluators
WHERE control_group = 1
