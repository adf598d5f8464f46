"""glimpse for agents, through the real MCP SDK client: over stdio (``glimpse mcp``, spawned)
and over streamable HTTP (``/mcp`` on a real ``glimpse serve``), on stores filled through the
real OpenTelemetry SDK: the simulated shop with a fault injected, and one trace of 10,000
spans across 100 services."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx2
import pytest
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from glimpse.client import GlimpseClient
from glimpse.mcp.budget import DEFAULT_MAX_BYTES
from glimpse.mcp.server import build_mcp_server
from glimpse.mcp.tools import TOOL_NAMES, GlimpseTools
from tests.certificates import make_pki
from tests.conftest import Running, serving, start_server
from tracing.simulator.faults import Fault
from tracing.simulator.runner import run_history

ROOT = Path(__file__).resolve().parents[1]
START_NS = 1_700_000_000_000_000_000
FAULT = Fault("errors", "payment", 150, 240)
TOKEN = "t0ken-for-an-agent-000000001"
MAX_TOKENS = 25_000  # what one answer may cost an agent, at about 4 bytes a token
T = TypeVar("T")


# ---- stores -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fault_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The simulated shop for 4 minutes, payment failing for the last 90 s; the server stopped."""
    db_path = tmp_path_factory.mktemp("fault") / "glimpse.duckdb"
    server = start_server(db_path)
    assert server.info is not None
    try:
        result = run_history(
            "shop",
            f"127.0.0.1:{server.info.grpc_port}",
            start_ns=START_NS,
            duration_s=240,
            seed=11,
            faults=[FAULT],
            rate_per_s=4,
        )
    finally:
        server.stop()
    return db_path, result.labels[0]


def wide_trace(*, services: int = 100, spans: int = 10_000, seed: int = 3) -> tuple[list[ReadableSpan], str]:
    """One trace of ``spans`` SDK spans: calls (a client span and the callee's server span)
    among ``services`` services, each calling four others, so the graph has ~400 edges."""
    rng = random.Random(seed)
    resources = [Resource({"service.name": f"svc-{i:03d}"}) for i in range(services)]
    trace_id = rng.getrandbits(128) | 1
    made: list[ReadableSpan] = []

    def span(name: str, service: int, kind: SpanKind, parent: SpanContext | None, start: int, end: int) -> SpanContext:
        context = SpanContext(trace_id, rng.getrandbits(64) | 1, is_remote=False)
        error = kind is SpanKind.SERVER and rng.random() < 0.01
        made.append(
            ReadableSpan(
                name=name,
                context=context,
                parent=parent,
                resource=resources[service],
                kind=kind,
                start_time=start,
                end_time=end,
                attributes={"rpc.method": name, "index": len(made)},
                status=Status(StatusCode.ERROR if error else StatusCode.UNSET),
            )
        )
        return context

    root = span("GET /", 0, SpanKind.SERVER, None, START_NS, START_NS + 10_000_000_000)
    callers = [(root, 0, START_NS, START_NS + 10_000_000_000, 0)]
    while len(made) + 2 <= spans:
        parent, service, start, end, depth = rng.choice(callers)
        callee = (service * 7 + rng.randint(1, 4)) % services
        length = (end - start) // 2
        begin = start + rng.randint(0, end - start - length)
        client = span(f"call svc-{callee:03d}", service, SpanKind.CLIENT, parent, begin, begin + length)
        inner = (begin + length // 10, begin + length - length // 10)
        server = span(f"op-{callee % 5}", callee, SpanKind.SERVER, client, *inner)
        if depth < 12:
            callers.append((server, callee, *inner, depth + 1))
    if len(made) < spans:
        span("render", 0, SpanKind.INTERNAL, root, START_NS, START_NS + 1_000_000)
    return made, f"{trace_id:032x}"


@pytest.fixture(scope="module")
def wide_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, str]]:
    """A running server holding one trace of 10,000 spans across 100 services."""
    db_path = tmp_path_factory.mktemp("wide") / "glimpse.duckdb"
    made, trace_id = wide_trace()
    with serving(db_path) as running:
        exporter = OTLPSpanExporter(endpoint=running.grpc_endpoint, insecure=True)
        try:
            for first in range(0, len(made), 2_000):
                assert exporter.export(made[first : first + 2_000]) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
        yield running, trace_id


# ---- the real client ----------------------------------------------------------------------


