"""scan-svc's contract: scan requests, status, findings, reports and events."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from genfleet_common.messages.base import AppNumber, Message, ModelName, _now
from genfleet_common.messages.images import BaseImages, Package
from genfleet_common.messages.jobs import JobId, JobStatus, KindMessages, NewJobId
from genfleet_common.messages.triage import AppliedMark, FindingSuggestion
from genfleet_common.objects import ReportFormat


# --- security scans (scan-svc) ------------------------------------------------------------
class Severity(StrEnum):
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"
    INFO = "Info"


class ToolStatus(StrEnum):
    """How one tool run ended. "Could not check" is never shown as "clean"."""

    FINDINGS = "findings"
    NO_FINDINGS = "no_findings"
    FAILED = "failed"  # the tool ran and broke: `error` says how
    UNAVAILABLE = "unavailable"  # the tool or its database is missing: `error` says which


class Location(Struct, kw_only=True):
    # source findings: a path relative to the app folder (e.g. "backend/app.py")
    file: str = ""
    line: int | None = None
    end_line: int | None = None
    snippet: str = ""
    # dynamic findings
    url: str = ""
    method: str = ""
    parameter: str = ""
    evidence: str = ""


class SourceLocation(Struct, kw_only=True):
    """A source line most likely responsible for a dynamic (DAST) finding, as scan-svc traced
    it from the finding's URL, method and parameter through the app's code."""

    file: str  # relative to the app folder, e.g. "backend/app.py"
    line: int
    code: str = ""  # the line, stripped
    why: str = ""  # e.g. "sink: runs SQL with q; SQL built from q"


class Finding(Struct, kw_only=True):
    # the tool whose report gives the finding its place (for a corroborated finding: a static
    # tool's, whose file and line are the location); `tools` lists every tool that agrees
    tool: str
    rule_id: str
    title: str
    severity: Severity
    confidence: str = ""  # High, Medium, Low, or "" when the tool does not say
    cwe: int | None = None
    location: Location
    target: str = ""  # backend | frontend (the part of the app it is in)
    description: str = ""
    # Stable across runs and shared by tools that report the same weakness at the same place:
    # see scan_svc.findings.fingerprint.
    fingerprint: str = ""
    # dynamic findings: the source lines most likely responsible, most likely first
    sources: list[SourceLocation] = msgspec.field(default_factory=list)
    # corroboration: every tool that reported this finding (static and dynamic), `tool` first
    # (empty in reports made before corroboration: then `tool` alone)
    tools: list[str] = msgspec.field(default_factory=list)
    # filled when a report is read (never stored): the triage mark that stands for it, and
    # the LLM's latest suggestion (a proposal only)
    triage: AppliedMark | None = None
    suggestion: FindingSuggestion | None = None


class AuditedPackages(Struct, kw_only=True):
    """What a dependency audit (pip-audit, npm-audit) audited, or would have audited when it
    could not: the packages installed in the app's built image, else its declared files."""

    source: str  # "image <id>" | "declared files"
    image: str = ""  # the image's reference, when from an image
    image_id: str = ""
    why: str = ""  # declared files: why not the image (e.g. "the app is not built yet")
    # image: name and installed version; declared files: name and specifier as written
    packages: list[Package] = msgspec.field(default_factory=list)


class ToolRun(Struct, kw_only=True):
    tool: str
    target: str = ""  # backend | frontend | a URL for DAST
    status: ToolStatus
    version: str = ""
    duration_s: float = 0.0
    findings: list[Finding] = msgspec.field(default_factory=list)
    error: str = ""  # why failed / unavailable, with the tool's own output (tail)
    audited: AuditedPackages | None = None  # dependency audits: what they audited


class PhaseProgress(Struct, kw_only=True):
    """Progress of each DAST phase, 0..100 (0 where no DAST engine runs that phase)."""

    spider: int = 0
    ajax: int = 0
    passive: int = 0
    active: int = 0


class RiskCounts(Struct, kw_only=True):
    high: int = 0
    medium: int = 0
    low: int = 0
    info: int = 0


class ScanPhase(StrEnum):
    NONE = ""  # not running
    SPIDERING = "spidering"  # DAST: exploring the app
    SCANNING = "scanning"  # analyzers running


class ScanStatus(JobStatus, kw_only=True):
    scan_id: str
    tools: list[str]
    phase: ScanPhase = ScanPhase.NONE
    progress: int = 0  # overall, 0..100
    phases: PhaseProgress = msgspec.field(default_factory=PhaseProgress)
    counts: RiskCounts = msgspec.field(default_factory=RiskCounts)
    tool_status: dict[str, ToolStatus] = msgspec.field(default_factory=dict)  # tools that ended
    tools_running: list[str] = msgspec.field(default_factory=list)  # the rest wait their turn
    urls: list[str] = msgspec.field(default_factory=list)
    # the app's base images when it was scanned (None: not looked at yet, or an older scan)
    base_images: BaseImages | None = None

    @property
    def job_id(self) -> str:
        return self.scan_id


