-- randomised_history: resolved evaluators a contact play randomised, with its channel and their arm, so the
-- channel uplift models learn from randomised data where plays produced it (churn_core.scoring.channels).
-- Grain: one row per evaluator in instances_modeling and a play's treatment or holdout arm (its first play).
-- Inputs: play_assignments, plays, instances_modeling.
SELECT instance, play_channel, play_arm
FROM (
    SELECT
        a.instance,
        p.channel AS play_channel,
        a.arm AS play_arm,
        row_number() OVER (PARTITION BY a.instance ORDER BY a.assigned_date, a.play) AS nth
    FROM play_assignments AS a
    JOIN plays AS p ON p.play = a.play
    JOIN instances_modeling AS m ON m.instance = a.instance
    WHERE a.arm IN ('treatment', 'holdout')
) AS arms
WHERE nth = 1
