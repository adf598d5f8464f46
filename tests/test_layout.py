"""The house rules of design.md, checked: imports point one way, and the shell's light
modules stay light (parameter parsing needs no web framework, discovery no server)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.conftest import ServerProcess
from tests.otlp_clients import PROTOCOLS, span_exporter
from tests.spans import sdk_spans

ROOT = Path(__file__).resolve().parents[1]
# package -> the glimpse packages it may import (besides itself)
ALLOWED = {
    "tracing": set(),
    "storage": {"tracing"},
    "collector": {"tracing", "storage"},
    "analyzer": {"tracing", "storage"},
    "glimpse": {"tracing", "storage", "collector", "analyzer"},
}


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        wrong = _imported_packages(path) - ALLOWED[package] - {package}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_every_analysis_the_api_serves_names_a_function() -> None:
    """The API's analyses are imported on their first call; a misspelt target would only
    show at that call, as a server error."""
    from glimpse.endpoints import ANALYSES, TRACE_ANALYSES, resolve

    targets = [entry.target for entry in (*ANALYSES.values(), *TRACE_ANALYSES.values())]
    assert all(callable(resolve(target)) for target in targets) and len(targets) == 15


@pytest.mark.parametrize(
    ("module", "must_not_load"),
    [
        ("glimpse.params", ("starlette", "uvicorn", "grpc")),
        ("glimpse.discovery", ("glimpse.server", "grpc", "uvicorn", "duckdb")),
        ("glimpse.client", ("glimpse.server", "starlette", "uvicorn", "grpc")),
        ("glimpse.cli", ("glimpse.server", "starlette", "uvicorn", "grpc")),
        # scipy is loaded by the analyses that use it (analyzer/__init__.py)
        ("glimpse.server", ("scipy",)),
        # and the MCP SDK by the first request to /mcp (glimpse/mcp/endpoint.py)
        ("glimpse.server", ("mcp",)),
        # and Spark only by glimpse spark (glimpse/spark.py): the lake exporter needs none
        ("glimpse.server", ("pyspark", "py4j", "pandas")),
        ("glimpse.cli", ("pyspark", "py4j")),
        # the analyses' libraries by the first call that needs them (glimpse/endpoints.py,
        # analyzer/graph_export.py, analyzer/log_templates.py): a server that only takes
        # exports holds none of them (18 MiB less resident)
        ("glimpse.server", ("networkx", "drain3", "httpx", "yaml")),
        # and Parquet with Arrow's object-store filesystems when a lake is set (9 MiB)
        ("glimpse.server", ("pyarrow.parquet", "pyarrow.fs", "storage.lake")),
        ("glimpse.cli", ("networkx", "drain3", "httpx", "yaml")),
    ],
)
def test_light_modules_stay_light(module: str, must_not_load: tuple[str, ...]) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {must_not_load!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert loaded.stdout.strip() == "", f"importing {module} loads {loaded.stdout.strip()}"


def test_a_serving_process_never_loads_pandas(server_process: ServerProcess) -> None:
    """pyarrow would import pandas (installed with the spark extra) on the first export it
    converts: 46 MiB and the first exports 0.3 s late. ``glimpse serve`` keeps it out."""
    assert importlib.util.find_spec("pandas") is not None, "this check needs pandas installed"
    running = server_process.running()
    for seed, protocol in enumerate(PROTOCOLS):
        exporter = span_exporter(protocol, running)
        assert exporter.export(sdk_spans(50, seed=seed)) is SpanExportResult.SUCCESS
        exporter.shutdown()
    assert running.scalar("SELECT count(*) FROM otel_traces") == 100
    mapped = Path(f"/proc/{server_process.process.pid}/maps").read_text()
    assert "/pandas/" not in mapped
