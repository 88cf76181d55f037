-- holdout_strata: the position the next arrival in each holdout stratum (product x cohort week) takes: one
-- past the last position assigned in it. Grain: one row per stratum. Input: holdout_assignments.
SELECT
    stratum,
    max(position) + 1 AS next_position
FROM holdout_assignments
GROUP BY stratum
