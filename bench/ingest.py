"""Ingest benchmark: OTLP/gRPC trace exports into ``glimpse serve``, against a parse-only gRPC ceiling.

What it does, in one run:

1. Builds a pool of realistic ``ExportTraceServiceRequest`` messages (512 spans each, ~10
   semantic-convention attributes a span, an event on one span in five, a dozen services
   with Kubernetes/cloud resources, traces of 10-20 spans with proper parents) and
   serializes them once. Every replay gets fresh ids (trace, span and parent ids XORed
   with a random mask, so parent links hold) and timestamps shifted to "now", by patching
   the bytes of the serialized request (~150 us), so nothing is a duplicate and the
   client stays cheap. Attribute values do repeat across replays of the pool (--pool).
2. Starts ``glimpse serve`` on a temporary DuckDB file and drives it from ``--clients``
   processes, each with ``--inflight`` threads calling the raw Export method with the
   bytes, for ``--seconds``. UNAVAILABLE is retried after a short back-off and counted.
3. Stops the server with SIGTERM, opens the file read-only and counts the rows.
4. Does the same against a bare gRPC server that only parses the requests: the ceiling.

5. With ``--receivers``, the same against a gRPC server that does only glimpse's receiver
   work (the C decoder and the journal record) and stores nothing: where that part tops out.

Run: ``python bench/ingest.py [--seconds 20] [--clients 4] [--inflight 4] [--receivers] [--json]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import grpc
import numpy as np
import psutil
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as TRACE_SERVICE_PB2
from opentelemetry.proto.resource.v1 import resource_pb2 as RESOURCE_PB2
from opentelemetry.proto.trace.v1 import trace_pb2 as TRACE_PB2

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
SPANS_PER_REQUEST = 512
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]

TARGET_SPANS_PER_S = 50_000
AIM_SPANS_PER_S = 100_000
TARGET_BYTES_PER_SPAN = 76
TARGET_RSS_BYTES = 1 << 30

AttrValue = str | int | bool | float

# --------------------------------------------------------------------------- workload model

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
    workload = Workload(seed)
    anchor = time.time_ns()
    templates = [make_template(workload.request(anchor)[0]) for _ in range(pool)]
    for template in templates:
        check_template(template)
    return templates


# --------------------------------------------------------------------------- clients


@dataclass
class ClientConfig:
    target: str
    seconds: float
    inflight: int
    backoff_s: float
    static_timestamps: bool
    seed: int


def _client_main(index: int, config: ClientConfig, templates: list[Template], go: Any, start_at: Any, out: Any) -> None:
    """One client process: ``inflight`` threads calling Export with pre-encoded bytes."""
    try:
        channel = grpc.insecure_channel(config.target, options=GRPC_OPTIONS)
        grpc.channel_ready_future(channel).result(timeout=30)
        export = channel.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)
        out.put(("ready", index, None))
        go.wait()
        deadline = start_at.value + config.seconds
        while time.monotonic() < start_at.value:
            time.sleep(0.001)
        cpu0 = time.process_time()
        results = [_new_thread_result() for _ in range(config.inflight)]
        threads = [
            threading.Thread(
                target=_client_thread,
                args=(index * 64 + t + 1, export, templates, config, deadline, results[t]),
                daemon=True,
            )
            for t in range(config.inflight)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        cpu = time.process_time() - cpu0
        channel.close()
        merged: dict[str, Any] = {
            "latencies_ms": [x for r in results for x in r["latencies_ms"]],
            "ok": sum(r["ok"] for r in results),
            "retries": sum(r["retries"] for r in results),
            "abandoned": sum(r["abandoned"] for r in results),
            "errors": dict(sum((Counter(r["errors"]) for r in results), Counter())),
            "prep_s": sum(r["prep_s"] for r in results),
            "renders": sum(r["renders"] for r in results),
            "last_end": max(r["last_end"] for r in results),
            "cpu_s": cpu,
        }
        out.put(("result", index, merged))
    except BaseException:
        out.put(("error", index, traceback.format_exc()))


def _new_thread_result() -> dict[str, Any]:
    return {
        "latencies_ms": [],
        "ok": 0,
        "retries": 0,
        "abandoned": 0,
        "errors": {},
        "prep_s": 0.0,
        "renders": 0,
        "last_end": 0.0,
    }


def _client_thread(
    worker: int, export: Any, templates: list[Template], config: ClientConfig, deadline: float, result: dict[str, Any]
) -> None:
    rng = random.Random(config.seed * 1000 + worker)
    latencies: list[float] = result["latencies_ms"]
    errors: dict[str, int] = result["errors"]
    counter = 0
    order = list(range(len(templates)))
    rng.shuffle(order)
    while time.monotonic() < deadline:
        counter += 1
        template = templates[order[counter % len(order)]]
        t_prep = time.thread_time()
        delta = 0 if config.static_timestamps else time.time_ns() - template.anchor_ns
        body = template.render(rng.randbytes(24), delta)
        result["prep_s"] += time.thread_time() - t_prep
        result["renders"] += 1
        while True:
            t0 = time.perf_counter()
            try:
                export(body, timeout=120)
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                if code == grpc.StatusCode.UNAVAILABLE:
                    result["retries"] += 1
                    if time.monotonic() >= deadline:
                        result["abandoned"] += 1
                        break
                    time.sleep(config.backoff_s * (0.5 + rng.random()))
                    continue
                name = code.name if code is not None else "UNKNOWN"
                errors[name] = errors.get(name, 0) + 1
                break
            done = time.perf_counter()
            latencies.append((done - t0) * 1000.0)
            result["ok"] += 1
            result["last_end"] = time.monotonic()
            break
    result["last_end"] = max(result["last_end"], time.monotonic())


# --------------------------------------------------------------------------- measurement helpers


class Sampler:
    """Samples a process tree's RSS (peak) every ``interval`` seconds on a thread."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self._child_cpu_s: dict[int, float] = {}  # live children (decode workers) by pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_rss

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss
                for child in self.proc.children(recursive=True):
                    with contextlib.suppress(psutil.NoSuchProcess):
                        rss += child.memory_info().rss
                        times = child.cpu_times()
                        self._child_cpu_s[child.pid] = times.user + times.system
            except psutil.NoSuchProcess:
                return
            self.peak_rss = max(self.peak_rss, rss)
            self._stop.wait(self.interval)

    def cpu_s(self) -> float:
        try:
            t = self.proc.cpu_times()
        except psutil.NoSuchProcess:
            return float("nan")
        return float(t.user + t.system) + sum(self._child_cpu_s.values())


