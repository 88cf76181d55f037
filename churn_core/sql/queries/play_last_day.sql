-- play_last_day: the newest day each play assigned evaluators on. Grain: one row per play that has.
-- Input: play_assignments.
SELECT play, max(assigned_date) AS assigned_date
FROM play_assignments
GROUP BY play
