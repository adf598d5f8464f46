-- After filtered.sql, without a template filter: every matched record is kept (and no masked
-- message is computed unless the query's end reads it).
, kept AS (SELECT * FROM matched)