@dataclass
class PhaseResult:
    name: str
    duration_s: float = 0.0
    ok_requests: int = 0
    acked_spans: int = 0
    retries: int = 0
    abandoned: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    latency_max_ms: float = 0.0
    client_cpu_cores: float = 0.0
    client_prep_us_per_request: float = 0.0
    server_cpu_cores: float = 0.0
    peak_rss_bytes: int = 0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_clients(
    ctx: Any, name: str, target: str, templates: list[Template], args: argparse.Namespace, sampler: Sampler
) -> PhaseResult:
    config = ClientConfig(target, args.seconds, args.inflight, args.backoff, args.static_timestamps, args.seed)
    out = ctx.Queue()
    go = ctx.Event()
    start_at = ctx.Value("d", 0.0)
    procs = [
        ctx.Process(target=_client_main, args=(i, config, templates, go, start_at, out), daemon=True)
        for i in range(args.clients)
    ]
    for proc in procs:
        proc.start()
    results: list[dict[str, Any]] = []
    ready = 0
    try:
        while ready < len(procs):
            kind, index, payload = out.get(timeout=120)
            if kind == "error":
                raise RuntimeError(f"client {index} failed:\n{payload}")
            ready += 1
        cpu0 = sampler.cpu_s()
        start_at.value = time.monotonic() + 0.2
        go.set()
        while len(results) < len(procs):
            kind, index, payload = out.get(timeout=args.seconds + 300)
            if kind == "error":
                raise RuntimeError(f"client {index} failed:\n{payload}")
            results.append(payload)
        cpu1 = sampler.cpu_s()
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    duration = max(r["last_end"] for r in results) - start_at.value
    latencies = np.array([x for r in results for x in r["latencies_ms"]], dtype=np.float64)
    ok = sum(r["ok"] for r in results)
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    return PhaseResult(
        name=name,
        duration_s=duration,
        ok_requests=ok,
        acked_spans=ok * SPANS_PER_REQUEST,
        retries=sum(r["retries"] for r in results),
        abandoned=sum(r["abandoned"] for r in results),
        errors=dict(errors),
        latency_p50_ms=float(np.percentile(latencies, 50)) if latencies.size else float("nan"),
        latency_p99_ms=float(np.percentile(latencies, 99)) if latencies.size else float("nan"),
        latency_max_ms=float(latencies.max()) if latencies.size else float("nan"),
        client_cpu_cores=sum(r["cpu_s"] for r in results) / duration,
        client_prep_us_per_request=sum(r["prep_s"] for r in results) / max(sum(r["renders"] for r in results), 1) * 1e6,
        server_cpu_cores=(cpu1 - cpu0) / duration,
    )


