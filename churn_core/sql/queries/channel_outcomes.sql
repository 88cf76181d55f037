-- channel_outcomes: retention and week-1 activation of the evaluators each channel reached (at least one
-- delivered touch), against the no-contact control group (evaluators.control_group = 1).
-- Grain: one row per arm (a channel, or 'no contact (control)'). Inputs: evaluators, engagements,
-- activation_daily. Retention counts resolved evaluators only; activation those that reached day 7.
WITH reached AS (
    SELECT DISTINCT g.instance, g.channel
    FROM engagements AS g
    JOIN evaluators AS e
        ON e.instance = g.instance
    WHERE g.delivered = 1
        AND e.control_group = 0
),
arms AS (
    SELECT channel AS arm, instance FROM reached
    UNION ALL
    SELECT 'no contact (control)' AS arm, instance FROM evaluators WHERE control_group = 1
)
SELECT
    r.arm,
    count(*) AS evaluators,
    count(e.retained) AS resolved,
    coalesce(sum(e.retained), 0) AS retained,
    count(a.activated) AS reached_day7,
    coalesce(sum(a.activated), 0) AS activated
FROM arms AS r
JOIN evaluators AS e
    ON e.instance = r.instance
LEFT JOIN activation_daily AS a
    ON a.instance = r.instance
    AND a.day_index = 7
GROUP BY r.arm
ORDER BY r.arm