def run(session: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(session)


@contextlib.asynccontextmanager
async def over_stdio(*args: str, errlog: Path) -> AsyncIterator[ClientSession]:
    """``glimpse mcp ARGS`` spawned, with an initialized session; its stderr to ``errlog``."""
    parameters = StdioServerParameters(
        command=sys.executable, args=["-m", "glimpse", "mcp", *args], env=dict(os.environ), cwd=str(ROOT)
    )
    with errlog.open("w") as stderr:
        async with stdio_client(parameters, errlog=stderr) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session


@contextlib.asynccontextmanager
async def over_http(
    url: str, *, headers: dict[str, str] | None = None, verify: ssl.SSLContext | bool = True
) -> AsyncIterator[ClientSession]:
    """A session with the MCP endpoint at ``url``."""
    async with (
        httpx2.AsyncClient(headers=headers, verify=verify, timeout=120) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def text_of(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await session.call_tool(tool, arguments)
    assert len(result.content) == 1
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, f"{tool}: {text}"
    return str(text)


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's answer, checked to be within its budget."""
    return check_bounded(await text_of(session, tool, **arguments))


async def refused(session: ClientSession, tool: str, **arguments: Any) -> str:
    """The message of a call that must fail as a tool error (not a protocol error)."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool} {arguments} answered {result.content}"
    text = str(result.content[0].text)  # type: ignore[union-attr]
    assert "Traceback" not in text and 'File "' not in text, text
    return text


async def diagnose(session: ClientSession) -> dict[str, Any]:
    """The scripted agent: overview, anomalies, root causes, then a trace of the evidence."""
    overview = await call(session, "list_services")
    anomalies = await call(session, "find_anomalies")
    incident = anomalies["incidents"][0]
    causes = await call(session, "rank_root_causes", since=incident["start"], until=incident["end"])
    top = causes["candidates"][0]
    evidence = [trace_id for item in top["evidence"] for trace_id in item.get("trace_ids", [])]
    trace = await call(session, "get_trace", trace_id=evidence[0])
    return {"overview": overview, "incident": incident, "causes": causes, "trace": trace}


def check_diagnosis(found: dict[str, Any], label: dict[str, Any]) -> None:
    target = label["target"]["name"]
    assert found["overview"]["services"][0]["service"] == target  # the most errors first
    assert abs(_ns(found["incident"]["start"]) - label["start_ns"]) <= 60 * 10**9
    top = found["causes"]["candidates"][0]
    assert (top["kind"], top["service"]) == ("service", target), found["causes"]["candidates"][:3]
    assert top["evidence"] and top["remediation"]
    trace = found["trace"]
    assert trace["columns"].startswith("path | span_id | service")
    failing = [line for line in trace["spans"] if f" | {target} | " in line and "error" in line.split(" | ")[-1]]
    assert failing, trace["spans"]


def _ns(rfc3339: str) -> int:
    from glimpse.timeparse import parse_time_ns

    value = parse_time_ns(rfc3339)
    assert value is not None
    return value


def check_bounded(text: str) -> dict[str, Any]:
    size = len(text.encode())
    assert size <= DEFAULT_MAX_BYTES and size / 4 < MAX_TOKENS, size
    answer = json.loads(text)
    assert isinstance(answer["truncated"], bool)
    if answer["truncated"]:
        assert answer["omitted"] and answer["narrow"]
    return dict(answer)


# ---- the agent's session, through both doors ------------------------------------------------


def test_an_agent_over_stdio_reaches_the_injected_root_cause(
    fault_store: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    db_path, label = fault_store
    errlog = tmp_path / "mcp.err"

    async def session() -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
        async with over_stdio("--db", str(db_path), errlog=errlog) as agent:
            tools = await agent.list_tools()
            alerts = await call(agent, "list_alerts", history=True, limit=5)
            return agent.initialize_result, tools, await diagnose(agent), alerts

    initialized, tools, found, alerts = run(session)
    # the store's server ran no rules: the alert tables are there, and empty
    assert alerts == {"truncated": False, "alerts": [], "history": [], "actions": []}
    assert initialized is not None and initialized.server_info.name == "glimpse"
    instructions = initialized.instructions or ""
    steps = [instructions.index(name) for name in ("list_services", "find_anomalies", "rank_root_causes", "get_trace")]
    assert steps == sorted(steps), instructions
    assert [tool.name for tool in tools.tools] == list(TOOL_NAMES)
    assert all(tool.annotations and tool.annotations.read_only_hint for tool in tools.tools)
    check_diagnosis(found, label)
    assert "Traceback" not in errlog.read_text()


def test_bad_arguments_come_back_as_tool_errors_with_a_clear_message(
    fault_store: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    db_path, _ = fault_store
    errlog = tmp_path / "mcp.err"

    async def session() -> dict[str, str]:
        async with over_stdio("--db", str(db_path), errlog=errlog) as agent:
            messages = {
                "not hex": await refused(agent, "get_trace", trace_id="not-a-trace"),
                "unknown trace": await refused(agent, "get_trace", trace_id="0123456789abcdef" * 2),
                "limit": await refused(agent, "search_traces", limit=5000),
                "missing": await refused(agent, "get_trace"),
                "time": await refused(agent, "list_services", since="yesterday"),
                "write": await refused(agent, "query_sql", sql="DELETE FROM otel_traces"),
                "severity": await refused(agent, "search_logs", severity="LOUD"),
                "endpoint": await refused(agent, "get_bottlenecks", endpoint="frontend"),
                "service": await refused(agent, "list_services", service="no-such-service"),
            }
            await call(agent, "list_services")  # the session goes on
            return messages

    messages = run(session)
    assert "not a trace id (32 hex digits)" in messages["not hex"] and "search_traces" in messages["not hex"]
    assert "no spans of trace 0123456789abcdef0123456789abcdef" in messages["unknown trace"]
    assert "limit" in messages["limit"] and "less than or equal to 100" in messages["limit"]
    assert "trace_id" in messages["missing"] and "required" in messages["missing"]
    assert "not an RFC 3339 time or unix nanoseconds: 'yesterday'" in messages["time"]
    assert "only SELECT queries are allowed" in messages["write"]
    assert "unknown severity 'LOUD'" in messages["severity"]
    assert "SERVICE:OPERATION" in messages["endpoint"]
    assert "no-such-service" in messages["service"]
    assert "Traceback" not in errlog.read_text()


def test_an_agent_over_http_gets_the_same_answers_as_over_stdio(
    fault_store: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    db_path, label = fault_store

    async def session(url: str) -> tuple[dict[str, Any], str, str]:
        async with over_http(f"{url}/mcp") as agent:
            found = await diagnose(agent)
            by_http = await text_of(agent, "rank_root_causes", limit=3)
        async with over_stdio("--server", url, errlog=tmp_path / "mcp.err") as agent:
            through_api = await text_of(agent, "rank_root_causes", limit=3)
        return found, by_http, through_api

    with serving(db_path) as running:
        found, by_http, through_api = run(lambda: session(running.api_url))
    check_diagnosis(found, label)
    assert by_http == through_api  # one analysis, whichever door
    on_file = GlimpseTools(lambda: GlimpseClient(str(db_path))).rank_root_causes(limit=3)
    assert on_file == by_http


def test_mcp_over_http_is_behind_the_api_token_and_tls(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKEN + "\n")
    tokens.chmod(0o600)
    trust = ssl.create_default_context(cafile=str(pki.ca))
    settings = {"tls_cert": str(pki.server.cert), "tls_key": str(pki.server.key), "token_file": str(tokens)}
    with serving(tmp_path / "glimpse.duckdb", **settings) as running:
        url = f"{running.api_url}/mcp"
        assert url.startswith("https://")
        answer = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, verify=trust)
        assert answer.status_code == 401  # the API's own refusal: the MCP server never sees it

        async def session() -> Any:
            async with over_http(url, headers={"Authorization": f"Bearer {TOKEN}"}, verify=trust) as agent:
                return await call(agent, "query_sql", sql="SELECT 42 AS answer")

        assert run(session)["rows"] == [[42]]


# ---- bounded answers ----------------------------------------------------------------------


def test_a_10000_span_trace_comes_back_bounded_and_navigable(wide_store: tuple[Running, str]) -> None:
    running, trace_id = wide_store

    async def session() -> dict[str, Any]:
        async with over_http(f"{running.api_url}/mcp") as agent:
            found = {
                "default": await text_of(agent, "get_trace", trace_id=trace_id),
                "most": await text_of(agent, "get_trace", trace_id=trace_id, limit=1000),
                "path": await text_of(agent, "get_critical_path", trace_id=trace_id, limit=500),
                "search": await text_of(agent, "search_traces", limit=100),
                "sql": await text_of(agent, "query_sql", sql="SELECT * FROM otel_traces", max_rows=1000),
            }
            topology = check_bounded(found["default"])
            hidden = next(line for line in topology["spans"] if "hidden_below=" in line)
            zoom_id = hidden.split(" | ")[1]
            found["zoom"] = await text_of(agent, "get_trace", trace_id=trace_id, subtree_of=zoom_id, max_depth=2)
            ids = [line.split(" | ")[1] for line in topology["spans"][:3]]
            found["details"] = await text_of(agent, "get_trace", trace_id=trace_id, span_ids=ids)
            found["zoom_path"] = hidden.split(" | ")[0]
            return found

    found = run(session)
    for name in ("default", "most"):
        topology = check_bounded(found[name])
        shown = topology["spans"]
        assert topology["span_count"] == 10_000 and topology["truncated"]
        assert topology["omitted"]["spans"] == 10_000 - len(shown)
        paths = {line.split(" | ")[0] for line in shown}
        assert all(path.rpartition(".")[0] in paths for path in paths if "." in path)  # no orphan lines
        assert "1" in paths and all(line.count(" | ") == 8 for line in shown)
        assert topology["service_count"] == 100 and len(topology["services"]) == 20
    assert len(json.loads(found["most"])["spans"]) > len(json.loads(found["default"])["spans"]) >= 100
    zoom = check_bounded(found["zoom"])
    top = found["zoom_path"]
    assert zoom["spans"][0].startswith(f"{top} | ")
    below = [line.split(" | ")[0] for line in zoom["spans"][1:]]
    assert below and all(path.startswith(f"{top}.") and path.count(".") <= top.count(".") + 2 for path in below)
    details = check_bounded(found["details"])
    assert len(details["spans"]) == 3 and all(span["attributes"]["rpc.method"] for span in details["spans"])
    path = check_bounded(found["path"])
    assert abs(sum(item["share"] for item in path["by_operation"]) - 1) < 0.01
    search = check_bounded(found["search"])
    assert search["traces"][0]["span_count"] == 10_000 and search["traces"][0]["service_count"] == 100
    rows = check_bounded(found["sql"])
    assert rows["truncated"] and 0 < len(rows["rows"]) < 1000


def test_a_100_service_graph_comes_back_bounded(wide_store: tuple[Running, str]) -> None:
    running, _ = wide_store

    async def session() -> dict[str, str]:
        async with over_http(f"{running.api_url}/mcp") as agent:
            return {
                "graph": await text_of(agent, "get_service_graph", limit=1000),
                "default": await text_of(agent, "get_service_graph"),
                "neighbours": await text_of(agent, "get_service_graph", service="svc-007", depth=1),
                "services": await text_of(agent, "list_services", limit=500),
                "bottlenecks": await text_of(agent, "get_bottlenecks", limit=50),
            }

    found = run(session)
    graph = check_bounded(found["graph"])
    assert graph["node_count"] >= 100 and graph["edge_count"] >= 350
    assert graph["truncated"] and graph["omitted"]["edges"] == graph["edge_count"] - len(graph["edges"])
    calls = [edge["calls"] for edge in graph["edges"]]
    assert calls == sorted(calls, reverse=True)  # the busiest edges are the ones kept
    default = check_bounded(found["default"])
    assert len(default["edges"]) <= 50 and default["truncated"]
    neighbours = check_bounded(found["neighbours"])
    assert not neighbours["truncated"]
    touching = [edge for edge in neighbours["edges"] if "svc-007" in (edge["caller"], edge["callee"])]
    adjacent = {edge["caller"] for edge in touching} | {edge["callee"] for edge in touching}
    assert {node["name"] for node in neighbours["nodes"]} == adjacent and len(adjacent) > 2
    services = check_bounded(found["services"])
    assert len(services["services"]) == 100
    check_bounded(found["bottlenecks"])


# ---- the docs -----------------------------------------------------------------------------


def test_the_tool_list_matches_the_docs() -> None:
    page = (ROOT / "docs" / "agents.md").read_text()
    documented = re.findall(r"^### `(\w+)`", page, re.M)

    async def listed() -> Any:
        server = build_mcp_server(GlimpseTools(lambda: GlimpseClient("unused.duckdb")))
        async with Client(server) as client:
            return (await client.list_tools()).tools

    tools = run(listed)
    assert documented == [tool.name for tool in tools] == list(TOOL_NAMES)
    schemas = {tool.name: tool.input_schema for tool in tools}
    for name, arguments in re.findall(r"^call: `(\w+)` (\{.*\})$", page, re.M):
        given = json.loads(arguments)
        assert set(given) <= set(schemas[name]["properties"]), (name, given)
        assert set(schemas[name].get("required", [])) <= set(given), (name, given)
    assert {name for name, _ in re.findall(r"^call: `(\w+)` (\{.*\})$", page, re.M)} == set(TOOL_NAMES)
