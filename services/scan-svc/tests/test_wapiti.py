"""wapiti, the DAST engine that runs anywhere: its report and output read right (canned data),
and the real wapiti (the venv scripts/setup.sh makes) against real running demo apps: every
planted vulnerability that vulnerabilities.toml expects wapiti to find is found, with its CWE
and parameter, and traced back to its source line; a clean app has no High finding; a stopped
scan and a timed-out one leave no wapiti process behind.

The apps run from a private copy of the demo fleet (models `d-*`, ports 9xxx), each started
fresh (`down -v`, then `up`): data a previous exploit left could change what a scan sees.
"""

from __future__ import annotations

import asyncio
import os
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest

from container_svc.testing import down_all, up_fresh
from genfleet_common.fleet import Fleet
from genfleet_common.messages import Severity, ToolStatus
from genfleet_common.testing import make_test_fleet
from scan_svc.blame import likely_source
from scan_svc.tools.base import UrlTarget
from scan_svc.tools.dast import dast_tools
from scan_svc.tools.wapiti import (
    ENV_BIN,
    NOT_INSTALLED,
    WapitiTool,
    _ProgressReader,
    find_wapiti,
    parse_report,
    route_seeds,
)

FLEET = Path(__file__).resolve().parents[3] / "examples" / "fleet"
PLANTED = tomllib.loads((FLEET / "vulnerabilities.toml").read_text())
PREFIX, DIGIT = "d-", 9
MODEL_INDEX = {"gpt-4o": 1, "claude-3.5-sonnet": 2, "llama-3.1-70b": 3}  # examples/fleet/README
FOR_WAPITI = [v for v in PLANTED["vuln"] if "wapiti" in v["expected_tools"]]
CLEAN = [tuple(c.split("/app")) for c in PLANTED["clean"]]
TOML_MODULES = ["sql", "xss", "exec"]  # what vulnerabilities.toml says finds them
HIGH_MODULES = ["sql", "xss", "permanentxss", "exec", "file"]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.active = asyncio.Event()

    async def __call__(self, phase: str, pct: int) -> None:
        self.events.append((phase, pct))
        if phase == "active" and pct > 0:
            self.active.set()

    def check_order(self) -> None:
        phases = list(dict.fromkeys(p for p, _ in self.events))
        assert phases == ["spider", "active"], self.events
        for phase in phases:
            values = [pct for p, pct in self.events if p == phase]
            assert values == sorted(values) and values[-1] == 100, (phase, values)


def wapiti_processes() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("wapiti" in part for part in child.cmdline()[:2]):
                found.append(child)
        except psutil.Error:
            pass
    return found


# --- without running wapiti ------------------------------------------------------------------

REPORT: dict[str, Any] = {
    "classifications": {
        "SQL Injection": {"ref": {"CWE-89: Improper Neutralization...": "https://cwe"}},
        "Command execution": {"ref": {"CWE-78: OS Command Injection": "https://cwe"}},
        "Reflected Cross Site Scripting": {"ref": {"CWE-79: XSS": "x"}, "sol": "Escape it."},
        "Internal Server Error": {"ref": {}},
        "Clickjacking Protection": {"ref": {}},
    },
    "vulnerabilities": {
        "SQL Injection": [
            {
                "method": "GET",
                "path": "/api/search",
                "info": "SQL Injection (DBMS: SQLite) via injection in the parameter q",
                "level": 4,
                "parameter": "q",
                "module": "sql",
                "http_request": "GET /api/search?q=1%C2%BF%27%22%28 HTTP/1.1\nhost: x",
                "curl_command": 'curl "http://127.0.0.1:9132/api/search?q=1%C2%BF%27%22%28"',
            },
            {  # the same place again, from another module: one finding
                "method": "GET",
                "path": "/api/search",
                "info": "Blind SQL injection via injection in the parameter q",
                "level": 4,
                "parameter": "q",
                "module": "timesql",
            },
        ],
        "Reflected Cross Site Scripting": [
            {
                "method": "GET",
                "path": "/search",
                "info": "XSS vulnerability found via injection in the parameter q",
                "level": 2,
                "parameter": "q",
                "module": "xss",
            }
        ],
        "Clickjacking Protection": [
            {"method": "GET", "path": "/", "info": "X-Frame-Options is not set", "level": 1}
        ],
        "Command execution": [],
    },
    "anomalies": {
        "Internal Server Error": [
            {
                "method": "GET",
                "path": "/api/notes",
                "info": "The server responded with a 500 HTTP error code",
                "level": 3,
                "parameter": "limit",
                "module": "exec",
            },
            {  # same place, other module's payload: one finding
                "method": "GET",
                "path": "/api/notes",
                "info": "The server responded with a 500 HTTP error code",
                "level": 3,
                "parameter": "limit",
                "module": "file",
            },
        ]
    },
    "additionals": {"Fingerprint web technology": [{"method": "GET", "path": "/", "level": 0}]},
    "infos": {"version": "Wapiti 3.2.3", "crawled_pages_nbr": 4},
}


