-- content_history: the content items each resolved evaluator outside the control group was sent before its
-- outcome resolved, delivered or not (the campaign it was put in, as the channel uplift counts touches: opening
-- a message depends on the engagement that also drives retention), to estimate each item's effect
-- (churn_core.scoring.content). Grain: one row per resolved evaluator and content item it was sent, in a fixed
-- order (the means it feeds then sum in one order, so re-scoring a date signs the same digest).
-- Inputs: engagements, evaluators.
SELECT DISTINCT
    g.instance,
    g.content_id
FROM engagements AS g
JOIN evaluators AS e
    ON e.instance = g.instance
WHERE e.resolved_date IS NOT NULL
    AND e.control_group = 0
    AND g.content_id IS NOT NULL
    AND CAST(g.sent_at AS DATE) < e.resolved_date
ORDER BY g.instance, g.content_id
