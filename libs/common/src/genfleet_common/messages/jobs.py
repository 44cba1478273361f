"""What every job kind (scan, load test, analysis, ...) shares: one state vocabulary, the base
of every job's status, and the reference by id that the generic job commands take.

A kind's status subclasses `JobStatus`, adds its own fields and names its id field
(`scan_id`, `test_id`, `analysis_id`) through the `job_id` property.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from msgspec import Meta

from genfleet_common.messages.base import Message

JobId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,64}$")]
NewJobId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{0,64}$")]  # "": the service picks one


class JobState(StrEnum):
    QUEUED = "QUEUED"  # accepted, waiting for a worker (again, after its worker stopped)
    RUNNING = "RUNNING"  # a worker runs it
    COMPLETE = "COMPLETE"  # ran to its end: its result says what was found
    UNAVAILABLE = "UNAVAILABLE"  # nothing could be checked (no model reachable): `error` says why
    FAILED = "FAILED"  # could not be done (app not running, workers kept dying): `error` says why
    ERROR = "ERROR"  # a bug in GenFleet: `error` says what
    STOPPED = "STOPPED"  # stopped by a user: what it had done so far is its result

    @property
    def done(self) -> bool:
        return self not in (JobState.QUEUED, JobState.RUNNING)


class JobStatus(Message, kw_only=True):
    """The part of a job's status that the job lifecycle (genfleet_common.jobs) reads and
    writes. Version 2: one state vocabulary for every kind (it was STARTING, SPIDERING,
    SCANNING for scans, STARTING for load tests)."""

    v: int = 2
    model: str
    app: int
    state: JobState = JobState.QUEUED
    started_at: float | None = None
    ended_at: float | None = None
    error: str = ""
    worker: str = ""  # the worker running it ("" while queued)
    attempt: int = 0  # deliveries of its job so far

    @property
    def job_id(self) -> str:
        raise NotImplementedError  # each kind names its id field

    @property
    def done(self) -> bool:
        return self.state.done


class JobRef(Message, kw_only=True):
    """One job, by id: the status, stop and result commands of every kind."""

    job_id: JobId


@dataclass(frozen=True)
class KindMessages:
    """A job kind's messages besides its job and status: the event sent on every change of a
    job (its field `status`), and the replies to `history` and `latest` (their jobs in their
    one field). Each kind's module names its own (e.g. SCAN_MESSAGES)."""

    event: type[Message]
    history: type[Message]
    latest: type[Message]
