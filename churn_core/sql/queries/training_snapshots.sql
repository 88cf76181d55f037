-- training_snapshots: the day-of-trial model's training rows: every resolved evaluator on each day 1..7 of
-- its trial, with the features known on that day (usage days 0..d only), its segment and its outcome.
-- Shaped like instances_w1, so the stored pipeline transforms both; also the drift reference of a model.
-- Grain: one row per instance in instances_modeling and as_of_day. Inputs: feature_snapshots, instances_modeling
-- (which holds only outcomes resolved by the ETL's as-of date, so no parameter is needed).
SELECT
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
    m.eval_start_date,
    m.retained,
    1 - m.retained AS churned,
    m.product,
    m.edition,
    m.team_size,
    m.company_size_band,
    m.region,
    m.acquisition_source,
    m.expected_annual_value,
    m.control_group
FROM feature_snapshots AS s
JOIN instances_modeling AS m
    ON m.instance = s.instance
ORDER BY s.instance, s.as_of_day
