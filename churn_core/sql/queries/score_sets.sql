-- score_sets: the kept score sets with their summary counts, newest first. Input: score_sets.
SELECT *
FROM score_sets
ORDER BY as_of_date DESC
