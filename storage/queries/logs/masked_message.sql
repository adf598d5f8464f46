-- The masked form of the column `message` (the loader puts this expression where a query
-- names it in braces: `{masked_message}`): timestamps, uuids, IP addresses, hex ids and
-- numbers become <TS>, <UUID>, <IP>, <HEX>, <NUM>; the input of template mining.
regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(message,
            '\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?|\b\d\d:\d\d:\d\d(\.\d+)?', '<TS>', 'g'),
            '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<UUID>', 'g'),
            '\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?\b', '<IP>', 'g'),
            '\b(0[xX][0-9a-fA-F]+|[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*|[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*)\b', '<HEX>', 'g'),
            '[-+]?\d+(\.\d+)?', '<NUM>', 'g')
