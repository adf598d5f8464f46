-- State changes of every alert, latest first, at most $limit.
SELECT alert, epoch_ns(changed_at) AS at, from_state, to_state, value, root_causes::VARCHAR AS root_causes
FROM glimpse_alert_history
ORDER BY changed_at DESC, alert, to_state
LIMIT $limit
