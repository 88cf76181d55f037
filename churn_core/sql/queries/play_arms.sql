-- play_arms: every final assignment (treatment or holdout) of every play, and the plays already assigned
-- on :as_of (assigned_today = 1 on any row of theirs that day). Grain: one row per play and evaluator in an
-- arm, plus the day's rows. Input: play_assignments. Parameters: :as_of (DATE).
SELECT
    play,
    instance,
    arm,
    stratum,
    position,
    CASE WHEN assigned_date = :as_of THEN 1 ELSE 0 END AS assigned_today
FROM play_assignments
WHERE arm IN ('treatment', 'holdout') OR assigned_date = :as_of
