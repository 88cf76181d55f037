-- channel_evidence: each channel's effect estimates (observational and, where plays randomised it,
-- randomised) in the newest score set a model version scored. Grain: one row per channel.
-- Inputs: channel_effects, score_sets. Parameters: :version (VARCHAR).
SELECT e.*
FROM channel_effects AS e
WHERE e.as_of_date = (SELECT max(s.as_of_date) FROM score_sets AS s WHERE s.model_version = :version)
ORDER BY e.channel
