-- score_set_columns: every column, with its type, of the tables a score set spans (the integrity digest
-- covers each column the tables have, including any added after the set was written). Grain: one row per
-- table and column. Input: information_schema.columns. Parameters: :schema (the warehouse's schema).
SELECT table_name, column_name, data_type
FROM information_schema.columns
WHERE table_schema = :schema
    AND table_name IN ('evaluator_scores', 'score_drift', 'channel_effects', 'content_effects', 'score_sets')
