-- week1_activation_kpi: week-1 activation of the trials that finished their first week in the 7 days up
-- to :as_of ("this week", started :as_of - 13 .. :as_of - 7) and in the 7 days before ("last week").
-- Grain: one row per week. Input: activation_daily. Parameters: :as_of (DATE).
SELECT
    CASE
        WHEN eval_start_date > date_add('day', -14, CAST(:as_of AS DATE)) THEN 'this_week'
        ELSE 'last_week'
    END AS week,
    count(*) AS evaluators,
    sum(activated) AS activated
FROM activation_daily
WHERE day_index = 7
    AND eval_start_date > date_add('day', -21, CAST(:as_of AS DATE))
    AND eval_start_date <= date_add('day', -7, CAST(:as_of AS DATE))
GROUP BY 1
