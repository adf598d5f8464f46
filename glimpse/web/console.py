"""The web console: static pages from ``glimpse/console`` on the same routes as the HTTP API.

The browser calls the API on its own origin (``/api/...``), so the console shows exactly
what the CLI prints. The libraries it uses (Cytoscape.js for the map, uPlot for time
series) are npm packages installed by the build into ``glimpse/console/node_modules``
(``npm ci``); only their browser bundles are served, under ``/vendor/<package>/``. Nothing
is fetched from the internet.

Which bundles those are is said once, in ``glimpse/console/package.json`` under
``"glimpseVendor"``: ``modules`` maps each bare import of the console's modules to its ES
module bundle, ``stylesheets`` lists the libraries' CSS, both as paths under node_modules.
The server mounts them from there, and writes the importmap and the stylesheet links into
``index.html`` where its ``<!-- glimpse:vendor -->`` comment stands; the console's linter
allows bare imports of those names only.

With a token store, the pages, scripts and libraries load without a token (they hold no
data), and the API routes under ``/api/`` need one: the console asks for it when the API
answers 401, and sends it from then on.
"""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from collector.security import TokenStore
from glimpse.metrics import SelfMetrics
from glimpse.web.api import EXCEPTION_HANDLERS, PUBLIC_API_PATHS, api_routes, require_token

__all__ = ["CONSOLE_DIR", "VENDOR_PLACEHOLDER", "Vendor", "build_console_app", "load_vendor", "missing_vendor_files"]

logger = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"

# Where index.html takes the vendor tags (the importmap and the libraries' stylesheets).
VENDOR_PLACEHOLDER = "<!-- glimpse:vendor -->"
# index.html asks it why the page modules did not load (so it needs no token)
CONSOLE_STATUS_PATH = "/api/console/status"
_PUBLIC_CONSOLE_FILES = frozenset({"/", "/index.html", "/console.css", "/favicon.ico", CONSOLE_STATUS_PATH})


@dataclass(frozen=True)
class Vendor:
    """The libraries' browser files, as paths under node_modules (package.json's "glimpseVendor")."""

    modules: dict[str, str]  # bare import name -> its ES module bundle
    stylesheets: tuple[str, ...]

    @property
    def files(self) -> list[str]:
        return [*self.modules.values(), *self.stylesheets]

    @property
    def packages(self) -> list[str]:
        """The npm packages the files come from, in order of first mention."""
        return list(dict.fromkeys(package_of(path) for path in self.files))

    def folders(self) -> dict[str, str]:
        """Package -> the folder (under node_modules) of its files, served as /vendor/<package>/."""
        folders: dict[str, str] = {}
        for path in self.files:
            package, folder = package_of(path), str(PurePosixPath(path).parent)
            if folders.setdefault(package, folder) != folder:
                raise ValueError(
                    f"glimpseVendor: the files of {package} must be in one folder ({folder}, {folders[package]})"
                )
        return folders

    def url(self, path: str) -> str:
        return f"/vendor/{package_of(path)}/{PurePosixPath(path).name}"

    def head_tags(self) -> str:
        """The stylesheet links and the importmap for index.html's head."""
        links = [f'<link rel="stylesheet" href="{self.url(path)}">' for path in self.stylesheets]
        imports = {name: self.url(path) for name, path in self.modules.items()}
        importmap = textwrap.indent(json.dumps({"imports": imports}, indent=2).replace("</", "<\\/"), "    ")
        return "\n  ".join([*links, f'<script type="importmap">\n{importmap}\n  </script>'])


def package_of(path: str) -> str:
    """The npm package of a path under node_modules: ``uplot`` for ``uplot/dist/uPlot.esm.js``."""
    parts = PurePosixPath(path).parts
    return "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]


def load_vendor(console_dir: Path = CONSOLE_DIR) -> Vendor:
    """The console's library files, from package.json's "glimpseVendor"."""
    spec = json.loads((console_dir / "package.json").read_text(encoding="utf-8"))["glimpseVendor"]
    vendor = Vendor(modules=dict(spec["modules"]), stylesheets=tuple(spec.get("stylesheets", ())))
    for path in vendor.files:
        if PurePosixPath(path).is_absolute() or ".." in PurePosixPath(path).parts or len(PurePosixPath(path).parts) < 2:
            raise ValueError(f"glimpseVendor: {path!r} is not a file path under node_modules")
    vendor.folders()  # one folder per package
    return vendor


def missing_vendor_files(console_dir: Path = CONSOLE_DIR) -> list[str]:
    """The library bundles the console needs that ``npm ci`` has not installed."""
    return [path for path in load_vendor(console_dir).files if not (console_dir / "node_modules" / path).is_file()]


def build_console_app(
    connect: Callable[[], duckdb.DuckDBPyConnection],
    stats: Callable[[], dict[str, Any]],
    *,
    console_dir: Path = CONSOLE_DIR,
    metrics: SelfMetrics | None = None,
    span_metrics: Callable[[], bytes] | None = None,
    tokens: TokenStore | None = None,
) -> Starlette:
    """The API's routes, the console's pages, and the library bundles under /vendor."""
    vendor = load_vendor(console_dir)
    missing = missing_vendor_files(console_dir)
    if missing:
        logger.warning(
            "web console libraries missing (%s): run `npm ci --prefix %s` (make does it)",
            ", ".join(missing),
            console_dir,
        )
    head_tags = vendor.head_tags()
    index_file = console_dir / "static" / "index.html"

    async def vendor_missing(_: Request) -> Response:
        return JSONResponse(
            {"error": f"console libraries not installed: run `npm ci --prefix {console_dir}`", "missing": missing},
            status_code=503,
        )

    def index(_: Request) -> Response:  # sync: Starlette reads the file in its thread pool
        html = index_file.read_text(encoding="utf-8")
        if VENDOR_PLACEHOLDER not in html:
            raise RuntimeError(f"{index_file} has no {VENDOR_PLACEHOLDER} for the importmap")
        return HTMLResponse(html.replace(VENDOR_PLACEHOLDER, head_tags, 1), headers={"cache-control": "no-cache"})

    routes: list[BaseRoute] = list(api_routes(connect, stats, metrics, span_metrics))
    routes.append(Route(CONSOLE_STATUS_PATH, vendor_missing if missing else _ok, methods=["GET"]))
    routes += [Route("/", index, methods=["GET"]), Route("/index.html", index, methods=["GET"])]
    for package, folder in vendor.folders().items():
        directory = console_dir / "node_modules" / folder
        if directory.is_dir():
            routes.append(Mount(f"/vendor/{package}", StaticFiles(directory=directory)))
    routes.append(Mount("/", StaticFiles(directory=console_dir / "static", html=True)))
    return Starlette(
        routes=routes, exception_handlers=EXCEPTION_HANDLERS, middleware=require_token(tokens, _public_console_path)
    )


def _public_console_path(path: str) -> bool:
    """The static shell and whether its libraries are installed need no token; all else does
    (an allowlist, so that a route added later is guarded until someone decides otherwise)."""
    return path in _PUBLIC_CONSOLE_FILES or path in PUBLIC_API_PATHS or path.startswith(("/js/", "/vendor/"))


async def _ok(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})
