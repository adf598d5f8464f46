"""Analysis over the store: service graphs, critical paths, anomalies, root causes.

scipy is imported inside the functions that use it, not at the top of their modules: its
statistics module alone costs a server 64 MiB of memory and a second of start-up, which an
ingest-only server (or a command that never tests a hypothesis) need not pay.
"""

__all__: list[str] = []
