"""Every NATS subject, stream and bucket name of GenFleet, in one place.

Commands:  genfleet.cmd.<service>.<verb>          request-reply, served by a queue group
Events:    genfleet.evt.<kind>.<model>.<app>      kept in the EVENTS stream for resuming clients
Log follow: genfleet.logs.<stream id>             ephemeral, core NATS only (high volume)
"""

from __future__ import annotations

PREFIX = "genfleet"

# --- commands -------------------------------------------------------------------------------
CONTAINER = "container"
CONTAINER_QUEUE = "container-svc"


def command(service: str, verb: str) -> str:
    return f"{PREFIX}.cmd.{service}.{verb}"


def namespace(subject: str) -> str | None:
    """The namespace of a command subject (`genfleet.cmd.<namespace>.<verb>`), else None."""
    parts = subject.split(".")
    return parts[2] if len(parts) >= 4 and parts[1] == "cmd" else None


def working(service: str, token: str) -> str:
    """Where the service that took a long command says, every few seconds, that it still
    works on it: the caller named `token` in the request (Bus.request, long timeouts)."""
    return f"{PREFIX}.working.{service}.{token}"


CONTAINER_STATUS = command(CONTAINER, "status")
CONTAINER_ACTION = command(CONTAINER, "action")
CONTAINER_BATCH = command(CONTAINER, "batch")  # queue a batch (a job: see BATCH below)
CONTAINER_BATCH_STOP = command(CONTAINER, "batch_stop")
CONTAINER_LOGS = command(CONTAINER, "logs")
CONTAINER_LOGS_FOLLOW = command(CONTAINER, "logs_follow")
CONTAINER_LOGS_UNFOLLOW = command(CONTAINER, "logs_unfollow")
CONTAINER_SYSINFO = command(CONTAINER, "sysinfo")
CONTAINER_FLEET = command(CONTAINER, "fleet")
CONTAINER_IMAGES = command(CONTAINER, "images")  # an app's images and what they installed

SCAN = "scan"
SCAN_QUEUE = "scan-svc"
SCAN_START = command(SCAN, "start")
SCAN_STATUS = command(SCAN, "status")
SCAN_STOP = command(SCAN, "stop")
SCAN_HISTORY = command(SCAN, "history")
SCAN_BATCH = command(SCAN, "batch")
SCAN_TOOLS = command(SCAN, "tools")
SCAN_LATEST = command(SCAN, "latest")
SCAN_DIFF = command(SCAN, "diff")
SCAN_REPORT = command(SCAN, "report")  # render a finished scan's report with today's marks

# --- triage of findings: marks (scan-svc) and the LLM's suggestions (ai-svc) ---------------
TRIAGE = "triage"
TRIAGE_LIST = command(TRIAGE, "list")  # served by scan-svc
TRIAGE_SET = command(TRIAGE, "set")
TRIAGE_REMOVE = command(TRIAGE, "remove")
TRIAGE_SUGGEST = command(TRIAGE, "suggest")  # served by ai-svc: ask the LLM (bounded in time)
TRIAGE_SUGGESTION = command(TRIAGE, "suggestion")  # served by ai-svc: the latest suggestion
# KV: `mark.<fingerprint>.fleet` and `mark.<fingerprint>.<model>.app<N>` the marks,
# `seen.<fingerprint>.<model>.app<N>` the finding as the app's newest scan reported it,
# `suggestion.<fingerprint>.<model>.app<N>` the LLM's latest suggestion. Written by scan-svc
# (marks, seen) and ai-svc (suggestions); read directly by scan-svc, ai-svc and campaign-svc.
TRIAGE_BUCKET = "genfleet-triage"


# --- jobs (JetStream work queues) and their state -------------------------------------------
def job(kind: str) -> str:
    """Where jobs of `kind` are queued."""
    return f"{PREFIX}.job.{kind}"


def jobs_stream(kind: str) -> str:
    return f"GENFLEET_{kind.upper()}_JOBS"


