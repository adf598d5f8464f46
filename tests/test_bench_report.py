"""bench.report: the Markdown it writes into docs/performance.md from a figures dict (checked
by hand), the splice that keeps the prose around it, and a smoke run at tiny sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import BEGIN, END, render_block, splice, summary_rows

ROOT = Path(__file__).resolve().parents[1]


def _point(spans: int, days: float, seconds: float, api_ms: float) -> dict[str, Any]:
    return {
        "spans": spans,
        "logs": spans // 2,
        "traces": spans // 40,
        "days": days,
        "db_bytes": spans * 90,
        "reused": spans > 1_000_000,
        "generated_s": 10.0,
        "generated_spans_per_s": 100_000,
        "graph_s": [seconds, seconds + 0.1, seconds - 0.1],
        "bottlenecks_s": [seconds * 2] * 3,
        "rca_s": [seconds * 3] * 3,
        "api_ms": {call: [api_ms] * 20 for call in ("extent", "services", "graph", "search", "trace")},
        "ingest_spans_per_s": 90_000.0,
        "ingest_peak_rss_mib": 350.0,
    }


FIGURES: dict[str, Any] = {
    "date": "2026-12-06 18:00 UTC",
    "command": "python -m bench report --reuse",
    "wall_s": 1500.0,
    "machine": {
        "cpu": "Test CPU",
        "cores": 2,
        "ram_gib": 23.6,
        "os": "Linux",
        "python": "3.11.7",
        "duckdb": "2.0.1",
        "commit": "abc1234",
        "load_average_at_start": [0.5, 0.4, 0.3],
        "load_average_at_end": [1.5, 1.4, 1.3],
    },
    "ingest": {
        "runs": 3,
        "command": ".venv/bin/python -m bench.ingest --seconds 15",
        "spans_per_s": [100_000.0, 120_000.0, 90_000.0],
        "bare_spans_per_s": [200_000.0, 210_000.0, 180_000.0],
        "ratio": [0.5, 0.6, 0.5],
        "peak_rss_mib": [390.0, 410.0, 380.0],
        "bytes_per_span": [44.0, 46.0, 45.0],
        "p99_ms": [300.0, 320.0, 310.0],
    },
    "steady": {
        "runs": 1,
        "rate": 10_000,
        "command": "c1",
        "spans_per_s": [9_990.0],
        "peak_rss_mib": [149.4],
        "p99_ms": [20.0],
    },
    "half": {
        "runs": 1,
        "rate": 50_000,
        "command": "c2",
        "spans_per_s": [49_000.0],
        "peak_rss_mib": [300.0],
        "p99_ms": [100.0],
    },
    "logs": {"runs": 2, "command": "c3", "records_per_s": [100_000.0, 100_001.0]},
    "graph": {
        "runs": 1,
        "command": "c4",
        "spans": 1_000_315,
        "graph_s": [0.29],
        "self_join_s": [0.145],
        "peak_rss_mib": 400.0,
    },
    "bottlenecks": {
        "runs": 1,
        "command": "c5",
        "spans": 1_505_653,
        "traces": 110_000,
        "seconds": [2.5],
        "peak_rss_mib": 1100.0,
    },
    "rca": {"runs": 1, "spans": 1_430_001, "logs": 1_000_002, "reused": False, "seconds": [2.0], "peak_rss_mib": 500.0},
    "growth": [_point(1_000_000, 0.42, 0.2, 100.0), _point(50_000_000, 21.0, 0.3, 301.0)],
}


def _row(what_starts: str) -> Any:
    (row,) = [row for row in summary_rows(FIGURES) if row.what.startswith(what_starts)]
    return row


def test_ingest_rows_take_the_medians_and_the_same_run_baseline() -> None:
    spans = _row("spans durably stored")
    assert (spans.value, spans.baseline, spans.ratio) == ("100,000", "200,000 (bare parse-only server)", "0.50")
    assert spans.met is False  # 100,000 is enough, 0.50 of the bare server is not
    assert spans.runs == "median of 3" and spans.command == "`.venv/bin/python -m bench.ingest --seconds 15`"
    assert (_row("peak server RSS at full load").value, _row("peak server RSS at full load").met) == ("390 MiB", True)
    assert (_row("bytes per span").value, _row("bytes per span").met) == ("45.0", True)
    assert (_row("peak server RSS at a steady 10,000").value, _row("peak server RSS at a steady").met) == (
        "149 MiB",
        True,
    )
    half = _row("export latency p99 at half of capacity (50,000 spans a second)")
    assert (half.value, half.met) == ("100 ms", False)  # the target is strictly under 100 ms
    assert (_row("log records").value, _row("log records").met) == ("100,000", True)


def test_analysis_rows() -> None:
    graph = _row("service graph of 1,000,315 spans")
    assert (graph.value, graph.baseline, graph.ratio, graph.met) == (
        "0.290 s", "0.145 s (bare parent/child self-join)", "2.00", True,
    )  # fmt: skip
    found = _row("critical paths of 1,505,653 spans")
    assert (found.value, found.met) == ("2.50 s, 1,100 MiB", False)  # over 1 GiB
    assert _row("`glimpse rca` of a 15-minute store: 1,430,001 spans, 1,000,002 log records").value == "2.00 s"


def test_growth_rows_compare_the_largest_store_with_the_smallest() -> None:
    graph = _row("15-minute graph on 50 million spans (21 days)")
    assert (graph.value, graph.baseline, graph.ratio, graph.met) == (
        "0.300 s", "0.200 s (1 million-span store)", "1.50", False,
    )  # fmt: skip
    assert _row("15-minute rca on 50 million").ratio == "1.50"
    search = _row("console API p95, `/api/traces` search")
    assert (search.value, search.baseline, search.met, search.runs) == (
        "301 ms",
        "100 ms (1 million)",
        False,
        "p95 of 20",
    )
    assert _row("console API p95, `/api/extent`").met is None  # shown, not a target


def test_block_is_the_tables_the_plot_and_the_machine() -> None:
    block = render_block(FIGURES, plot_name="growth.png")
    lines = block.splitlines()
    assert lines[0].startswith("Measured 2026-12-06 18:00 UTC by `python -m bench report --reuse` in 25.0 minutes")
    assert "| what | figure | baseline (same run) | ratio | target | met | runs | command |" in lines
    assert sum(line.startswith("| ") for line in lines) == 1 + 17 + 1 + 2  # header and 17 rows; growth: header, 2 sizes
    assert "| 1,000,000 | 500,000 | 0.42 | 0.08 GiB (90) | 10 s (100,000 spans/s) | 90,000 | 350 MiB " in block
    assert "| 50,000,000 | 25,000,000 | 21 | 4.19 GiB (90) | reused (made in 10 s (100,000 spans/s)) |" in block
    assert "![Ingest rate, server RSS and 15-minute query times against store size](growth.png)" in lines
    assert lines[-1].startswith("Machine: Test CPU, 2 cores, 23.6 GiB RAM; Linux; Python 3.11.7, DuckDB 2.0.1;")
    assert render_block(FIGURES, plot_name="growth.png") == block


def test_splice_keeps_the_prose_around_the_markers() -> None:
    document = f"# Performance\n\nintro\n\n{BEGIN}\nold figures\n{END}\n\n## Ingest\n\nprose\n"
    spliced = splice(document, "new figures\n")
    assert spliced == f"# Performance\n\nintro\n\n{BEGIN}\nnew figures\n{END}\n\n## Ingest\n\nprose\n"
    assert splice(spliced, "new figures\n") == spliced
    with pytest.raises(ValueError, match="no report markers"):
        splice("# Performance\n", "figures\n")


def test_the_docs_hold_the_markers() -> None:
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "](performance-growth.png)" in text  # tests/test_docs.py checks that it exists


@pytest.mark.slow
def test_report_smoke_run_at_tiny_sizes(tmp_path: Path) -> None:
    """The rca and growth sections end to end at tiny sizes (simulated pool, generated stores,
    the queries, ingest into a copy, the console's calls through glimpse serve), into a copy
    of the doc's markers."""
    doc = tmp_path / "performance.md"
    doc.write_text(f"before\n{BEGIN}\n{END}\nafter\n", encoding="utf-8")
    command = [sys.executable, "-m", "bench", "report", "--tiny", "--only", "rca", "growth"]
    paths = ["--stores", str(tmp_path / "stores"), "--doc", str(doc)]
    paths += ["--plot", str(tmp_path / "growth.png"), "--json", str(tmp_path / "report.json")]
    done = subprocess.run([*command, *paths], cwd=ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [point["spans"] >= size for point, size in zip(figures["growth"], (30_000, 60_000), strict=True)] == [
        True
    ] * 2
    assert all(len(point["api_ms"]["trace"]) == 3 for point in figures["growth"])
    text = doc.read_text(encoding="utf-8")
    assert text.startswith(f"before\n{BEGIN}\nMeasured ") and text.endswith(f"{END}\nafter\n")
    assert "| 15-minute rca on 60," in text
    assert (tmp_path / "growth.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
