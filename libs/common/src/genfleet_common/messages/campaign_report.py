"""The comparison report of a campaign (the JSON schema every format is rendered from), and the
diff of two campaigns. campaign-svc builds them; the gateway and the CLI read them.

Every figure of a model is a `Figure` {value, ci95, n} under a stable name (`FIGURE_NAMES`);
docs/campaign-report.md says what each one means, over which apps, and which test compares
the models on it.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec
from msgspec import Struct

from genfleet_common.messages.analyses import CalibrationFigures
from genfleet_common.messages.base import Message
from genfleet_common.messages.campaigns import Manifest, Step
from genfleet_common.messages.images import BaseImages
from genfleet_common.messages.scans import RiskCounts, ToolStatus


# --- one number and its uncertainty ---------------------------------------------------------
class Figure(Struct, kw_only=True, omit_defaults=True):
    """A figure of one model: its value, its 95% interval and how many apps it stands on.
    `value` or `ci95` is null when it cannot be computed honestly; `note` then says why."""

    value: float | None
    ci95: tuple[float, float] | None
    n: int
    note: str = ""


class Quartiles(Struct, kw_only=True, omit_defaults=True):
    median: float | None
    q1: float | None
    q3: float | None
    n: int
    note: str = ""


# --- per app: the values every figure, test and CSV row comes from --------------------------
class StepEnd(StrEnum):
    """How one app x step ended, as the report counts it."""

    DONE = "done"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"  # failed because a tool, model or engine was missing
    SKIPPED = "skipped"
    PENDING = "pending"  # not ended yet (pending or running), or no record at all


class Verdicts(Struct, kw_only=True):
    """Requirement verdicts: failed and unavailable are no verdict, never "not met"."""

    total: int = 0
    met: int = 0
    not_met: int = 0
    failed: int = 0
    unavailable: int = 0


class AppResult(Struct, kw_only=True):
    """One app's values; null where its step gave none (see `steps` for why)."""

    model: str
    app: int
    lines_of_code: int = 0
    steps: dict[Step, StepEnd] = msgspec.field(default_factory=dict)
    reused: list[Step] = msgspec.field(default_factory=list)  # steps whose result was reused
    deployed: bool | None = None  # None: the deploy was not attempted (or has not ended)
    deploy_failure: str | None = None  # a DeployFailure value
    seconds_to_answering: float | None = None
    findings: RiskCounts | None = None  # the static scan's (step scan done)
    cwes: dict[str, int] = msgspec.field(default_factory=dict)
    scan_tools: dict[str, ToolStatus] = msgspec.field(default_factory=dict)  # how each run ended
    dast: RiskCounts | None = None  # the dynamic scan's (step dast done)
    dast_cwes: dict[str, int] = msgspec.field(default_factory=dict)
    dast_tools: dict[str, ToolStatus] = msgspec.field(default_factory=dict)
    rps: float | None = None  # the load test's (step perf done)
    p95_ms: float | None = None
    median_ms: float | None = None
    error_rate: float | None = None
    requests: int | None = None
    requirements: Verdicts | None = None  # every analysis outcome, done or failed
    spec_verdict: str | None = None  # a SpecVerdict value (step spectest done); "exception": none
    # what its deploy, scans and load test recorded of its base images, together (None: no
    # step looked): its substitutes say which services were built on a substitute base image
    base_images: BaseImages | None = None
    # the same counts without false positives and unexpired accepted risks (triage marks of
    # when the report was built); None where the raw counts are None or could not be triaged
    findings_triaged: RiskCounts | None = None
    dast_triaged: RiskCounts | None = None


# --- per model ------------------------------------------------------------------------------
class DeployCounts(Struct, kw_only=True):
    attempted: int  # the deploy step ended done or failed: the deploy rate's denominator
    ok: int
    not_attempted: int  # skipped, pending, or no record
    failures: dict[str, int]  # DeployFailure value -> apps (every class, zeros included)


class CweCount(Struct, kw_only=True):
    cwe: str  # "CWE-89"
    findings: int
    apps: int


