-- activation_trend: week-1 activation rate (activated by day 7) per cohort week, of the trials that have
-- reached day 7; last_day, the data's last day, tells a cohort week still in progress
-- (churn_core.views.activation). Grain: one row per cohort week. Input: activation_daily.
WITH last_day AS (
    SELECT max(date_add('day', day_index, eval_start_date)) AS d
    FROM activation_daily
)
SELECT
    a.cohort_week,
    count(*) AS evaluators,
    sum(a.activated) AS activated,
    l.d AS last_day
FROM activation_daily AS a
CROSS JOIN last_day AS l
WHERE a.day_index = 7
GROUP BY a.cohort_week, l.d
ORDER BY a.cohort_week