def test_report_to_findings(tmp_path: Path) -> None:
    target = UrlTarget(url="http://127.0.0.1:9132/", part="backend", app_dir=tmp_path)
    findings = {f.title: f for f in parse_report(REPORT, target)}
    assert len(parse_report(REPORT, target)) == 5  # 7 items, 2 repeats
    sqli = findings["SQL Injection"]
    assert (sqli.tool, sqli.rule_id, sqli.severity, sqli.cwe) == (
        "wapiti",
        "sql-injection",
        Severity.HIGH,
        89,
    )
    assert sqli.location.url == "http://127.0.0.1:9132/api/search"
    assert (sqli.location.method, sqli.location.parameter) == ("GET", "q")
    assert sqli.location.evidence.startswith('curl "http://127.0.0.1:9132/api/search?q=')
    assert sqli.target == "backend" and sqli.fingerprint
    assert "(wapiti module sql)" in sqli.description
    xss = findings["Reflected Cross Site Scripting"]
    assert (xss.severity, xss.cwe) == (Severity.MEDIUM, 79)  # wapiti's level 2
    assert "Fix: Escape it." in xss.description
    assert findings["Clickjacking Protection"].cwe == 1021  # known, though wapiti names none
    assert findings["Clickjacking Protection"].severity is Severity.LOW
    error = findings["Internal Server Error"]
    assert error.severity is Severity.MEDIUM  # an anomaly (level 3) is a clue: at most Medium
    assert error.cwe is None  # not the module's CWE: a 500 is not command execution
    assert findings["Fingerprint web technology"].severity is Severity.INFO


async def test_progress_is_read_from_the_output() -> None:
    events: list[tuple[str, int]] = []

    async def progress(phase: str, pct: int) -> None:
        events.append((phase, pct))

    reader = _ProgressReader(progress, modules=2)
    await reader.start()
    for line in [
        "Wapiti 3.2.3 (wapiti-scanner.github.io)",
        "[+] GET http://h/ (0)",
        "[+] GET http://h/a?q=1 (1)",
        "[*] Saving scan state, please wait...",
        "[*] Wapiti found 2 URLs and forms during the scan",
        "[*] Launching module sql",
        "[+] GET http://h/ (0)",
        "[¨] GET http://h/?x=%27 (0)",
        "[+] GET http://h/a?q=1 (1)",
        "[*] Launching module xss",
        "[+] GET http://h/ (0)",
    ]:
        await reader.line(line)
    await reader.finish()
    assert reader.version == "3.2.3" and reader.found == 2
    assert events == [
        ("spider", 0),
        ("spider", 16),
        ("spider", 28),
        ("spider", 100),
        ("active", 0),
        ("active", 25),
        ("active", 50),
        ("active", 75),
        ("active", 100),
    ]


async def test_not_installed_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_BIN, str(tmp_path / "no-such-wapiti"))
    assert find_wapiti() is None
    target = UrlTarget(url="http://127.0.0.1:9/", part="backend", app_dir=tmp_path)
    run = await WapitiTool().run(target, timeout_s=10, progress=Recorder())
    assert run.status is ToolStatus.UNAVAILABLE
    assert run.error == NOT_INSTALLED == "wapiti is not installed (scripts/setup.sh installs it)"


def test_modules_that_reach_outside_are_refused() -> None:
    for module in ("ssrf", "xxe", "log4shell", "wapp", "nikto", "takeover"):
        with pytest.raises(ValueError, match="not allowed"):
            WapitiTool(modules=["sql", module])


