-- Up to $per_edge call durations (ns; client side, else server side) per (client, server),
-- a deterministic sample (after service_calls.sql), for significance tests between two
-- windows: the calls whose hash of (seen, durations) is smallest, with that hash, so that
-- the samples of a long window's slices merge into the window's own.
SELECT client, server,
       min_by({'key': hash(seen, client_ns, server_ns), 'ns': coalesce(client_ns, server_ns)},
              hash(seen, client_ns, server_ns), $per_edge) AS sample
FROM calls
GROUP BY client, server
ORDER BY client, server
