-- scoring_as_of: the date instances_w1 was built for and how many evaluators it holds (what `churn score`
-- scores by default). Grain: one row. Input: instances_w1.
SELECT
    max(as_of_date) AS as_of_date,
    count(*) AS evaluators
FROM instances_w1
