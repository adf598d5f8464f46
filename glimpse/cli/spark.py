"""``glimpse spark``: the analyses as Apache Spark jobs over the Parquet lake.

The same options and output as the single-node commands, with ``--lake`` and ``--master``
in place of ``--db``/``--server``; the jobs are in analyzer.query_service.spark_jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Optional, TypeVar

import typer

from glimpse.cli.app import (
    AnomalyLimitOption,
    AnomalyServiceOption,
    BaselineSinceOption,
    BaselineUntilOption,
    CandidatesOption,
    EndpointOption,
    IncidentSinceOption,
    JsonOption,
    OperationsOfOption,
    RowsPerViewOption,
    SeriesJsonOption,
    SinceOption,
    TracesThroughOption,
    UntilOption,
    app,
    err,
    fail,
    out,
    print_json,
    write_text,
)
from glimpse.cli.lake import LakeOption, lake_path
from glimpse.cli.sql import OutputFormat, write_rows
from tracing.errors import GlimpseError

__all__ = ["spark_app"]

T = TypeVar("T")

spark_app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Analyses as Apache Spark jobs over the Parquet lake."
)
app.add_typer(spark_app, name="spark")

MasterOption = Annotated[
    str,
    typer.Option(help="Spark master URL: local[N], spark://HOST:7077, k8s://https://HOST:PORT or yarn."),
]


ConfOption = Annotated[
    Optional[list[str]],
    typer.Option("--conf", help="A Spark setting KEY=VALUE, as spark-submit's (repeat it): spark.driver.memory=4g."),
]


def run_job(
    lake: str | None,
    master: str,
    since_ns: int | None,
    until_ns: int | None,
    job: Callable[[Any], T],
    conf: list[str] | None = None,
) -> T:
    """``job(SparkLake)`` on a session of ``master`` over the lake's partitions of the window;
    a Spark or Java failure becomes one error line."""
    from glimpse.spark import SparkError, check_lake, check_master, parse_conf, spark_session
    from storage.lake import LakeError, lake_partitions
    from storage.spark_lake import SparkLake

    path = check_lake(lake_path(lake))  # an object store would need Hadoop's S3A jars
    check_master(master)
    if not lake_partitions(path, table="otel_spans"):  # a missing or empty lake fails before Spark starts
        raise LakeError(f"the lake at {path} holds no spans (export some with glimpse lake export)")
    session = spark_session(master, conf=parse_conf(conf or []))
    try:
        return job(SparkLake(session, path, since_ns=since_ns, until_ns=until_ns))
    except GlimpseError:
        raise
    except Exception as exc:  # py4j's and pyspark's own errors: name them in one line
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        text = str(exc).strip().splitlines()
        raise SparkError(f"the Spark job failed: {text[0] if text else type(exc).__name__}") from exc


def _window(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    from glimpse.timeparse import parse_time_ns

    return parse_time_ns(since), parse_time_ns(until)


@spark_app.command("graph")
def graph_command(
    lake: LakeOption = None,
    master: MasterOption = "local[*]",
    conf: ConfOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    output_format: Annotated[Optional[str], typer.Option("--format", help="Export format (as glimpse graph).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write to this file.")] = None,
    service: Annotated[Optional[str], typer.Option(help="Only this service's neighbourhood.")] = None,
    depth: Annotated[int, typer.Option(help="Hops around --service.", min=0)] = 1,
    operations: Annotated[bool, typer.Option("--operations", help="Service + operation nodes.")] = False,
) -> None:
    """The service dependency graph over the lake: a table of edges, or an export (--format)."""
    from analyzer.query_service.spark_jobs import spark_graph_document
    from glimpse.cli.graph import GRAPH_FORMATS
    from glimpse.render.tables import graph_table

    fmt = "json" if as_json else output_format
    if fmt is not None and fmt not in GRAPH_FORMATS:
        raise fail(f"unknown format {fmt!r}: use one of {', '.join(GRAPH_FORMATS)}")
    since_ns, until_ns = _window(since, until)
    options: dict[str, Any] = {
        "since_ns": since_ns,
        "until_ns": until_ns,
        "service": service,
        "depth": depth,
        "operations": operations,
    }
    text = run_job(
        lake, master, since_ns, until_ns, lambda lk: spark_graph_document(lk, fmt or "json", **options), conf
    )
    if fmt is None:
        out().print(graph_table(text))
    else:
        write_text(text, output)


@spark_app.command("bottlenecks")
def bottlenecks_command(
    lake: LakeOption = None,
    master: MasterOption = "local[*]",
    conf: ConfOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    endpoint: EndpointOption = None,
    service: OperationsOfOption = None,
    limit: RowsPerViewOption = 20,
    as_json: JsonOption = False,
) -> None:
    """Operations ranked by the critical-path time they cost across the lake's traces (every trace, no sample)."""
    from analyzer.query_service.spark_jobs import spark_bottlenecks
    from glimpse.render.tables import bottleneck_tables

    since_ns, until_ns = _window(since, until)

    def job(lk: Any) -> dict[str, Any]:
        return spark_bottlenecks(
            lk, since_ns=since_ns, until_ns=until_ns, endpoint=endpoint, service=service, limit=limit
        )

    result = run_job(lake, master, since_ns, until_ns, job, conf)
    if as_json:
        print_json(result)
        return
    for table in bottleneck_tables(result):
        out().print(table)


