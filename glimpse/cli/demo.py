"""``glimpse demo``: start glimpse, drive a simulated system with a fault into it, show what it finds."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Optional

import typer

from glimpse.cli.app import DbOption, app, err, out
from glimpse.cli.serve import exit_when_stopped, wait_for_stop
from glimpse.settings import ServerSettings

__all__ = ["demo_command"]


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
    from glimpse.demo import DemoOptions, run_demo

    # the demo's simulator exports in plain text without a token: no TLS or token settings
    settings = dataclasses.replace(
        ServerSettings.from_env(db_path=db), tls_cert=None, tls_key=None, tls_client_ca=None, token_file=None
    )
    server = run_demo(settings, DemoOptions(topology, fault, target, duration, rate, seed), out(), err)
    if keep_serving:
        assert server.info is not None
        err.print(f"serving on {server.info.console_url}/ (console) and {server.info.api_url}/api; Ctrl-C stops.")
        wait_for_stop()
    server.stop()
    exit_when_stopped()
