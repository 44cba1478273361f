"""Route discovery: an app's routes (method, path template, where in the code) read from the
code of one of its parts, for what needs to know them without running the app: a load test's
default endpoints (perf-svc), DAST start URLs and the source behind a DAST finding (scan-svc).

Python is read with `ast` (Flask, FastAPI, Starlette), JavaScript/TypeScript with a tokenizer
(Express-style routers). Nothing is imported or run: the apps are untrusted code.
"""

from __future__ import annotations

from pathlib import Path

from genfleet_common.routes.base import SAFE_METHODS, Framework, Route, source_files
from genfleet_common.routes.express import express_routes
from genfleet_common.routes.python import python_routes
from genfleet_common.routes.templates import ParamKind, PathParam, Template


def discover_routes(app_dir: Path, part: str = "backend") -> list[Route]:
    """Every route declared in the code of the app's `part` folder, in file order."""
    found = [*python_routes(app_dir, part), *express_routes(app_dir, part)]
    return sorted(found, key=lambda r: (r.file, r.line))


__all__ = [
    "SAFE_METHODS",
    "Framework",
    "ParamKind",
    "PathParam",
    "Route",
    "Template",
    "discover_routes",
    "express_routes",
    "python_routes",
    "source_files",
]
