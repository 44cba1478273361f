"""Batches: one lifecycle action on every app of a model or of the fleet, run as a job.

`container.batch` queues a batch and answers its BatchStatus at once (QUEUED); container-svc
works on it from a JetStream work queue, keeps its BatchStatus in KV (any gateway reads it,
it outlives a restart) and publishes a BatchEvent per app done and per change of state.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from genfleet_common.messages.base import AppNumber, Message, ModelName, Seconds, _now
from genfleet_common.messages.containers import Action, ActionResult
from genfleet_common.messages.jobs import JobState

# '-' and '_' besides letters and digits: valid in KV keys and subject tokens alike
BatchId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
NewBatchId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{0,64}$")]  # "": the service picks


class BatchOptions(Message, kw_only=True):
    """How to run a batch: the HTTP body of POST /api/models/{model}/{action} and
    /api/fleet/{action} (the model and the action are in the path)."""

    parallelism: Annotated[int, Meta(ge=1, le=64)] | None = None  # None: the service's setting
    timeout_s: Seconds | None = None  # per app; None: the action's default
    wait_healthy: bool = True  # after start/restart/rebuild
    batch_id: NewBatchId = ""  # chosen by the caller, e.g. to follow its events from the start


class BatchRequest(BatchOptions, kw_only=True):
    """A batch: its options and which action on which apps. Version 2: queues the batch and
    answers its BatchStatus at once (version 1 answered a BatchResult when every app was
    done)."""

    v: int = 2
    action: Action
    model: ModelName | None = None  # None: the whole fleet
    # Some of the model's apps only (e.g. a campaign's one-app deploy); None: all of them
    apps: Annotated[list[AppNumber], Meta(min_length=1, max_length=10_000)] | None = None


class BatchJob(Message, kw_only=True):
    """What the work queue carries: the plan is in the batch's status."""

    batch_id: BatchId

    @property
    def job_id(self) -> str:
        return self.batch_id


class BatchStatus(Message, kw_only=True):
    """A batch: its plan, its state (the jobs' vocabulary) and each app's result so far.

    COMPLETE means every app was acted on: `failed` lists those whose action failed or was
    refused (e.g. a port clash); FAILED means the batch itself could not go on (its
    container-svc kept dying: `error` says so); STOPPED, a user stopped it."""

    batch_id: str
    action: Action
    model: str | None  # None: the whole fleet
    state: JobState = JobState.QUEUED
    parallelism: int
    timeout_s: float | None = None
    wait_healthy: bool = True
    apps: list[str]  # "Model/appN": the apps it acts on, fixed when it was queued
    total: int
    done: int = 0
    # Per app done, in the order they ended. `output` is left out (it went out as the app's
    # ActionEvents, and a fleet's worth would not fit a KV value); the error's `detail` keeps
    # the output's last lines.
    results: list[ActionResult] = msgspec.field(default_factory=list)
    succeeded: list[str] = msgspec.field(default_factory=list)
    failed: list[str] = msgspec.field(default_factory=list)
    created_at: float = msgspec.field(default_factory=_now)
    started_at: float | None = None
    ended_at: float | None = None
    error: str = ""
    worker: str = ""  # the container-svc running it ("" while queued)
    attempt: int = 0  # deliveries of its job so far: above 1, it was resumed after a crash

    @property
    def job_id(self) -> str:
        return self.batch_id


class BatchRef(Message, kw_only=True):
    batch_id: BatchId


class BatchList(Message, kw_only=True):
    """The newest batches first, without their per-app `results`."""

    batches: list[BatchStatus]


class BatchEvent(Message, tag="batch", tag_field="kind", kw_only=True):
    """A batch's progress. Version 2: also sent on every change of the batch's state (then
    `app` is None and `model` is the batch's own, None for the fleet), and `state` says
    where the batch is; version 1 was sent per app only.

    Published on `genfleet.evt.batch.<app's model>.app<N>` for an app, on
    `genfleet.evt.batch.<model or _>._` for a change of state."""

    v: int = 2
    batch_id: str
    action: Action
    state: JobState
    model: str | None  # the app's model (an app's event), else the batch's
    app: int | None = None  # the app just done; None: the batch's state changed
    done: int
    total: int
    ok: bool | None = None  # the app's outcome
    error: str = ""  # why the app failed, or why the batch did
    ts: float = msgspec.field(default_factory=_now)
