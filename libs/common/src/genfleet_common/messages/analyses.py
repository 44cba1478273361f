"""ai-svc's contract: requirements analyses (is each written requirement met?), their
verdicts, summaries, the checking LLMs, and the events."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from genfleet_common.messages.base import AppNumber, Message, ModelName, _now
from genfleet_common.messages.jobs import JobState, JobStatus, KindMessages, NewJobId


# --- requirements analysis (ai-svc) -----------------------------------------------------------
class Backend(StrEnum):
    GPT4ALL = "gpt4all"  # in-process GPT4All with a local GGUF model file
    OPENAI = "openai"  # an OpenAI-compatible server (GPT4All's API server, Ollama, llama.cpp)


class Confidence(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class VerdictStatus(StrEnum):
    """How one requirement's check ended. Only an LLM's parsed answer is a verdict."""

    VERDICT = "verdict"  # the model's answer began with MET or NOT_MET: `met`, the rest after
    FAILED = "failed"  # the model answered, never with the verdict first: `raw` keeps its answer
    UNAVAILABLE = "unavailable"  # no model could be reached or loaded: `error` says why


class Requirement(Struct, frozen=True, kw_only=True):
    id: str  # "general-1", "specific-3": stable within the app's spec
    kind: Literal["general", "specific"]
    text: str


class Evidence(Struct, kw_only=True):
    file: str  # relative to the app folder, as the model cited it
    start: int | None = None
    end: int | None = None
    valid: bool = False  # the file exists in the app and has these lines
    note: str = ""  # why it is not valid


class RequirementResult(Struct, kw_only=True):
    requirement: Requirement
    status: VerdictStatus
    met: bool | None = None
    confidence: Confidence | None = None  # only when the model stated one (prompt 2 asks none)
    explanation: str = ""  # what the model wrote after its verdict
    evidence: list[Evidence] = msgspec.field(default_factory=list)
    raw: str = ""  # the model's last answer (kept for failed ones)
    error: str = ""
    attempts: int = 0  # model calls made (0 when cached or unavailable)
    cached: bool = False
    # every model call answered (no timeout or error answer): asking again would give the same
    deterministic: bool = False
    context: list[str] = msgspec.field(default_factory=list)  # "file:a-b" sent to the model
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # model time


class AnalysisCounts(Struct, kw_only=True):
    total: int = 0
    done: int = 0
    met: int = 0
    not_met: int = 0
    failed: int = 0
    unavailable: int = 0


class AnalysisStatus(JobStatus, kw_only=True):
    analysis_id: str
    backend: Backend
    llm: str  # the checking model: a GGUF file name, or the server's model name
    llm_id: str  # backend + llm (+ server): what results are cached and summed up by
    counts: AnalysisCounts = msgspec.field(default_factory=AnalysisCounts)
    current: str = ""  # the requirement being checked
    progress: int = 0  # 0..100

    @property
    def job_id(self) -> str:
        return self.analysis_id


class AnalysisRequest(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    backend: Backend | None = None  # None: the service's default
    llm: Annotated[str, Meta(min_length=1, max_length=256)] | None = None  # None: default
    # requirement ids; None: all of the app's
    requirements: Annotated[list[str], Meta(max_length=500)] | None = None
    max_tokens: Annotated[int, Meta(ge=16, le=8192)] | None = None
    use_cache: bool = True
    analysis_id: NewJobId = ""


class AnalysisJob(Message, kw_only=True):
    analysis_id: str
    model: str
    app: int
    backend: Backend
    llm: str
    requirements: list[str]
    max_tokens: int
    use_cache: bool = True

    @property
    def job_id(self) -> str:
        return self.analysis_id


class AnalysisResult(Message, kw_only=True):
    """Version 2 (prompt 2): a verdict is the answer's first word, MET or NOT_MET; its
    `confidence` is null unless the model stated one, `explanation` is what followed it."""

    v: int = 2
    status: AnalysisStatus
    prompt_version: str
    results: list[RequirementResult]


class AnalysisHistory(Message, kw_only=True):
    analyses: list[AnalysisStatus]


class AnalysisLatest(Message, kw_only=True):
    analyses: dict[str, AnalysisStatus]  # "Model/appN" -> its newest analysis (never run: absent)


class AnalysisSummaryRequest(Message, kw_only=True):
    model: ModelName | None = None  # None: every model


class AppAnalysisSummary(Struct, kw_only=True):
    model: str
    app: int
    llm_id: str
    analysis_id: str
    met: int
    total: int
    failed: int = 0
    unavailable: int = 0
    ended_at: float | None = None


class ModelAnalysisSummary(Struct, kw_only=True):
    model: str
    llm_id: str
    apps: int
    met: int
    total: int
    failed: int = 0
    unavailable: int = 0


class AnalysisSummary(Message, kw_only=True):
    apps: list[AppAnalysisSummary]  # the latest complete analysis of each app, per checking model
    models: list[ModelAnalysisSummary]  # their sums per fleet model and checking model


class LlmInfo(Struct, kw_only=True):
    backend: Backend
    name: str
    llm_id: str
    available: bool
    reason: str = ""  # why not available
    default: bool = False
    context_window: int | None = None
    size_bytes: int | None = None


class LlmList(Message, kw_only=True):
    llms: list[LlmInfo]
    prompt_version: str = ""  # the prompt ai-svc asks them with (its verdicts depend on it)


# --- the judge's calibration: its verdicts against a person's -------------------------------
class CalibrationFigures(Struct, kw_only=True):
    """The judge against a person's labels (the fleet's calibration.toml). "met" is the
    positive class of precision and recall; `not_met_*` are the same for "not met"."""

    labelled: int = 0  # labelled requirements (met or not met) the judge was asked about
    n: int = 0  # of them, those with a verdict: accuracy, precision, recall, kappa stand on n
    unusable: int = 0  # answered without a usable verdict (failed)
    unavailable: int = 0  # no model could be asked: neither a verdict nor unusable
    unusable_share: float | None = None  # unusable / (labelled - unavailable)
    accuracy: float | None = None
    accuracy_ci95: tuple[float, float] | None = None  # Wilson
    precision: float | None = None  # of the judge's "met", the share the person labelled met
    recall: float | None = None  # of the person's "met", the share the judge said met
    not_met_precision: float | None = None
    not_met_recall: float | None = None
    kappa: float | None = None  # Cohen's kappa (statsmodels) over the n verdicts
    kappa_ci95: tuple[float, float] | None = None
    kappa_note: str = ""  # why kappa is null
    # [[person met & judge met, person met & judge not met], [person not met & judge met, both not]]
    confusion: list[list[int]] = msgspec.field(default_factory=lambda: [[0, 0], [0, 0]])


class CalibrationItem(Struct, kw_only=True):
    model: str
    app: int
    requirement: str
    labelled_met: bool  # the person's label
    status: VerdictStatus | None = None  # None: not checked yet
    met: bool | None = None  # the judge's verdict
    raw: str = ""  # the judge's answer (its start)
    analysis_id: str = ""


class CalibrationRequest(Message, kw_only=True):
    backend: Backend | None = None  # None: the service's default
    llm: Annotated[str, Meta(min_length=1, max_length=256)] | None = None  # None: default
    use_cache: bool = True  # verdicts of unchanged code by the same model and prompt are reused


class CalibrationLatestRequest(Message, kw_only=True):
    llm_id: Annotated[str, Meta(max_length=512)] | None = None  # None: the default judge's


class Calibration(Message, kw_only=True):
    """One calibration run: an analysis per labelled app (only its labelled requirements),
    then the figures. `state` is RUNNING until every analysis ended, then COMPLETE (or
    UNAVAILABLE when no verdict could be asked for at all); `figures` are final then."""

    calibration_id: str
    backend: Backend
    llm: str
    llm_id: str
    prompt_version: str
    state: JobState
    analyses: list[str]  # the analysis ids, one per labelled app
    started_at: float
    ended_at: float | None = None
    progress: int = 0  # 0..100: labelled requirements checked
    figures: CalibrationFigures = msgspec.field(default_factory=CalibrationFigures)
    items: list[CalibrationItem] = msgspec.field(default_factory=list)
    error: str = ""


class AnalysisEvent(Message, tag="analysis", tag_field="kind", kw_only=True):
    v: int = 2  # its result as in AnalysisResult version 2
    status: AnalysisStatus
    result: RequirementResult | None = None  # the requirement just checked
    ts: float = msgspec.field(default_factory=_now)


ANALYSIS_MESSAGES = KindMessages(
    event=AnalysisEvent, history=AnalysisHistory, latest=AnalysisLatest
)
