"""The web console: static pages from ``glimpse/console`` on the same routes as the HTTP API.

The browser calls the API on its own origin (``/api/...``), so the console shows exactly
what the CLI prints. The libraries it uses (Cytoscape.js for the map, uPlot for time
series) are npm packages installed by the build into ``glimpse/console/node_modules``
(``npm ci``); only their browser bundles are served, under ``/vendor/<package>/``. Nothing
is fetched from the internet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from glimpse.api import build_api_app

__all__ = ["CONSOLE_DIR", "VENDOR_FILES", "build_console_app", "missing_vendor_files"]

logger = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent / "console"

# /vendor/<name> -> the folder of the package's browser bundles under node_modules
VENDOR_FILES = {
    "cytoscape": "cytoscape/dist/cytoscape.esm.min.mjs",
    "cytoscape-dagre": "cytoscape-dagre/dist/cytoscape-dagre.min.mjs",
    "uplot": "uplot/dist/uPlot.esm.js",
    "uplot-css": "uplot/dist/uPlot.min.css",
}


def missing_vendor_files(console_dir: Path = CONSOLE_DIR) -> list[str]:
    """The library bundles the console needs that ``npm ci`` has not installed."""
    return [path for path in VENDOR_FILES.values() if not (console_dir / "node_modules" / path).is_file()]


def build_console_app(
    connect: Callable[[], duckdb.DuckDBPyConnection],
    stats: Callable[[], dict[str, Any]],
    *,
    console_dir: Path = CONSOLE_DIR,
) -> Starlette:
    """The API's routes, the console's pages, and the library bundles under /vendor."""
    missing = missing_vendor_files(console_dir)
    if missing:
        logger.warning(
            "web console libraries missing (%s): run `npm ci --prefix %s` (make does it)",
            ", ".join(missing),
            console_dir,
        )

    async def vendor_missing(_: Request) -> Response:
        return JSONResponse(
            {"error": f"console libraries not installed: run `npm ci --prefix {console_dir}`", "missing": missing},
            status_code=503,
        )

    routes: list[BaseRoute] = list(build_api_app(connect, stats).routes)
    routes.append(Route("/api/console/status", vendor_missing if missing else _ok, methods=["GET"]))
    for name in {path.split("/")[0] for path in VENDOR_FILES.values()}:
        folder = console_dir / "node_modules" / name / "dist"
        if folder.is_dir():
            routes.append(Mount(f"/vendor/{name}", StaticFiles(directory=folder)))
    routes.append(Mount("/", StaticFiles(directory=console_dir / "static", html=True)))
    return Starlette(routes=routes)


async def _ok(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})
