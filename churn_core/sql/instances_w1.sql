-- instances_w1: the same features for evaluators whose outcome is not known at :as_of, on their current day.
-- Grain: one row per unresolved evaluator that has reached day 1 of its trial; features from usage days
-- 0..least(day of trial, 7); control_group is the evaluator's holdout assignment. Inputs: evaluators,
-- holdout_assignments, feature_snapshots. Parameters: :as_of (DATE).
SELECT
    e.instance,
    CAST(e.eval_start_date AS VARCHAR) AS eval_start_date,
    CAST(NULL AS INTEGER) AS retained,
    s.number_of_projects,
    s.number_of_issues,
    s.number_of_invites,
    s.w1_active_users,
    s.w1_agg_active_users,
    s.w1_max_active_users,
    s.watchers_added,
    s.issues_updated,
    s.issues_commented,
    s.issues_assigned,
    s.at_mentions,
    s.issues_viewed,
    s.issues_completed,
    s.mobile_usage,
    s.sprint_started,
    s.sprint_finished,
    s.as_of_day,
    e.product,
    e.edition,
    e.team_size,
    e.company_size_band,
    e.region,
    e.acquisition_source,
    e.expected_annual_value,
    h.held_out AS control_group,
    CAST(:as_of AS DATE) AS as_of_date,
    CAST(date_diff('day', e.eval_start_date, :as_of) AS INTEGER) AS day_of_trial
FROM evaluators AS e
JOIN holdout_assignments AS h
    ON h.instance = e.instance
JOIN feature_snapshots AS s
    ON s.instance = e.instance
    AND s.as_of_day = least(date_diff('day', e.eval_start_date, :as_of), 7)
WHERE e.resolved_date IS NULL OR e.resolved_date > :as_of
ORDER BY e.instance
