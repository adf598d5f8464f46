"""The Spark session of ``glimpse spark``: a master URL in, a session configured for the lake out.

Any master Spark takes works the same way: ``local[N]`` (threads of this process),
``spark://host:7077`` (a standalone cluster), ``k8s://https://...`` (Kubernetes) or
``yarn``. The executors run glimpse's own Python (the per-trace critical paths of the
bottleneck and RCA jobs), so they need glimpse installed in the Python that ``PYSPARK_PYTHON`` names: this
driver's own interpreter unless set.

pyspark is an optional extra (``pip install 'glimpse[spark]'``); it is imported here, when
a Spark command runs, never by ``glimpse serve``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from tracing.errors import GlimpseError

__all__ = ["SparkError", "check_lake", "check_master", "parse_conf", "spark_session", "stop_session"]

logger = logging.getLogger(__name__)

_MASTER = re.compile(r"^(local(\[(\d+|\*)(,\d+)?\])?|spark://[^/\s]+|k8s://\S+|yarn|mesos://\S+)$")
# the lake's small results want few shuffle partitions; adaptive execution merges them further
_CONF = {
    "spark.app.name": "glimpse",
    "spark.sql.legacy.parquet.nanosAsLong": "true",  # Parquet ns timestamps read as unix ns
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.shuffle.partitions": "16",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # the span self-joins must never be broadcast: their size estimate after a filter is
    # far below their size in memory (1M spans failed to broadcast in a 1 GiB driver)
    "spark.sql.autoBroadcastJoinThreshold": "-1",
}


class SparkError(GlimpseError):
    """Spark is missing, the master URL is wrong, or a job failed."""


def check_master(master: str) -> str:
    """The master URL, if Spark would take it.

    >>> check_master("local[2]"), check_master("spark://10.0.0.5:7077")
    ('local[2]', 'spark://10.0.0.5:7077')
    """
    if not _MASTER.match(master):
        raise SparkError(
            f"not a Spark master URL: {master!r} (use local[N], spark://HOST:PORT, k8s://https://HOST:PORT or yarn)"
        )
    return master


def check_lake(lake: str) -> str:
    """The lake, if glimpse's Spark jobs can read it: a directory, not an object store.

    Spark reads ``s3a://`` through Hadoop's S3A connector, ``hadoop-aws`` and the AWS SDK
    bundle it names, which pyspark's jars do not include and PyPI does not carry (Maven
    Central does); and the jobs pass the lake's partitions to Spark as local paths.

    >>> check_lake("/srv/lake")
    '/srv/lake'
    """
    from storage.lake import is_object_store, lake_name

    if not is_object_store(lake):
        return lake
    hadoop = _hadoop_version()
    raise SparkError(
        f"glimpse spark reads a lake directory, not an object store ({lake_name(lake)}): Spark would need Hadoop's "
        f"S3A connector (hadoop-aws-{hadoop}.jar and the AWS SDK v2 bundle it depends on, in neither pyspark nor "
        f"PyPI; --conf spark.jars.packages=org.apache.hadoop:hadoop-aws:{hadoop} fetches them from Maven Central) "
        "and jobs that pass s3a:// paths, which glimpse's do not yet; mount the bucket as a directory and give "
        "its path (docs/scale.md)"
    )


def _hadoop_version() -> str:
    """The Hadoop version of the installed pyspark's jars (``hadoop-client-api-X.jar``)."""
    spec = importlib.util.find_spec("pyspark")
    folders = (spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        for jar in sorted(Path(folder, "jars").glob("hadoop-client-api-*.jar")):
            return jar.name.removeprefix("hadoop-client-api-").removesuffix(".jar")
    return "<Spark's Hadoop version>"


def parse_conf(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` options (as spark-submit's ``--conf``) as a dict.

    >>> parse_conf(["spark.driver.memory=4g"])
    {'spark.driver.memory': '4g'}
    """
    conf = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise SparkError(f"a Spark setting is KEY=VALUE, got {pair!r}")
        conf[key.strip()] = value.strip()
    return conf


def spark_session(master: str, *, conf: dict[str, str] | None = None) -> Any:
    """A SparkSession on ``master`` (the one already running in this process, if any)."""
    check_master(master)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkError("Spark jobs need pyspark: pip install 'glimpse[spark]' (and Java 17)") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master)
    for key, value in {**_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and Java errors have no common base worth naming
        raise SparkError(f"cannot start Spark on {master}: {_first_line(exc)}") from exc
    session.sparkContext.setLogLevel("ERROR")
    # pyspark logs each failed query as a JSON blob with the Java stack; the CLI says it in one line
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    return session


def stop_session(session: Any) -> None:
    session.stop()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
