-- uplift_history_no_touches: uplift_history when no engagements table was loaded (no touches known).
-- Grain: one row per evaluator in instances_modeling. Inputs: instances_modeling.
SELECT
    m.*,
    CAST(NULL AS VARCHAR) AS primary_channel
FROM instances_modeling AS m
ORDER BY m.instance
