"""Running a tool as a child process: its own process group, so a timeout or a cancelled job
ends the tool and everything it started; output captured; never a shell."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ProcResult:
    exit_code: int | None  # None when killed by the timeout
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    def tail(self, lines: int = 40) -> str:
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-lines:])


async def run_tool(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> ProcResult:
    """Run `argv`; kill its whole process group on timeout or cancellation (a stopped job)."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
    except TimeoutError:
        kill_group(proc.pid)
        out, err = await proc.communicate()
        return ProcResult(None, _text(out), _text(err), time.monotonic() - started, True)
    except asyncio.CancelledError:
        kill_group(proc.pid)
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
        raise
    return ProcResult(proc.returncode, _text(out), _text(err), time.monotonic() - started)


OnLine = Callable[[str], Awaitable[None]]


async def run_tool_lines(
    argv: Sequence[str],
    *,
    on_line: OnLine,
    cwd: Path | None = None,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    keep_lines: int = 2000,
) -> ProcResult:
    """Like run_tool, for a tool that reports progress as it goes: stdout and stderr are merged
    and handed to `on_line` line by line as they come; the result keeps the last `keep_lines`
    lines (in `stdout`), so a chatty tool cannot fill the memory."""
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        limit=1 << 20,  # one very long line (a response dump) must not break the reader
    )
    assert proc.stdout is not None
    kept: deque[str] = deque(maxlen=keep_lines)

    async def pump() -> None:
        assert proc.stdout is not None
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # longer than the reader's limit: dropped, the rest goes on
                kept.append("[a line too long to keep was cut]")
                continue
            if not raw:
                break
            line = _text(raw).rstrip("\r\n")
            kept.append(line)
            await on_line(line)
        await proc.wait()

    try:
        async with asyncio.timeout(timeout_s):
            await pump()
    except TimeoutError:
        kill_group(proc.pid)
        await proc.wait()
        return ProcResult(None, "\n".join(kept), "", time.monotonic() - started, True)
    except BaseException:  # cancelled (a stopped job), or on_line failed: end the tool too
        kill_group(proc.pid)
        with contextlib.suppress(Exception):
            await asyncio.shield(proc.wait())
        raise
    return ProcResult(proc.returncode, "\n".join(kept), "", time.monotonic() - started)


def kill_group(pid: int) -> None:
    """SIGKILL a child started with start_new_session=True and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _text(data: bytes) -> str:
    return data.decode(errors="replace")
