-- The distinct masked messages of the window [$since, $until), sorted: the input of template
-- mining (analyzer/log_templates.py), so that a window's templates do not depend on a search's
-- other filters. $record_sample above 1 reads every record at or above $kept_from and one in
-- $record_sample of the others (logs/records.sql).
WITH {level_sampled_log_records}
SELECT DISTINCT masked FROM log_records ORDER BY masked
