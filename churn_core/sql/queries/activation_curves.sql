-- activation_curves: week-1 activation curves, one per cohort week: of the trials that reached day d,
-- how many were activated by the end of it; last_day, the data's last day, tells a cohort week still in
-- progress (churn_core.views.activation). Grain: one row per cohort week and day 0..7. Input: activation_daily.
WITH last_day AS (
    SELECT max(date_add('day', day_index, eval_start_date)) AS d
    FROM activation_daily
)
SELECT
    a.cohort_week,
    a.day_index,
    count(*) AS evaluators,
    sum(a.activated) AS activated,
    l.d AS last_day
FROM activation_daily AS a
CROSS JOIN last_day AS l
GROUP BY a.cohort_week, a.day_index, l.d
ORDER BY a.cohort_week, a.day_index
