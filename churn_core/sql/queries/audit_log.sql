-- audit_log: the newest audit entries (exports and promotions), newest first.
-- Parameters: :limit (INTEGER).
SELECT at, user_email, user_role, action, detail, row_count
FROM audit_log
ORDER BY at DESC
LIMIT :limit
