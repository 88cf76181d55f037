-- demo_play_snapshots: each demo play assignment's features on the day its score set was read (usage days
-- 0..as_of_day only) with the evaluator's segment, shaped like training_snapshots so the model's stored
-- pipeline transforms it. Grain: one row per demo play and evaluator. Inputs: demo_plays (the demo
-- generator's), feature_snapshots, evaluators.
SELECT
    d.play,
    d.arm,
    d.assigned_date,
    s.instance,
    s.as_of_day,
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
    CAST(e.eval_start_date AS VARCHAR) AS eval_start_date,
    e.product,
    e.edition,
    e.team_size,
    e.company_size_band,
    e.region,
    e.acquisition_source,
    e.expected_annual_value,
    e.control_group
FROM demo_plays AS d
JOIN feature_snapshots AS s ON s.instance = d.instance AND s.as_of_day = d.as_of_day
JOIN evaluators AS e ON e.instance = d.instance
ORDER BY d.play, d.assigned_date, s.instance
