"""The docs stay true to the code: the CLI reference is generated from the commands, every
setting is documented with its variable and default, and every link in the docs resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from glimpse.cli.reference import cli_reference
from glimpse.settings import SETTINGS, Setting

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.glob("*.md"))]


def test_cli_reference_is_generated_from_the_commands() -> None:
    assert (DOCS / "cli.md").read_text() == cli_reference(), "run `make docs` to regenerate docs/cli.md"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.env)
def test_configuration_documents_every_setting(setting: Setting) -> None:
    rows = [line for line in (DOCS / "configuration.md").read_text().splitlines() if f"`{setting.env}`" in line]
    assert rows, f"docs/configuration.md has no row for {setting.env}"
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[0] == (f"`{setting.option}`" if setting.option else ""), cells
    assert cells[2] == setting.default, cells


def test_every_relative_link_in_the_docs_resolves() -> None:
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to a missing {target}"


def test_the_readme_is_a_front_door_not_a_notebook() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 220
