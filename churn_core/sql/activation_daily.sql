-- activation_daily: whether each evaluator has reached activation by the end of each day 0..7 of its trial.
-- Grain: one row per instance and day_index 0..7 reached by :as_of. Inputs: evaluators, daily_usage.
-- Rule (settings): at least :min_active_users distinct active users and :min_sprints sprints started,
-- counted over days 0..day_index.
WITH trial_days AS (
    SELECT d FROM (VALUES 0, 1, 2, 3, 4, 5, 6, 7) AS t (d)
),
reached AS (
    SELECT e.instance, e.eval_start_date, t.d AS day_index
    FROM evaluators AS e
    CROSS JOIN trial_days AS t
    WHERE e.eval_start_date <= :as_of
      AND date_diff('day', e.eval_start_date, :as_of) >= t.d
),
to_date AS (
    SELECT
        r.instance,
        r.eval_start_date,
        r.day_index,
        CAST(coalesce(sum(u.new_active_users), 0) AS INTEGER) AS active_users_to_date,
        CAST(coalesce(sum(u.sprints_started), 0) AS INTEGER) AS sprints_started_to_date
    FROM reached AS r
    LEFT JOIN daily_usage AS u
        ON u.instance = r.instance
        AND u.day_index BETWEEN 0 AND r.day_index
        AND u.usage_date <= :as_of
    GROUP BY r.instance, r.eval_start_date, r.day_index
)
SELECT
    instance,
    eval_start_date,
    CAST(date_trunc('week', eval_start_date) AS DATE) AS cohort_week,
    day_index,
    active_users_to_date,
    sprints_started_to_date,
    CASE
        WHEN active_users_to_date >= :min_active_users AND sprints_started_to_date >= :min_sprints THEN 1
        ELSE 0
    END AS activated
FROM to_date
ORDER BY instance, day_index
