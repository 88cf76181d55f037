-- activation_curves_by_segment: week-1 activation by segment or by channel and cohort week, for trials started
-- on or after :since: the curves (summed over weeks) and each segment's weekly trend (day 7) come from it;
-- last_day, the data's last day, tells a cohort week still in progress (churn_core.views.activation).
-- Grain: one row per segment value, cohort week and day 0..7.
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
),
last_day AS (
    SELECT max(date_add('day', day_index, eval_start_date)) AS d
    FROM activation_daily
)
SELECT
    l.segment,
    a.cohort_week,
    a.day_index,
    count(*) AS evaluators,
    sum(a.activated) AS activated,
    d.d AS last_day
FROM activation_daily AS a
JOIN labelled AS l
    ON l.instance = a.instance
CROSS JOIN last_day AS d
WHERE a.eval_start_date >= :since
GROUP BY l.segment, a.cohort_week, a.day_index, d.d
ORDER BY l.segment, a.cohort_week, a.day_index
