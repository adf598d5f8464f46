-- The distinct masked messages of the window [$since, $until), sorted: the input of template
-- mining (analyzer/log_templates.py), so that a window's templates do not depend on a search's
-- other filters.
WITH {log_records}
SELECT DISTINCT masked FROM log_records ORDER BY masked
