"""The query service: read the store, run the pure analysis, answer as plain JSON-ready data.

One module per domain, each with an explicit ``__all__``:

- :mod:`analyzer.query_service.graphs`: the service dependency graph, its diff and exports
- :mod:`analyzer.query_service.traces`: one trace (critical path, details, its logs) and trace search
- :mod:`analyzer.query_service.logs`: log search, a window's log templates, a trace's log records
- :mod:`analyzer.query_service.bottlenecks`: critical-path time across many traces
- :mod:`analyzer.query_service.platforms`: pods, containers, hosts and their resources
- :mod:`analyzer.query_service.services`: rate, errors and duration per service
- :mod:`analyzer.query_service.incidents`: anomalies, incidents and ranked root causes
- :mod:`analyzer.query_service.insights`: trends, forecasts and capacity hints

Every function takes a DuckDB connection first and keyword arguments after it; windows
are unix nanoseconds (``since_ns``/``until_ns``, None: the data's own bound). The CLI, the
HTTP API, the console, the report and ``bench/`` call these and nothing below them.
Errors are :mod:`analyzer.errors`.
"""

__all__: list[str] = []
