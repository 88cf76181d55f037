-- play_outcomes: every evaluator in a play's treatment or holdout arm, with its outcome once resolved
-- (retained NULL before), its week-1 activation (NULL before day 7), its value, and reached = 1 when a
-- touch on the play's channel was delivered to it on or after the day it was assigned (compliance).
-- Grain: one row per play and evaluator in an arm. Inputs: play_assignments, plays, evaluators,
-- activation_daily, engagements.
SELECT
    a.play,
    a.instance,
    a.arm,
    a.assigned_date,
    a.churn_probability,
    a.risk_tier,
    e.expected_annual_value,
    e.retained,
    act.activated AS activated_w1,
    CASE
        WHEN EXISTS (
            SELECT 1
            FROM engagements AS g
            WHERE
                g.instance = a.instance
                AND g.channel = p.channel
                AND g.delivered = 1
                AND CAST(g.sent_at AS DATE) >= a.assigned_date
        ) THEN 1
        ELSE 0
    END AS reached
FROM play_assignments AS a
JOIN plays AS p ON p.play = a.play
JOIN evaluators AS e ON e.instance = a.instance
LEFT JOIN activation_daily AS act ON act.instance = a.instance AND act.day_index = 7
WHERE a.arm IN ('treatment', 'holdout')
ORDER BY a.play, a.instance
