-- What glimpse counts as a request, in one place: every query that counts requests
-- includes this (the loader puts it where a query names the rule in braces), after a CTE named
-- `spans` of its window with trace_id, span_id, parent_span_id, service_name, span_kind.
-- A request is a SERVER or CONSUMER span, or a span without a kind (Zipkin, Jaeger and
-- some exporters send none) that is a root, whose parent is missing, or whose parent
-- belongs to another service. `request_spans` is `spans` with an `is_request` column.
kindless_requests AS (
    SELECT hash(c.trace_id, c.span_id) AS span_key
    FROM spans AS c
    LEFT JOIN spans AS p ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id
    WHERE c.span_kind = 'Unspecified'
      AND (c.parent_span_id = '' OR p.service_name IS DISTINCT FROM c.service_name)
),
-- (spans with a kind and those without apart: only the latter need their ids, and
-- reading and hashing every span's ids cost 40% of the graph's node statistics)
request_spans AS (
    SELECT *, span_kind IN ('Server', 'Consumer') AS is_request
    FROM spans
    WHERE span_kind <> 'Unspecified'
    UNION ALL
    SELECT *, hash(trace_id, span_id) IN (SELECT span_key FROM kindless_requests)
    FROM spans
    WHERE span_kind = 'Unspecified'
)
