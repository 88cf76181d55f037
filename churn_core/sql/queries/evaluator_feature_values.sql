-- evaluator_feature_values: one evaluator's model features as of a day of its trial (what the model saw).
-- Grain: at most one row. Input: feature_snapshots. Parameters: :instance, :as_of_day.
SELECT *
FROM feature_snapshots
WHERE instance = :instance
    AND as_of_day = :as_of_day
