-- The span names of service $service with their span kinds, sorted ($kind: only that kind,
-- as stored: Server, Client, ...; NULL: every kind).
SELECT DISTINCT span_name AS name, span_kind AS kind
FROM otel_spans
WHERE service_name = $service AND ($kind IS NULL OR span_kind = $kind)
ORDER BY name, kind
