-- play_list: every play with its newest status, oldest play first. Grain: one row per play.
-- Inputs: plays, play_status (append-only; the newest row per play is its status).
SELECT
    p.play,
    p.owner,
    p.channel,
    p.content_id,
    p.eligibility,
    p.daily_capacity,
    p.holdout_share,
    p.start_date,
    p.end_date,
    p.allow_overlap,
    p.created_at,
    p.created_by,
    s.status,
    s.changed_at AS status_changed_at,
    s.changed_by AS status_changed_by
FROM plays AS p
JOIN (
    SELECT
        play,
        status,
        changed_at,
        changed_by,
        row_number() OVER (PARTITION BY play ORDER BY changed_at DESC) AS newest
    FROM play_status
) AS s ON s.play = p.play AND s.newest = 1
ORDER BY p.created_at, p.play
