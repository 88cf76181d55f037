-- activation_curves_by_segment: week-1 activation curves by segment or by channel, for trials started on or
-- after :since. Grain: one row per segment value and day 0..7.
-- Inputs: activation_daily, evaluators, engagements. Parameters: :since (DATE), :dimension (one of
-- 'product', 'edition', 'region', 'company_size_band', 'acquisition_source', 'channel').
-- channel: the channel of the first touch delivered in the trial's first week; control-group trials are
-- 'no contact (control)', others without a delivered touch 'not reached'.
WITH first_touch AS (
    SELECT instance, channel
    FROM (
        SELECT
            g.instance,
            g.channel,
            row_number() OVER (PARTITION BY g.instance ORDER BY g.sent_at, g.engagement_id) AS k
        FROM engagements AS g
        JOIN evaluators AS e
            ON e.instance = g.instance
        WHERE g.delivered = 1
            AND CAST(g.sent_at AS DATE) <= date_add('day', 7, e.eval_start_date)
    ) AS t
    WHERE k = 1
),
labelled AS (
    SELECT
        e.instance,
        CASE :dimension
            WHEN 'edition' THEN e.edition
            WHEN 'region' THEN e.region
            WHEN 'company_size_band' THEN e.company_size_band
            WHEN 'acquisition_source' THEN e.acquisition_source
            WHEN 'channel' THEN
                CASE WHEN e.control_group = 1 THEN 'no contact (control)' ELSE coalesce(f.channel, 'not reached') END
            ELSE e.product
        END AS segment
    FROM evaluators AS e
    LEFT JOIN first_touch AS f
        ON f.instance = e.instance
)
SELECT
    l.segment,
    a.day_index,
    count(*) AS evaluators,
    sum(a.activated) AS activated
FROM activation_daily AS a
JOIN labelled AS l
    ON l.instance = a.instance
WHERE a.eval_start_date >= :since
GROUP BY l.segment, a.day_index
ORDER BY l.segment, a.day_index
