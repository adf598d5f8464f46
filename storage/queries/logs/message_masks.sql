-- The masked message of each of the messages $messages among the records of the window
-- [$since, $until) (the extent of a search's rows): the template of a row without masking
-- the whole window again.
WITH {log_records}
SELECT DISTINCT message, masked
FROM log_records
WHERE message IN (SELECT unnest(CAST($messages AS VARCHAR[])))
ORDER BY message
