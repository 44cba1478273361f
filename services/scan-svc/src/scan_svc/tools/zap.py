"""OWASP ZAP, driven through its API with the `zaproxy` client, against a daemon given by the
settings (`zap_url`, `zap_api_key`; GENFLEET_ZAP_URL, GENFLEET_ZAP_API_KEY). The key is only
ever sent to the daemon, in the X-ZAP-API-Key header; never a key in the code.

A scan of one URL: access it, spider it (phase "spider"), AJAX-spider it ("ajax"), wait until
the passive scanner's queue is empty ("passive"), active-scan it ("active"), then read the
alerts under the URL. A timeout or a stopped scan stops ZAP's spider, AJAX spider and active
scan before the run ends. The client is synchronous (requests): every call runs in a thread.

ZAP's AJAX spider and passive-scan queue are one per daemon, so runs on one ZapTool take turns;
give each worker its own daemon to scan in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from zapv2 import ZAPv2  # type: ignore[import-untyped]

from genfleet_common.messages import Finding, Location, Severity, ToolRun, ToolStatus
from scan_svc.findings import deduplicate, with_fingerprints
from scan_svc.tools.base import Progress, UrlTarget

NOT_CONFIGURED = "no ZAP daemon configured (settings zap_url, zap_api_key)"
RISKS = {
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "informational": Severity.INFO,
    "info": Severity.INFO,
}
CONFIDENCES = {"confirmed": "High", "high": "High", "medium": "Medium", "low": "Low"}
ALERTS_PAGE = 500
T = TypeVar("T")


class ZapError(Exception):
    """The daemon answered an API call with an error."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"ZAP API error {status}: {text[:500]}")
        self.status = status
        self.text = text

    @property
    def bad_key(self) -> bool:
        return "bad_api_key" in self.text or self.status in (401, 403)


class _Client(ZAPv2):  # type: ignore[misc]  # zapv2 ships no type hints
    """The zaproxy client with what its requests lack: a timeout on every call, errors as
    ZapError, and no environment proxy settings in the way between us and the daemon."""

    def __init__(self, url: str, api_key: str, request_timeout_s: float) -> None:
        proxies = {"http": url, "https": url}
        super().__init__(proxies=proxies, apikey=api_key or None)
        self._proxies = proxies
        self._key = api_key
        self._timeout = request_timeout_s

    def _request_api(
        self, url: str, query: Any = None, method: str = "GET", body: Any = None
    ) -> requests.Response:
        if not url.startswith("http://zap/"):
            raise ValueError(f"not a ZAP API URL: {url}")  # the key goes nowhere else
        with requests.Session() as session:
            session.trust_env = False
            if self._key:
                session.headers["X-ZAP-API-Key"] = self._key
            response = session.request(
                method,
                url,
                params=query,
                data=body,
                proxies=self._proxies,
                timeout=self._timeout,
            )
        if response.status_code >= 300:
            raise ZapError(response.status_code, response.text)
        return response


@dataclass
class _Started:
    """What this run started in ZAP, to stop it when the run ends early."""

    spider: str | None = None
    ajax: bool = False
    ascan: str | None = None