def workers(kind: str) -> str:
    """The durable consumer every worker of `kind` pulls from."""
    return f"{kind}-workers"


SCAN_JOBS_STREAM = jobs_stream(SCAN)
SCAN_JOB = job(SCAN)
SCAN_WORKERS = workers(SCAN)
# Batches: container-svc's own job kind (one action on many apps); the state's readers (any
# gateway) read the bucket directly, so a batch's state is there while container-svc is not.
BATCH = "batch"
BATCH_JOBS_STREAM = jobs_stream(BATCH)
BATCH_JOB = job(BATCH)
BATCH_WORKERS = workers(BATCH)
BATCHES_BUCKET = "genfleet-batches"  # KV: each batch's status, the newest batches' ids
SCAN_STATE_BUCKET = "genfleet-scans"  # KV: scan status, the running scan per app, history
REPORTS_BUCKET = "genfleet-reports"  # object store: JSON, SARIF, markdown, HTML reports


def control(kind: str, job_id: str) -> str:
    """Where a stop reaches the worker that runs a job of `kind` (every worker listens)."""
    return f"{PREFIX}.ctl.{kind}.{job_id}"


DLQ_STREAM = "GENFLEET_DLQ"  # jobs that could not be decoded, kept a week


def dead_letter(kind: str) -> str:
    """Where a job of `kind` that does not decode is kept (stream DLQ_STREAM)."""
    return f"{PREFIX}.dlq.{kind}"


# --- requirements analysis (ai-svc): is each written requirement of an app met? -----------
ANALYSIS = "analysis"
ANALYSIS_QUEUE = "ai-svc"
ANALYSIS_START = command(ANALYSIS, "start")
ANALYSIS_STATUS = command(ANALYSIS, "status")
ANALYSIS_STOP = command(ANALYSIS, "stop")
ANALYSIS_RESULT = command(ANALYSIS, "result")
ANALYSIS_HISTORY = command(ANALYSIS, "history")
ANALYSIS_SUMMARY = command(ANALYSIS, "summary")
ANALYSIS_LLMS = command(ANALYSIS, "llms")
ANALYSIS_LATEST = command(ANALYSIS, "latest")
# the judge's calibration against the fleet's labelled verdicts (calibration.toml)
ANALYSIS_CALIBRATE = command(ANALYSIS, "calibrate")  # start: an analysis per labelled app
ANALYSIS_CALIBRATION = command(ANALYSIS, "calibration")  # one run: progress, then figures
ANALYSIS_CALIBRATION_LATEST = command(ANALYSIS, "calibration_latest")  # a judge's newest
ANALYSIS_JOBS_STREAM = jobs_stream(ANALYSIS)
ANALYSIS_JOB = job(ANALYSIS)
ANALYSIS_WORKERS = workers(ANALYSIS)
ANALYSIS_STATE_BUCKET = "genfleet-analyses"  # KV: status, running per app, history, summaries
ANALYSIS_RESULTS_BUCKET = "genfleet-analysis-results"  # KV: each analysis's results
ANALYSIS_CACHE_BUCKET = (
    "genfleet-analysis-cache"  # KV: verdicts by (code, requirement, llm, prompt)
)


# --- events ---------------------------------------------------------------------------------
EVENTS_STREAM = "GENFLEET_EVENTS"
EVENTS_ALL = f"{PREFIX}.evt.>"
NO_TARGET = "_"  # the model/app token of an event that is not about one app


def token(name: str) -> str:
    """A model name as a subject token: '.' separates tokens in NATS, so it is written '~'.

    Model names never contain '~' (the registry refuses it), so the mapping is reversible.
    """
    return name.replace(".", "~")


def untoken(tok: str) -> str:
    return tok.replace("~", ".")


def event(kind: str, model: str | None = None, app: int | None = None) -> str:
    m = token(model) if model else NO_TARGET
    a = f"app{app}" if app is not None else NO_TARGET
    return f"{PREFIX}.evt.{kind}.{m}.{a}"


