"""A synthetic campaign for benchmarks and tests: models x apps with every step, seeded and
deterministic, with the failures a real fleet has (failed builds whose perf and dast are
skipped, failed scans, unavailable tools and analyses, results reused from an earlier
campaign). Models differ on purpose, so the comparisons have something to find."""

from __future__ import annotations

import hashlib

import numpy as np

from genfleet_common.messages import (
    AnalysisOutcome,
    AppManifest,
    CampaignOptions,
    CampaignStatus,
    DeployFailure,
    DeployOutcome,
    JobState,
    JudgeManifest,
    Manifest,
    Outcome,
    PerfOutcome,
    RiskCounts,
    ScanOutcome,
    ScanSettings,
    Step,
    StepCounts,
    StepRecord,
    StepState,
    ToolStatus,
)

MODELS = (
    "llama-3.1-70b",
    "mistral-large",
    "deepseek-v3",
    "gpt-4o",
    "claude-3.5-sonnet",
    "qwen-2.5-72b",
    "gemma-2-27b",
    "phi-4",
    "command-r-plus",
)
STEPS = [Step.DEPLOY, Step.SCAN, Step.ANALYSIS, Step.PERF, Step.DAST]
STATIC_TOOLS = ["bandit", "semgrep", "detect-secrets", "eslint", "pip-audit"]
DAST_TOOLS = ["wapiti"]
CWES = ["CWE-89", "CWE-79", "CWE-78", "CWE-798", "CWE-22", "CWE-327", "CWE-502", "CWE-352"]
BUILD_FAILURES = [DeployFailure.BUILD_FAILED, DeployFailure.CRASHED, DeployFailure.NOT_ANSWERING]


class _App:
    """One app's draws, in a fixed order so that the same seed gives the same campaign."""

    def __init__(self, rng: np.random.Generator, quality: float) -> None:
        self.rng = rng
        self.quality = quality  # 0 (worst) .. 1 (best): shifts every rate and count

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def counts(self, scale: float) -> RiskCounts:
        lam = scale * (1.6 - self.quality)
        high, medium, low, info = (int(self.rng.poisson(lam * w)) for w in (0.5, 1.0, 1.5, 0.7))
        return RiskCounts(high=high, medium=medium, low=low, info=info)

    def scan(self, tools: list[str], scale: float, tag: str) -> ScanOutcome:
        counts = self.counts(scale)
        n = counts.high + counts.medium + counts.low + counts.info
        cwes: dict[str, int] = {}
        for cwe in self.rng.choice(CWES, size=n):
            cwes[str(cwe)] = cwes.get(str(cwe), 0) + 1
        # a small pool per app, so two campaigns share some fingerprints and differ in others
        prints = sorted({f"{tag}-{int(self.rng.integers(0, 3 * n + 1)):04d}" for _ in range(n)})
        statuses = {}
        for tool in tools:
            if tool == "pip-audit":  # offline: its database is missing
                statuses[tool] = ToolStatus.UNAVAILABLE
            elif self.chance(0.03):
                statuses[tool] = ToolStatus.FAILED
            else:
                statuses[tool] = (
                    ToolStatus.FINDINGS if n and self.chance(0.7) else ToolStatus.NO_FINDINGS
                )
        return ScanOutcome(
            counts=counts,
            cwes=cwes,
            tools=statuses,
            fingerprints=prints,
            titles={f: f"rule-{f[-2:]}: synthetic finding {f}" for f in prints},
        )


def _manifest(models: list[str], apps: int, seed: int) -> Manifest:
    entries = []
    for model in models:
        for n in range(1, apps + 1):
            digest = hashlib.sha256(f"{seed}/{model}/{n}".encode()).hexdigest()
            lines = 400 + int(digest[:4], 16) % 1600
            entries.append(
                AppManifest(model=model, app=n, content_hash=digest, files=12, lines_of_code=lines)
            )
    settings = CampaignOptions(
        name="synthetic",
        models=list(models),
        steps=list(STEPS),
        scan=ScanSettings(tools=list(STATIC_TOOLS)),
        dast=ScanSettings(tools=list(DAST_TOOLS)),
    )
    return Manifest(
        genfleet_version="0.1.0",
        created_at=1_700_000_000.0,
        steps=list(STEPS),
        settings=settings,
        apps=entries,
        tools={"bandit": "1.8.0", "semgrep": "1.99.0", "wapiti": "3.2.0", "pip-audit": ""},
        rules_hash=hashlib.sha256(b"rules").hexdigest(),
        judge=JudgeManifest(
            backend="gpt4all", llm="SmolLM2-135M", llm_id="smollm2-135m", prompt_version="1"
        ),
    )