# --------------------------------------------------------------------------- the glimpse phase


def _glimpse_executable() -> list[str]:
    local = Path(sys.executable).with_name("glimpse")
    if local.exists():
        return [str(local)]
    found = shutil.which("glimpse")
    return [found] if found else [sys.executable, "-m", "glimpse"]


def _wait_ready(proc: subprocess.Popen[bytes], db: Path, log_path: Path, timeout_s: float = 90.0) -> dict[str, Any]:
    info_path = Path(f"{db}.server.json")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"glimpse serve exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
            if info.get("pid") == proc.pid:
                url = f"http://127.0.0.1:{info['api_port']}/api/health"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return dict(info)
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"glimpse serve was not ready within {timeout_s:.0f} s")


def _server_stats(api_port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/stats", timeout=5) as response:
            return dict(json.loads(response.read()))
    except (OSError, ValueError) as exc:
        return {"error": str(exc)}


def run_glimpse(ctx: Any, templates: list[Template], args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    db = workdir / "bench.duckdb"
    log_path = workdir / "server.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                *_glimpse_executable(),
                "serve",
                "--db",
                str(db),
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                "--api-port",
                "0",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        started = time.monotonic()
        info = _wait_ready(proc, db, log_path)
        log(f"glimpse serve ready in {time.monotonic() - started:.1f} s (pid {proc.pid}, gRPC {info['grpc_port']})")
        sampler = Sampler(proc.pid).start()
        phase = run_clients(ctx, "glimpse", f"127.0.0.1:{info['grpc_port']}", templates, args, sampler)
        stats = _server_stats(info["api_port"])
        log("stopping glimpse serve (SIGTERM) ...")
        stop_started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        exit_code = proc.wait(timeout=600)
        shutdown_s = time.monotonic() - stop_started
        phase.peak_rss_bytes = sampler.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    db_bytes = db.stat().st_size
    wal = Path(f"{db}.wal")
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute(
            "SELECT count(*), count(DISTINCT (trace_id, span_id)), count(DISTINCT service_name) FROM otel_traces"
        ).fetchone()
    finally:
        con.close()
    rows, distinct, services = (int(x) for x in row) if row else (0, 0, 0)
    server_log = log_path.read_text(errors="replace")
    problems = [
        line
        for line in server_log.splitlines()
        if any(word in line for word in ("ERROR", "Error", "Traceback", "Exception", "WARNING", "CRITICAL"))
    ]
    return {
        "phase": phase,
        "rows": rows,
        "distinct_rows": distinct,
        "services": services,
        "spans_per_s": rows / phase.duration_s if phase.duration_s else 0.0,
        "db_bytes": db_bytes,
        "wal_bytes_after_exit": wal_bytes,
        "bytes_per_span_disk": (db_bytes + wal_bytes) / rows if rows else float("nan"),
        "exit_code": exit_code,
        "shutdown_s": shutdown_s,
        "server_stats": stats,
        "log_problem_lines": problems[:20],
        "log_problem_count": len(problems),
    }


# --------------------------------------------------------------------------- the bare ceiling


def _bare_server_main(port_out: Any, stop: Any, workers: int, receivers: bool = False) -> None:
    """A gRPC server that only parses Export requests (same executor and limits as glimpse).

    With ``receivers``, it does instead what glimpse's receivers do before the writer: the
    C decoder and the journal record, as many requests at once as the Ingestor lets
    (collector.ingest.default_busy_threads), and stores nothing: their ceiling.
    """
    from concurrent.futures import ThreadPoolExecutor

    if receivers:
        from collector.ingest import default_busy_threads
        from collector.span_wire import decode_traces_wire
        from storage.journal import encode_batch

        busy = threading.BoundedSemaphore(default_busy_threads())

        def export(body: bytes, context: grpc.ServicerContext) -> Any:
            with busy:
                decoded = decode_traces_wire(body)
                assert decoded is not None, "the bench's requests take the C decoder"
                encode_batch(decoded.batch)
            return TRACE_SERVICE_PB2.ExportTraceServiceResponse()

    else:

        def export(body: bytes, context: grpc.ServicerContext) -> Any:
            TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString(body)
            return TRACE_SERVICE_PB2.ExportTraceServiceResponse()

    server = grpc.server(
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bare-grpc"),
        options=[*GRPC_OPTIONS, ("grpc.so_reuseport", 0)],
        maximum_concurrent_rpcs=workers * 4,
    )
    handler = grpc.unary_unary_rpc_method_handler(
        export, request_deserializer=None, response_serializer=lambda message: message.SerializeToString()
    )
    service = EXPORT_METHOD.split("/")[1]
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, {"Export": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    port_out.put(port)
    stop.wait()
    server.stop(2).wait(5)


def run_bare(
    ctx: Any, templates: list[Template], args: argparse.Namespace, *, receivers: bool = False
) -> dict[str, Any]:
    port_out = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=_bare_server_main, args=(port_out, stop, 32, receivers), daemon=True)
    proc.start()
    name = "receivers" if receivers else "bare"
    try:
        port = port_out.get(timeout=60)
        log(f"{name} gRPC server ready (pid {proc.pid}, port {port})")
        assert proc.pid is not None
        sampler = Sampler(proc.pid).start()
        phase = run_clients(ctx, name, f"127.0.0.1:{port}", templates, args, sampler)
        phase.peak_rss_bytes = sampler.stop()
    finally:
        stop.set()
        proc.join(timeout=15)
        if proc.is_alive():
            proc.kill()
    return {"phase": phase, "spans_per_s": phase.acked_spans / phase.duration_s if phase.duration_s else 0.0}


# --------------------------------------------------------------------------- report


def measure_prep(templates: list[Template], n: int = 300) -> float:
    """Microseconds to render one request (copy, fresh ids, shift timestamps)."""
    started = time.perf_counter()
    for i in range(n):
        template = templates[i % len(templates)]
        template.render(os.urandom(24), time.time_ns() - template.anchor_ns)
    return (time.perf_counter() - started) / n * 1e6


def _mib(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def _ok(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def print_report(figures: dict[str, Any]) -> None:
    g, b, r, w = figures["glimpse"], figures["bare"], figures["receivers"], figures["workload"]
    gp, bp = g["phase"], b["phase"]
    print()
    print(
        f"== workload: {w['pool']} distinct requests x {SPANS_PER_REQUEST} spans, {w['clients']} client processes x "
        f"{w['inflight']} in flight, {w['seconds']:.0f} s per phase, {os.cpu_count()} CPUs"
    )
    print(
        f"   wire size {w['wire_bytes_per_span']:.0f} B/span ({w['request_bytes_avg'] / 1024:.0f} KiB/request), "
        f"~{w['attributes_per_span']:.1f} attributes/span, events on {w['event_span_share'] * 100:.0f}% of spans, "
        f"client-side render {w['prep_us_per_request']:.0f} us/request"
    )
    phases = (("glimpse serve", g), ("bare parse-only gRPC", b), ("receivers only (decode + journal record)", r))
    for label, res in phases:
        phase = res["phase"]
        print(f"\n== {label}")
        if res.get("skipped"):
            print("   skipped")
            continue
        print(
            f"   measured {phase.duration_s:.2f} s, {phase.ok_requests} exports acknowledged "
            f"({phase.acked_spans:,} spans), {res['spans_per_s']:,.0f} spans/s"
        )
        print(
            f"   export latency p50 {phase.latency_p50_ms:.1f} ms, p99 {phase.latency_p99_ms:.1f} ms, "
            f"max {phase.latency_max_ms:.1f} ms"
        )
        print(
            f"   UNAVAILABLE retries {phase.retries} (abandoned at the deadline {phase.abandoned}), "
            f"other errors {phase.errors or 'none'}"
        )
        print(
            f"   CPU: server {phase.server_cpu_cores:.2f} cores, clients {phase.client_cpu_cores:.2f} cores "
            f"(render {phase.client_prep_us_per_request:.0f} us CPU/request); "
            f"peak server RSS {_mib(phase.peak_rss_bytes)}"
        )
    print(
        f"\n   glimpse: {g['rows']:,} rows stored ({g['distinct_rows']:,} distinct ids, {g['services']} services); "
        f"acknowledged {gp.acked_spans:,}"
    )
    print(
        f"   glimpse: file {_mib(g['db_bytes'])} + WAL left {g['wal_bytes_after_exit']} B after exit "
        f"-> {g['bytes_per_span_disk']:.1f} B/span; shutdown {g['shutdown_s']:.1f} s, "
        f"exit code {g['exit_code']}"
    )
    stats = g["server_stats"]
    if "commits" in stats:
        per_commit = stats["committed_rows"] / max(stats["commits"], 1)
        print(
            f"   glimpse writer: {stats['commits']} commits ({per_commit:,.0f} rows each), "
            f"{stats['rejected_full']} queue-full rejections, {stats['duplicate_spans']} duplicates, "
            f"{stats['checkpoints']} checkpoints, last commit {stats['last_commit_s'] * 1000:.0f} ms"
        )
    if g["log_problem_count"]:
        print(f"   server log: {g['log_problem_count']} error/warning lines, first ones:")
        for line in g["log_problem_lines"][:8]:
            print(f"     | {line[:200]}")
    else:
        print("   server log: no errors or warnings")
    t = figures["targets"]
    print("\n== summary")
    print(
        f"   stored spans/s     {g['spans_per_s']:>12,.0f}   target >= {TARGET_SPANS_PER_S:,} "
        f"(aim {AIM_SPANS_PER_S:,})   {_ok(t['spans_per_s'])}"
    )
    if not b.get("skipped"):
        print(f"   bare parse spans/s {b['spans_per_s']:>12,.0f}   glimpse/bare = {figures['ratio_glimpse_bare']:.3f}")
    if not r.get("skipped"):
        print(f"   receivers spans/s  {r['spans_per_s']:>12,.0f}   (decode + journal record only)")
    print(f"   latency p50/p99    {gp.latency_p50_ms:>8.1f} / {gp.latency_p99_ms:.1f} ms")
    print(f"   UNAVAILABLE        {gp.retries:>12}")
    print(f"   peak server RSS    {_mib(gp.peak_rss_bytes):>12}   target < 1 GiB   {_ok(t['rss'])}")
    print(
        f"   disk bytes/span    {g['bytes_per_span_disk']:>12.1f}   target <= {TARGET_BYTES_PER_SPAN}   "
        f"{_ok(t['bytes_per_span'])}"
    )
    print(f"   wire bytes/span    {w['wire_bytes_per_span']:>12.1f}")
    cpu = f"   CPU cores server/clients: glimpse {gp.server_cpu_cores:.2f}/{gp.client_cpu_cores:.2f}"
    if not b.get("skipped"):
        cpu += f", bare {bp.server_cpu_cores:.2f}/{bp.client_cpu_cores:.2f}"
    print(f"{cpu} (of {os.cpu_count()} CPUs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration of each phase (default 20)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--inflight", type=int, default=4, help="calls in flight per client process (default 4)")
    parser.add_argument("--pool", type=int, default=50, help="distinct pre-encoded requests (default 50)")
    parser.add_argument("--seed", type=int, default=7, help="workload seed")
    parser.add_argument("--backoff", type=float, default=0.1, help="seconds to wait before retrying UNAVAILABLE")
    parser.add_argument(
        "--static-timestamps",
        action="store_true",
        help="replay the pool's timestamps as generated instead of shifting them to the send time",
    )
    parser.add_argument("--skip-bare", action="store_true", help="do not measure the parse-only ceiling")
    parser.add_argument(
        "--receivers",
        action="store_true",
        help="also measure glimpse's receiver work alone (decode and journal record, nothing stored)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary database and server log")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.inflight < 1 or args.pool < 1 or args.seconds <= 0:
        parser.error("--clients, --inflight, --pool and --seconds must be positive")

    started = time.perf_counter()
    templates = build_templates(args.pool, args.seed)
    sample = [TRACE_SERVICE_PB2.ExportTraceServiceRequest.FromString(t.body) for t in templates[:5]]
    spans = [s for m in sample for rs in m.resource_spans for ss in rs.scope_spans for s in ss.spans]
    request_bytes = sum(len(t.body) for t in templates) / len(templates)
    prep_us = measure_prep(templates)
    workload = {
        "pool": args.pool,
        "clients": args.clients,
        "inflight": args.inflight,
        "seconds": args.seconds,
        "request_bytes_avg": request_bytes,
        "wire_bytes_per_span": request_bytes / SPANS_PER_REQUEST,
        "attributes_per_span": sum(len(s.attributes) for s in spans) / len(spans),
        "event_span_share": sum(1 for s in spans if s.events) / len(spans),
        "prep_us_per_request": prep_us,
        "static_timestamps": args.static_timestamps,
    }
    log(
        f"built {args.pool} requests in {time.perf_counter() - started:.1f} s "
        f"({request_bytes / 1024:.0f} KiB each, {workload['wire_bytes_per_span']:.0f} B/span); "
        f"render {prep_us:.0f} us/request"
    )

    ctx = mp.get_context("spawn")
    workdir = Path(tempfile.mkdtemp(prefix="glimpse-bench-"))
    try:
        glimpse = run_glimpse(ctx, templates, args, workdir)
        log(f"glimpse: {glimpse['rows']:,} rows, {glimpse['spans_per_s']:,.0f} spans/s")
        bare = (
            run_bare(ctx, templates, args)
            if not args.skip_bare
            else {"phase": PhaseResult("bare"), "spans_per_s": float("nan"), "skipped": True}
        )
        if not args.skip_bare:
            log(f"bare: {bare['spans_per_s']:,.0f} spans/s")
        receivers = (
            run_bare(ctx, templates, args, receivers=True)
            if args.receivers
            else {"phase": PhaseResult("receivers"), "spans_per_s": float("nan"), "skipped": True}
        )
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    figures: dict[str, Any] = {
        "workload": workload,
        "glimpse": glimpse,
        "bare": bare,
        "receivers": receivers,
        "ratio_glimpse_bare": glimpse["spans_per_s"] / bare["spans_per_s"] if bare["spans_per_s"] else float("nan"),
        "targets": {
            "spans_per_s": glimpse["spans_per_s"] >= TARGET_SPANS_PER_S,
            "spans_per_s_aim": glimpse["spans_per_s"] >= AIM_SPANS_PER_S,
            "bytes_per_span": glimpse["bytes_per_span_disk"] <= TARGET_BYTES_PER_SPAN,
            "rss": glimpse["phase"].peak_rss_bytes < TARGET_RSS_BYTES,
        },
        "target_values": {
            "spans_per_s_min": TARGET_SPANS_PER_S,
            "spans_per_s_aim": AIM_SPANS_PER_S,
            "bytes_per_span_max": TARGET_BYTES_PER_SPAN,
            "rss_bytes_max": TARGET_RSS_BYTES,
        },
        "elapsed_s": time.perf_counter() - started,
    }
    if args.json:
        print(json.dumps(_finite(figures), indent=2))
    else:
        print_report(figures)
        print(f"   total run time     {figures['elapsed_s']:>12.1f} s")
    return 0


def _finite(value: Any) -> Any:
    """JSON-ready figures: dataclasses as dicts, NaN and infinities as null."""
    if isinstance(value, PhaseResult):
        return _finite(asdict(value))
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    raise SystemExit(main())
