-- feature_by_outcome: stayers against churners, feature by feature, in the resolved evaluators' week 1.
-- Grain: one row per outcome (retained 1 / 0) with the mean and median of every model feature.
-- Input: instances_modeling.
SELECT
    retained,
    count(*) AS evaluators,
    avg(number_of_projects) AS mean__number_of_projects,
    approx_percentile(number_of_projects, 0.5) AS median__number_of_projects,
    avg(number_of_issues) AS mean__number_of_issues,
    approx_percentile(number_of_issues, 0.5) AS median__number_of_issues,
    avg(number_of_invites) AS mean__number_of_invites,
    approx_percentile(number_of_invites, 0.5) AS median__number_of_invites,
    avg(w1_active_users) AS mean__w1_active_users,
    approx_percentile(w1_active_users, 0.5) AS median__w1_active_users,
    avg(w1_agg_active_users) AS mean__w1_agg_active_users,
    approx_percentile(w1_agg_active_users, 0.5) AS median__w1_agg_active_users,
    avg(w1_max_active_users) AS mean__w1_max_active_users,
    approx_percentile(w1_max_active_users, 0.5) AS median__w1_max_active_users,
    avg(watchers_added) AS mean__watchers_added,
    approx_percentile(watchers_added, 0.5) AS median__watchers_added,
    avg(issues_updated) AS mean__issues_updated,
    approx_percentile(issues_updated, 0.5) AS median__issues_updated,
    avg(issues_commented) AS mean__issues_commented,
    approx_percentile(issues_commented, 0.5) AS median__issues_commented,
    avg(issues_assigned) AS mean__issues_assigned,
    approx_percentile(issues_assigned, 0.5) AS median__issues_assigned,
    avg(at_mentions) AS mean__at_mentions,
    approx_percentile(at_mentions, 0.5) AS median__at_mentions,
    avg(issues_viewed) AS mean__issues_viewed,
    approx_percentile(issues_viewed, 0.5) AS median__issues_viewed,
    avg(issues_completed) AS mean__issues_completed,
    approx_percentile(issues_completed, 0.5) AS median__issues_completed,
    avg(mobile_usage) AS mean__mobile_usage,
    approx_percentile(mobile_usage, 0.5) AS median__mobile_usage,
    avg(sprint_started) AS mean__sprint_started,
    approx_percentile(sprint_started, 0.5) AS median__sprint_started,
    avg(sprint_finished) AS mean__sprint_finished,
    approx_percentile(sprint_finished, 0.5) AS median__sprint_finished
FROM instances_modeling
GROUP BY retained
ORDER BY retained
