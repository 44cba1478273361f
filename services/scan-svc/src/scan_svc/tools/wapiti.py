"""wapiti3: the DAST engine that runs anywhere (pure Python, in its own venv).

scripts/setup.sh installs it into `.tools/wapiti` (it pins old httpx/cryptography/Flask, so it
never shares the workspace's environment); GENFLEET_WAPITI_BIN names another executable.

A run never reaches outside the target: only modules that attack the target itself (never
ssrf/xxe/log4shell, which need wapiti's public endpoint, nor those that download databases),
the scope held to the target URL (`url` when it has a query, else its folder), its endpoints
pointed at a closed local port, no bug reports. Its own session and config go to a temporary
folder, so every scan starts fresh and parallel scans never share state.

Progress is read from its output as it comes (`-v 2`): the pages it crawls ("spider"), then
each module and each resource it attacks ("active"). A backend target is seeded with the GET
routes its code declares (`genfleet_common.routes`; a JSON API has no links to crawl).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from genfleet_common.messages import Finding, Location, Severity, ToolRun, ToolStatus
from genfleet_common.process import ProcResult, run_tool_lines
from genfleet_common.routes import discover_routes
from scan_svc.findings import deduplicate, with_fingerprints
from scan_svc.tools.base import Progress, UrlTarget
from scan_svc.tools.support import VERSION_TIMEOUT_S, first_match, tool_version

ENV_BIN = "GENFLEET_WAPITI_BIN"
ENV_MODULES = "GENFLEET_WAPITI_MODULES"
REPO_VENV_BIN = Path(__file__).resolve().parents[5] / ".tools" / "wapiti" / "bin" / "wapiti"
NOT_INSTALLED = "wapiti is not installed (scripts/setup.sh installs it)"

# Modules that only talk to the target and need nothing from the internet.
SAFE_MODULES = frozenset(
    {
        "backup",
        "cookieflags",
        "crlf",
        "csp",
        "csrf",
        "exec",
        "file",
        "htaccess",
        "http_headers",
        "ldap",
        "methods",
        "permanentxss",
        "redirect",
        "shellshock",
        "sql",
        "timesql",
        "upload",
        "xss",
    }
)
# Injection modules plus the header checks; timesql (minutes of sleeps) only when asked for.
DEFAULT_MODULES = (
    "sql",
    "xss",
    "permanentxss",
    "exec",
    "file",
    "redirect",
    "crlf",
    "http_headers",
    "csp",
    "cookieflags",
)
# CWE per module, for the vulnerability categories whose classification names none ...
MODULE_CWE = {
    "sql": 89,
    "timesql": 89,
    "xss": 79,
    "permanentxss": 79,
    "exec": 78,
    "file": 22,
    "redirect": 601,
    "crlf": 93,
    "ldap": 90,
    "csrf": 352,
    "upload": 434,
    "backup": 530,
    "htaccess": 538,
    "shellshock": 78,
}
# ... and for a few categories named none (kept distinct: one CWE per check at one place)
CATEGORY_CWE = {
    "Clickjacking Protection": 1021,
    "Content Security Policy Configuration": 693,
    "HTTP Strict Transport Security (HSTS)": 319,
    "HttpOnly Flag cookie": 1004,
    "Secure Flag cookie": 614,
    "HTML Injection": 80,
    "Stored HTML Injection": 80,
}
LEVELS = {4: Severity.HIGH, 3: Severity.HIGH, 2: Severity.MEDIUM, 1: Severity.LOW, 0: Severity.INFO}
_CWE_REF = re.compile(r"CWE-(\d+)")
_CLOSED_LOCAL_ENDPOINT = "http://127.0.0.1:9/"  # the discard port: nothing listens there
MAX_SEEDS = 50


def find_wapiti() -> str | None:
    """The wapiti executable: $GENFLEET_WAPITI_BIN, else the venv setup.sh makes, else PATH."""
    explicit = os.environ.get(ENV_BIN)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    if os.access(REPO_VENV_BIN, os.X_OK):
        return str(REPO_VENV_BIN)
    return shutil.which("wapiti")


def _check_modules(modules: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(m.strip() for m in modules if m.strip())
    unsafe = [m for m in chosen if m not in SAFE_MODULES]
    if unsafe:
        raise ValueError(
            f"wapiti modules not allowed here: {', '.join(unsafe)} (they reach outside the "
            f"target or need a download); allowed: {', '.join(sorted(SAFE_MODULES))}"
        )
    if not chosen:
        raise ValueError("no wapiti module chosen")
    return chosen


class WapitiTool:
    name = "wapiti"

    def __init__(
        self,
        *,
        binary: str | None = None,
        modules: Sequence[str] | None = None,
        seed_routes: bool = True,
        request_timeout_s: float = 5.0,
    ) -> None:
        self.binary = binary
        self.modules = _check_modules(modules) if modules is not None else None
        self.seed_routes = seed_routes
        self.request_timeout_s = request_timeout_s

    def _modules(self) -> tuple[str, ...]:
        if self.modules is not None:
            return self.modules
        configured = os.environ.get(ENV_MODULES)
        return _check_modules(configured.split(",")) if configured else DEFAULT_MODULES

    async def version(self) -> str:
        binary = self.binary or find_wapiti()
        if binary is None:
            return ""
        return await tool_version(
            [binary, "--version"], first_match(r"(\d+\.\d+[\w.\-]*)"),
            timeout_s=VERSION_TIMEOUT_S, env=dict(os.environ),
        )  # fmt: skip

    async def run(self, target: UrlTarget, *, timeout_s: float, progress: Progress) -> ToolRun:
        binary = self.binary or find_wapiti()
        if binary is None or not os.access(binary, os.X_OK):
            return ToolRun(
                tool=self.name,
                target=target.url,
                status=ToolStatus.UNAVAILABLE,
                error=NOT_INSTALLED,
            )
        parts = urlsplit(target.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return ToolRun(
                tool=self.name,
                target=target.url,
                status=ToolStatus.FAILED,
                error=f"not an http(s) URL: {target.url!r}",
            )
        try:
            modules = self._modules()
        except ValueError as exc:
            return ToolRun(
                tool=self.name, target=target.url, status=ToolStatus.FAILED, error=str(exc)
            )
        with tempfile.TemporaryDirectory(prefix="genfleet-wapiti-") as tmp:
            report = Path(tmp) / "report.json"
            argv = self._argv(binary, target, modules, Path(tmp))
            watcher = _ProgressReader(progress, len(modules))
            await watcher.start()
            result = await run_tool_lines(argv, on_line=watcher.line, timeout_s=timeout_s)
            return await self._result(target, result, report, watcher)

    def _argv(self, binary: str, target: UrlTarget, modules: Sequence[str], tmp: Path) -> list[str]:
        scope = "url" if urlsplit(target.url).query else "folder"
        argv = [
            binary,
            "--url",
            target.url,
            "--scope",
            scope,
            "--module",
            ",".join(modules),
            "--format",
            "json",
            "--output",
            str(tmp / "report.json"),
            "--store-session",
            str(tmp / "session"),
            "--store-config",
            str(tmp / "config"),
            "--flush-session",
            "--no-bugreport",
            # wapiti resolves/contacts these even for modules that are not run: keep them local
            "--endpoint",
            _CLOSED_LOCAL_ENDPOINT,
            "--dns-endpoint",
            "localhost",
            "--timeout",
            str(self.request_timeout_s),
            "--verbose",
            "2",
        ]
        if scope == "folder" and self.seed_routes and target.part == "backend":
            for url in route_seeds(target):
                argv += ["--start", url]
        return argv

    async def _result(
        self, target: UrlTarget, result: ProcResult, report: Path, watcher: _ProgressReader
    ) -> ToolRun:
        run = ToolRun(
            tool=self.name,
            target=target.url,
            status=ToolStatus.FAILED,
            version=watcher.version,
            duration_s=round(result.seconds, 3),
        )
        if result.timed_out:
            run.error = f"wapiti timed out after {result.seconds:.0f} s\n{result.tail()}"
            return run
        if result.exit_code != 0:
            run.error = f"wapiti exited with {result.exit_code}\n{result.tail()}"
            return run
        try:
            data = json.loads(await asyncio.to_thread(report.read_text))
        except (OSError, ValueError) as exc:
            run.error = f"wapiti wrote no readable report ({exc})\n{result.tail()}"
            return run
        infos = data.get("infos") or {}
        run.version = run.version or str(infos.get("version", "")).removeprefix("Wapiti ").strip()
        if watcher.found == 0 or (watcher.found is None and not infos.get("crawled_pages_nbr")):
            reason = watcher.errors[0] if watcher.errors else "no page answered"
            run.error = f"wapiti could not reach {target.url}: {reason}\n{result.tail(10)}"
            return run
        if watcher.broken:
            run.error = "wapiti skipped broken modules: " + "; ".join(watcher.broken)
            return run
        run.findings = parse_report(data, target)
        run.status = ToolStatus.FINDINGS if run.findings else ToolStatus.NO_FINDINGS
        await watcher.finish()
        return run


def route_seeds(target: UrlTarget) -> list[str]:
    """Start URLs from the GET routes the code of the target's part declares (the shared route
    discovery: Flask, FastAPI, Starlette, Express), under the target's folder: a JSON API has
    no links for wapiti to crawl. Each path parameter gets a value its converter accepts
    (`<int:id>` -> 1), each query parameter the view reads gets "1" (wapiti replaces the
    values with its payloads). A catch-all route is no page of its own: not a seed."""
    parts = urlsplit(target.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    folder = parts.path.rsplit("/", 1)[0] + "/" if parts.path else "/"
    seeds: list[str] = []
    for route in discover_routes(target.app_dir, target.part):
        if "GET" not in route.methods or route.template.catch_all:
            continue
        path = route.sample_path()
        if not path.startswith(folder):
            continue
        query = urlencode({p: "1" for p in route.query_params})
        url = origin + path + (f"?{query}" if query else "")
        if url not in seeds:
            seeds.append(url)
    return seeds[:MAX_SEEDS]


class _ProgressReader:
    """Phase progress inferred from wapiti's -v 2 output lines."""

    def __init__(self, progress: Progress, modules: int) -> None:
        self.progress = progress
        self.modules = max(modules, 1)
        self.version = ""
        self.crawled = 0
        self.found: int | None = None  # "Wapiti found N URLs and forms"
        self.module = 0  # modules launched so far
        self.attacked = 0  # resources attacked by the current module
        self.errors: list[str] = []
        self.broken: list[str] = []
        self.sent: dict[str, int] = {}

    async def _report(self, phase: str, pct: int) -> None:
        pct = max(0, min(100, pct))
        if pct > self.sent.get(phase, -1):
            self.sent[phase] = pct
            await self.progress(phase, pct)

    async def line(self, text: str) -> None:
        line = text.strip()
        if not self.version and line.startswith("Wapiti ") and "(" in line:
            self.version = line.split()[1]
        elif line.startswith("[*] Wapiti found"):
            words = line.split()
            self.found = int(words[3]) if len(words) > 3 and words[3].isdigit() else 0
            await self._report("spider", 100)
        elif line.startswith("[*] Launching module"):
            await self._report("spider", 100)
            self.module += 1
            self.attacked = 0
            await self._report("active", self._active())
        elif line.startswith("[+] "):
            if self.module == 0:
                self.crawled += 1
                await self._report("spider", min(95, 100 * self.crawled // (self.crawled + 5)))
            else:
                self.attacked += 1
                await self._report("active", self._active())
        elif line.startswith("[!]") and ("Error" in line or "error" in line):
            self.errors.append(line.removeprefix("[!]").strip())
        elif "seems broken and will be skipped" in line:
            self.broken.append(line.removeprefix("[!]").strip())

    def _active(self) -> int:
        total = max(self.found or 1, 1)
        done = (self.module - 1) + min(self.attacked, total) / total
        return min(99, int(100 * done / self.modules))

    async def start(self) -> None:
        await self._report("spider", 0)

    async def finish(self) -> None:
        await self._report("spider", 100)
        await self._report("active", 100)


def parse_report(data: dict[str, Any], target: UrlTarget) -> list[Finding]:
    """wapiti's JSON report -> Findings: vulnerabilities, anomalies (at most Medium: an error
    page is a clue, not a proven weakness) and additionals (Info)."""
    parts = urlsplit(target.url)
    origin = f"{parts.scheme}://{parts.netloc}"
    classifications: dict[str, Any] = data.get("classifications") or {}
    findings: list[Finding] = []
    for section, cap in (
        ("vulnerabilities", Severity.HIGH),
        ("anomalies", Severity.MEDIUM),
        ("additionals", Severity.INFO),
    ):
        for category, items in (data.get(section) or {}).items():
            for item in items or []:
                findings.append(_finding(category, item, classifications, origin, target, cap))
    # Several modules report the same thing at the same place (an error page for each
    # module's payloads, SQL injection from sql and timesql): one finding each.
    return deduplicate(with_fingerprints(findings))


_ORDER = [Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


def _finding(
    category: str,
    item: dict[str, Any],
    classifications: dict[str, Any],
    origin: str,
    target: UrlTarget,
    cap: Severity,
) -> Finding:
    module = str(item.get("module") or "")
    level = item.get("level")
    severity = LEVELS.get(level, Severity.INFO) if isinstance(level, int) else Severity.INFO
    if _ORDER.index(severity) < _ORDER.index(cap):
        severity = cap
    info = classifications.get(category) or {}
    cwe = _cwe(category, module, info, by_module=cap is Severity.HIGH)
    request = str(item.get("http_request") or "")
    evidence = str(item.get("curl_command") or request.split("\n", 1)[0])
    description = str(item.get("info") or category)
    if module:
        description += f" (wapiti module {module})"
    if info.get("sol"):
        description += "\n\nFix: " + str(info["sol"])
    slug = re.sub(r"[^a-z0-9]+", "-", category.lower()).strip("-")
    return Finding(
        tool="wapiti",
        rule_id=slug,
        title=category,
        severity=severity,
        cwe=cwe,
        location=Location(
            url=origin + str(item.get("path") or "/"),
            method=str(item.get("method") or "GET").upper(),
            parameter=str(item.get("parameter") or ""),
            evidence=evidence[:2000],
        ),
        target=target.part,
        description=description,
    )


def _cwe(category: str, module: str, info: dict[str, Any], *, by_module: bool) -> int | None:
    refs = info.get("ref") or {}
    for ref in refs:
        m = _CWE_REF.search(str(ref))
        if m:
            return int(m.group(1))
    return CATEGORY_CWE.get(category) or (MODULE_CWE.get(module) if by_module else None)
