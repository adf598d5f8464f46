-- When each remediation target (kind, name) was last acted on, dry runs included: the start
-- of its cooldown.
SELECT target_kind, target_name, epoch_ns(max(requested_at)) AS last_ns
FROM glimpse_remediation_audit
WHERE outcome IN ('dry_run', 'queued') AND target_kind IS NOT NULL
GROUP BY target_kind, target_name
ORDER BY target_kind, target_name