class ScanRequest(Message, kw_only=True):
    """Version 2: dependency audits audit the packages installed in the app's built image
    (each run's `audited` says what); version 1 audited the declared files only."""

    v: int = 2
    model: ModelName
    app: AppNumber
    tools: list[str] | None = None  # None: every analyzer that can run
    urls: list[str] | None = None  # DAST targets: a subset of the app's own URLs; None: all
    scan_id: NewJobId = ""


class ScanHistory(Message, kw_only=True):
    scans: list[ScanStatus]


class ScanBatchRequest(Message, kw_only=True):
    model: ModelName | None = None  # None: the whole fleet
    tools: list[str] | None = None


class ScanBatchReply(Message, kw_only=True):
    scans: list[ScanStatus]  # one per app, queued
    refused: dict[str, str] = msgspec.field(default_factory=dict)  # "Model/appN" -> why


class ToolList(Message, kw_only=True):
    """The analyzers scan-svc offers. Version 2: with their versions and the rule packs' hash,
    what a campaign's manifest records."""

    v: int = 2
    static: list[str]  # run on the app's source
    dast: list[str]  # run against the running app's URLs
    versions: dict[str, str] = msgspec.field(default_factory=dict)  # "" : not installed / unknown
    rules_hash: str = ""  # sha256 of GenFleet's own rule packs (semgrep rules)


class ScanLatest(Message, kw_only=True):
    scans: dict[str, ScanStatus]  # "Model/appN" -> its newest scan (apps never scanned: absent)


class ScanJob(Message, kw_only=True):
    """What a worker pulls from the work queue (the status lives in KV)."""

    scan_id: str
    model: str
    app: int
    tools: list[str]
    urls: list[str]

    @property
    def job_id(self) -> str:
        return self.scan_id


class ScanReport(Message, kw_only=True):
    status: ScanStatus
    runs: list[ToolRun]
    findings: list[Finding]  # merged across tools: each with every tool that reported it
    # filled when a report is read with the marks of that moment: the counts without false
    # positives and unexpired accepted risks (status.counts are the raw ones); None: raw only
    triaged: RiskCounts | None = None


class ScanDiffRequest(Message, kw_only=True):
    """Scan `b` against scan `a` (an earlier one, usually of the same app)."""

    a: JobId
    b: JobId
    sarif: bool = False  # also the diff as SARIF 2.1.0 (results with `baselineState`)


class DiffState(StrEnum):
    """A finding of a scan diff, by fingerprint (SARIF's `baselineState` values)."""

    NEW = "new"  # in b, not in a
    UNCHANGED = "unchanged"  # in both, same severity
    UPDATED = "updated"  # in both, another severity
    ABSENT = "absent"  # in a, not in b: fixed


class ScanDiff(Message, kw_only=True):
    """Scan b against scan a, findings matched by fingerprint. The fingerprint leaves the app
    out (the weakness, the part, the file and its code, or the URL path and parameter), so two
    apps' scans can be compared too: `same_app` says whether they were."""

    a: ScanStatus
    b: ScanStatus
    same_app: bool
    new: list[Finding] = msgspec.field(default_factory=list)
    fixed: list[Finding] = msgspec.field(default_factory=list)  # a's findings absent from b
    unchanged: list[Finding] = msgspec.field(default_factory=list)  # b's, same severity as in a
    updated: list[Finding] = msgspec.field(default_factory=list)  # b's, severity changed
    # a's findings absent from b whose tools did not check in b (not run, failed, unavailable):
    # not "fixed", since nothing looked
    unchecked: list[Finding] = msgspec.field(default_factory=list)
    sarif: dict[str, Any] | None = None  # when asked: SARIF 2.1.0, each result's baselineState


class SeenFinding(Message, kw_only=True):
    """A fingerprint's finding as the newest scan of an app reported it: what a mark must
    name (an unknown fingerprint is refused) and what the LLM reads for a suggestion."""

    model: str
    app: int
    scan_id: str
    at: float
    finding: Finding


# --- reports read with the marks applied ------------------------------------------------------
class ScanReportRequest(Message, kw_only=True):
    scan_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,64}$")]
    format: ReportFormat = ReportFormat.JSON


class ScanReportRef(Message, kw_only=True):
    """Where scan-svc put the report rendered with today's marks (REPORTS_BUCKET)."""

    scan_id: str
    format: str
    object_name: str
    content_type: str
    size: int
    raw: RiskCounts  # every finding
    triaged: RiskCounts  # without false positives and unexpired accepted risks


class ScanEvent(Message, tag="scan", tag_field="kind", kw_only=True):
    status: ScanStatus
    ts: float = msgspec.field(default_factory=_now)


SCAN_MESSAGES = KindMessages(event=ScanEvent, history=ScanHistory, latest=ScanLatest)
