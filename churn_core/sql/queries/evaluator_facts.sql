-- evaluator_facts: what we know about one evaluator from sign-up and billing, scored or not.
-- Grain: at most one row. Input: evaluators. Parameters: :instance.
SELECT *
FROM evaluators
WHERE instance = :instance
