-- cohort_medians: the typical week-1 feature values of retained and of churned evaluators, per team-size band
-- and day of trial, that churn_core/reasons.py compares each scored evaluator with.
-- Grain: one row per (team_size_band, as_of_day, retained), plus one per (as_of_day, retained) over every
-- band (team_size_band NULL) for bands with too few evaluators. Inputs: feature_snapshots (day d features of
-- every evaluator), instances_modeling (resolved evaluators: the training labels and team size).
-- Parameters: :band_1 .. :band_5, the largest team size of the first five bands (the sixth is the rest);
-- :as_of_day, one day of trial only (the profile's; a fraction of the memory), or 0 for every day.
-- The tuned model's ratios (churn_core.model.features.EVALUATOR_RATIOS) get medians too, over the rows where they
-- are defined. A missing feature counts as 0 (nothing reported). nonzero_<feature>: the share with a value above 0,
-- averaged over doubles (1e0): Trino types 1.0 as decimal(2,1) and its avg keeps one decimal place.
WITH labelled AS (
    SELECT
        s.*,
        m.retained,
        m.team_size,
        CASE
            WHEN m.team_size <= :band_1 THEN 0
            WHEN m.team_size <= :band_2 THEN 1
            WHEN m.team_size <= :band_3 THEN 2
            WHEN m.team_size <= :band_4 THEN 3
            WHEN m.team_size <= :band_5 THEN 4
            ELSE 5
        END AS team_size_band
    FROM feature_snapshots AS s
    JOIN instances_modeling AS m
        ON m.instance = s.instance
    WHERE :as_of_day = 0 OR s.as_of_day = :as_of_day
)
SELECT
    s.team_size_band,
    s.as_of_day,
    s.retained,
    count(*) AS evaluators,
    approx_percentile(CAST(s.w1_active_users AS DOUBLE) / nullif(s.team_size, 0), 0.5) AS active_user_share,
    approx_percentile(CAST(s.w1_agg_active_users AS DOUBLE) / nullif(s.as_of_day, 0), 0.5) AS user_days_per_day,
    approx_percentile(CAST(s.number_of_issues AS DOUBLE) / nullif(s.w1_active_users, 0), 0.5) AS issues_per_user,
    approx_percentile(CAST(s.issues_updated AS DOUBLE) / nullif(s.number_of_issues, 0), 0.5) AS updates_per_issue,
    approx_percentile(coalesce(s.number_of_projects, 0), 0.5) AS number_of_projects,
    approx_percentile(coalesce(s.number_of_issues, 0), 0.5) AS number_of_issues,
    approx_percentile(coalesce(s.number_of_invites, 0), 0.5) AS number_of_invites,
    approx_percentile(coalesce(s.w1_active_users, 0), 0.5) AS w1_active_users,
    approx_percentile(coalesce(s.w1_agg_active_users, 0), 0.5) AS w1_agg_active_users,
    approx_percentile(coalesce(s.w1_max_active_users, 0), 0.5) AS w1_max_active_users,
    approx_percentile(coalesce(s.watchers_added, 0), 0.5) AS watchers_added,
    approx_percentile(coalesce(s.issues_updated, 0), 0.5) AS issues_updated,
    approx_percentile(coalesce(s.issues_commented, 0), 0.5) AS issues_commented,
    approx_percentile(coalesce(s.issues_assigned, 0), 0.5) AS issues_assigned,
    approx_percentile(coalesce(s.at_mentions, 0), 0.5) AS at_mentions,
    approx_percentile(coalesce(s.issues_viewed, 0), 0.5) AS issues_viewed,
    approx_percentile(coalesce(s.issues_completed, 0), 0.5) AS issues_completed,
    approx_percentile(coalesce(s.mobile_usage, 0), 0.5) AS mobile_usage,
    approx_percentile(coalesce(s.sprint_started, 0), 0.5) AS sprint_started,
    approx_percentile(coalesce(s.sprint_finished, 0), 0.5) AS sprint_finished,
    avg(CASE WHEN s.number_of_projects > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_number_of_projects,
    avg(CASE WHEN s.number_of_issues > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_number_of_issues,
    avg(CASE WHEN s.number_of_invites > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_number_of_invites,
    avg(CASE WHEN s.w1_active_users > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_w1_active_users,
    avg(CASE WHEN s.w1_agg_active_users > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_w1_agg_active_users,
    avg(CASE WHEN s.w1_max_active_users > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_w1_max_active_users,
    avg(CASE WHEN s.watchers_added > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_watchers_added,
    avg(CASE WHEN s.issues_updated > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_issues_updated,
    avg(CASE WHEN s.issues_commented > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_issues_commented,
    avg(CASE WHEN s.issues_assigned > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_issues_assigned,
    avg(CASE WHEN s.at_mentions > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_at_mentions,
    avg(CASE WHEN s.issues_viewed > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_issues_viewed,
    avg(CASE WHEN s.issues_completed > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_issues_completed,
    avg(CASE WHEN s.mobile_usage > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_mobile_usage,
    avg(CASE WHEN s.sprint_started > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_sprint_started,
    avg(CASE WHEN s.sprint_finished > 0 THEN 1e0 ELSE 0e0 END) AS nonzero_sprint_finished
FROM labelled AS s
GROUP BY GROUPING SETS ((s.team_size_band, s.as_of_day, s.retained), (s.as_of_day, s.retained))
ORDER BY s.team_size_band, s.as_of_day, s.retained
