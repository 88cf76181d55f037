-- uplift_history: resolved evaluators with their outcome and the marketing treatment they received, to fit
-- the channel uplift models (churn_core/channels.py).
-- Grain: one row per evaluator in instances_modeling (outcome resolved by the ETL's as-of date), with its
-- week-1 features and segment. Inputs: instances_modeling, evaluators, engagements.
-- primary_channel: the channel with the most touches before the outcome resolved (ties go to the channel
-- first in alphabetical order); NULL when there were none. With :count_undelivered = 0 only delivered
-- touches count; churn_core.scoring.channels passes 1 (the campaign an evaluator was put in, delivered or not),
-- because delivery itself depends on engagement (in-app messages only reach active users) and would
-- bias the comparison with the control group. control_group = 1 marks the evaluators held out of
-- marketing on purpose (the no-contact control). Parameters: :count_undelivered (0 or 1).
WITH delivered AS (
    SELECT g.instance, g.channel, count(*) AS touches
    FROM engagements AS g
    JOIN evaluators AS e
        ON e.instance = g.instance
    WHERE (g.delivered = 1 OR :count_undelivered = 1)
      AND e.resolved_date IS NOT NULL
      AND CAST(g.sent_at AS DATE) < e.resolved_date
    GROUP BY g.instance, g.channel
),
ranked AS (
    SELECT
        instance,
        channel,
        row_number() OVER (PARTITION BY instance ORDER BY touches DESC, channel) AS rank_in_instance
    FROM delivered
)
SELECT
    m.*,
    r.channel AS primary_channel
FROM instances_modeling AS m
LEFT JOIN ranked AS r
    ON r.instance = m.instance
    AND r.rank_in_instance = 1
ORDER BY m.instance
