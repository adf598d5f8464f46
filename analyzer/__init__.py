"""Analysis over the store: service graphs, critical paths, anomalies, root causes."""

__all__: list[str] = []
