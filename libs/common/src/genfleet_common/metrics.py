"""Prometheus metrics, defined once for every process (prometheus-client's default registry).

What is measured, and where:
- bus round trips by subject and outcome: `Bus.request` (the caller's view) and `Bus.serve`
  (the handler's); subjects are command subjects, which hold no user names;
- jobs by kind and outcome, their durations, and the queue depth each worker sees: `JobWorker`;
- tool runs by tool and outcome: scan-svc; engine events by type and action: container-svc;
- HTTP requests by method, route template and status: the gateway.

The gateway serves them at `/metrics`; every other service, when `metrics_port` is set, on
its own small HTTP server (`serve_metrics`). `genfleet up` gives each a port and writes the
scrape targets to `<state_dir>/prometheus-targets.json` (Prometheus file_sd format).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from genfleet_common.errors import GenFleetError
from genfleet_common.logs import get_logger

log = get_logger("metrics")

# Seconds: a bus round trip is ~0.4 ms, a job from seconds to an hour.
_FAST = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_SLOW = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

BUS_REQUEST_SECONDS = Histogram(
    "genfleet_bus_request_seconds",
    "Command round trips over NATS, as the caller sees them",
    ["subject", "outcome"],  # outcome: ok, or the typed error's code
    buckets=_FAST,
)
BUS_HANDLED_SECONDS = Histogram(
    "genfleet_bus_handled_seconds",
    "Commands answered by this process, from receipt to reply",
    ["subject", "outcome"],
    buckets=_FAST,
)


@contextlib.contextmanager
def observed_request(subject: str) -> Iterator[None]:
    """Times one command round trip on `subject` into BUS_REQUEST_SECONDS, with its outcome:
    ok, or the code of the typed error it raised (the caller's view, for every client)."""
    started, outcome = time.perf_counter(), "ok"
    try:
        yield
    except GenFleetError as err:
        outcome = err.code.value
        raise
    finally:
        BUS_REQUEST_SECONDS.labels(subject, outcome).observe(time.perf_counter() - started)


JOBS = Counter(
    "genfleet_jobs", "Jobs this worker ended, by outcome", ["kind", "outcome"]
)  # outcome: done, stopped, crashed, requeued, gave_up, dead_lettered
JOB_SECONDS = Histogram(
    "genfleet_job_seconds", "How long a job ran in this worker", ["kind"], buckets=_SLOW
)
JOBS_WAITING = Gauge("genfleet_jobs_waiting", "Jobs in the queue no worker has taken yet", ["kind"])
JOBS_RUNNING = Gauge(
    "genfleet_jobs_running", "Jobs taken by a worker and not yet over (all workers)", ["kind"]
)
TOOL_RUNS = Counter("genfleet_tool_runs", "Analyzer runs, by tool and outcome", ["tool", "outcome"])
ENGINE_EVENTS = Counter(
    "genfleet_engine_events", "Docker engine events seen, by type and action", ["type", "action"]
)
EVENTS_UNSENT = Counter(
    "genfleet_events_unsent", "Events given up after failed publishes, by kind", ["kind"]
)
ENGINE_AVAILABLE = Gauge("genfleet_engine_available", "1 while the Docker engine answers")
HTTP_SECONDS = Histogram(
    "genfleet_http_request_seconds",
    "HTTP requests to the gateway, by method, route template and status",
    ["method", "route", "status"],
    buckets=_FAST,
)

TARGETS_FILE = "prometheus-targets.json"


def serve_metrics(service: str, port: int, host: str = "127.0.0.1") -> None:
    """This process's metrics on http://host:port/metrics (0: not served)."""
    if port <= 0:
        return
    start_http_server(port, addr=host)
    log.info("metrics", extra={"service": service, "url": f"http://{host}:{port}/metrics"})


def write_targets(state_dir: str | os.PathLike[str], targets: dict[str, str]) -> Path:
    """`genfleet up`'s scrape targets (service -> host:port) as a Prometheus file_sd file."""
    path = Path(state_dir) / TARGETS_FILE
    groups = [{"targets": [t], "labels": {"service": name}} for name, t in targets.items()]
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(groups, indent=2))
    os.replace(partial, path)
    return path
