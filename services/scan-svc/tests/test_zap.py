"""ZapTool against a fake: ZAP cannot be installed here; it stands only for the daemon's HTTP API.

The fake speaks the subset of ZAP's JSON API that the real `zaproxy` client calls (the client
reaches the API as http://zap/JSON/... through the daemon used as its HTTP proxy, with the key
in the X-ZAP-API-Key header), checks the key, and answers with canned progress and alerts. What
it checks is our side: the calls and their order, the phases' progress, the mapping of alerts
to findings, errors and stopping ZAP's scans when a run ends early.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from genfleet_common.messages import Severity, ToolStatus
from genfleet_common.settings import load_settings
from scan_svc.toolbox import Toolbox
from scan_svc.tools import zap as zap_module
from scan_svc.tools.base import UrlTarget
from scan_svc.tools.zap import NOT_CONFIGURED, ZapTool

KEY = "test-zap-key-not-a-secret"
TARGET = "http://127.0.0.1:9112/"

ALERTS: list[dict[str, Any]] = [
    {
        "id": "1",
        "pluginId": "40018",
        "alertRef": "40018",
        "alert": "SQL Injection - SQLite",
        "name": "SQL Injection - SQLite",
        "risk": "High",
        "confidence": "Medium",
        "cweid": "89",
        "wascid": "19",
        "url": "http://127.0.0.1:9112/api/search?q=zz%27",
        "method": "GET",
        "param": "q",
        "attack": "zz'",
        "evidence": "unrecognized token",
        "description": "SQL injection may be possible.",
        "solution": "Use prepared statements.",
    },
    {
        "id": "2",
        "pluginId": "40012",
        "alert": "Cross Site Scripting (Reflected)",
        "risk": "High",
        "confidence": "Confirmed",
        "cweid": "79",
        "url": "http://127.0.0.1:9112/search?q=%3Cscript%3Ealert%281%29%3C%2Fscript%3E",
        "method": "GET",
        "param": "q",
        "attack": "<script>alert(1)</script>",
        "evidence": "<script>alert(1)</script>",
        "description": "Cross-site Scripting (XSS) is an attack technique...",
        "solution": "Encode output.",
    },
    {
        "id": "3",
        "pluginId": "10020",
        "alert": "Missing Anti-clickjacking Header",
        "risk": "Medium",
        "confidence": "Medium",
        "cweid": "1021",
        "url": "http://127.0.0.1:9112/",
        "method": "GET",
        "param": "x-frame-options",
        "attack": "",
        "evidence": "",
    },
    {
        "id": "4",
        "pluginId": "10021",
        "alert": "X-Content-Type-Options Header Missing",
        "risk": "Low",
        "confidence": "Medium",
        "cweid": "693",
        "url": "http://127.0.0.1:9112/",
        "method": "GET",
        "param": "x-content-type-options",
        "attack": "",
        "evidence": "",
    },
    {
        "id": "5",
        "pluginId": "10109",
        "alert": "Modern Web Application",
        "risk": "Informational",
        "confidence": "Low",
        "cweid": "-1",
        "url": "http://127.0.0.1:9112/",
        "method": "GET",
        "param": "",
        "attack": "",
        "evidence": "<script src=app.js>",
    },
    {
        "id": "6",
        "pluginId": "10202",
        "alert": "Absence of Anti-CSRF Tokens",
        "risk": "Medium",
        "confidence": "False Positive",  # a person marked it so in ZAP: not a finding
        "cweid": "352",
        "url": "http://127.0.0.1:9112/",
        "method": "GET",
        "param": "",
    },
]


class FakeZap:
    """The daemon's state: counters that move as the client polls, and every call made."""

    def __init__(self, key: str, *, hang: str = "", fail: str = "") -> None:
        self.key = key
        self.hang = hang  # "spider" | "ascan": that scan never gets past 40%
        self.fail = fail  # an API path answered with an error
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.spider = 0
        self.ascan = 0
        self.ajax_polls = 0
        self.records = 3

    def answer(self, path: str, params: dict[str, str], key: str | None) -> tuple[int, Any]:
        with self.lock:
            self.calls.append((path, params))
            if key != self.key:
                return 400, {"code": "bad_api_key", "message": "Bad API Key"}
            if path == self.fail:
                return 400, {"code": "url_not_found", "message": "URL Not Found in the Scan Tree"}
            if path == "core/view/version":
                return 200, {"version": "2.15.0"}
            if path == "core/action/accessUrl":
                return 200, {"accessUrl": [{"requestHeader": "GET / HTTP/1.1"}]}
            if path == "spider/action/scan":
                return 200, {"scan": "3"}
            if path == "spider/view/status":
                self.spider = min(40 if self.hang == "spider" else 100, self.spider + 25)
                return 200, {"status": str(self.spider)}
            if path == "ajaxSpider/action/scan":
                return 200, {"Result": "OK"}
            if path == "ajaxSpider/view/status":
                self.ajax_polls += 1
                return 200, {"status": "running" if self.ajax_polls <= 2 else "stopped"}
            if path == "pscan/view/recordsToScan":
                left, self.records = self.records, max(0, self.records - 1)
                return 200, {"recordsToScan": str(left)}
            if path == "ascan/action/scan":
                return 200, {"scan": "7"}
            if path == "ascan/view/status":
                self.ascan = min(40 if self.hang == "ascan" else 100, self.ascan + 20)
                return 200, {"status": str(self.ascan)}
            if path == "core/view/alerts":
                start, count = int(params.get("start", 0)), int(params.get("count", 0) or 10**6)
                return 200, {"alerts": ALERTS[start : start + count]}
            if path in ("spider/action/stop", "ascan/action/stop", "ajaxSpider/action/stop"):
                return 200, {"Result": "OK"}
            return 400, {"code": "bad_view", "message": f"no such API call: {path}"}

    def called(self, path: str) -> list[dict[str, str]]:
        return [params for p, params in self.calls if p == path]

    def paths(self) -> list[str]:
        return [p for p, _ in self.calls]


