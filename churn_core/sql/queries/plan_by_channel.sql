-- plan_by_channel: how many of a score set's evaluators matching the filters are in today's contact plan for
-- each channel. Grain: one row per channel with planned contacts. Input: evaluator_scores.
-- Parameters: :as_of (DATE) and the filter conditions' values.
SELECT
    recommended_channel AS channel,
    count(*) AS evaluators
FROM evaluator_scores
WHERE as_of_date = :as_of
    AND worth_saving = 1
    AND TRUE /*filters*/
GROUP BY recommended_channel
