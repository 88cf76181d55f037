-- activation_trend: week-1 activation rate (activated by day 7) per cohort week, with the change on the
-- week before. complete = 1 when every trial of the week had reached day 7 by the data's last day.
-- Grain: one row per cohort week. Input: activation_daily.
WITH last_day AS (
    SELECT max(date_add('day', day_index, eval_start_date)) AS d
    FROM activation_daily
),
weekly AS (
    SELECT
        cohort_week,
        count(*) AS evaluators,
        sum(activated) AS activated
    FROM activation_daily
    WHERE day_index = 7
    GROUP BY cohort_week
)
SELECT
    w.cohort_week,
    w.evaluators,
    w.activated,
    CAST(w.activated AS DOUBLE) / w.evaluators AS rate,
    CAST(w.activated AS DOUBLE) / w.evaluators
        - lag(CAST(w.activated AS DOUBLE) / w.evaluators) OVER (ORDER BY w.cohort_week) AS change,
    CASE WHEN date_add('day', 13, w.cohort_week) <= l.d THEN 1 ELSE 0 END AS complete
FROM weekly AS w
CROSS JOIN last_day AS l
ORDER BY w.cohort_week
