-- early_actions: which actions in the first three days of a trial (days 0..2) go with activation and
-- retention. For each action: how many trials did it (reach), and activation by day 7 and retention among
-- those who did and those who did not. Grain: one row per action.
-- Inputs: evaluators, daily_usage, activation_daily. Only trials that had reached day 2 by :as_of count.
-- Parameters: :as_of (DATE).
WITH early AS (
    SELECT
        instance,
        max(CASE WHEN projects_created > 0 THEN 1 ELSE 0 END) AS did_projects_created,
        max(CASE WHEN issues_created > 0 THEN 1 ELSE 0 END) AS did_issues_created,
        max(CASE WHEN invites_sent > 0 THEN 1 ELSE 0 END) AS did_invites_sent,
        max(CASE WHEN sprints_started > 0 THEN 1 ELSE 0 END) AS did_sprints_started,
        max(CASE WHEN sprints_finished > 0 THEN 1 ELSE 0 END) AS did_sprints_finished,
        max(CASE WHEN issues_commented > 0 THEN 1 ELSE 0 END) AS did_issues_commented,
        max(CASE WHEN issues_assigned > 0 THEN 1 ELSE 0 END) AS did_issues_assigned,
        max(CASE WHEN issues_completed > 0 THEN 1 ELSE 0 END) AS did_issues_completed,
        max(CASE WHEN at_mentions > 0 THEN 1 ELSE 0 END) AS did_at_mentions,
        max(CASE WHEN watchers_added > 0 THEN 1 ELSE 0 END) AS did_watchers_added,
        max(CASE WHEN mobile_sessions > 0 THEN 1 ELSE 0 END) AS did_mobile_sessions,
        CASE WHEN sum(new_active_users) >= 2 THEN 1 ELSE 0 END AS did_two_users
    FROM daily_usage
    WHERE day_index <= 2
    GROUP BY instance
),
base AS (
    SELECT
        e.instance,
        coalesce(x.did_projects_created, 0) AS did_projects_created,
        coalesce(x.did_issues_created, 0) AS did_issues_created,
        coalesce(x.did_invites_sent, 0) AS did_invites_sent,
        coalesce(x.did_sprints_started, 0) AS did_sprints_started,
        coalesce(x.did_sprints_finished, 0) AS did_sprints_finished,
        coalesce(x.did_issues_commented, 0) AS did_issues_commented,
        coalesce(x.did_issues_assigned, 0) AS did_issues_assigned,
        coalesce(x.did_issues_completed, 0) AS did_issues_completed,
        coalesce(x.did_at_mentions, 0) AS did_at_mentions,
        coalesce(x.did_watchers_added, 0) AS did_watchers_added,
        coalesce(x.did_mobile_sessions, 0) AS did_mobile_sessions,
        coalesce(x.did_two_users, 0) AS did_two_users,
        a.activated AS activated_w1,
        e.retained
    FROM evaluators AS e
    LEFT JOIN early AS x
        ON x.instance = e.instance
    LEFT JOIN activation_daily AS a
        ON a.instance = e.instance
        AND a.day_index = 7
    WHERE date_diff('day', e.eval_start_date, CAST(:as_of AS DATE)) >= 2
)
SELECT
    'created a project' AS action,
    'projects_created' AS measure,
    count(*) AS evaluators,
    sum(did_projects_created) AS doers,
    count_if(did_projects_created = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_projects_created = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_projects_created = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_projects_created = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_projects_created = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_projects_created = 1 AND retained = 1) AS doers_retained,
    count_if(did_projects_created = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_projects_created = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'created an issue' AS action,
    'issues_created' AS measure,
    count(*) AS evaluators,
    sum(did_issues_created) AS doers,
    count_if(did_issues_created = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_issues_created = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_issues_created = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_issues_created = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_issues_created = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_issues_created = 1 AND retained = 1) AS doers_retained,
    count_if(did_issues_created = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_issues_created = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'invited a teammate' AS action,
    'invites_sent' AS measure,
    count(*) AS evaluators,
    sum(did_invites_sent) AS doers,
    count_if(did_invites_sent = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_invites_sent = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_invites_sent = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_invites_sent = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_invites_sent = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_invites_sent = 1 AND retained = 1) AS doers_retained,
    count_if(did_invites_sent = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_invites_sent = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'started a sprint' AS action,
    'sprints_started' AS measure,
    count(*) AS evaluators,
    sum(did_sprints_started) AS doers,
    count_if(did_sprints_started = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_sprints_started = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_sprints_started = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_sprints_started = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_sprints_started = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_sprints_started = 1 AND retained = 1) AS doers_retained,
    count_if(did_sprints_started = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_sprints_started = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'finished a sprint' AS action,
    'sprints_finished' AS measure,
    count(*) AS evaluators,
    sum(did_sprints_finished) AS doers,
    count_if(did_sprints_finished = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_sprints_finished = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_sprints_finished = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_sprints_finished = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_sprints_finished = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_sprints_finished = 1 AND retained = 1) AS doers_retained,
    count_if(did_sprints_finished = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_sprints_finished = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'commented on an issue' AS action,
    'issues_commented' AS measure,
    count(*) AS evaluators,
    sum(did_issues_commented) AS doers,
    count_if(did_issues_commented = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_issues_commented = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_issues_commented = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_issues_commented = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_issues_commented = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_issues_commented = 1 AND retained = 1) AS doers_retained,
    count_if(did_issues_commented = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_issues_commented = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'assigned an issue' AS action,
    'issues_assigned' AS measure,
    count(*) AS evaluators,
    sum(did_issues_assigned) AS doers,
    count_if(did_issues_assigned = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_issues_assigned = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_issues_assigned = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_issues_assigned = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_issues_assigned = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_issues_assigned = 1 AND retained = 1) AS doers_retained,
    count_if(did_issues_assigned = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_issues_assigned = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'completed an issue' AS action,
    'issues_completed' AS measure,
    count(*) AS evaluators,
    sum(did_issues_completed) AS doers,
    count_if(did_issues_completed = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_issues_completed = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_issues_completed = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_issues_completed = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_issues_completed = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_issues_completed = 1 AND retained = 1) AS doers_retained,
    count_if(did_issues_completed = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_issues_completed = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    '@-mentioned a teammate' AS action,
    'at_mentions' AS measure,
    count(*) AS evaluators,
    sum(did_at_mentions) AS doers,
    count_if(did_at_mentions = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_at_mentions = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_at_mentions = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_at_mentions = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_at_mentions = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_at_mentions = 1 AND retained = 1) AS doers_retained,
    count_if(did_at_mentions = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_at_mentions = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'added a watcher' AS action,
    'watchers_added' AS measure,
    count(*) AS evaluators,
    sum(did_watchers_added) AS doers,
    count_if(did_watchers_added = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_watchers_added = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_watchers_added = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_watchers_added = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_watchers_added = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_watchers_added = 1 AND retained = 1) AS doers_retained,
    count_if(did_watchers_added = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_watchers_added = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'used the mobile app' AS action,
    'mobile_sessions' AS measure,
    count(*) AS evaluators,
    sum(did_mobile_sessions) AS doers,
    count_if(did_mobile_sessions = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_mobile_sessions = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_mobile_sessions = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_mobile_sessions = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_mobile_sessions = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_mobile_sessions = 1 AND retained = 1) AS doers_retained,
    count_if(did_mobile_sessions = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_mobile_sessions = 0 AND retained = 1) AS others_retained
FROM base
UNION ALL
SELECT
    'had 2+ users active' AS action,
    'two_users' AS measure,
    count(*) AS evaluators,
    sum(did_two_users) AS doers,
    count_if(did_two_users = 1 AND activated_w1 IS NOT NULL) AS doers_reached_day7,
    count_if(did_two_users = 1 AND activated_w1 = 1) AS doers_activated,
    count_if(did_two_users = 0 AND activated_w1 IS NOT NULL) AS others_reached_day7,
    count_if(did_two_users = 0 AND activated_w1 = 1) AS others_activated,
    count_if(did_two_users = 1 AND retained IS NOT NULL) AS doers_resolved,
    count_if(did_two_users = 1 AND retained = 1) AS doers_retained,
    count_if(did_two_users = 0 AND retained IS NOT NULL) AS others_resolved,
    count_if(did_two_users = 0 AND retained = 1) AS others_retained
FROM base
