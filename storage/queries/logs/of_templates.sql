-- After filtered.sql, with a template filter: the matched records whose masked message is one
-- of $masked (the masked messages of the templates the search names).
, kept AS (
    SELECT * FROM matched WHERE masked IN (SELECT unnest(CAST($masked AS VARCHAR[])))
)
