-- instances_modeling: the seed talk's training table, its 19 columns first in the seed's order and types.
-- Grain: one row per evaluator whose outcome resolved on or before :as_of, with features as of day 7.
-- Inputs: evaluators, holdout_assignments (control_group is the holdout assignment), feature_snapshots (build
-- those first). Extra columns follow the seed's 19.
-- Parameters: :as_of (DATE).
SELECT
    e.instance,
    CAST(e.eval_start_date AS VARCHAR) AS eval_start_date,
    e.retained,
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
    h.held_out AS control_group
FROM evaluators AS e
JOIN holdout_assignments AS h
    ON h.instance = e.instance
JOIN feature_snapshots AS s
    ON s.instance = e.instance
    AND s.as_of_day = 7
WHERE e.retained IS NOT NULL
  AND e.resolved_date <= :as_of
ORDER BY e.instance