def test_the_command_stays_on_the_target(tmp_path: Path) -> None:
    app_dir = FLEET / "models" / "llama-3.1-70b" / "app1"
    tool = WapitiTool()
    one_url = UrlTarget(
        url="http://127.0.0.1:9131/api/tasks/export?filename=1", part="backend", app_dir=app_dir
    )
    argv = tool._argv("wapiti", one_url, ["sql", "exec"], tmp_path)
    joined = " ".join(argv)
    assert argv[argv.index("--scope") + 1] == "url"
    assert "--start" not in argv  # one URL: no seeds
    assert argv[argv.index("--endpoint") + 1] == "http://127.0.0.1:9/"
    assert argv[argv.index("--dns-endpoint") + 1] == "localhost"
    assert "--no-bugreport" in argv
    for outside in ("ssrf", "xxe", "log4shell", "wapiti3.ovh"):
        assert outside not in joined
    whole = UrlTarget(url="http://127.0.0.1:9131/", part="backend", app_dir=app_dir)
    argv = tool._argv("wapiti", whole, ["sql"], tmp_path)
    assert argv[argv.index("--scope") + 1] == "folder"
    seeds = [argv[i + 1] for i, a in enumerate(argv) if a == "--start"]
    assert seeds == route_seeds(whole)
    assert "http://127.0.0.1:9131/api/tasks/export?filename=1" in seeds
    assert "http://127.0.0.1:9131/api/tasks?status=1&page=1" in seeds
    assert all(s.startswith("http://127.0.0.1:9131/") for s in seeds)
    front = UrlTarget(url="http://127.0.0.1:9231/", part="frontend", app_dir=app_dir)
    assert "--start" not in tool._argv("wapiti", front, ["sql"], tmp_path)


def test_seeds_of_fastapi_and_express_backends(tmp_path: Path) -> None:
    """Seeds come from the shared route discovery, whatever the framework: GET routes only,
    path parameters filled with values their converters accept, the query parameters a view
    reads set to 1; a catch-all is no seed."""
    fastapi_app = tmp_path / "fastapi"
    (fastapi_app / "backend").mkdir(parents=True)
    (fastapi_app / "backend" / "main.py").write_text(
        "from fastapi import APIRouter, FastAPI\n"
        "app = FastAPI()\n"
        "router = APIRouter(prefix='/items')\n"
        "@router.get('/{item_id}')\n"
        "def item(item_id: int, q: str | None = None):\n"
        "    return {}\n"
        "@router.post('/')\n"
        "def add():\n"
        "    return {}\n"
        "app.include_router(router, prefix='/api')\n"
    )
    target = UrlTarget(url="http://127.0.0.1:9131/", part="backend", app_dir=fastapi_app)
    assert route_seeds(target) == ["http://127.0.0.1:9131/api/items/1?q=1"]
    express_app = tmp_path / "express"
    (express_app / "backend" / "routes").mkdir(parents=True)
    (express_app / "backend" / "server.js").write_text(
        "const express = require('express');\n"
        "const app = express();\n"
        "app.use('/api/notes', require('./routes/notes'));\n"
        "app.get('*', (req, res) => res.sendFile('index.html'));\n"
    )
    (express_app / "backend" / "routes" / "notes.js").write_text(
        "const router = require('express').Router();\n"
        "router.get('/', (req, res) => res.json(find(req.query.search)));\n"
        "router.get('/:id', (req, res) => res.json({}));\n"
        "router.delete('/:id', (req, res) => res.end());\n"
        "module.exports = router;\n"
    )
    target = UrlTarget(url="http://127.0.0.1:9131/", part="backend", app_dir=express_app)
    assert route_seeds(target) == [
        "http://127.0.0.1:9131/api/notes?search=1",
        "http://127.0.0.1:9131/api/notes/1",
    ]


def test_registry() -> None:
    tools = dast_tools()
    assert list(tools) == ["wapiti", "zap"]
    assert all(tools[name].name == name for name in tools)
    assert list(dast_tools(names=["zap"])) == ["zap"]
    with pytest.raises(KeyError):
        dast_tools(names=["nmap"])


# --- the real wapiti ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wapiti() -> str:
    binary = find_wapiti()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(NOT_INSTALLED)
        pytest.skip(NOT_INSTALLED)
    return binary


async def test_an_unreachable_target_fails(wapiti: str, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = UrlTarget(url=f"http://127.0.0.1:{port}/", part="backend", app_dir=tmp_path)
    run = await WapitiTool(modules=["sql"]).run(target, timeout_s=60, progress=Recorder())
    assert run.status is ToolStatus.FAILED  # "could not check" is never "no findings"
    assert "could not reach" in run.error and "ConnectError" in run.error
    assert run.version.count(".") == 2  # e.g. 3.2.3


@pytest.fixture(scope="module")
def running_apps(
    docker_engine: None, wapiti: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[str, int], Path]]:
    """The apps these tests scan, started fresh at once; always `down -v` after."""
    fleet = make_test_fleet(tmp_path_factory.mktemp("dast") / "fleet", PREFIX, DIGIT)
    wanted = {(v["model"], v["app"]) for v in FOR_WAPITI} | {(m, int(n)) for m, n in CLEAN}
    registry = Fleet.load(fleet)
    specs = {key: registry.app(PREFIX + key[0], key[1]) for key in sorted(wanted)}
    try:
        with ThreadPoolExecutor(len(specs)) as pool:
            results = dict(zip(specs, pool.map(up_fresh, specs.values()), strict=True))
        failed = {
            k: r.stdout[-2000:] + r.stderr[-2000:] for k, r in results.items() if r.returncode
        }
        assert not failed, failed
        yield {key: Path(spec.path) for key, spec in specs.items()}
    finally:
        down_all(specs.values())


