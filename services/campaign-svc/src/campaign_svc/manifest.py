"""A campaign's manifest, frozen when it starts: each app's content hash and size, the steps
with their settings resolved (tools named, defaults filled), the analyzers' versions and the
rule packs' hash, the judging model and prompt version, GenFleet's version.

Also each step's fingerprint: what its result depends on. Two campaigns whose fingerprints
match for an app x step would compute the same thing, so the later one may reuse the result.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import os
import time
from pathlib import Path

import msgspec

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.choice import choose
from genfleet_common.errors import InvalidInput, ServiceUnavailable
from genfleet_common.messages import (
    AnalysisRequest,
    AppManifest,
    AppSpec,
    BatchRequest,
    CampaignOptions,
    Empty,
    JudgeManifest,
    LlmList,
    Manifest,
    PerfRequest,
    ScanRequest,
    SpecTestRequest,
    Step,
    ToolList,
)

# Not the app's own work: installed dependencies, caches, build output, VCS data
SKIP_DIRS = frozenset(
    {".git", "node_modules", "__pycache__", ".venv", "venv", ".pytest_cache", "dist", "build",
     ".next", ".cache", ".mypy_cache"}
)  # fmt: skip
SOURCE_SUFFIXES = frozenset(
    {".py", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".vue", ".svelte", ".html", ".css",
     ".sql", ".sh"}
)  # fmt: skip
REQUEST_TIMEOUT_S = 30.0


def genfleet_version() -> str:
    return importlib.metadata.version("genfleet-common")


def app_manifest(app: AppSpec) -> AppManifest:
    """sha256 over the app's files (relative path and bytes, in a fixed order) and its lines of
    source code (non-blank lines of the files whose suffix is a source language's)."""
    root = Path(app.path)
    digest, files, lines = hashlib.sha256(), 0, 0
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                continue  # a link may point anywhere: its target is not the app's content
            data = path.read_bytes()
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(data).digest())
            files += 1
            if path.suffix.lower() in SOURCE_SUFFIXES:
                lines += sum(1 for line in data.splitlines() if line.strip())
    return AppManifest(
        model=app.model, app=app.number, content_hash=digest.hexdigest(), files=files,
        lines_of_code=lines,
    )  # fmt: skip


async def _tools(bus: Bus) -> ToolList:
    try:
        return await bus.request(subjects.SCAN_TOOLS, Empty(), ToolList, timeout=REQUEST_TIMEOUT_S)
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(
            "no scan-svc answers: a campaign with a scan or dast step needs one", detail=str(exc)
        ) from exc


async def _judge(bus: Bus, options: CampaignOptions) -> JudgeManifest:
    try:
        found = await bus.request(
            subjects.ANALYSIS_LLMS, Empty(), LlmList, timeout=REQUEST_TIMEOUT_S
        )
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(
            "no ai-svc answers: a campaign with an analysis step needs one", detail=str(exc)
        ) from exc
    wanted = options.analysis
    candidates = [
        llm for llm in found.llms
        if (wanted.backend is None or llm.backend == wanted.backend)
        and (wanted.llm is None or llm.name == wanted.llm)
    ]  # fmt: skip
    candidates.sort(key=lambda llm: not llm.default)  # the default first when none is named
    if not candidates:
        names = ", ".join(f"{x.backend.value}:{x.name}" for x in found.llms) or "none"
        raise InvalidInput(
            f"no such judging model {wanted.llm or '(default)'!r}: choose from {names}"
        )
    llm = candidates[0]
    return JudgeManifest(
        backend=llm.backend.value, llm=llm.name, llm_id=llm.llm_id,
        prompt_version=found.prompt_version,
    )  # fmt: skip


async def build_manifest(bus: Bus, apps: list[AppSpec], options: CampaignOptions) -> Manifest:
    """The manifest of a campaign over `apps`; InvalidInput for an unknown tool or judge,
    ServiceUnavailable when a service a step needs does not answer."""
    steps = [s for s in Step if s in options.steps]  # the fixed order, each once
    settings = msgspec.structs.replace(options, steps=steps)
    tools: dict[str, str] = {}
    rules = ""
    if Step.SCAN in steps or Step.DAST in steps:
        offered = await _tools(bus)
        rules = offered.rules_hash
        if Step.SCAN in steps:
            chosen = choose(options.scan.tools, offered.static, "scan tool")
            settings.scan = msgspec.structs.replace(options.scan, tools=chosen)
            tools |= {t: offered.versions.get(t, "") for t in chosen}
        if Step.DAST in steps:
            chosen = choose(options.dast.tools, offered.dast, "dast tool")
            settings.dast = msgspec.structs.replace(options.dast, tools=chosen)
            tools |= {t: offered.versions.get(t, "") for t in chosen}
    judge = await _judge(bus, options) if Step.ANALYSIS in steps else None
    app_entries = await asyncio.to_thread(lambda: [app_manifest(a) for a in apps])
    spectests = (
        await asyncio.to_thread(lambda: {str(a.number): spectests_hash(a) for a in apps})
        if Step.SPECTEST in steps
        else {}
    )
    return Manifest(
        genfleet_version=genfleet_version(), created_at=time.time(), steps=steps,
        settings=settings, apps=app_entries, tools=tools, rules_hash=rules, judge=judge,
        spectests=spectests,
    )  # fmt: skip


def spectests_hash(app: AppSpec) -> str:
    """sha256 over the fleet's spec test files of the app's spec (names and bytes): what a
    spectest result depends on besides the app (<fleet>/spectests/app<N>/, shared by every
    model's app N)."""
    folder = Path(app.path).parents[2] / "spectests" / f"app{app.number}"  # <fleet>/models/M/appN
    digest = hashlib.sha256()
    if folder.is_dir():
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


STEP_REQUESTS: dict[Step, type[msgspec.Struct]] = {
    Step.DEPLOY: BatchRequest,
    Step.SCAN: ScanRequest,
    Step.DAST: ScanRequest,
    Step.PERF: PerfRequest,
    Step.ANALYSIS: AnalysisRequest,
    Step.SPECTEST: SpecTestRequest,
}


def _version(message: type[msgspec.Struct]) -> object:
    (v,) = (f.default for f in msgspec.structs.fields(message) if f.name == "v")
    return v


def fingerprint(manifest: Manifest, app: AppManifest, step: Step) -> str:
    """What the result of `step` on `app` depends on, hashed: the app's content, the step's
    settings, the versions of what runs it, and GenFleet's version."""
    settings = manifest.settings
    parts: dict[str, object] = {
        "genfleet": manifest.genfleet_version,
        "app": app.content_hash,
        "step": step.value,
        # the version of what the step asks its service: a new meaning (e.g. load tests that
        # choose the app's own routes when none are named) makes a new result
        "protocol": _version(STEP_REQUESTS[step]),
    }
    if step == Step.DEPLOY:
        parts["settings"] = settings.deploy
    elif step in (Step.SCAN, Step.DAST):
        chosen = (settings.scan if step == Step.SCAN else settings.dast).tools or []
        parts["tools"] = {t: manifest.tools.get(t, "") for t in chosen}
        parts["rules"] = manifest.rules_hash
    elif step == Step.PERF:
        parts["settings"] = settings.perf
    elif step == Step.ANALYSIS:
        parts["judge"] = manifest.judge
        parts["settings"] = settings.analysis
    elif step == Step.SPECTEST:
        parts["tests"] = manifest.spectests.get(str(app.app), "")  # the fleet's test files
    return hashlib.sha256(msgspec.json.encode(parts, order="sorted")).hexdigest()
