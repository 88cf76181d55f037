-- activation_curves: week-1 activation curves, one per cohort week: of the trials that reached day d,
-- how many were activated by the end of it. Grain: one row per cohort week and day 0..7.
-- Input: activation_daily.
SELECT
    cohort_week,
    day_index,
    count(*) AS evaluators,
    sum(activated) AS activated
FROM activation_daily
GROUP BY cohort_week, day_index
ORDER BY cohort_week, day_index
