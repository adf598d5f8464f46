-- Up to $per_edge client-side durations (ns) per (client, server), a deterministic sample
-- (after service_calls.sql), for significance tests between two windows.
SELECT client, server,
       list(coalesce(client_ns, server_ns) ORDER BY hash(seen, client_ns, server_ns))[1:$per_edge] AS durations_ns
FROM calls
GROUP BY client, server
ORDER BY client, server
