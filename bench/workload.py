"""The benchmarks' span workloads: one module, two generators, both seeded or fixed.

- **OTLP requests** (``bench.ingest``, ``bench.fuzz_spanwire``): :class:`Workload` builds
  realistic ``ExportTraceServiceRequest`` messages (an online shop of a dozen services with
  Kubernetes/cloud resources, traces of 10-20 spans with proper parents, ~10
  semantic-convention attributes a span, old and new conventions mixed, an event on one
  span in five), and :func:`build_templates` serializes a pool of them once and locates
  every id and timestamp in the bytes, so that a client can replay them with fresh ids and
  shifted times for ~150 us a request (:meth:`Template.render`). Deterministic for a seed
  (but for the anchor time the timestamps hang from).
- **Stored spans** (``bench.graph``, ``bench.bottlenecks``): SQL that generates rows shaped
  like ``otel_traces`` inside DuckDB, a million spans in seconds, and
  :func:`store_generated` / :func:`generate_store` to put them in a store. This measures
  the analyses, not ingest. :data:`CHAINED_TRACES_SQL`: traces of 15 spans or fewer, a
  gateway root and 7 calls along chains through 30 services, one call in five to an
  uninstrumented database (a client span alone); :data:`BIG_TRACE_SQL`: one trace of
  10,000 spans, a fan-out tree of 10 children a span.

Not :mod:`tracing.simulator`: that one walks a topology and emits through the OpenTelemetry
SDK exporters (with faults and labels, for ``bench.faults``), far too slow to pre-encode
the ingest pool or to fill a store with a million spans, and a different workload from
the one the published figures were measured on.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

from storage.columns import RESOURCE_SCHEMA
from storage.store import open_writable
from storage.trace_queries import index_log_traces_sql, index_traces_sql

SPANS_PER_REQUEST = 512

AttrValue = str | int | bool | float

# --------------------------------------------------------------------------- OTLP requests: the shop

# name -> (language, inbound protocol, downstream services, database)
SERVICES: dict[str, tuple[str, str, tuple[str, ...], str | None]] = {
    "frontend": (
        "nodejs",
        "http",
        ("product-catalog", "cart", "checkout", "recommendation", "ad", "currency", "shipping"),
        None,
    ),
    "checkout": ("go", "grpc", ("cart", "payment", "shipping", "email", "currency", "product-catalog", "kafka"), None),
    "cart": ("dotnet", "grpc", (), "redis"),
    "product-catalog": ("go", "grpc", (), "postgresql"),
    "recommendation": ("python", "grpc", ("product-catalog",), "redis"),
    "ad": ("java", "grpc", (), None),
    "currency": ("cpp", "grpc", (), None),
    "payment": ("nodejs", "grpc", (), "postgresql"),
    "shipping": ("rust", "http", ("quote",), None),
    "quote": ("php", "http", (), None),
    "email": ("ruby", "http", (), None),
    "accounting": ("dotnet", "kafka", (), "postgresql"),
}
OLD_SEMCONV = frozenset({"php", "ruby", "cpp"})  # older SDKs: http.method, db.statement, ...
SCOPES = {
    "nodejs": ("@opentelemetry/instrumentation-http", "0.52.1"),
    "go": ("go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc", "0.53.0"),
    "dotnet": ("OpenTelemetry.Instrumentation.AspNetCore", "1.9.0"),
    "python": ("opentelemetry.instrumentation.grpc", "0.47b0"),
    "java": ("io.opentelemetry.grpc-1.6", "2.6.0-alpha"),
    "cpp": ("opentelemetry-cpp", "1.16.0"),
    "rust": ("opentelemetry-rust", "0.24.0"),
    "php": ("io.opentelemetry.contrib.php.slim", "1.0.3"),
    "ruby": ("OpenTelemetry::Instrumentation::Sinatra", "0.24.1"),
}
RPC_METHODS = {
    "cart": ("oteldemo.CartService", ("GetCart", "AddItem", "EmptyCart")),
    "product-catalog": ("oteldemo.ProductCatalogService", ("GetProduct", "ListProducts", "SearchProducts")),
    "recommendation": ("oteldemo.RecommendationService", ("ListRecommendations",)),
    "ad": ("oteldemo.AdService", ("GetAds",)),
    "currency": ("oteldemo.CurrencyService", ("Convert", "GetSupportedCurrencies")),
    "payment": ("oteldemo.PaymentService", ("Charge",)),
    "checkout": ("oteldemo.CheckoutService", ("PlaceOrder",)),
}
HTTP_ROUTES = {
    "frontend": (
        ("GET", "/api/products/{productId}"),
        ("GET", "/api/cart"),
        ("POST", "/api/cart"),
        ("POST", "/api/checkout"),
        ("GET", "/api/recommendations"),
        ("GET", "/api/data"),
        ("GET", "/api/currency"),
    ),
    "shipping": (("POST", "/get-quote"), ("POST", "/ship-order")),
    "quote": (("POST", "/getquote"),),
    "email": (("POST", "/send_order_confirmation"),),
}
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "python-requests/2.32.3",
    "k6/0.52.0 (https://k6.io/)",
)
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
PRODUCTS = ("OLJCESPC7Z", "66VCHSJNUP", "1YMWWN1N4O", "L9ECAV7KIM", "2ZYFJ3GM2N", "0PUK6V6EV0", "LS4PSXUNUM")
EXCEPTIONS = (
    ("TimeoutError", "deadline exceeded after 500ms"),
    ("ConnectionResetError", "connection reset by peer"),
    ("ValueError", "invalid currency code"),
    ("KeyError", "'cart_items'"),
)


@dataclass
class SpanSpec:
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    service: str
    pod: int
    kind: int
    name: str
    start: int
    end: int
    attributes: list[tuple[str, AttrValue]]
    error: bool = False
    error_message: str = ""
    events: list[tuple[int, str, list[tuple[str, AttrValue]]]] = field(default_factory=list)


class Workload:
    """Seeded generator of realistic spans and export requests."""

    def __init__(self, seed: int, pods_per_service: int = 3) -> None:
        self.rng = random.Random(seed)
        self.pods_per_service = pods_per_service
        self.resources: dict[tuple[str, int], RESOURCE_PB2.Resource] = {}
        self.pod_ips: dict[tuple[str, int], str] = {}
        nodes = [
            f"ip-10-0-{self.rng.randint(0, 255)}-{self.rng.randint(1, 254)}.eu-west-1.compute.internal"
            for _ in range(6)
        ]
        for service, (language, _, _, _) in SERVICES.items():
            replicaset = "".join(self.rng.choices("bcdfghjklmnpqrstvwxz2456789", k=10))
            for pod in range(pods_per_service):
                node_index = self.rng.randrange(len(nodes))
                pod_name = f"{service}-{replicaset}-{''.join(self.rng.choices('bcdfghjklmnpqrstvwxz2456789', k=5))}"
                self.pod_ips[(service, pod)] = self._ip()
                attrs: list[tuple[str, AttrValue]] = [
                    ("service.name", service),
                    ("service.namespace", "shop"),
                    ("service.version", f"1.{self.rng.randint(0, 12)}.{self.rng.randint(0, 30)}"),
                    ("service.instance.id", str(uuid.UUID(int=self.rng.getrandbits(128), version=4))),
                    ("deployment.environment.name", "production"),
                    ("k8s.namespace.name", "shop"),
                    ("k8s.deployment.name", service),
                    ("k8s.pod.name", pod_name),
                    ("k8s.pod.uid", str(uuid.UUID(int=self.rng.getrandbits(128), version=4))),
                    ("k8s.node.name", nodes[node_index]),
                    ("container.id", f"{self.rng.getrandbits(256):064x}"),
                    ("host.name", nodes[node_index]),
                    ("host.arch", "amd64"),
                    ("os.type", "linux"),
                    ("cloud.provider", "aws"),
                    ("cloud.platform", "aws_eks"),
                    ("cloud.region", "eu-west-1"),
                    ("cloud.availability_zone", ZONES[node_index % len(ZONES)]),
                    ("telemetry.sdk.name", "opentelemetry"),
                    ("telemetry.sdk.language", language),
                    ("telemetry.sdk.version", f"1.{self.rng.randint(20, 27)}.0"),
                    ("process.pid", self.rng.randint(1, 4000)),
                ]
                resource = RESOURCE_PB2.Resource()
                _fill(resource.attributes, attrs)
                self.resources[(service, pod)] = resource

    # ---- small value helpers

    def _ip(self) -> str:
        return f"10.0.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"

    def _span_id(self) -> bytes:
        return (self.rng.getrandbits(64) or 1).to_bytes(8, "big")

    def _trace_id(self) -> bytes:
        return (self.rng.getrandbits(128) or 1).to_bytes(16, "big")

    def _status(self, error_rate: float = 0.03) -> tuple[int, bool]:
        roll = self.rng.random()
        if roll < error_rate:
            return self.rng.choice((500, 502, 503)), True
        if roll < error_rate + 0.04:
            return 404, False
        return self.rng.choice((200, 200, 200, 200, 201, 204)), False

    def _pod(self, service: str) -> int:
        return self.rng.randrange(self.pods_per_service)

    # ---- attributes per kind of span

    def _http_server_attrs(self, service: str, method: str, route: str, status: int) -> list[tuple[str, AttrValue]]:
        path = route.replace("{productId}", self.rng.choice(PRODUCTS))
        if service == "frontend" and self.rng.random() < 0.5:
            path += f"?currencyCode={self.rng.choice(('USD', 'EUR', 'CAD', 'JPY'))}"
        peer = self._ip()
        if SERVICES[service][0] in OLD_SEMCONV:
            return [
                ("http.method", method),
                ("http.target", path),
                ("http.scheme", "http"),
                ("http.route", route),
                ("http.status_code", status),
                ("net.host.name", service),
                ("net.host.port", 8080),
                ("http.flavor", "1.1"),
                ("http.user_agent", self.rng.choice(USER_AGENTS)),
                ("net.sock.peer.addr", peer),
                ("net.sock.peer.port", self.rng.randint(32768, 60999)),
            ]
        return [
            ("http.request.method", method),
            ("url.path", path),
            ("url.scheme", "http"),
            ("http.route", route),
            ("http.response.status_code", status),
            ("server.address", service),
            ("server.port", 8080),
            ("network.protocol.version", "1.1"),
            ("user_agent.original", self.rng.choice(USER_AGENTS)),
            ("client.address", peer),
            ("network.peer.address", peer),
            ("network.peer.port", self.rng.randint(32768, 60999)),
        ]

    def _http_client_attrs(self, service: str, target: str, method: str, route: str, status: int) -> list[Any]:
        url = f"http://{target}:8080{route}"
        if SERVICES[service][0] in OLD_SEMCONV:
            return [
                ("http.method", method),
                ("http.url", url),
                ("net.peer.name", target),
                ("net.peer.port", 8080),
                ("http.status_code", status),
                ("http.flavor", "1.1"),
                ("net.sock.peer.addr", self._ip()),
                ("peer.service", target),
                ("http.request_content_length", self.rng.randint(0, 4096)),
            ]
        return [
            ("http.request.method", method),
            ("url.full", url),
            ("server.address", target),
            ("server.port", 8080),
            ("http.response.status_code", status),
            ("network.protocol.version", "1.1"),
            ("network.peer.address", self._ip()),
            ("network.peer.port", 8080),
            ("peer.service", target),
            ("http.request.body.size", self.rng.randint(0, 4096)),
        ]

    def _rpc_attrs(self, target: str, method: str, grpc_code: int, *, client: bool) -> list[tuple[str, AttrValue]]:
        rpc_service = RPC_METHODS[target][0]
        attrs: list[tuple[str, AttrValue]] = [
            ("rpc.system", "grpc"),
            ("rpc.service", rpc_service),
            ("rpc.method", method),
            ("rpc.grpc.status_code", grpc_code),
            ("server.address", target),
            ("server.port", 50051),
            ("network.peer.address", self._ip()),
            ("network.peer.port", 50051 if client else self.rng.randint(32768, 60999)),
            ("network.transport", "tcp"),
            ("network.type", "ipv4"),
        ]
        if client:
            attrs.append(("peer.service", target))
        elif target in ("cart", "checkout"):
            attrs.append(("app.user.id", str(uuid.UUID(int=self.rng.getrandbits(128), version=4))))
        elif target == "product-catalog":
            attrs.append(("app.product.id", self.rng.choice(PRODUCTS)))
        return attrs

    def _db_attrs(self, service: str, system: str) -> tuple[str, list[tuple[str, AttrValue]]]:
        old = SERVICES[service][0] in OLD_SEMCONV
        if system == "redis":
            op = self.rng.choice(("HGET", "HSET", "EXPIRE", "HGETALL"))
            key = f"cart:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
            attrs: list[tuple[str, AttrValue]] = [
                ("db.system.name" if not old else "db.system", "redis"),
                ("db.namespace" if not old else "db.redis.database_index", "0" if not old else 0),
                ("db.operation.name" if not old else "db.operation", op),
                ("db.query.text" if not old else "db.statement", f"{op} {key} items"),
                ("server.address", "valkey-cart"),
                ("server.port", 6379),
                ("network.peer.address", self._ip()),
                ("network.peer.port", 6379),
                ("db.response.returned_rows", self.rng.randint(0, 12)),
                ("thread.id", self.rng.randint(1, 64)),
            ]
            return op, attrs
        table = self.rng.choice(("products", "orders", "order_items", "payments", "inventory"))
        op = self.rng.choice(("SELECT", "SELECT", "SELECT", "INSERT", "UPDATE"))
        ident = self.rng.randint(1, 10_000_000)
        statement = {
            "SELECT": f"SELECT id, name, price_units, price_nanos FROM {table} WHERE id = {ident}",
            "INSERT": f"INSERT INTO {table} (id, order_id, quantity) VALUES ({ident}, $1, $2)",
            "UPDATE": f"UPDATE {table} SET quantity = quantity - 1 WHERE id = {ident}",
        }[op]
        attrs = [
            ("db.system.name" if not old else "db.system", "postgresql"),
            ("db.namespace" if not old else "db.name", "shop"),
            ("db.operation.name" if not old else "db.operation", op),
            ("db.collection.name" if not old else "db.sql.table", table),
            ("db.query.text" if not old else "db.statement", statement),
            ("server.address", "postgresql.shop.svc.cluster.local"),
            ("server.port", 5432),
            ("network.peer.address", self._ip()),
            ("db.response.returned_rows", self.rng.randint(0, 50)),
            ("db.user", "shop_app"),
        ]
        return f"{op} shop.{table}", attrs

    def _internal_attrs(self, service: str) -> tuple[str, list[tuple[str, AttrValue]]]:
        func = self.rng.choice(("validate", "render", "compute_total", "load_config", "serialize", "apply_discount"))
        return f"{service}.{func}", [
            ("code.function.name", func),
            ("code.namespace", f"{service.replace('-', '_')}.handlers"),
            ("code.file.path", f"/app/src/{service}/handlers.py"),
            ("code.line.number", self.rng.randint(10, 900)),
            ("thread.id", self.rng.randint(1, 64)),
            ("thread.name", f"worker-{self.rng.randint(0, 15)}"),
            ("app.cart.items.count", self.rng.randint(0, 12)),
            ("app.order.amount", round(self.rng.uniform(1, 900), 2)),
            ("app.currency.code", self.rng.choice(("USD", "EUR", "CAD", "JPY"))),
            ("app.cache.hit", self.rng.random() < 0.7),
        ]

    def _messaging_attrs(self, *, consumer: bool) -> list[tuple[str, AttrValue]]:
        attrs: list[tuple[str, AttrValue]] = [
            ("messaging.system", "kafka"),
            ("messaging.destination.name", "orders"),
            ("messaging.operation.type", "process" if consumer else "send"),
            ("messaging.operation.name", "process" if consumer else "publish"),
            ("messaging.kafka.message.key", f"order-{self.rng.randint(1, 10**9)}"),
            ("messaging.destination.partition.id", str(self.rng.randint(0, 11))),
            ("messaging.message.body.size", self.rng.randint(200, 4000)),
            ("server.address", "kafka"),
            ("server.port", 9092),
            ("messaging.client.id", f"{'accounting' if consumer else 'checkout'}-{self.rng.randint(1, 3)}"),
        ]
        if consumer:
            attrs.append(("messaging.consumer.group.name", "accounting"))
            attrs.append(("messaging.kafka.offset", self.rng.randint(10**6, 10**8)))
        return attrs

    # ---- traces

    def _child_window(self, parent: SpanSpec) -> tuple[int, int]:
        width = max(parent.end - parent.start, 2_000)
        start = parent.start + int(width * self.rng.uniform(0.02, 0.6))
        end = start + max(int((parent.end - start) * self.rng.uniform(0.1, 0.9)), 1_000)
        return start, min(end, parent.end)

    def trace(self, anchor_ns: int) -> list[SpanSpec]:
        size = self.rng.randint(10, 20)
        trace_id = self._trace_id()
        start = anchor_ns - self.rng.randint(50_000_000, 10_000_000_000)
        duration = int(min(self.rng.lognormvariate(17.5, 0.8), 2e9))  # ~40 ms median
        method, route = self.rng.choice(HTTP_ROUTES["frontend"])
        status, failed = self._status()
        root = SpanSpec(
            trace_id,
            self._span_id(),
            b"",
            "frontend",
            self._pod("frontend"),
            TRACE_PB2.Span.SPAN_KIND_SERVER,
            f"{method} {route}",
            start,
            start + duration,
            self._http_server_attrs("frontend", method, route, status),
            error=failed,
        )
        spans = [root]
        while len(spans) < size:
            parent = self.rng.choice(
                [s for s in spans if s.kind in (TRACE_PB2.Span.SPAN_KIND_SERVER, TRACE_PB2.Span.SPAN_KIND_CONSUMER)]
            )
            _, _, downstream, database = SERVICES[parent.service]
            choices = ["internal"]
            if database:
                choices += ["db", "db"]
            if downstream and size - len(spans) >= 2:
                choices += ["call"] * 3
            choice = self.rng.choice(choices)
            if choice == "internal":
                spans.append(self._single(parent, "internal"))
            elif choice == "db":
                spans.append(self._single(parent, database or "postgresql"))
            else:
                spans.extend(self._call(parent, self.rng.choice(downstream)))
        for span in spans:
            self._maybe_event(span)
        return spans

    def _single(self, parent: SpanSpec, what: str) -> SpanSpec:
        start, end = self._child_window(parent)
        if what == "internal":
            name, attrs = self._internal_attrs(parent.service)
            kind = TRACE_PB2.Span.SPAN_KIND_INTERNAL
        else:
            name, attrs = self._db_attrs(parent.service, what)
            kind = TRACE_PB2.Span.SPAN_KIND_CLIENT
        failed = self.rng.random() < 0.01
        if failed:
            attrs.append(("error.type", "timeout"))
        return SpanSpec(
            parent.trace_id, self._span_id(), parent.span_id, parent.service, parent.pod, kind, name, start, end,
            attrs, error=failed, error_message="deadline exceeded" if failed else "",
        )  # fmt: skip

    def _call(self, parent: SpanSpec, target: str) -> list[SpanSpec]:
        start, end = self._child_window(parent)
        latency = max((end - start) // 20, 50_000)
        server_start, server_end = start + latency, max(end - latency, start + latency + 1_000)
        caller, pod = parent.service, parent.pod
        target_pod = self._pod(target)
        if target == "kafka":
            producer = SpanSpec(
                parent.trace_id, self._span_id(), parent.span_id, caller, pod, TRACE_PB2.Span.SPAN_KIND_PRODUCER,
                "orders publish", start, start + latency, self._messaging_attrs(consumer=False),
            )  # fmt: skip
            consumer_start = start + latency * self.rng.randint(2, 40)
            consumer = SpanSpec(
                parent.trace_id, self._span_id(), producer.span_id, "accounting", self._pod("accounting"),
                TRACE_PB2.Span.SPAN_KIND_CONSUMER, "orders process", consumer_start,
                consumer_start + self.rng.randint(1_000_000, 30_000_000), self._messaging_attrs(consumer=True),
            )  # fmt: skip
            return [producer, consumer]
        protocol = SERVICES[target][1]
        if protocol == "http":
            method, route = self.rng.choice(HTTP_ROUTES[target])
            status, failed = self._status(0.02)
            client = SpanSpec(
                parent.trace_id, self._span_id(), parent.span_id, caller, pod, TRACE_PB2.Span.SPAN_KIND_CLIENT,
                method, start, end, self._http_client_attrs(caller, target, method, route, status), error=failed,
            )  # fmt: skip
            server = SpanSpec(
                parent.trace_id, self._span_id(), client.span_id, target, target_pod, TRACE_PB2.Span.SPAN_KIND_SERVER,
                f"{method} {route}", server_start, server_end,
                self._http_server_attrs(target, method, route, status), error=failed,
            )  # fmt: skip
        else:
            rpc_service, methods = RPC_METHODS[target]
            method = self.rng.choice(methods)
            failed = self.rng.random() < 0.02
            code = self.rng.choice((4, 13, 14)) if failed else 0
            name = f"{rpc_service}/{method}"
            client = SpanSpec(
                parent.trace_id, self._span_id(), parent.span_id, caller, pod, TRACE_PB2.Span.SPAN_KIND_CLIENT,
                name, start, end, self._rpc_attrs(target, method, code, client=True), error=failed,
            )  # fmt: skip
            server = SpanSpec(
                parent.trace_id, self._span_id(), client.span_id, target, target_pod, TRACE_PB2.Span.SPAN_KIND_SERVER,
                name, server_start, server_end, self._rpc_attrs(target, method, code, client=False), error=failed,
            )  # fmt: skip
        if failed:
            exc_type, message = self.rng.choice(EXCEPTIONS)
            for span in (client, server):
                span.error_message = message
                span.attributes.append(("error.type", exc_type))
        return [client, server]

    def _maybe_event(self, span: SpanSpec) -> None:
        if not (span.error or self.rng.random() < 0.2):
            return
        at = span.start + (span.end - span.start) // 2
        if span.error:
            exc_type, message = self.rng.choice(EXCEPTIONS)
            stack = "\n".join(
                f'  File "/app/src/{span.service}/{mod}.py", line {self.rng.randint(5, 500)}, in {fn}'
                for mod, fn in (("server", "handle"), ("handlers", "process"), ("client", "call"))
            )
            span.events.append(
                (
                    at,
                    "exception",
                    [
                        ("exception.type", exc_type),
                        ("exception.message", message),
                        ("exception.stacktrace", f"Traceback (most recent call last):\n{stack}\n{exc_type}: {message}"),
                        ("exception.escaped", False),
                    ],
                )
            )
        elif span.kind in (TRACE_PB2.Span.SPAN_KIND_CLIENT, TRACE_PB2.Span.SPAN_KIND_SERVER):
            span.events.append(
                (
                    at,
                    "message",
                    [
                        ("message.type", self.rng.choice(("SENT", "RECEIVED"))),
                        ("message.id", self.rng.randint(1, 8)),
                        ("message.uncompressed_size", self.rng.randint(40, 20_000)),
                    ],
                )
            )
        else:
            span.events.append((at, "cache.lookup", [("app.cache.key", f"k{self.rng.randint(1, 10**6)}")]))

    # ---- requests

    def request(self, anchor_ns: int, spans_per_request: int = SPANS_PER_REQUEST) -> tuple[bytes, list[SpanSpec]]:
        spans: list[SpanSpec] = []
        while len(spans) < spans_per_request:
            spans.extend(self.trace(anchor_ns))
        del spans[spans_per_request:]  # the last trace may be cut, as collector batches cut traces
        by_resource: dict[tuple[str, int], list[SpanSpec]] = {}
        for span in spans:
            by_resource.setdefault((span.service, span.pod), []).append(span)
        message = TRACE_SERVICE_PB2.ExportTraceServiceRequest()
        for key, group in by_resource.items():
            resource_spans = message.resource_spans.add()
            resource_spans.resource.CopyFrom(self.resources[key])
            resource_spans.schema_url = "https://opentelemetry.io/schemas/1.26.0"
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name, scope_spans.scope.version = SCOPES[SERVICES[key[0]][0]]
            for spec in group:
                span = scope_spans.spans.add()
                span.trace_id = spec.trace_id
                span.span_id = spec.span_id
                span.parent_span_id = spec.parent_span_id
                span.flags = 0x301 if spec.kind in (TRACE_PB2.Span.SPAN_KIND_SERVER, 5) else 0x101
                span.name = spec.name
                span.kind = spec.kind
                span.start_time_unix_nano = spec.start
                span.end_time_unix_nano = spec.end
                _fill(span.attributes, spec.attributes)
                for at, name, attrs in spec.events:
                    event = span.events.add()
                    event.time_unix_nano = at
                    event.name = name
                    _fill(event.attributes, attrs)
                if spec.error:
                    span.status.code = TRACE_PB2.Status.STATUS_CODE_ERROR
                    span.status.message = spec.error_message
        return message.SerializeToString(), spans


def _fill(target: Any, attrs: list[tuple[str, AttrValue]]) -> None:
    for key, value in attrs:
        kv = target.add()
        kv.key = key
        if isinstance(value, bool):
            kv.value.bool_value = value
        elif isinstance(value, int):
            kv.value.int_value = value
        elif isinstance(value, float):
            kv.value.double_value = value
        else:
            kv.value.string_value = value


# --------------------------------------------------------------------------- replay templates


@dataclass
class Template:
    """A serialized request and where its ids and timestamps sit in the bytes."""

    body: bytes
    tid_index: np.ndarray  # (spans, 16) byte positions of every trace_id
    sid_index: np.ndarray  # (k, 8) byte positions of every span_id and non-empty parent_span_id
    ts_index: np.ndarray  # (n, 8) byte positions of every fixed64 timestamp
    ts_values: np.ndarray  # (n,) int64 original timestamps
    anchor_ns: int  # the latest end time in the request

    def render(self, mask: bytes, delta_ns: int) -> bytes:
        """The request with fresh ids and timestamps shifted by ``delta_ns``.

        Ids are XORed with ``mask`` (24 random bytes: 16 for trace ids, 8 for span ids),
        which keeps them full-entropy and parent links intact (a parent id is XORed
        with the same mask as the span id it points to).
        """
        buf = np.frombuffer(self.body, dtype=np.uint8).copy()
        key = np.frombuffer(mask, dtype=np.uint8)
        buf[self.tid_index] ^= key[:16]
        buf[self.sid_index] ^= key[16:24]
        if delta_ns:
            buf[self.ts_index] = (self.ts_values + np.int64(delta_ns)).view(np.uint8).reshape(-1, 8)
        return buf.tobytes()


def _fields(body: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Walk protobuf wire format: (field number, wire type, value start, value end) in ``body[start:end]``."""
    at = start
    while at < end:
        key, at = _varint(body, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, after = _varint(body, at)
        elif wire == 1:
            after = at + 8
        elif wire == 2:
            length, at = _varint(body, at)
            after = at + length
        elif wire == 5:
            after = at + 4
        else:
            raise ValueError(f"unexpected wire type {wire} at {at}")
        yield number, wire, at, after
        at = after


def _varint(body: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = body[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def make_template(body: bytes) -> Template:
    """Locate every span's ids and every fixed64 timestamp in a serialized request."""
    tid_offsets: list[int] = []
    sid_offsets: list[int] = []
    ts_offsets: list[int] = []
    for f_rs, _, rs_start, rs_end in _fields(body, 0, len(body)):
        if f_rs != 1:  # ExportTraceServiceRequest.resource_spans
            continue
        for f_ss, _, ss_start, ss_end in _fields(body, rs_start, rs_end):
            if f_ss != 2:  # ResourceSpans.scope_spans
                continue
            for f_span, _, sp_start, sp_end in _fields(body, ss_start, ss_end):
                if f_span != 2:  # ScopeSpans.spans
                    continue
                for number, wire, v_start, v_end in _fields(body, sp_start, sp_end):
                    if number == 1 and v_end - v_start == 16:  # Span.trace_id
                        tid_offsets.append(v_start)
                    elif number in (2, 4) and v_end - v_start == 8:  # Span.span_id, Span.parent_span_id
                        sid_offsets.append(v_start)
                    elif number in (7, 8) and wire == 1:  # Span.start/end_time_unix_nano
                        ts_offsets.append(v_start)
                    elif number == 11:  # Span.events
                        for e_number, e_wire, e_start, _ in _fields(body, v_start, v_end):
                            if e_number == 1 and e_wire == 1:  # Event.time_unix_nano
                                ts_offsets.append(e_start)
    offsets = np.array(ts_offsets, dtype=np.int64)
    lanes = np.arange(8, dtype=np.int64)
    ts_index = offsets[:, None] + lanes
    ts_values = np.frombuffer(body, dtype=np.uint8)[ts_index].copy().view("<i8").reshape(-1)
    return Template(
        body=body,
        tid_index=np.array(tid_offsets, dtype=np.int64)[:, None] + np.arange(16, dtype=np.int64),
        sid_index=np.array(sid_offsets, dtype=np.int64)[:, None] + lanes,
        ts_index=ts_index,
        ts_values=ts_values,
        anchor_ns=int(ts_values.max()),
    )


def check_template(template: Template) -> None:
    """Render once and parse: every span must carry the new ids and the shifted times."""
    mask = random.Random(len(template.body)).randbytes(24)
    delta = 123_456_789

    def xor(value: bytes, key: bytes) -> bytes:
        return bytes(a ^ b for a, b in zip(value, key, strict=True)) if value else value

    original = TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString(template.body)
    patched = TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString(template.render(mask, delta))
    for rs_a, rs_b in zip(original.resource_spans, patched.resource_spans, strict=True):
        for ss_a, ss_b in zip(rs_a.scope_spans, rs_b.scope_spans, strict=True):
            for a, b in zip(ss_a.spans, ss_b.spans, strict=True):
                ok = (
                    b.trace_id == xor(a.trace_id, mask[:16])
                    and b.span_id == xor(a.span_id, mask[16:])
                    and b.parent_span_id == xor(a.parent_span_id, mask[16:])
                    and b.start_time_unix_nano == a.start_time_unix_nano + delta
                    and b.end_time_unix_nano == a.end_time_unix_nano + delta
                    and all(
                        eb.time_unix_nano == ea.time_unix_nano + delta
                        for ea, eb in zip(a.events, b.events, strict=True)
                    )
                    and b.attributes == a.attributes
                )
                if not ok:
                    raise RuntimeError("template patching broke a span")


def build_templates(pool: int, seed: int) -> list[Template]:
    """``pool`` requests of the seeded workload, timestamped around now, serialized and checked once."""
    workload = Workload(seed)
    anchor = time.time_ns()
    templates = [make_template(workload.request(anchor)[0]) for _ in range(pool)]
    for template in templates:
        check_template(template)
    return templates


# --------------------------------------------------------------------------- stored spans (SQL)

# Traces of 15 spans or fewer ($traces of them, 54 ms apart): a gateway root span and 7 calls,
# chained through 30 services; one call in five to one of 3 databases (a client span alone).
CHAINED_TRACES_SQL = """
WITH calls AS (
    SELECT t, c,
           hash(t * 7 + c) % 30 AS callee,
           hash(t * 11 + c * 3) % 5 = 0 AS to_database
    FROM range($traces) AS tr(t), range(7) AS cr(c)
),
chained AS (
    SELECT *, coalesce(lag(callee) OVER (PARTITION BY t ORDER BY c), t % 3) AS caller
    FROM calls
),
spans AS (
    SELECT t, 0 AS slot, '' AS parent_slot, 'gateway-' || (t % 3) AS service, 'Server' AS kind,
           0 AS start_ms, 200 AS length_ms, NULL AS db
    FROM range($traces) AS tr(t)
    UNION ALL
    SELECT t, 1 + 2 * c, CASE WHEN c = 0 THEN '0' ELSE (2 * c)::VARCHAR END,
           CASE WHEN c = 0 THEN 'gateway-' || (t % 3) ELSE 'svc-' || caller END, 'Client',
           5 + c * 20, 15 + hash(t + c) % 10, CASE WHEN to_database THEN 'db-' || (callee % 3) END
    FROM chained
    UNION ALL
    SELECT t, 2 + 2 * c, (1 + 2 * c)::VARCHAR, 'svc-' || callee, 'Server',
           6 + c * 20, 12 + hash(t * 3 + c) % 8, NULL
    FROM chained WHERE NOT to_database
)
SELECT
    make_timestamp_ns(1700000000000000000 + t * 54000000 + start_ms * 1000000) AS timestamp,
    printf('%032x', t + 1) AS trace_id,
    printf('%016x', t * 16 + slot + 1) AS span_id,
    CASE WHEN parent_slot = '' THEN '' ELSE printf('%016x', t * 16 + parent_slot::BIGINT + 1) END AS parent_span_id,
    '' AS trace_state, 0 AS flags, service || ' op' AS span_name, kind AS span_kind, service AS service_name,
    '{}' AS resource_attributes, '' AS resource_schema_url, 0 AS resource_dropped_attributes_count,
    '' AS scope_name, '' AS scope_version, '{}' AS scope_attributes, '' AS scope_schema_url,
    '{}' AS span_attributes, length_ms * 1000000 AS duration,
    CASE WHEN hash(t * 13 + slot) % 100 = 0 THEN 'Error' ELSE 'Unset' END AS status_code, '' AS status_message,
    [] AS events, [] AS links, 0 AS dropped_attributes_count, 0 AS dropped_events_count, 0 AS dropped_links_count,
    'GET' AS http_request_method, db AS db_system_name, db AS server_address,
    'pod-' || service || '-' || (t % 4) AS k8s_pod_name, 'node-' || (t % 5) AS k8s_node_name
FROM spans
"""


# One trace ($trace_id) of 10,000 spans: a fan-out tree of 10 children a span, over 40 services.
BIG_TRACE = "0" * 31 + "f"
BIG_TRACE_SQL = """
SELECT make_timestamp_ns(1800000000000000000 + i * 1000) AS timestamp, $trace_id AS trace_id,
       printf('%016x', i + 1) AS span_id,
       CASE WHEN i = 0 THEN '' ELSE printf('%016x', (i - 1) // 10 + 1) END AS parent_span_id,
       '' AS trace_state, 0 AS flags, 'op-' || (i % 50) AS span_name,
       CASE WHEN i % 2 = 0 THEN 'Server' ELSE 'Client' END AS span_kind, 'svc-' || (i % 40) AS service_name,
       '{}' AS resource_attributes, '' AS resource_schema_url, 0 AS resource_dropped_attributes_count,
       '' AS scope_name, '' AS scope_version, '{}' AS scope_attributes, '' AS scope_schema_url,
       '{}' AS span_attributes, 10000000 - i * 900 AS duration, 'Unset' AS status_code, '' AS status_message,
       [] AS events, [] AS links, 0 AS dropped_attributes_count, 0 AS dropped_events_count,
       0 AS dropped_links_count
FROM range(10000) AS r(i)
"""


def store_generated(con: duckdb.DuckDBPyConnection, select_sql: str, params: dict[str, Any]) -> None:
    """Store rows shaped like ``otel_traces`` (from ``select_sql``) in otel_spans and otel_resources."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE generated AS {select_sql}", params)
    columns = {row[0] for row in con.execute("SELECT column_name FROM (DESCRIBE generated)").fetchall()}
    shared = [name for name in RESOURCE_SCHEMA.names if name in columns]
    key = f"hash({', '.join(shared)})"
    con.execute(
        f"INSERT OR IGNORE INTO otel_resources BY NAME SELECT DISTINCT ON (resource_key) {key} AS resource_key, "
        f"{', '.join(shared)} FROM generated"
    )
    resource_only = ", ".join(name for name in shared if name != "service_name")
    spans = f"SELECT * EXCLUDE ({resource_only}), {key} AS resource_key FROM generated"
    con.execute(f"INSERT INTO otel_spans BY NAME {spans}")
    con.execute(index_traces_sql("generated"))
    con.execute("DROP TABLE generated")


# A log record for about one server span in seven of the spans stored from $first_ns on (about
# one a trace): the service's own line, tied to its trace and span, as a handler writes it.
SERVER_SPAN_LOGS_SQL = """
SELECT timestamp, timestamp AS observed_timestamp, trace_id, span_id, 1 AS flags,
       CASE WHEN status_code = 'Error' THEN 'ERROR' ELSE 'INFO' END AS severity_text,
       CASE WHEN status_code = 'Error' THEN 17 ELSE 9 END AS severity_number, service_name,
       to_json('handled ' || span_name || ' in ' || (duration // 1000000) || ' ms') AS body, '' AS event_name,
       json_object('service.name', service_name) AS resource_attributes, '' AS resource_schema_url,
       'app' AS scope_name, '' AS scope_version, '{}' AS scope_attributes, '' AS scope_schema_url,
       '{}' AS log_attributes, 0 AS dropped_attributes_count
FROM otel_spans
WHERE timestamp >= make_timestamp_ns($first_ns) AND span_kind = 'Server' AND hash(span_id) % 7 = 0
"""


CHAINED_START_NS = 1_700_000_000_000_000_000  # the first trace of CHAINED_TRACES_SQL
CHAINED_GAP_NS = 54_000_000  # between two traces


def store_chained_parts(con: duckdb.DuckDBPyConnection, parts: range, traces: int, *, logs: bool = False) -> None:
    """Parts of ``traces`` traces of :data:`CHAINED_TRACES_SQL` (part n holds traces n *
    traces onwards), each stored (and checkpointed) after the one before and later in time,
    as the writer stores what arrives; trace ids random-looking (an md5), so that no trace
    can be found by its id's order; with ``logs``, a record per server span
    (:data:`SERVER_SPAN_LOGS_SQL`)."""
    chained = CHAINED_TRACES_SQL.replace("range($traces)", "range($first, $first + $traces)")
    shuffled = f"SELECT * REPLACE (md5(trace_id) AS trace_id) FROM ({chained})"
    for part in parts:
        first = part * traces
        store_generated(con, shuffled, {"first": first, "traces": traces})
        if logs:
            first_ns = CHAINED_START_NS + first * CHAINED_GAP_NS
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE generated_logs AS {SERVER_SPAN_LOGS_SQL}", {"first_ns": first_ns}
            )
            con.execute("INSERT INTO otel_logs BY NAME SELECT * FROM generated_logs")
            con.execute(index_log_traces_sql("generated_logs"))
            con.execute("DROP TABLE generated_logs")
        con.execute("CHECKPOINT")


def generate_store(path: Path, *parts: tuple[str, dict[str, Any]]) -> None:
    """A new store at ``path`` holding the rows of each ``(select_sql, params)``, checkpointed and closed."""
    con = open_writable(path)
    for select_sql, params in parts:
        store_generated(con, select_sql, params)
    con.execute("CHECKPOINT")
    con.close()
