-- The masked message of each of the messages $messages (the messages of a search's rows):
-- their templates without masking the window's records again.
SELECT DISTINCT message, {masked_message} AS masked
FROM (SELECT unnest(CAST($messages AS VARCHAR[])) AS message)
ORDER BY message
