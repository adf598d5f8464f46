"""The ``glimpse`` command line: parse, call one function, render."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import signal
import sys
import threading
from enum import Enum
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from glimpse import __version__
from glimpse.settings import DEFAULT_DB, ENV_DB, ServerSettings, env_or
from tracing.errors import GlimpseError

app = typer.Typer(
    name="glimpse",
    help="OpenTelemetry-native distributed tracing analyzer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


def _out() -> Console:
    """A console for stdout, made when used, so that it measures the terminal (or $COLUMNS) then."""
    return Console()


DbOption = Annotated[Optional[str], typer.Option("--db", help=f"DuckDB file (default ${ENV_DB} or ./{DEFAULT_DB}).")]
ServerOption = Annotated[
    Optional[str], typer.Option("--server", help="Query a running glimpse server's API at this URL.")
]


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def _version(value: bool) -> None:
    if value:
        _out().print(f"glimpse {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[Optional[str], typer.Option(help="Address to bind (default 127.0.0.1; 0.0.0.0 for all).")] = None,
    grpc_port: Annotated[Optional[int], typer.Option(help="OTLP/gRPC port (default 4317; 0 = any free port).")] = None,
    http_port: Annotated[Optional[int], typer.Option(help="OTLP/HTTP port (default 4318; 0 = any free port).")] = None,
    api_port: Annotated[Optional[int], typer.Option(help="HTTP API port (default 4320; 0 = any free port).")] = None,
    console_port: Annotated[
        Optional[int],
        typer.Option(help="Web console port (default 4321; 0 = any free port, also when --api-port is 0)."),
    ] = None,
    max_request_bytes: Annotated[
        Optional[int], typer.Option(help="Largest request accepted, after decompression (default 64 MiB).")
    ] = None,
    decode_workers: Annotated[
        Optional[int],
        typer.Option(
            help="Processes that decode OTLP metrics, logs and JSON (default: one per two CPUs; 0 = in-process)."
        ),
    ] = None,
) -> None:
    """Receive OTLP traces, metrics and logs into the DuckDB store and serve the API."""
    from glimpse.server import GlimpseServer

    try:
        settings = ServerSettings.from_env(
            db_path=db,
            host=host,
            grpc_port=grpc_port,
            http_port=http_port,
            api_port=api_port,
            console_port=console_port,
            max_request_bytes=max_request_bytes,
            decode_workers=decode_workers,
        )
        server = GlimpseServer(settings)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        info = server.start()
    except (GlimpseError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    err.print(
        f"glimpse {__version__} storing into [bold]{settings.db_path}[/]\n"
        f"  OTLP/gRPC  {settings.host}:{info.grpc_port}\n"
        f"  OTLP/HTTP  http://{settings.host}:{info.http_port}/v1/traces|metrics|logs\n"
        f"  API        {info.api_url}/api\n"
        f"  console    {info.console_url}/\n"
        f'Query it: glimpse sql "SELECT service_name, count(*) FROM otel_traces GROUP BY ALL"\n'
        "Ctrl-C (or SIGTERM) drains, commits and stops.",
        highlight=False,
    )
    stop.wait()
    err.print("draining and committing...", highlight=False)
    server.stop()
    err.print("stopped.", highlight=False)
    # Everything is committed and the database closed. A client connection still hanging
    # in a receiver thread must not keep the process alive: exit now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One read-only SELECT statement.")],
    db: DbOption = None,
    server: ServerOption = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    max_rows: Annotated[int, typer.Option(help="Row cap.")] = 10_000,
    timeout: Annotated[float, typer.Option(help="Time limit in seconds.")] = 30.0,
) -> None:
    """Run read-only SQL over the store (through the running server when there is one)."""
    from glimpse.sql_client import query as run_query

    try:
        result = run_query(
            query, db_path=db or env_or(ENV_DB, DEFAULT_DB), server_url=server, max_rows=max_rows, timeout_s=timeout
        )
    except GlimpseError as exc:
        raise _fail(str(exc)) from None
    if output_format is OutputFormat.json:
        rows = [dict(zip(result["columns"], row, strict=False)) for row in result["rows"]]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
    elif output_format is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(result["columns"])
        writer.writerows([[_cell(value) for value in row] for row in result["rows"]])
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(*result["columns"], show_lines=False)
        for row in result["rows"]:
            table.add_row(*(_cell(value) for value in row))
        _out().print(table)
    if result["truncated"]:
        err.print(f"(truncated at {max_rows} rows; raise --max-rows for more)", highlight=False)


GRAPH_FORMATS = ("json", "graphml", "gexf", "dot", "cytoscape", "mermaid", "jaeger", "grafana")
SinceOption = Annotated[Optional[str], typer.Option(help="Window start: RFC 3339 or unix ns (default: all data).")]
UntilOption = Annotated[Optional[str], typer.Option(help="Window end, exclusive: RFC 3339 or unix ns.")]


@app.command()
def graph(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    output_format: Annotated[
        Optional[str], typer.Option("--format", help=f"Export format: {', '.join(GRAPH_FORMATS)}.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write to this file.")] = None,
    service: Annotated[Optional[str], typer.Option(help="Only this service's neighbourhood.")] = None,
    depth: Annotated[int, typer.Option(help="Hops around --service.", min=0)] = 1,
    operations: Annotated[bool, typer.Option("--operations", help="Service + operation nodes.")] = False,
    diff_since: Annotated[Optional[str], typer.Option(help="Compare with a baseline window starting here.")] = None,
    diff_until: Annotated[Optional[str], typer.Option(help="End of the baseline window (exclusive).")] = None,
) -> None:
    """The service dependency graph: a table of edges, or an export (--format)."""
    from glimpse.graph_command import diff_table, fetch_graph_diff, fetch_graph_document, graph_table

    db_path = db or env_or(ENV_DB, DEFAULT_DB)
    if diff_since is not None or diff_until is not None:
        diff_params = {"since": since, "until": until, "diff_since": diff_since, "diff_until": diff_until}
        try:
            diff = fetch_graph_diff(db_path, server, diff_params)
        except (GlimpseError, ValueError) as exc:
            raise _fail(str(exc)) from None
        if as_json or output_format == "json":
            sys.stdout.write(json.dumps(diff) + "\n")
        else:
            _out().print(diff_table(diff))
        return

    fmt = "json" if as_json else output_format
    if fmt is not None and fmt not in GRAPH_FORMATS:
        raise _fail(f"unknown format {fmt!r}: use one of {', '.join(GRAPH_FORMATS)}")
    params = {"since": since, "until": until, "service": service, "depth": depth, "operations": operations or None}
    try:
        text = fetch_graph_document(db_path, server, fmt or "json", params)
    except (GlimpseError, ValueError, LookupError) as exc:
        raise _fail(str(exc).strip("'\"")) from None
    if fmt is None:
        _out().print(graph_table(text))
    elif output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        err.print(f"wrote {output}", highlight=False)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command("critical-path")
def critical_path_command(
    trace_id: Annotated[str, typer.Argument(help="32 hex digits.")],
    db: DbOption = None,
    server: ServerOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exact JSON.")] = False,
    adjust_skew: Annotated[
        bool, typer.Option("--adjust-skew", help="Shift server spans that lie outside their client span.")
    ] = False,
) -> None:
    """One trace as a waterfall with its critical path (Jaeger's algorithm) and self times."""
    from glimpse.trace_command import fetch_critical_path, waterfall

    try:
        result = fetch_critical_path(db or env_or(ENV_DB, DEFAULT_DB), server, trace_id, adjust_skew=adjust_skew)
    except (GlimpseError, ValueError, LookupError) as exc:
        raise _fail(str(exc).strip("'\"")) from None
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        _out().print(waterfall(result))


@app.command("bottlenecks")
def bottlenecks_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    endpoint: Annotated[
        Optional[str], typer.Option(help="Only traces whose root span is SERVICE:OPERATION (top-down view).")
    ] = None,
    service: Annotated[Optional[str], typer.Option(help="Only this service's operations.")] = None,
    limit: Annotated[int, typer.Option(help="Rows per view.", min=1)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print exact JSON.")] = False,
) -> None:
    """Operations ranked by the critical-path time they cost across the window's traces."""
    from glimpse.trace_command import bottleneck_tables, fetch_bottlenecks

    params = {"since": since, "until": until, "endpoint": endpoint, "service": service, "limit": limit}
    try:
        result = fetch_bottlenecks(db or env_or(ENV_DB, DEFAULT_DB), server, params)
    except (GlimpseError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for table in bottleneck_tables(result):
        _out().print(table)


@app.command("platforms")
def platforms_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exact JSON.")] = False,
) -> None:
    """Every pod, container, process and function instance: platform, place, services, health."""
    from glimpse.trace_command import fetch_platforms, platforms_table

    try:
        result = fetch_platforms(db or env_or(ENV_DB, DEFAULT_DB), server, {"since": since, "until": until})
    except (GlimpseError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        _out().print(platforms_table(result))


@app.command("anomalies")
def anomalies_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    service: Annotated[Optional[str], typer.Option(help="Only this service's anomalies and incidents.")] = None,
    limit: Annotated[int, typer.Option(help="Anomalies to show.", min=1)] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print exact JSON (with each anomaly's series).")] = False,
) -> None:
    """Anomalous latency, errors and resource use per service, operation, edge, pod and node, and their incidents."""
    from glimpse.rca_command import anomaly_tables, fetch_anomalies

    params = {"since": since, "until": until, "service": service, "series": "true" if as_json else "false"}
    try:
        result = fetch_anomalies(db or env_or(ENV_DB, DEFAULT_DB), server, params)
    except (GlimpseError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    for table in anomaly_tables(result, limit):
        _out().print(table)


@app.command("rca")
def rca_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: Annotated[
        Optional[str], typer.Option(help="Incident start: RFC 3339 or unix ns (default: find the latest incident).")
    ] = None,
    until: UntilOption = None,
    baseline_since: Annotated[
        Optional[str], typer.Option(help="Baseline start (default: 4 incident-lengths, >= 30 min, before it).")
    ] = None,
    baseline_until: Annotated[Optional[str], typer.Option(help="Baseline end (default: the incident's start).")] = None,
    service: Annotated[Optional[str], typer.Option(help="Only traces through this service.")] = None,
    limit: Annotated[int, typer.Option(help="Candidates to rank.", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print exact JSON.")] = False,
) -> None:
    """Ranked probable root causes of an incident, with evidence and a remediation hint each."""
    from glimpse.rca_command import fetch_rca, rca_table

    params = {
        "since": since,
        "until": until,
        "baseline_since": baseline_since,
        "baseline_until": baseline_until,
        "service": service,
        "limit": limit,
    }
    try:
        result = fetch_rca(db or env_or(ENV_DB, DEFAULT_DB), server, params)
    except (GlimpseError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        _out().print(rca_table(result))


class ReportFormat(str, Enum):
    markdown = "markdown"
    html = "html"


@app.command("report")
def report_command(
    db: DbOption = None,
    server: ServerOption = None,
    since: Annotated[
        Optional[str], typer.Option(help="Incident start (default: the latest incident, or all data if none).")
    ] = None,
    until: UntilOption = None,
    baseline_since: Annotated[Optional[str], typer.Option(help="Baseline start.")] = None,
    baseline_until: Annotated[Optional[str], typer.Option(help="Baseline end.")] = None,
    output_format: Annotated[ReportFormat, typer.Option("--format", help="markdown or html.")] = ReportFormat.markdown,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """An incident and health report: summary, graph with the incident, ranked causes, timelines, trends."""
    from analyzer.report import render_html, render_markdown
    from glimpse.report_command import gather_report

    params = {"since": since, "until": until, "baseline_since": baseline_since, "baseline_until": baseline_until}
    try:
        data = gather_report(db or env_or(ENV_DB, DEFAULT_DB), server, params)
    except (GlimpseError, ValueError) as exc:
        raise _fail(str(exc)) from None
    text = render_html(data) if output_format is ReportFormat.html else render_markdown(data)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        err.print(f"wrote {output}", highlight=False)
    else:
        sys.stdout.write(text)


@app.command("demo")
def demo_command(
    db: DbOption = None,
    topology: Annotated[str, typer.Option(help="Simulated system: shop, large, or a topology .yaml file.")] = "shop",
    fault: Annotated[
        str,
        typer.Option(
            help="Fault to inject: latency, errors, cpu, node, network, database, timeout, memory_leak, bad_deploy."
        ),
    ] = "latency",
    target: Annotated[
        Optional[str], typer.Option(help="Service, 'service operation', pod, node or database to hit.")
    ] = None,
    duration: Annotated[float, typer.Option(help="Seconds to run; the fault starts after 55%.", min=10)] = 120,
    rate: Annotated[Optional[float], typer.Option(help="Requests per second (default: the topology's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    keep_serving: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Keep serving (API, console) after the demo until Ctrl-C.")
    ] = False,
) -> None:
    """Start glimpse, drive a simulated instrumented system with a fault into it, and show what glimpse finds."""
    from glimpse.demo_command import DemoOptions, run_demo

    try:
        settings = ServerSettings.from_env(db_path=db)
        options = DemoOptions(topology, fault, target, duration, rate, seed)
        server = run_demo(settings, options, _out(), err)
    except (GlimpseError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if keep_serving:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        assert server.info is not None
        err.print(f"serving on {server.info.console_url}/ (console) and {server.info.api_url}/api; Ctrl-C stops.")
        stop.wait()
    server.stop()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


if __name__ == "__main__":
    app()
