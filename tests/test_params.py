"""Request parameters: what the API and the CLI both refuse, refused as a bad question
(HTTP 400, one ``error:`` line), never as a server failure or a silent default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from analyzer.errors import InvalidQueryError
from glimpse.params import graph_options, insight_options, metric_series_options, rca_options, service_options
from glimpse.settings import ServerSettings, SettingsError
from tests.conftest import Running


@pytest.mark.parametrize(
    ("parse", "params"),
    [
        (service_options, {"bucket": "nan"}),
        (service_options, {"bucket": "inf"}),
        (metric_series_options, {"bucket": "nan"}),
        (insight_options, {"horizon": "-inf"}),
        (insight_options, {"horizon": "soon"}),
        (rca_options, {"limit": "²"}),
        (rca_options, {"limit": "0"}),
        (graph_options, {"depth": "²"}),
        (graph_options, {"depth": "-1"}),
    ],
)
def test_bad_numbers_are_invalid_queries(parse: object, params: dict[str, str]) -> None:
    with pytest.raises(InvalidQueryError):
        parse(params)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/services", {"bucket": "nan"}),
        ("/api/platforms/metrics", {"bucket": "nan"}),
        ("/api/insights", {"horizon": "nan"}),
        ("/api/rca", {"limit": "²"}),
        ("/api/graph", {"depth": "²"}),
        ("/api/traces", {"limit": "²"}),
    ],
)
def test_the_api_answers_400_to_bad_numbers(running: Running, path: str, params: dict[str, str]) -> None:
    response = httpx.get(f"{running.api_url}{path}", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]


def test_a_report_with_a_bad_time_fails_in_one_line(db_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "glimpse", "report", "--db", str(db_path), "--baseline-since", "bogus"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1, completed.stdout
    assert completed.stderr.count("\n") == 1 and "RFC 3339" in completed.stderr


def test_an_empty_write_queue_is_refused_as_a_setting() -> None:
    with pytest.raises(SettingsError, match="at least one row"):
        ServerSettings(max_queued_rows=0)
