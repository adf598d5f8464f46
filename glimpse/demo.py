"""``glimpse demo``: a server, a simulated system with a fault, and what glimpse finds.

The demo starts glimpse on the embedded DuckDB, drives the live simulator into it through
the real OpenTelemetry SDK (normal traffic first, then the fault), and then asks glimpse's
own API what it sees: the service graph, the bottlenecks of the fault window, and the
ranked root causes, next to the injected ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from glimpse.client import GlimpseClient
from glimpse.render.tables import bottleneck_tables, graph_table, rca_table
from glimpse.server import GlimpseServer
from glimpse.settings import ServerSettings
from tracing.simulator.faults import FAULT_TYPES, Fault, default_target
from tracing.simulator.runner import SimulationResult, run_live
from tracing.simulator.topology import load_topology

__all__ = ["DemoOptions", "run_demo"]

NORMAL_SHARE = 0.55  # the first 55% of the run is normal traffic: the baseline


@dataclass(frozen=True)
class DemoOptions:
    topology: str
    fault: str
    target: str | None
    duration_s: float
    rate_per_s: float | None
    seed: int


def run_demo(settings: ServerSettings, options: DemoOptions, out: Console, err: Console) -> GlimpseServer:
    """Run the demo; returns the still-running server (the caller stops it or keeps serving)."""
    topology = load_topology(options.topology)
    target = options.target or default_target(topology, options.fault)
    fault = Fault(options.fault, target, options.duration_s * NORMAL_SHARE, options.duration_s)
    server = GlimpseServer(settings)
    info = server.start()
    try:
        err.print(
            f"glimpse serving [bold]{settings.db_path}[/] (OTLP/gRPC {settings.host}:{info.grpc_port}, "
            f"API {info.api_url}, console {info.console_url}/)",
            highlight=False,
        )
        err.print(
            f"simulating [bold]{topology.name}[/] ({len(topology.services)} services); after "
            f"{fault.start_s:.0f} s: [bold red]{fault.type}[/] on [bold]{target}[/] ({FAULT_TYPES[fault.type][2]})",
            highlight=False,
        )
        result = _simulate(options, topology.name, fault, f"127.0.0.1:{info.grpc_port}", err)
        _report(settings.db_path, result, out)
    except BaseException:
        server.stop()
        raise
    return server


def _simulate(options: DemoOptions, topology: str, fault: Fault, endpoint: str, err: Console) -> SimulationResult:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[spans]:>8,} spans"))
    with Progress(*columns, TimeRemainingColumn(), console=err, transient=False) as progress:
        task = progress.add_task("normal traffic", total=1.0, spans=0)

        def show(fraction: float, result: SimulationResult) -> None:
            phase = "normal traffic" if fraction < NORMAL_SHARE else f"[red]{fault.type} on {fault.target}[/]"
            progress.update(task, completed=fraction, description=phase, spans=result.spans)

        result = run_live(
            topology,
            endpoint,
            duration_s=options.duration_s,
            seed=options.seed,
            faults=[fault],
            rate_per_s=options.rate_per_s,
            progress=show,
        )
        progress.update(task, completed=1.0, spans=result.spans)
    return result


def _report(db_path: str, result: SimulationResult, out: Console) -> None:
    source = GlimpseClient(db_path)
    truth = result.labels[0]
    window = {"since": result.start_ns, "until": result.end_ns}
    fault_window = {"since": truth["start_ns"], "until": result.end_ns}
    baseline = {"baseline_since": result.start_ns, "baseline_until": truth["start_ns"]}
    out.rule("Service graph (whole run)")
    out.print(graph_table(source.graph_document("json", window)))
    out.rule("Bottlenecks during the fault")
    for table in bottleneck_tables(source.analysis("bottlenecks", {**fault_window, "limit": 8}))[:1]:
        out.print(table)
    out.rule("Probable root causes of the fault window")
    out.print(rca_table(source.analysis("rca", {**fault_window, **baseline, "limit": 5})))
    out.print(Panel(_truth_text(truth), title="What was injected (ground truth)", expand=False))
    out.print(_next_steps(db_path, truth))


def _truth_text(truth: dict[str, Any]) -> str:
    target = truth["target"]
    return (
        f"{truth['type']} on {target['kind']} [bold]{target['name']}[/] "
        f"(magnitude {truth['magnitude']}: {truth['meaning']})"
    )


def _next_steps(db_path: str, truth: dict[str, Any]) -> Table:
    table = Table(title="Look further", show_header=False, box=None)
    since = truth["start_ns"]
    hints = [
        (
            "SQL",
            f'glimpse sql --db {db_path} "SELECT service_name, count(*), avg(duration)/1e6 AS avg_ms '
            'FROM otel_traces GROUP BY ALL ORDER BY 3 DESC"',
        ),
        ("root causes", f"glimpse rca --db {db_path} --since {since}"),
        ("anomalies", f"glimpse anomalies --db {db_path}"),
        ("report", f"glimpse report --db {db_path} --format html -o incident.html"),
        ("console", "glimpse serve --db " + db_path + "  then open http://127.0.0.1:4321/"),
    ]
    for name, command in hints:
        table.add_row(f"[bold]{name}[/]", command)
    return table
