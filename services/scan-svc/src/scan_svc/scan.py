"""One scan: the chosen analyzers over an app's source and its running URLs, with live status.

The app's images are asked of container-svc first: their base images go into the status (a
substitute base image is named in every scan of the app), and the dependency audits audit
the packages the images installed. Static tools run first, one after another (a worker is
one job at a time, so workers scale across cores); then the DAST engines, whose phases
(spider, ajax, passive, active) move the phase between spidering and scanning. Every tool run
ends as a ToolRun; a DAST finding carries the source lines most likely responsible
(scan_svc.blame); the findings are merged across tools (scan_svc.findings.deduplicate). How
the scan ends (COMPLETE, STOPPED, ERROR) is the job lifecycle's to record (genfleet_common.jobs).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.images import base_images, unchecked
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    AppImages,
    AppSpec,
    PhaseProgress,
    RiskCounts,
    ScanJob,
    ScanPhase,
    ScanReport,
    ScanStatus,
    ToolRun,
    ToolStatus,
)
from genfleet_common.metrics import TOOL_RUNS
from scan_svc.blame import with_sources
from scan_svc.findings import counts, deduplicate
from scan_svc.targets import source_targets, url_targets
from scan_svc.toolbox import Toolbox
from scan_svc.tools.base import UrlTarget

log = get_logger("scan.engine")

Publish = Callable[[ScanStatus], Awaitable[None]]
IsRunning = Callable[[AppSpec, str], Awaitable[str]]  # "" when running, else why not
# The app's images (with their installed packages when asked): container-svc's answer
AskImages = Callable[[AppSpec, bool], Awaitable[AppImages]]
DAST_PHASES = ("spider", "ajax", "passive", "active")


@dataclass
class Scan:
    job: ScanJob
    status: ScanStatus
    fleet: Fleet
    toolbox: Toolbox
    publish: Publish
    is_running: IsRunning
    images: AskImages
    tool_timeout_s: float
    runs: list[ToolRun] = field(default_factory=list, init=False)
    # a tool's result so far, over its targets
    _results: dict[str, ToolStatus] = field(default_factory=dict, init=False)
    _steps_total: int = field(default=1, init=False)
    _steps_done: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.app = self.fleet.app(self.job.model, self.job.app)

    async def _set(self, **changes: object) -> None:
        for name, value in changes.items():
            setattr(self.status, name, value)
        await self.publish(self.status)

    def _record(self, run: ToolRun) -> None:
        self.runs.append(run)
        TOOL_RUNS.labels(run.tool, run.status.value).inc()
        # a tool that ran on both parts: findings win, then could-not-check, then clean
        rank = [
            ToolStatus.FINDINGS,
            ToolStatus.FAILED,
            ToolStatus.UNAVAILABLE,
            ToolStatus.NO_FINDINGS,
        ]
        previous = self._results.get(run.tool)
        merged = run.status if previous is None else min(previous, run.status, key=rank.index)
        self._results[run.tool] = merged
        self.status.tool_status[run.tool] = merged
        if run.tool in self.status.tools_running:
            self.status.tools_running.remove(run.tool)
        self.status.counts = RiskCounts(**counts(f for r in self.runs for f in r.findings))
        self._steps_done = float(len(self.runs))

    @property
    def _progress(self) -> int:
        return min(99, int(100 * self._steps_done / max(self._steps_total, 1)))

    async def run(self) -> ScanReport:
        static = [n for n in self.job.tools if n in self.toolbox.static]
        dast = [n for n in self.job.tools if n in self.toolbox.dast]
        images, why = await self._images(any(self.toolbox.static[n].reads_image for n in static))
        sources = source_targets(self.app, images, why)
        urls = url_targets(self.app, self.job.urls) if dast else []
        plan = [
            (name, target)
            for name in static
            for target in sources
            if self.toolbox.static[name].applies(target)
        ]
        self._steps_total = len(plan) + len(dast) * len(urls)
        self.status.tool_status, self.status.tools_running = {}, []
        await self._set(
            phase=ScanPhase.SCANNING, progress=0, started_at=self.status.started_at or time.time()
        )

        for name, target in plan:
            self._running(name)
            await self._set(progress=self._progress)
            run = await self.toolbox.static[name].run(target, timeout_s=self.tool_timeout_s)
            self._record(run)
            await self._set(progress=self._progress)
        for name in static:
            if not any(n == name for n, _ in plan):  # nothing of the app for this tool to read
                self._record(
                    ToolRun(
                        tool=name,
                        status=ToolStatus.UNAVAILABLE,
                        error="nothing to analyze in this app for this tool",
                    )
                )

        for name in dast:
            if not urls:
                self._record(
                    ToolRun(
                        tool=name,
                        status=ToolStatus.UNAVAILABLE,
                        error=f"{self.app.key} publishes no port to scan",
                    )
                )
                continue
            for url in urls:
                await self._dast(name, url)

        findings = deduplicate(f for r in self.runs for f in r.findings)
        # not published: the job lifecycle stores the report first, then the final state
        self.status.progress = 100
        self.status.counts = RiskCounts(**counts(findings))
        return ScanReport(status=self.status, runs=self.runs, findings=findings)

    async def _images(self, packages: bool) -> tuple[AppImages | None, str]:
        """The app's images (what the dependency audits audit, with `packages`) and its base
        images into the status; when container-svc cannot tell, None and why."""
        try:
            images = await self.images(self.app, packages)
        except GenFleetError as exc:
            why = f"container-svc could not tell: {exc.message}"
            self.status.base_images = unchecked(why)
            return None, why
        self.status.base_images = base_images(images)
        return images, ""

    def _running(self, tool: str) -> None:
        if tool not in self.status.tools_running:
            self.status.tools_running.append(tool)

    async def _dast(self, name: str, target: UrlTarget) -> None:
        why_not = await self.is_running(self.app, target.part)
        if why_not:
            self._record(
                ToolRun(tool=name, target=target.url, status=ToolStatus.UNAVAILABLE, error=why_not)
            )
            return
        self._running(name)
        self.status.phases = PhaseProgress()

        async def progress(phase: str, pct: int) -> None:
            if phase in DAST_PHASES:
                setattr(self.status.phases, phase, max(0, min(100, pct)))
                ph = self.status.phases
                self._steps_done = len(self.runs) + (ph.spider + ph.passive + ph.active) / 300
            now = ScanPhase.SPIDERING if phase in ("spider", "ajax") else ScanPhase.SCANNING
            await self._set(phase=now, progress=self._progress)

        await self._set(phase=ScanPhase.SPIDERING)
        run = await self.toolbox.dast[name].run(
            target, timeout_s=self.tool_timeout_s, progress=progress
        )
        # traced while the app's folder is at hand: the report, the merge with static
        # findings and every client read them from the finding
        await asyncio.to_thread(with_sources, run.findings, target.app_dir)
        self._record(run)
        await self._set(phase=ScanPhase.SCANNING, progress=self._progress)
