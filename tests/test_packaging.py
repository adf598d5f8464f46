"""The wheel carries the five import packages and the SQL; the README names every command, the
docs explain every option, and docs/schema.md documents every table and column."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import typer.main

from glimpse.cli import app
from storage.schema import migrations

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("collector", "storage", "tracing", "analyzer", "glimpse")


@pytest.mark.slow
def test_installed_wheel_imports_every_package(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("glimpse-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "storage/sql/001_initial.sql" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    code = "import " + ", ".join(PACKAGES) + "; import storage.schema as s; print(s.SCHEMA_VERSION, storage.__file__)"
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout


DOCS = ROOT / "docs"


def _written_docs() -> str:
    """The README and the hand-written docs pages (not docs/cli.md, which --help generates)."""
    pages = sorted(path for path in DOCS.glob("*.md") if path.name != "cli.md")
    return "\n".join(path.read_text() for path in [ROOT / "README.md", *pages])


def test_readme_names_every_command_and_docs_every_option() -> None:
    readme = (ROOT / "README.md").read_text()
    docs = _written_docs()
    command = typer.main.get_command(app)
    for name, sub in command.commands.items():  # type: ignore[attr-defined]
        assert f"glimpse {name}" in readme, name
        for param in sub.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in docs, f"{name} {opt}"


def test_schema_doc_documents_every_table_and_column() -> None:
    schema = (DOCS / "schema.md").read_text()
    sql = "\n".join(text for _, text in migrations())
    for table in re.findall(r"CREATE (?:TABLE|VIEW) (\w+)", sql):
        assert f"`{table}`" in schema, table
    for column in re.findall(r"^\s+([a-z_0-9]+)\s+(?:TIMESTAMP_NS|VARCHAR|UINTEGER|JSON|BIGINT|STRUCT)", sql, re.M):
        assert f"`{column}`" in schema, column