def event_filter(kind: str = "*", model: str | None = None, app: int | None = None) -> str:
    """A subscription subject for events, '*' where a part is not given."""
    m = token(model) if model else "*"
    a = f"app{app}" if app is not None else "*"
    return f"{PREFIX}.evt.{kind}.{m}.{a}"


# --- log follow -----------------------------------------------------------------------------
def log_stream(stream_id: str) -> str:
    return f"{PREFIX}.logs.{stream_id}"


# --- load tests (perf-svc) ------------------------------------------------------------------
PERF = "perf"
PERF_QUEUE = "perf-svc"
PERF_START = command(PERF, "start")
PERF_STATUS = command(PERF, "status")
PERF_STOP = command(PERF, "stop")
PERF_RESULT = command(PERF, "result")
PERF_HISTORY = command(PERF, "history")
PERF_COMPARE = command(PERF, "compare")
PERF_LATEST = command(PERF, "latest")
PERF_JOBS_STREAM = jobs_stream(PERF)
PERF_JOB = job(PERF)
PERF_WORKERS = workers(PERF)
PERF_STATE_BUCKET = "genfleet-perf"  # KV: test status, the running test per app, history
PERF_RESULTS_BUCKET = "genfleet-perf-results"  # object store: result JSON and chart PNGs

# --- spec tests (perf-svc too): a fleet's Tavern checks against a running app ---------------
SPECTEST = "spectest"
SPECTEST_QUEUE = "perf-svc"
SPECTEST_START = command(SPECTEST, "start")
SPECTEST_STATUS = command(SPECTEST, "status")
SPECTEST_STOP = command(SPECTEST, "stop")
SPECTEST_RESULT = command(SPECTEST, "result")
SPECTEST_HISTORY = command(SPECTEST, "history")
SPECTEST_LATEST = command(SPECTEST, "latest")
SPECTEST_SUMMARY = command(SPECTEST, "summary")
SPECTEST_STATE_BUCKET = "genfleet-spectests"  # KV: status, the running run per app, history
SPECTEST_RESULTS_BUCKET = "genfleet-spectest-results"  # KV: each run's checks


# --- campaigns (campaign-svc): a fleet's evaluation, each step a job on the queues above ----
CAMPAIGN = "campaign"
CAMPAIGN_QUEUE = "campaign-svc"
CAMPAIGN_START = command(CAMPAIGN, "start")
CAMPAIGN_STATUS = command(CAMPAIGN, "status")
CAMPAIGN_STEPS = command(CAMPAIGN, "steps")
CAMPAIGN_LIST = command(CAMPAIGN, "list")
CAMPAIGN_PAUSE = command(CAMPAIGN, "pause")
CAMPAIGN_RESUME = command(CAMPAIGN, "resume")
CAMPAIGN_STOP = command(CAMPAIGN, "stop")
CAMPAIGN_RERUN = command(CAMPAIGN, "rerun")
CAMPAIGN_REPORT = command(CAMPAIGN, "report")
CAMPAIGN_DIFF = command(CAMPAIGN, "diff")
CAMPAIGN_JOBS_STREAM = jobs_stream(CAMPAIGN)
CAMPAIGN_JOB = job(CAMPAIGN)
CAMPAIGN_WORKERS = workers(CAMPAIGN)
# KV: `campaign.<id>` its status, `step.<id>.<model>.<app>.<step>` each app x step, `recent`
# the newest ids, `reuse.<fingerprint>` the step results a later campaign may take over
CAMPAIGNS_BUCKET = "genfleet-campaigns"
PLATFORM_BUCKET = "genfleet-platform"  # KV: the latest PlatformEvent per supervised process

# --- the gateway's own records ----------------------------------------------------------------
TOKENS_BUCKET = "genfleet-tokens"  # KV: `revoked.<token id>` a Revocation, kept past any expiry
AUDIT_STREAM = "GENFLEET_AUDIT"
AUDIT = f"{PREFIX}.audit"  # every mutating HTTP call and its outcome, an AuditRecord