def _handler(fake: FakeZap) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)  # as an HTTP proxy, the daemon sees absolute URLs
            if url.netloc != "zap" or not url.path.startswith("/JSON/"):
                self.send_error(502, "the fake only answers API calls")
                return
            path = url.path.removeprefix("/JSON/").rstrip("/")
            status, body = fake.answer(
                path, dict(parse_qsl(url.query)), self.headers.get("X-ZAP-API-Key")
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def zap_daemon(request: pytest.FixtureRequest) -> Iterator[tuple[str, FakeZap]]:
    options = getattr(request, "param", {})
    fake = FakeZap(KEY, **options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", fake
    server.shutdown()
    server.server_close()


def _target(tmp_path: Path) -> UrlTarget:
    return UrlTarget(url=TARGET, part="backend", app_dir=tmp_path)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.seen: dict[str, asyncio.Event] = {}

    async def __call__(self, phase: str, pct: int) -> None:
        self.events.append((phase, pct))
        if pct > 0:
            self.seen.setdefault(phase, asyncio.Event()).set()

    async def wait(self, phase: str) -> None:
        event = self.seen.setdefault(phase, asyncio.Event())
        await asyncio.wait_for(event.wait(), 10)


def _tool(url: str, key: str = KEY) -> ZapTool:
    return ZapTool(url=url, api_key=key, poll_s=0.01, ajax_max_s=30)


async def test_phases_progress_in_order_and_alerts_become_findings(
    zap_daemon: tuple[str, FakeZap], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, fake = zap_daemon
    monkeypatch.setattr(zap_module, "ALERTS_PAGE", 2)  # the alerts come in pages
    progress = Recorder()
    run = await _tool(url).run(_target(tmp_path), timeout_s=30, progress=progress)

    assert run.status is ToolStatus.FINDINGS, run.error
    assert run.version == "2.15.0"
    # the phases follow one another, each only goes up, and each reaches 100
    order = list(dict.fromkeys(phase for phase, _ in progress.events))
    assert order == ["spider", "ajax", "passive", "active"]
    for phase in order:
        values = [pct for p, pct in progress.events if p == phase]
        assert values == sorted(values), (phase, values)
        assert values[-1] == 100
    # the calls a scan makes, in this order (polls repeated in between)
    firsts = list(dict.fromkeys(fake.paths()))
    assert firsts == [
        "core/view/version",
        "core/action/accessUrl",
        "spider/action/scan",
        "spider/view/status",
        "ajaxSpider/action/scan",
        "ajaxSpider/view/status",
        "pscan/view/recordsToScan",
        "ascan/action/scan",
        "ascan/view/status",
        "core/view/alerts",
    ]
    assert fake.called("spider/action/scan")[0]["url"] == TARGET
    assert fake.called("ascan/view/status")[0]["scanId"] == "7"
    assert {p["baseurl"] for p in fake.called("core/view/alerts")} == {TARGET}
    assert len(fake.called("core/view/alerts")) == 4  # pages of 2: 2, 2, 2, 0

    by_rule = {f.rule_id: f for f in run.findings}
    assert set(by_rule) == {"40018", "40012", "10020", "10021", "10109"}  # no false positive
    sqli = by_rule["40018"]
    assert sqli.tool == "zap"
    assert sqli.title == "SQL Injection - SQLite"
    assert sqli.severity is Severity.HIGH
    assert sqli.confidence == "Medium"
    assert sqli.cwe == 89
    assert sqli.target == "backend"
    assert sqli.location.url == "http://127.0.0.1:9112/api/search"  # the attack is not the place
    assert sqli.location.method == "GET"
    assert sqli.location.parameter == "q"
    assert sqli.location.evidence == "unrecognized token"
    assert "zz'" in sqli.description and "prepared statements" in sqli.description
    assert sqli.fingerprint
    assert by_rule["40012"].confidence == "High"  # ZAP's "Confirmed"
    assert by_rule["40012"].cwe == 79
    assert by_rule["10020"].severity is Severity.MEDIUM
    assert by_rule["10021"].severity is Severity.LOW
    info = by_rule["10109"]
    assert info.severity is Severity.INFO
    assert info.cwe is None  # ZAP's -1
    assert info.confidence == "Low"


@pytest.mark.parametrize("source", ["file", "environment"])
async def test_the_service_uses_the_daemon_its_settings_name(
    zap_daemon: tuple[str, FakeZap], tmp_path: Path, source: str
) -> None:
    """zap_url and zap_api_key from the settings file (or GENFLEET_ZAP_*), as scan-svc loads
    them, reach the ZAP engine of its toolbox."""
    url, fake = zap_daemon
    config = tmp_path / "genfleet.toml"
    if source == "file":
        config.write_text(f'zap_url = "{url}"\nzap_api_key = "{KEY}"\n')
        environ = {"GENFLEET_CONFIG": str(config), "GENFLEET_SECRET_KEY": "test-only"}
    else:
        config.write_text("")
        environ = {"GENFLEET_CONFIG": str(config), "GENFLEET_SECRET_KEY": "test-only",
                   "GENFLEET_ZAP_URL": url, "GENFLEET_ZAP_API_KEY": KEY}  # fmt: skip
    zap = Toolbox.default(load_settings(environ)).dast["zap"]
    assert isinstance(zap, ZapTool)
    zap.poll_s = 0.01
    run = await zap.run(_target(tmp_path), timeout_s=30, progress=Recorder())
    assert run.status is ToolStatus.FINDINGS, run.error
    assert "core/view/version" in fake.paths()


async def test_no_daemon_configured_is_unavailable(tmp_path: Path) -> None:
    settings = load_settings({"GENFLEET_CONFIG": "/dev/null", "GENFLEET_SECRET_KEY": "x"})
    zap = Toolbox.default(settings).dast["zap"]
    run = await zap.run(_target(tmp_path), timeout_s=5, progress=Recorder())
    assert run.status is ToolStatus.UNAVAILABLE
    assert run.error == NOT_CONFIGURED
    assert not run.findings


async def test_a_wrong_api_key_is_refused_with_a_clear_reason(
    zap_daemon: tuple[str, FakeZap], tmp_path: Path
) -> None:
    url, fake = zap_daemon
    run = await _tool(url, key="wrong").run(_target(tmp_path), timeout_s=10, progress=Recorder())
    assert run.status is ToolStatus.UNAVAILABLE
    assert "refused the API key" in run.error and "zap_api_key" in run.error
    assert "wrong" not in run.error  # never echo a key
    assert fake.paths() == ["core/view/version"]  # nothing was started


async def test_an_unreachable_daemon_is_unavailable(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = await _tool(f"http://127.0.0.1:{port}").run(
        _target(tmp_path), timeout_s=10, progress=Recorder()
    )
    assert run.status is ToolStatus.UNAVAILABLE
    assert "unreachable" in run.error and str(port) in run.error


@pytest.mark.parametrize("zap_daemon", [{"fail": "ascan/action/scan"}], indirect=True)
async def test_an_api_error_mid_scan_fails_with_it(
    zap_daemon: tuple[str, FakeZap], tmp_path: Path
) -> None:
    url, fake = zap_daemon
    run = await _tool(url).run(_target(tmp_path), timeout_s=10, progress=Recorder())
    assert run.status is ToolStatus.FAILED
    assert "url_not_found" in run.error
    assert not fake.called("core/view/alerts")


@pytest.mark.parametrize(
    ("zap_daemon", "phase", "stop", "scan_id"),
    [
        ({"hang": "spider"}, "spider", "spider/action/stop", "3"),
        ({"hang": "ascan"}, "active", "ascan/action/stop", "7"),
    ],
    indirect=["zap_daemon"],
)
async def test_cancelling_stops_zaps_scans(
    zap_daemon: tuple[str, FakeZap], tmp_path: Path, phase: str, stop: str, scan_id: str
) -> None:
    url, fake = zap_daemon
    progress = Recorder()
    task = asyncio.create_task(_tool(url).run(_target(tmp_path), timeout_s=60, progress=progress))
    await progress.wait(phase)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [p["scanId"] for p in fake.called(stop)] == [scan_id]
    assert not fake.called("core/view/alerts")


@pytest.mark.parametrize("zap_daemon", [{"hang": "ascan"}], indirect=True)
async def test_a_timeout_fails_and_stops_the_active_scan(
    zap_daemon: tuple[str, FakeZap], tmp_path: Path
) -> None:
    url, fake = zap_daemon
    run = await _tool(url).run(_target(tmp_path), timeout_s=1.0, progress=Recorder())
    assert run.status is ToolStatus.FAILED
    assert "timed out" in run.error
    assert [p["scanId"] for p in fake.called("ascan/action/stop")] == ["7"]
    assert 0.9 < run.duration_s < 5
