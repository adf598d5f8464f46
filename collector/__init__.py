"""OTLP receivers: pure decoders, the gRPC services, the HTTP endpoints.

Import the submodules themselves (``collector.decode``, ``collector.grpc_server``, ...): a
decode worker that needs one of them must not pull in the rest (gRPC, the web stack).
"""

__all__: list[str] = []
