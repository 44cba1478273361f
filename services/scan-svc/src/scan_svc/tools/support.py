"""What the static analyzers share: finding their executable, their version, running them
under one time limit, and turning "missing", "timed out" and "broke" into the honest ToolRun.

A tool module implements `CliTool._scan` (run the tool, parse its output, return the
findings) and raises `ToolProblem` for anything that is not a finished check: `unavailable`
when the tool or the database it needs cannot be reached, `failed` when it broke.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from genfleet_common.messages import AuditedPackages, Finding, ToolRun, ToolStatus
from genfleet_common.process import ProcResult, run_tool
from scan_svc.findings import SEVERITY_ORDER, with_fingerprints
from scan_svc.tools.base import SourceTarget

# services/scan-svc/src/scan_svc/tools/support.py -> the scan-svc folder and the repository
SCAN_SVC_DIR = Path(__file__).resolve().parents[3]
REPO_ROOT = Path(__file__).resolve().parents[5]
RULES_DIR = Path(__file__).resolve().parents[1] / "rules"
# Tools with their own environment (scripts/setup.sh): semgrep's venv, the npm tools folder.
TOOLS_DIR = REPO_ROOT / ".tools"
TOOLS_JS_DIR = SCAN_SVC_DIR / "tools-js"

# Folders that are never the app's own code.
SKIP_DIRS = frozenset(
    {
        "node_modules",
        ".venv",
        "venv",
        "site-packages",
        "__pycache__",
        ".git",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        "dist",
        "build",
        "coverage",
        ".next",
    }
)
log = logging.getLogger(__name__)

SECRET_CWES = frozenset({259, 321, 798})
VERSION_TIMEOUT_S = 30.0
TAIL_LINES = 40


class ToolProblem(Exception):
    """The run did not end in a finished check: UNAVAILABLE or FAILED, with the reason (and,
    for a dependency audit, what it would have audited)."""

    def __init__(self, status: ToolStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.audited: AuditedPackages | None = None


def unavailable(message: str) -> ToolProblem:
    return ToolProblem(ToolStatus.UNAVAILABLE, message)


def failed(message: str) -> ToolProblem:
    return ToolProblem(ToolStatus.FAILED, message)


@dataclass
class ScanOutput:
    findings: list[Finding]
    note: str = ""  # what the tool could not check (files it could not parse, ...)
    # Some code was not checked: without findings the run is FAILED with the note, never
    # "no findings" (with findings it is FINDINGS, the note saying what was missed).
    incomplete: bool = False
    audited: AuditedPackages | None = None  # a dependency audit: what it audited


class Deadline:
    """One time limit for everything a run starts (version query, the scan, a lockfile)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._end = time.monotonic() + timeout_s

    def left(self) -> float:
        return max(self._end - time.monotonic(), 0.001)


def workspace_bin(name: str) -> str | None:
    """An executable installed in the same environment as this service, else on PATH."""
    beside = Path(sys.executable).parent / name
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def executable(path: str | os.PathLike[str]) -> str | None:
    return str(path) if os.path.isfile(path) and os.access(path, os.X_OK) else None


_versions: dict[tuple[str, ...], str] = {}


async def tool_version(
    argv: Sequence[str], parse: Callable[[str], str], *, timeout_s: float, env: Mapping[str, str]
) -> str:
    """The tool's version from its --version output; asked once per executable and process."""
    key = tuple(argv)
    if key in _versions:
        return _versions[key]
    try:
        result = await run_tool(argv, timeout_s=min(timeout_s, VERSION_TIMEOUT_S), env=env)
    except OSError:
        return ""
    if result.timed_out or result.exit_code != 0:
        return ""
    version = parse(result.stdout + "\n" + result.stderr).strip()
    if version:
        _versions[key] = version
    return version


def first_match(pattern: str) -> Callable[[str], str]:
    regex = re.compile(pattern)

    def parse(text: str) -> str:
        match = regex.search(text)
        return match.group(1) if match else ""

    return parse


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    return env


def tail(result: ProcResult, lines: int = TAIL_LINES) -> str:
    return result.tail(lines) or "(no output)"


