-- score_set_integrity: the digest of one table's rows of one score set, recomputed inside the warehouse (a set
-- of a million rows is checked without reading it out). Grain: one row per table; churn_core.scoring.integrity
-- repeats this for each table of the set (UNION ALL), with the table's name in place of score_set_table and its
-- cells (one `name=<kind><text>` per column, NULL cells left out by concat_ws) in place of the '-' marked cells,
-- from the table's own columns.
-- Each row's canonical text is hashed (SHA-256); the hashes are sorted and hashed per bucket (their first two
-- hex digits) and the bucket digests sorted and hashed again: the same for any order of the rows, different
-- for any change to any row. Parameters: :as_of (DATE).
WITH row_hashes AS (
    SELECT lower(to_hex(sha256(to_utf8(concat_ws(';',
            '-' /*cells*/
        ))))) AS h
    FROM score_set_table
    WHERE as_of_date = :as_of
),
buckets AS (
    SELECT
        substr(h, 1, 2) AS bucket,
        count(*) AS row_count,
        lower(to_hex(sha256(to_utf8(array_join(array_sort(array_agg(h)), ''))))) AS bucket_digest
    FROM row_hashes
    GROUP BY substr(h, 1, 2)
)
SELECT
    'score_set_table' AS table_name,
    CAST(coalesce(sum(row_count), 0) AS BIGINT) AS row_count,
    coalesce(lower(to_hex(sha256(to_utf8(array_join(array_sort(array_agg(bucket || bucket_digest)), ''))))), '')
        AS digest
FROM buckets