class ModelFigures(Struct, kw_only=True):
    model: str
    apps: int  # the model's apps in the campaign
    # deploy
    deploy_rate: Figure  # Wilson
    deploy: DeployCounts
    time_to_answering_s: Quartiles
    # static scan (apps whose scan step is done)
    high_app_share: Figure  # Wilson
    findings_per_app: Figure  # mean, bootstrap BCa
    high_per_app: Figure
    medium_per_app: Figure
    low_per_app: Figure
    info_per_app: Figure
    findings_per_kloc: Figure  # total findings / total kLOC, paired bootstrap
    top_cwes: list[CweCount]
    # dynamic scan (apps whose dast step is done), reported apart from the static one
    dast_findings_per_app: Figure
    dast_high_app_share: Figure
    dast_top_cwes: list[CweCount]
    # load test (apps whose perf step is done)
    rps_median: Figure  # median, distribution-free interval
    p95_ms_median: Figure
    error_rate: Figure  # mean of the apps' failures / requests, bootstrap
    # requirements
    requirements_met_rate: Figure  # met / (met + not_met), Wilson
    requirements: Verdicts
    requirements_apps: int  # apps with at least one verdict (met or not met)
    reused: dict[Step, int] = msgspec.field(default_factory=dict)  # step -> results reused
    # spec tests (apps whose spectest step is done and got a verdict; BaxBench's pass@1 and
    # sec_pass@1 with one sample per spec), Wilson; exceptions (no verdict) reported apart
    spec_pass_at_1: Figure = msgspec.field(default_factory=lambda: _no_spectest())
    spec_sec_pass_at_1: Figure = msgspec.field(default_factory=lambda: _no_spectest())
    spec_insecure_of_correct: Figure = msgspec.field(default_factory=lambda: _no_spectest())
    spec_exceptions_rate: Figure = msgspec.field(default_factory=lambda: _no_spectest())
    # apps built on a substitute base image (a service of theirs, as a step recorded it)
    substitute_apps: int = 0
    # triaged (without false positives and unexpired accepted risks), beside the raw ones
    triaged_high_app_share: Figure = msgspec.field(default_factory=lambda: _no_triage())
    triaged_findings_per_app: Figure = msgspec.field(default_factory=lambda: _no_triage())
    triaged_dast_findings_per_app: Figure = msgspec.field(default_factory=lambda: _no_triage())


def _no_triage() -> Figure:
    return Figure(value=None, ci95=None, n=0, note="no scan step triaged")


def _no_spectest() -> Figure:
    return Figure(value=None, ci95=None, n=0, note="no spectest step")


# The Figure fields of ModelFigures, in report order: stable names for JSON, CSV, diff, docs.
FIGURE_NAMES: tuple[str, ...] = (
    "deploy_rate",
    "high_app_share",
    "findings_per_app",
    "high_per_app",
    "medium_per_app",
    "low_per_app",
    "info_per_app",
    "findings_per_kloc",
    "triaged_high_app_share",
    "triaged_findings_per_app",
    "dast_findings_per_app",
    "dast_high_app_share",
    "triaged_dast_findings_per_app",
    "rps_median",
    "p95_ms_median",
    "error_rate",
    "requirements_met_rate",
    "spec_pass_at_1",
    "spec_sec_pass_at_1",
    "spec_insecure_of_correct",
    "spec_exceptions_rate",
)
# The step whose results each figure stands on (for "this figure includes reused results").
FIGURE_STEPS: dict[str, Step] = {
    "deploy_rate": Step.DEPLOY,
    "high_app_share": Step.SCAN,
    "findings_per_app": Step.SCAN,
    "high_per_app": Step.SCAN,
    "medium_per_app": Step.SCAN,
    "low_per_app": Step.SCAN,
    "info_per_app": Step.SCAN,
    "findings_per_kloc": Step.SCAN,
    "triaged_high_app_share": Step.SCAN,
    "triaged_findings_per_app": Step.SCAN,
    "triaged_dast_findings_per_app": Step.DAST,
    "dast_findings_per_app": Step.DAST,
    "dast_high_app_share": Step.DAST,
    "rps_median": Step.PERF,
    "p95_ms_median": Step.PERF,
    "error_rate": Step.PERF,
    "requirements_met_rate": Step.ANALYSIS,
    "spec_pass_at_1": Step.SPECTEST,
    "spec_sec_pass_at_1": Step.SPECTEST,
    "spec_insecure_of_correct": Step.SPECTEST,
    "spec_exceptions_rate": Step.SPECTEST,
}


# --- coverage: every denominator visible ----------------------------------------------------
class CoverageCell(Struct, kw_only=True):
    """One model x step (tool "") or model x step x tool. done + failed + unavailable +
    skipped + pending == apps. For scan and dast, done splits into findings + none. For a
    tool, done is its runs that ended with or without findings, and skipped counts the apps
    whose step gave no result for it (the step failed, was skipped, or did not run it)."""

    model: str
    step: Step
    tool: str = ""
    apps: int
    done: int = 0
    findings: int = 0
    none: int = 0
    failed: int = 0
    unavailable: int = 0
    skipped: int = 0
    pending: int = 0


