-- score_set_manifest: the score_sets row (manifest) of one score set: its summary counts, fingerprint and
-- signature. Grain: zero or one row. Input: score_sets. Parameters: :as_of (DATE).
SELECT *
FROM score_sets
WHERE as_of_date = :as_of
