"""glimpse's benchmarks: scripts that print figures (the README quotes them).

Run each from the repository root with the project's environment, as a module:

- ``python -m bench.ingest``: OTLP/gRPC trace exports into ``glimpse serve`` against a
  parse-only gRPC ceiling (spans/s, latency, RSS, disk bytes a span). ``make bench``.
- ``python -m bench.graph``: the service graph over ~1,000,000 stored spans.
- ``python -m bench.disk STORE``: where a store's bytes go, per table and column.
- ``python -m bench.bottlenecks``: critical paths aggregated over ~110,000 traces, and the
  critical path of one 10,000-span trace.
- ``python -m bench.faults``: generates the labelled fault suite with the simulator
  (``bench/results/faults``); ``python -m bench.rca`` scores glimpse's root-cause ranking
  on it against baselines (with ``--scale``: one diagnosis of ~1M spans).
- ``python -m bench.rca_nezha``: root-cause accuracy on real data, the Nezha Train-Ticket
  traces and metrics (28 labelled faults).
- ``python -m bench.fuzz_spanwire``: fuzzes the C trace decoder under AddressSanitizer
  and UBSan.

Every one takes ``--help``. Shared pieces, not benchmarks themselves:

- :mod:`bench.common`: peak-RSS sampling, timing, verdicts, temporary stores, a server in
  process, simulated history into a store, RCAEval scores.
- :mod:`bench.workload`: the span workloads (realistic OTLP requests pre-encoded for
  replay; SQL that fills a store with a million spans).
- :mod:`bench.trace_iforest`: the isolation-forest detector ``bench.rca`` compares with.
- :mod:`bench.nezha_data`: readers for the Nezha data set.
"""