def synthetic_campaign(
    models: int = 9,
    apps: int = 30,
    *,
    seed: int = 7,
    campaign_id: str = "synthetic",
    reused_share: float = 0.1,
) -> tuple[CampaignStatus, list[StepRecord]]:
    """A finished campaign of `models` x `apps` apps and every step, and its step records."""
    rng = np.random.default_rng(seed)
    names = [MODELS[i] if i < len(MODELS) else f"model-{i + 1}" for i in range(models)]
    records: list[StepRecord] = []
    for m, model in enumerate(names):
        quality = (m + 1) / (models + 1)
        for n in range(1, apps + 1):
            records += _app_records(campaign_id, model, n, _App(rng, quality), reused_share)
    counts = StepCounts()
    for r in records:
        setattr(counts, r.state.value, getattr(counts, r.state.value) + 1)
        counts.reused += bool(r.reused_from)
    status = CampaignStatus(
        campaign_id=campaign_id,
        name=f"synthetic {models}x{apps}",
        state=JobState.COMPLETE,
        apps=[f"{model}/app{n}" for model in names for n in range(1, apps + 1)],
        steps=list(STEPS),
        parallel=4,
        counts=counts,
        total=len(records),
        created_at=1_700_000_000.0,
        manifest=_manifest(names, apps, seed),
    )
    return status, records


def _app_records(
    campaign_id: str, model: str, n: int, app: _App, reused_share: float
) -> list[StepRecord]:
    def record(
        step: Step,
        state: StepState,
        job_state: JobState | None = None,
        outcome: Outcome | None = None,
        error: str = "",
        reason: str = "",
    ) -> StepRecord:
        reused = "earlier-campaign" if state == StepState.DONE and app.chance(reused_share) else ""
        return StepRecord(
            campaign_id=campaign_id, model=model, app=n, step=step, state=state,
            job_id=f"{campaign_id}-{model}-{n}-{step.value}", job_state=job_state,
            reused_from=reused, outcome=outcome, error=error, reason=reason,
        )  # fmt: skip

    q = app.quality
    out = []
    deployed = app.chance(0.55 + 0.4 * q)
    if deployed:
        seconds = float(app.rng.lognormal(np.log(8 + 20 * (1 - q)), 0.4))
        deploy = DeployOutcome(ok=True, seconds_to_answering=seconds, duration_s=seconds + 30)
        out.append(record(Step.DEPLOY, StepState.DONE, job_state=JobState.COMPLETE, outcome=deploy))
    else:
        failure = BUILD_FAILURES[int(app.rng.integers(0, len(BUILD_FAILURES)))]
        deploy = DeployOutcome(ok=False, failure=failure, duration_s=60.0, detail="synthetic")
        out.append(
            record(
                Step.DEPLOY,
                StepState.FAILED,
                job_state=JobState.FAILED,
                outcome=deploy,
                error=f"synthetic: {failure.value}",
            )
        )

    if app.chance(0.05):
        out.append(
            record(Step.SCAN, StepState.FAILED, job_state=JobState.FAILED, error="worker died")
        )
    else:
        scan = app.scan(STATIC_TOOLS, 3.0, f"{model}-{n}-s")
        out.append(record(Step.SCAN, StepState.DONE, job_state=JobState.COMPLETE, outcome=scan))

    total = 12
    if app.chance(0.1):
        verdicts = AnalysisOutcome(total=total, met=0, not_met=0, failed=0, unavailable=total)
        out.append(
            record(
                Step.ANALYSIS,
                StepState.FAILED,
                job_state=JobState.UNAVAILABLE,
                outcome=verdicts,
                error="no model reachable",
            )
        )
    else:
        failed = int(app.rng.binomial(total, 0.08))
        met = int(app.rng.binomial(total - failed, 0.35 + 0.5 * q))
        verdicts = AnalysisOutcome(
            total=total, met=met, not_met=total - failed - met, failed=failed, unavailable=0
        )
        out.append(
            record(Step.ANALYSIS, StepState.DONE, job_state=JobState.COMPLETE, outcome=verdicts)
        )

    if not deployed:
        for step in (Step.PERF, Step.DAST):
            out.append(record(step, StepState.SKIPPED, reason="not deployed"))
        return out
    requests = int(app.rng.integers(2_000, 40_000))
    perf = PerfOutcome(
        requests=requests,
        failures=int(app.rng.binomial(requests, 0.02 * (1 - q))),
        rps=abs(float(app.rng.normal(150 + 600 * q, 60))),
        p95_ms=float(app.rng.lognormal(np.log(40 + 200 * (1 - q)), 0.3)),
        median_ms=float(app.rng.lognormal(np.log(10 + 40 * (1 - q)), 0.3)),
    )
    out.append(record(Step.PERF, StepState.DONE, job_state=JobState.COMPLETE, outcome=perf))
    dast = app.scan(DAST_TOOLS, 0.8, f"{model}-{n}-d")
    out.append(record(Step.DAST, StepState.DONE, job_state=JobState.COMPLETE, outcome=dast))
    return out