@spark_app.command("anomalies")
def anomalies_command(
    lake: LakeOption = None,
    master: MasterOption = "local[*]",
    conf: ConfOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    service: AnomalyServiceOption = None,
    limit: AnomalyLimitOption = 30,
    as_json: SeriesJsonOption = False,
) -> None:
    """Anomalies and their incidents over the lake: the series aggregated on Spark, detected as on a node."""
    from analyzer.query_service.spark_jobs import spark_anomalies
    from glimpse.client import as_query_params
    from glimpse.params import anomaly_options
    from glimpse.render.tables import anomaly_tables

    params = {"since": since, "until": until, "service": service, "series": "true" if as_json else "false"}
    options = anomaly_options(as_query_params(params))
    since_ns, until_ns = options["since_ns"], options["until_ns"]
    result = run_job(lake, master, since_ns, until_ns, lambda lk: spark_anomalies(lk, **options), conf)
    if as_json:
        print_json(result)
        return
    for table in anomaly_tables(result, limit):
        out().print(table)


@spark_app.command("rca")
def rca_command(
    lake: LakeOption = None,
    master: MasterOption = "local[*]",
    conf: ConfOption = None,
    since: IncidentSinceOption = None,
    until: UntilOption = None,
    baseline_since: BaselineSinceOption = None,
    baseline_until: BaselineUntilOption = None,
    service: TracesThroughOption = None,
    limit: CandidatesOption = 10,
    as_json: JsonOption = False,
) -> None:
    """Ranked probable root causes over the lake: the evidence aggregated on Spark, ranked as on a node."""
    from analyzer.query_service.spark_jobs import spark_root_causes
    from glimpse.client import as_query_params
    from glimpse.params import rca_options
    from glimpse.render.tables import rca_table

    params = {
        "since": since,
        "until": until,
        "baseline_since": baseline_since,
        "baseline_until": baseline_until,
        "service": service,
        "limit": limit,
    }
    options = rca_options(as_query_params(params))
    read_since, read_until = rca_read_window(options)
    result = run_job(lake, master, read_since, read_until, lambda lk: spark_root_causes(lk, **options), conf)
    if as_json:
        print_json(result)
    else:
        out().print(rca_table(result))


def rca_read_window(options: dict[str, Any]) -> tuple[int | None, int | None]:
    """The span time ``spark rca`` reads: with the incident window given, its baseline and the
    incident only (the hours outside are not read); otherwise everything, since the incident
    is found in all the data, or the baseline starts where the data does."""
    from analyzer.query_service.incidents import default_baseline
    from storage.window import SpanWindow

    since, until = options["since_ns"], options["until_ns"]
    baseline_since, baseline_until = options["baseline_since_ns"], options["baseline_until_ns"]
    if since is None or until is None or (baseline_since is None and baseline_until is not None):
        return None, None
    if baseline_since is None:  # the default baseline: as long as root_causes makes it, before the incident
        baseline_since = default_baseline(SpanWindow(0, until), SpanWindow(since, until)).since_ns
    return min(baseline_since, since), max(until, baseline_until or until)


@spark_app.command("sql")
def sql_command(
    query: Annotated[str, typer.Argument(help="One Spark SQL statement over the lake's tables (otel_spans, ...).")],
    lake: LakeOption = None,
    master: MasterOption = "local[*]",
    conf: ConfOption = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    max_rows: Annotated[int, typer.Option(help="Row cap.", min=1)] = 10_000,
) -> None:
    """Spark SQL over the lake: the store's tables as views (timestamps as unix ns)."""
    from analyzer.query_service.spark_jobs import spark_sql

    result = run_job(lake, master, None, None, lambda lk: spark_sql(lk, query, max_rows=max_rows), conf)
    write_rows(result, output_format)
    if result["truncated"]:
        err.print(f"(truncated at {max_rows} rows; raise --max-rows for more)", highlight=False)
