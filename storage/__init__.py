"""The DuckDB trace store: schema and migrations, the single writer, read queries, read-only SQL.

Import the submodules themselves (``storage.store``, ``storage.writer``, ``storage.rows``,
``storage.graph_queries``, ...): a decode worker that needs one of them must not pull in
the rest (DuckDB, Arrow).
"""

__all__: list[str] = []