# --- paired comparisons ---------------------------------------------------------------------
class MetricKind(StrEnum):
    CONTINUOUS = "continuous"  # Friedman, then Wilcoxon signed-rank
    BINARY = "binary"  # Cochran's Q, then exact McNemar


class Omnibus(Struct, kw_only=True):
    test: str  # "friedman" | "cochran_q"
    statistic: float | None = None
    df: int | None = None
    p_value: float | None = None
    effect: float | None = None
    effect_name: str = ""  # "kendall_w" for Friedman
    note: str = ""  # why there is no test, when there is none


class Pairwise(Struct, kw_only=True):
    a: str
    b: str
    test: str  # "wilcoxon" | "mcnemar_exact"
    n: int  # pairs: the apps both models have a value for
    a_value: float | None = None  # median (continuous) or proportion (binary) over the pairs
    b_value: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    p_holm: float | None = None  # Holm-adjusted within this metric's pairwise tests
    effect: float | None = None
    effect_name: str = ""  # "rank_biserial" (a > b positive) | "proportion_difference" (a - b)
    odds_ratio: float | None = None  # McNemar: discordant a-only / b-only
    note: str = ""


class Comparison(Struct, kw_only=True):
    metric: str
    kind: MetricKind
    models: list[str]  # the models compared
    apps: list[int]  # the app numbers every compared model has a value for: the omnibus's
    n: int
    excluded: dict[str, str] = msgspec.field(default_factory=dict)  # model -> why not compared
    omnibus: Omnibus
    pairwise: list[Pairwise] = msgspec.field(default_factory=list)
    note: str = ""


# --- the report -----------------------------------------------------------------------------
class Reuse(Struct, kw_only=True):
    """Step results taken from earlier campaigns (nothing had changed) instead of run again."""

    total: int = 0
    by_step: dict[Step, int] = msgspec.field(default_factory=dict)
    from_campaigns: list[str] = msgspec.field(default_factory=list)


class JudgeCalibration(Struct, kw_only=True):
    """How far the campaign's judge can be trusted: its newest complete calibration against
    the fleet's labelled verdicts (calibration.toml), shown next to every requirements figure.
    `figures` is None when there is none to show; `note` then says why."""

    llm_id: str
    prompt_version: str  # the campaign's
    calibration_id: str = ""
    calibrated_prompt_version: str = ""  # the calibration's: another prompt is another judge
    calibrated_at: float | None = None
    figures: CalibrationFigures | None = None
    note: str = ""


class CampaignReport(Message, kw_only=True):
    campaign_id: str
    name: str = ""
    state: str = ""  # the campaign's JobState when the report was built
    generated_at: float
    manifest: Manifest
    confidence: float = 0.95
    bootstrap_resamples: int
    bootstrap_seed: int  # fixed: the same results give the same report
    models: list[ModelFigures]
    comparisons: list[Comparison]
    coverage: list[CoverageCell]
    reuse: Reuse
    apps: list[AppResult]  # model, then app number
    # the judge's calibration, when the campaign has an analysis step (None: it has none)
    judge_calibration: JudgeCalibration | None = None


# --- two campaigns side by side -------------------------------------------------------------
class CampaignSide(Struct, kw_only=True):
    campaign_id: str
    name: str = ""
    generated_at: float
    genfleet_version: str = ""


class MetricChange(Struct, kw_only=True):
    model: str
    metric: str  # one of FIGURE_NAMES
    a: Figure | None  # None: the model is not in that campaign
    b: Figure | None
    change: float | None  # b - a, when both have a value


class FindingChange(Struct, kw_only=True):
    model: str
    app: int
    step: Step  # scan or dast
    fingerprint: str
    title: str = ""


class CampaignDiff(Message, kw_only=True):
    """b against a. Findings are compared only on apps whose step is done in both."""

    a: CampaignSide
    b: CampaignSide
    metrics: list[MetricChange]
    new_findings: list[FindingChange]  # in b, not in a
    fixed_findings: list[FindingChange]  # in a, gone in b
    compared_apps: dict[Step, int] = msgspec.field(default_factory=dict)  # findings compared on
    not_compared_apps: dict[Step, int] = msgspec.field(default_factory=dict)
    apps_changed: list[str] = msgspec.field(default_factory=list)  # "Model/appN": other content
    tools_changed: dict[str, tuple[str, str]] = msgspec.field(default_factory=dict)
    models_only_in_a: list[str] = msgspec.field(default_factory=list)
    models_only_in_b: list[str] = msgspec.field(default_factory=list)
