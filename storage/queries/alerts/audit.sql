-- The remediation audit, latest first, at most $limit rows.
SELECT epoch_ns(requested_at) AS requested_at, alert, target_kind, target_name, action_url, outcome,
       remediation, evidence::VARCHAR AS evidence
FROM glimpse_remediation_audit
ORDER BY requested_at DESC, alert
LIMIT $limit
