-- play_treatment_list: the evaluators a play contacts from one day's assignment, in the order of the play's
-- list (whose rank counts its holdout too), with what the CRM needs to reach and brief them.
-- Grain: one row per evaluator in the treatment arm that day.
-- Inputs: play_assignments, plays, evaluator_scores. Parameters: :play (VARCHAR), :day (DATE).
SELECT
    a.rank,
    a.instance,
    p.channel,
    p.content_id,
    a.churn_probability,
    a.risk_tier,
    a.contact_value,
    s.product,
    s.edition,
    s.region,
    s.expected_annual_value,
    s.day_of_trial,
    s.top_reason
FROM play_assignments AS a
JOIN plays AS p ON p.play = a.play
LEFT JOIN evaluator_scores AS s ON s.instance = a.instance AND s.as_of_date = a.assigned_date
WHERE a.play = :play AND a.assigned_date = :day AND a.arm = 'treatment'
ORDER BY a.rank