def relative(path: str | os.PathLike[str], app_dir: Path) -> str:
    """A path the tool printed (relative to the app folder, or absolute) as `part/...`."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(app_dir.resolve())
        except ValueError:
            return p.as_posix()
    return p.as_posix().removeprefix("./")


_line_cache: dict[Path, tuple[float, list[str]]] = {}


def source_line(app_dir: Path, file: str, line: int | None) -> str:
    """The code on `line` of `file` (1-based), stripped; "" when it cannot be read. Every tool
    takes the snippet from the file itself, so two tools flagging one line agree on it."""
    if not line or line < 1:
        return ""
    path = app_dir / file
    try:
        mtime = path.stat().st_mtime
        cached = _line_cache.get(path)
        if cached is None or cached[0] != mtime:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            cached = (mtime, lines)
            if len(_line_cache) > 256:
                _line_cache.clear()
            _line_cache[path] = cached
    except OSError:
        return ""
    lines = cached[1]
    return lines[line - 1].strip() if line <= len(lines) else ""


_QUOTED = re.compile(r"""(?P<q>["'`])(?P<body>[^"'`\s]{8,})(?P=q)""")


def redact(snippet: str) -> str:
    """A credential's line without the credential: long quoted values keep 4 characters."""
    return _QUOTED.sub(lambda m: f"{m['q']}{m['body'][:4]}{'*' * 8}{m['q']}", snippet)


def snippet_for(app_dir: Path, file: str, line: int | None, cwe: int | None) -> str:
    code = source_line(app_dir, file, line)
    return redact(code) if cwe in SECRET_CWES else code


def has_files(root: Path, suffixes: Iterable[str]) -> bool:
    """Whether `root` holds a file with one of `suffixes` outside dependency/build folders."""
    wanted = tuple(suffixes)
    if not root.is_dir():
        return False
    for _dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        if any(name.endswith(wanted) for name in filenames):
            return True
    return False


class CliTool:
    """A static analyzer that runs as a command line. Subclasses set `name` and
    `install_hint`, and implement `find_binary`, `applies` and `_scan` (and `version_argv` when
    `--version` is not how the tool tells it)."""

    name: str = ""
    install_hint: str = ""
    version_pattern: str = r"(\d+\.\d+[\w.\-]*)"
    # A dependency audit: it audits what the part's built image installed (the scan asks
    # container-svc for the image's packages when it runs one of these)
    reads_image: bool = False

    def __init__(
        self, binary: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
    ) -> None:
        # An explicit binary is used as given (missing -> unavailable); else it is looked up.
        self.binary = str(binary) if binary is not None else None
        self.extra_env = dict(env or {})

    # -- for subclasses ---------------------------------------------------------------------
    def find_binary(self) -> str | None:
        raise NotImplementedError

    def version_argv(self, binary: str) -> list[str]:
        return [binary, "--version"]

    def applies(self, target: SourceTarget) -> bool:
        raise NotImplementedError

    async def _scan(
        self, binary: str, target: SourceTarget, deadline: Deadline, env: dict[str, str]
    ) -> ScanOutput:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return tool_env(self.extra_env)

    # -- the common run ---------------------------------------------------------------------
    async def version(self) -> str:
        """Its version ("" when it is not installed or does not say)."""
        binary = self.resolve()
        if binary is None:
            return ""
        return await tool_version(
            self.version_argv(binary), first_match(self.version_pattern),
            timeout_s=VERSION_TIMEOUT_S, env=self.env(),
        )  # fmt: skip

    def resolve(self) -> str | None:
        if self.binary is not None:
            return executable(self.binary)
        return self.find_binary()

    async def exec(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        deadline: Deadline,
        env: Mapping[str, str],
    ) -> ProcResult:
        """Run one command of this tool within the run's time limit."""
        try:
            result = await run_tool(argv, cwd=cwd, timeout_s=deadline.left(), env=env)
        except FileNotFoundError as exc:
            raise unavailable(f"{self.name} is not installed ({self.install_hint}): {exc}") from exc
        except OSError as exc:
            raise failed(f"{self.name} could not be started: {exc}") from exc
        if result.timed_out:
            raise failed(
                f"{self.name} timed out after {deadline.timeout_s:g} s\n{result.tail(20)}".strip()
            )
        return result

    async def run(self, target: SourceTarget, *, timeout_s: float) -> ToolRun:
        started = time.monotonic()
        deadline = Deadline(timeout_s)
        binary = self.resolve()
        run = ToolRun(tool=self.name, target=target.part, status=ToolStatus.UNAVAILABLE)
        if binary is None:
            where = f" at {self.binary}" if self.binary is not None else ""
            run.error = f"{self.name} is not installed{where} ({self.install_hint})"
            run.duration_s = round(time.monotonic() - started, 3)
            return run
        if not target.path.is_dir():
            run.error = f"the app has no {target.part}/ folder to analyze"
            run.duration_s = round(time.monotonic() - started, 3)
            return run
        env = self.env()
        try:
            run.version = await tool_version(
                self.version_argv(binary),
                first_match(self.version_pattern),
                timeout_s=deadline.left(),
                env=env,
            )
            output = await self._scan(binary, target, deadline, env)
        except ToolProblem as problem:
            run.status = problem.status
            run.error = problem.message
            run.audited = problem.audited
        except Exception as exc:  # a bug here must not take the whole scan down
            log.exception("%s on %s", self.name, target.path)
            run.status = ToolStatus.FAILED
            run.error = f"{self.name}'s result could not be read: {type(exc).__name__}: {exc}"
        else:
            for finding in output.findings:
                finding.tool = self.name
                finding.target = target.part
            run.findings = _one_per_fingerprint(with_fingerprints(output.findings))
            if run.findings:
                run.status = ToolStatus.FINDINGS
            elif output.incomplete:
                run.status = ToolStatus.FAILED
            else:
                run.status = ToolStatus.NO_FINDINGS
            run.error = output.note
            run.audited = output.audited
        run.duration_s = round(time.monotonic() - started, 3)
        return run


_CONFIDENCE_ORDER = {"High": 0, "Medium": 1, "Low": 2, "": 3}


def _one_per_fingerprint(findings: list[Finding]) -> list[Finding]:
    """One tool reporting one weakness at one place twice (two rules, one line): the most
    severe and most certain report is kept, in the tool's order."""
    best: dict[str, Finding] = {}
    for f in findings:
        kept = best.get(f.fingerprint)
        if kept is None or _rank(f) < _rank(kept):
            best[f.fingerprint] = f
    keep = {id(f) for f in best.values()}
    return [f for f in findings if id(f) in keep]


def _rank(finding: Finding) -> tuple[int, int]:
    return (
        SEVERITY_ORDER.index(finding.severity),
        _CONFIDENCE_ORDER.get(finding.confidence, 3),
    )
