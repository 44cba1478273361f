"""A route as found in an app's code, and which ones a default load test may use."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from genfleet_common.routes.templates import ParamKind, PathParam, Syntax, Template, parse

# Not the app's own code: dependencies, caches, build output, static assets served as files
SKIP_DIRS = frozenset(
    {"node_modules", "__pycache__", "venv", ".venv", "env", "site-packages", "dist", "build",
     ".git", ".next", ".cache", "coverage", "public", "static", "migrations", "tests", "test",
     "__tests__"}
)  # fmt: skip
MAX_FILE_BYTES = 1_000_000  # a bigger "source" file is generated or vendored
MAX_FILES = 2_000  # per part: enough for any generated app, bounded for a pathological one
SAFE_METHODS = ("GET",)

# A literal path segment naming an action that changes state: never load-tested by default,
# even on GET (`GET /logout`, `GET /api/reset`).
_ACTION_WORDS = re.compile(
    r"^(delete|remove|destroy|drop|reset|clear|purge|wipe|truncate|logout|log-?out|sign-?out|"
    r"signout|shutdown|restart|kill|seed|init|init-?db|setup|install|migrate|import|upload|"
    r"toggle|increment|vote|like|follow|unfollow|subscribe|unsubscribe|send|pay|checkout)$",
    re.IGNORECASE,
)

# SQL that changes data (a handler that runs it on GET is not load-tested by default)
WRITE_SQL = re.compile(
    r"^\s*(insert\s+(or\s+\w+\s+)?into|update\s+\S+\s+set|delete\s+from|drop\s+(table|database)"
    r"|create\s+(table|database)|alter\s+table|replace\s+into|truncate\b|merge\s+into)",
    re.IGNORECASE,
)


class Framework(StrEnum):
    FLASK = "flask"
    FASTAPI = "fastapi"
    STARLETTE = "starlette"
    EXPRESS = "express"


SYNTAX = {
    Framework.FLASK: Syntax.FLASK,
    Framework.FASTAPI: Syntax.BRACES,
    Framework.STARLETTE: Syntax.BRACES,
    Framework.EXPRESS: Syntax.EXPRESS,
}


@dataclass(frozen=True)
class Route:
    """One route declaration: `@app.route("/x", methods=[...])`, `router.get("/x", ...)`."""

    framework: Framework
    file: str  # relative to the app folder, e.g. "backend/app.py"
    line: int  # the view's `def` line (Python), the call's line (JS)
    path: str  # as the code writes it, with the mounted prefix where it is visible
    methods: tuple[str, ...]
    function: str = ""  # the view's name ("" for an inline JS handler)
    query_params: tuple[str, ...] = ()  # names the view reads from the query string
    side_effect: str = ""  # "" when none is seen, else what and where
    param_types: tuple[tuple[str, ParamKind, tuple[str, ...]], ...] = field(default=())

    @property
    def template(self) -> Template:
        parsed = parse(self.path, SYNTAX[self.framework])
        if not self.param_types:
            return parsed
        typed = {name: (kind, choices) for name, kind, choices in self.param_types}
        return Template(
            tuple(
                p.typed(*typed[p.name]) if isinstance(p, PathParam) and p.name in typed else p
                for p in parsed.parts
            )
        )

    @property
    def path_params(self) -> list[str]:
        return [p.name for p in self.template.params]

    def sample_path(self) -> str:
        """The path with each parameter filled with a plausible value (`<int:id>` -> 1)."""
        return self.template.sample()

    def matches(self, path: str) -> bool:
        return self.template.matches(path)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def load_test_refusal(self, method: str) -> str:
        """Why `method` on this route is not load-tested by default; "" when it may be: a GET
        with no side effect seen, not a catch-all, whose path names no action."""
        if method not in SAFE_METHODS:
            return f"{method} may change data: never load-tested by default"
        if self.side_effect:
            return f"GET with a side effect: {self.side_effect}"
        template = self.template
        if template.catch_all:
            return "a catch-all (fallback page), not an endpoint of its own"
        for part in template.parts:
            if isinstance(part, str):
                for segment in part.split("/"):
                    if _ACTION_WORDS.match(segment):
                        return f"its path names an action ({segment!r}) that may change state"
        return ""


def source_files(app_dir: Path, part: str, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """The part's own source files with these suffixes, in path order (dependency, build and
    asset folders are not walked at all: a node_modules may hold 100,000 files)."""
    root = app_dir / part
    if not root.is_dir():
        return
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in files:
            if name.endswith(suffixes):
                found.append(Path(folder) / name)
        if len(found) > MAX_FILES:
            break
    real_root = root.resolve()
    for path in sorted(found)[:MAX_FILES]:
        try:
            # the app is untrusted: a symlink out of its folder is not its code
            if not path.resolve().is_relative_to(real_root):
                continue
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
        except OSError:
            continue
        yield path