@dataclass(kw_only=True)
class ZapTool:
    name: str = field(default="zap", init=False)

    url: str = ""
    api_key: str = field(default="", repr=False)  # a secret: never in a repr or a log
    poll_s: float = 2.0
    request_timeout_s: float = 30.0
    ajax_spider: bool = True
    ajax_max_s: float = 120.0
    _lock: asyncio.Lock | None = field(default=None, init=False, repr=False)

    async def version(self) -> str:
        url = self.url.strip().rstrip("/")
        if not url:
            return ""
        client = _Client(url, self.api_key.strip(), self.request_timeout_s)
        try:
            return str(await asyncio.to_thread(lambda: client.core.version))
        except Exception:  # unreachable or refused: the version is unknown, the scan will say why
            return ""

    async def run(self, target: UrlTarget, *, timeout_s: float, progress: Progress) -> ToolRun:
        url, key = self.url.strip().rstrip("/"), self.api_key.strip()
        run = ToolRun(tool=self.name, target=target.url, status=ToolStatus.UNAVAILABLE)
        if not url:
            run.error = NOT_CONFIGURED
            return run
        client = _Client(url, key, self.request_timeout_s)
        started_at = time.monotonic()
        try:
            run.version = str(await asyncio.to_thread(lambda: client.core.version))
        except ZapError as exc:
            run.error = (
                f"the ZAP daemon at {url} refused the API key (setting zap_api_key): {exc}"
                if exc.bad_key
                else f"the ZAP daemon at {url} answered with an error: {exc}"
            )
            return run
        except (requests.RequestException, ValueError) as exc:
            run.error = f"the ZAP daemon at {url} is unreachable: {type(exc).__name__}: {exc}"
            return run

        if self._lock is None:
            self._lock = asyncio.Lock()
        started = _Started()
        try:
            async with self._lock, asyncio.timeout(timeout_s):  # a turn's wait counts too
                alerts = await self._scan(client, target.url, progress, started)
        except TimeoutError:
            await self._stop(client, started)
            run.status = ToolStatus.FAILED
            run.error = f"ZAP scan timed out after {timeout_s:.0f} s (its scans were stopped)"
            run.duration_s = round(time.monotonic() - started_at, 3)
            return run
        except Exception as exc:  # the daemon broke or went away mid-scan
            await self._stop(client, started)
            run.status = ToolStatus.FAILED
            run.error = f"ZAP scan failed: {type(exc).__name__}: {exc}"
            run.duration_s = round(time.monotonic() - started_at, 3)
            return run
        except BaseException:  # cancelled: a stopped scan must stop ZAP's scans too
            await self._stop(client, started)
            raise
        run.findings = alerts_to_findings(alerts, target)
        run.status = ToolStatus.FINDINGS if run.findings else ToolStatus.NO_FINDINGS
        run.duration_s = round(time.monotonic() - started_at, 3)
        return run

    async def _scan(
        self, client: _Client, url: str, progress: Progress, started: _Started
    ) -> list[dict[str, Any]]:
        call = _call
        await call(lambda: client.core.access_url(url=url, followredirects="true"))

        # spider
        await progress("spider", 0)
        started.spider = str(
            await call(lambda: client.spider.scan(url=url, recurse="true", subtreeonly="true"))
        )
        spider_id = started.spider
        await self._poll_percent(
            progress, "spider", lambda: call(lambda: client.spider.status(spider_id))
        )
        started.spider = None

        # AJAX spider: ZAP reports "running"/"stopped", no percentage: time stands in for it
        await progress("ajax", 0)
        if self.ajax_spider:
            await call(lambda: client.ajaxSpider.scan(url=url, subtreeonly="true"))
            started.ajax = True
            begun = time.monotonic()
            while True:
                state = str(await call(lambda: client.ajaxSpider.status)).lower()
                if state != "running":
                    break
                elapsed = time.monotonic() - begun
                if elapsed >= self.ajax_max_s:
                    await call(lambda: client.ajaxSpider.stop())
                    break
                await progress("ajax", min(95, int(100 * elapsed / self.ajax_max_s)))
                await asyncio.sleep(self.poll_s)
            started.ajax = False
        await progress("ajax", 100)

        # passive scan: wait for its queue to empty
        await progress("passive", 0)
        first: int | None = None
        while True:
            left = int(await call(lambda: client.pscan.records_to_scan))
            if left <= 0:
                break
            first = max(first or 0, left)
            await progress("passive", min(99, int(100 * (first - left) / first)))
            await asyncio.sleep(self.poll_s)
        await progress("passive", 100)

        # active scan
        await progress("active", 0)
        started.ascan = str(await call(lambda: client.ascan.scan(url=url, recurse="true")))
        ascan_id = started.ascan
        await self._poll_percent(
            progress, "active", lambda: call(lambda: client.ascan.status(ascan_id))
        )
        started.ascan = None

        alerts: list[dict[str, Any]] = []
        while True:
            page = await call(
                partial(client.core.alerts, baseurl=url, start=len(alerts), count=ALERTS_PAGE)
            )
            alerts.extend(a for a in page if isinstance(a, dict))
            if len(page) < ALERTS_PAGE:
                return alerts

    async def _poll_percent(
        self, progress: Progress, phase: str, status: Callable[[], Any]
    ) -> None:
        while True:
            pct = _percent(await status())
            await progress(phase, min(pct, 100))
            if pct >= 100:
                return
            await asyncio.sleep(self.poll_s)

    async def _stop(self, client: _Client, started: _Started) -> None:
        """Best effort, bounded: stop what this run left running in ZAP."""
        actions: list[Callable[[], Any]] = []
        if started.ascan is not None:
            ascan_id = started.ascan
            actions.append(lambda: client.ascan.stop(ascan_id))
        if started.ajax:
            actions.append(lambda: client.ajaxSpider.stop())
        if started.spider is not None:
            spider_id = started.spider
            actions.append(lambda: client.spider.stop(spider_id))
        for action in actions:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(min(self.request_timeout_s, 10.0)):
                    await asyncio.to_thread(action)


async def _call(fn: Callable[[], T]) -> T:
    """One client call, in a thread (the client blocks)."""

    def guarded() -> T:
        try:
            return fn()
        except StopIteration as exc:  # the client's next() on an empty answer
            raise ZapError(200, "an empty answer") from exc

    return await asyncio.to_thread(guarded)


def _percent(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise ZapError(200, f"unexpected status {value!r}") from exc


def alerts_to_findings(alerts: list[dict[str, Any]], target: UrlTarget) -> list[Finding]:
    findings: list[Finding] = []
    for alert in alerts:
        confidence = str(alert.get("confidence", "")).strip().lower()
        if confidence == "false positive":
            continue  # marked so in ZAP by a person
        findings.append(_finding(alert, target, CONFIDENCES.get(confidence, "")))
    return deduplicate(with_fingerprints(findings))


def _finding(alert: dict[str, Any], target: UrlTarget, confidence: str) -> Finding:
    try:
        cwe: int | None = int(str(alert.get("cweid", "")).strip())
    except ValueError:
        cwe = None
    if cwe is not None and cwe <= 0:
        cwe = None
    raw_url = str(alert.get("url", "") or target.url)
    parts = urlsplit(raw_url)
    attack = str(alert.get("attack", "") or "")
    evidence = str(alert.get("evidence", "") or "") or attack
    description = str(alert.get("description", "") or "").strip()
    if attack:
        description += f"\n\nAttack: {attack}"
    if alert.get("solution"):
        description += f"\n\nFix: {str(alert['solution']).strip()}"
    return Finding(
        tool="zap",
        rule_id=str(alert.get("pluginId", "") or alert.get("alertRef", "")),
        title=str(alert.get("alert", "") or alert.get("name", "")),
        severity=RISKS.get(str(alert.get("risk", "")).strip().lower(), Severity.INFO),
        confidence=confidence,
        cwe=cwe,
        location=Location(
            url=urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")),
            method=str(alert.get("method", "") or "").upper(),
            parameter=str(alert.get("param", "") or ""),
            evidence=evidence[:2000],
        ),
        target=target.part,
        description=description.strip(),
    )
