-- Every alert's current state (glimpse_alert_state), firing first, then pending, then by name.
SELECT alert, state, value, epoch_ns(active_since) AS active_since, epoch_ns(fired_at) AS fired_at,
       epoch_ns(resolved_at) AS resolved_at, epoch_ns(evaluated_at) AS evaluated_at, scope, signal,
       labels::VARCHAR AS labels, annotations::VARCHAR AS annotations, root_causes::VARCHAR AS root_causes
FROM glimpse_alert_state
ORDER BY CASE state WHEN 'firing' THEN 0 WHEN 'pending' THEN 1 WHEN 'resolved' THEN 2 ELSE 3 END, alert