def backend_url(model: str, app: int, path: str = "/") -> str:
    return f"http://127.0.0.1:{DIGIT}1{MODEL_INDEX[model]}{app}{path}"


@pytest.mark.docker
@pytest.mark.parametrize(
    "vuln", FOR_WAPITI, ids=[f"{v['model']}-app{v['app']}-{v['kind']}" for v in FOR_WAPITI]
)
async def test_wapiti_finds_each_planted_vulnerability(
    running_apps: dict[tuple[str, int], Path], vuln: dict[str, Any]
) -> None:
    method, rest = vuln["endpoint"].split(" ", 1)
    path, param = rest.split("?", 1)
    param = param.rstrip("=")
    app_dir = running_apps[(vuln["model"], vuln["app"])]
    target = UrlTarget(
        url=backend_url(vuln["model"], vuln["app"], f"{path}?{param}=1"),
        part="backend",
        app_dir=app_dir,
    )
    progress = Recorder()
    started = time.monotonic()
    run = await WapitiTool(modules=TOML_MODULES).run(target, timeout_s=120, progress=progress)
    print(f"wapiti {vuln['model']}/app{vuln['app']} {path}: {time.monotonic() - started:.1f} s")
    assert run.status is ToolStatus.FINDINGS, run.error
    assert run.version.count(".") == 2 and run.duration_s > 0
    progress.check_order()
    matches = [
        f
        for f in run.findings
        if f.cwe == vuln["cwe"]
        and f.location.parameter == param
        and urlsplit(f.location.url).path == path
        and f.location.method == method
    ]
    assert matches, [(f.title, f.cwe, f.location) for f in run.findings]
    found = matches[0]
    assert found.severity in (Severity.HIGH, Severity.MEDIUM)
    assert found.location.evidence.startswith("curl ")
    # ... and the source most likely responsible is the planted line
    hits = likely_source(found, app_dir)
    assert (vuln["file"], vuln["line"]) in [(h.file, h.line) for h in hits[:3]], hits


@pytest.mark.docker
@pytest.mark.parametrize(("model", "app"), CLEAN, ids=[f"{m}-app{n}" for m, n in CLEAN])
async def test_a_clean_app_has_no_high_finding(
    running_apps: dict[tuple[str, int], Path], model: str, app: str
) -> None:
    # The whole backend, seeded with its routes, with the modules that can report High
    # (the default set adds header checks, Low at most, and costs time).
    target = UrlTarget(
        url=backend_url(model, int(app)), part="backend", app_dir=running_apps[(model, int(app))]
    )
    assert len(route_seeds(target)) >= 3
    progress = Recorder()
    started = time.monotonic()
    run = await WapitiTool(modules=HIGH_MODULES).run(target, timeout_s=180, progress=progress)
    print(f"wapiti {model}/app{app} whole backend: {time.monotonic() - started:.1f} s")
    assert run.status in (ToolStatus.FINDINGS, ToolStatus.NO_FINDINGS), run.error
    progress.check_order()
    high = [(f.title, f.location) for f in run.findings if f.severity is Severity.HIGH]
    assert not high


@pytest.mark.docker
async def test_a_stopped_scan_leaves_no_wapiti_process(
    running_apps: dict[tuple[str, int], Path],
) -> None:
    target = UrlTarget(
        url=backend_url("llama-3.1-70b", 1),
        part="backend",
        app_dir=running_apps[("llama-3.1-70b", 1)],
    )
    progress = Recorder()
    task = asyncio.create_task(WapitiTool().run(target, timeout_s=180, progress=progress))
    await asyncio.wait_for(progress.active.wait(), 60)  # in the middle of its attacks
    before = wapiti_processes()
    assert before, "wapiti should be running"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not [p for p in before if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not wapiti_processes()


@pytest.mark.docker
async def test_a_timeout_fails_and_ends_wapiti(
    running_apps: dict[tuple[str, int], Path],
) -> None:
    target = UrlTarget(
        url=backend_url("gpt-4o", 1), part="backend", app_dir=running_apps[("gpt-4o", 1)]
    )
    run = await WapitiTool().run(target, timeout_s=1.0, progress=Recorder())
    assert run.status is ToolStatus.FAILED
    assert "timed out after" in run.error
    assert not run.findings
    assert not wapiti_processes()
