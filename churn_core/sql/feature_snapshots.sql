-- feature_snapshots: the seed's week-1 features as known on each day d = 1..7 of a trial.
-- Grain: one row per instance and as_of_day d, for every d the trial has reached by :as_of.
-- Inputs: evaluators, daily_usage (usage days 0..d on or before :as_of only, so no later information leaks).
-- Parameters: :as_of (DATE). A feature is NULL when telemetry reported nothing for it on those days.
WITH trial_days AS (
    SELECT d FROM (VALUES 1, 2, 3, 4, 5, 6, 7) AS t (d)
),
reached AS (
    SELECT e.instance, t.d AS as_of_day
    FROM evaluators AS e
    CROSS JOIN trial_days AS t
    WHERE e.eval_start_date <= :as_of
      AND date_diff('day', e.eval_start_date, :as_of) >= t.d
)
SELECT
    r.instance,
    r.as_of_day,
    CAST(sum(u.projects_created) AS INTEGER) AS number_of_projects,
    CAST(sum(u.issues_created) AS INTEGER) AS number_of_issues,
    CAST(sum(u.invites_sent) AS INTEGER) AS number_of_invites,
    CAST(sum(u.new_active_users) AS INTEGER) AS w1_active_users,
    CAST(sum(u.active_users) AS INTEGER) AS w1_agg_active_users,
    CAST(max(u.active_users) AS INTEGER) AS w1_max_active_users,
    CAST(sum(u.watchers_added) AS INTEGER) AS watchers_added,
    CAST(sum(u.issues_updated) AS INTEGER) AS issues_updated,
    CAST(sum(u.issues_commented) AS INTEGER) AS issues_commented,
    CAST(sum(u.issues_assigned) AS INTEGER) AS issues_assigned,
    CAST(sum(u.at_mentions) AS INTEGER) AS at_mentions,
    CAST(sum(u.issues_viewed) AS INTEGER) AS issues_viewed,
    CAST(sum(u.issues_completed) AS INTEGER) AS issues_completed,
    CAST(sum(u.mobile_sessions) AS INTEGER) AS mobile_usage,
    CAST(sum(u.sprints_started) AS INTEGER) AS sprint_started,
    CAST(sum(u.sprints_finished) AS INTEGER) AS sprint_finished
FROM reached AS r
LEFT JOIN daily_usage AS u
    ON u.instance = r.instance
    AND u.day_index BETWEEN 0 AND r.as_of_day
    AND u.usage_date <= :as_of
GROUP BY r.instance, r.as_of_day
ORDER BY r.instance, r.as_of_day
