"""Settings: defaults, then an optional TOML file, then GENFLEET_* environment variables.

The TOML file is `$GENFLEET_CONFIG`, else `./genfleet.toml` if it exists. Every field can be
set from the environment as GENFLEET_<FIELD> (lists comma-separated).

The secret key has no working default: it comes from the file or the environment, or is
generated once and stored (mode 0600) in the state directory, so two installs never share one.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from genfleet_common.errors import InvalidInput

if TYPE_CHECKING:
    from genfleet_common.messages import Action

ENV_PREFIX = "GENFLEET_"


def _default_state_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "genfleet")


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # general
    debug: bool = False
    secret_key: str = ""  # filled by load_settings; never a shared default
    state_dir: str = msgspec.field(default_factory=_default_state_dir)
    log_dir: str = ""  # empty: log to stderr only
    log_level: str = "INFO"
    log_json: bool = False
    # Prometheus metrics of a service (not the gateway: it serves /metrics): 0 means none
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    # bus
    nats_url: str = "nats://127.0.0.1:4222"
    request_timeout_s: float = 30.0  # default wait for a command reply
    nats_replicas: int = 1  # JetStream copies of streams, KV, object stores: 3 on a cluster
    # Every bus client connects with its own nkey (genfleet_common.identities). The seed file
    # ("": state_dir/identities/<identity>.seed); there is no default identity to fall back on
    nats_auth: bool = True
    nats_seed_file: str = ""
    nats_identities_dir: str = ""  # seeds by identity (<identity>.seed); "": state_dir/identities
    nats_tls_ca: str = ""  # the CA that signed the servers' certificates: TLS to NATS
    # fleet
    fleet_root: str = "examples/fleet"
    # docker
    docker_host: str = ""  # empty: DOCKER_HOST or the local socket
    docker_timeout_s: float = 10.0  # one Docker API call
    cache_duration_s: float = 300.0  # full resync of the event-fed status cache, as a safety net
    start_timeout_s: float = 300.0
    stop_timeout_s: float = 120.0
    build_timeout_s: float = 1800.0
    health_timeout_s: float = 120.0
    # A container's time to exit after its stop signal before it is killed (compose stop,
    # restart, down --timeout). One whose PID 1 cannot get the signal is killed at once.
    stop_grace_s: float = 3.0
    answer_timeout_s: float = 60.0  # a started service's time for its published ports to answer
    probe_timeout_s: float = 2.0  # one probe: connect to a published port and get an HTTP answer
    probe_refresh_s: float = 30.0  # running services' published ports are probed again this often
    batch_parallelism: int = 6  # measured: compose starts scale to ~6 at once on 2 cores
    batch_concurrency: int = 4  # batches one container-svc runs at once (more wait, QUEUED)
    batch_ack_wait_s: float = 30.0  # a container-svc silent this long is dead: batch resumed
    batch_max_attempts: int = 3  # deliveries of one batch before it ends FAILED
    # The apps' own networks reach nothing of the host or the platform (container-svc's
    # network guard, iptables): "auto" guards them where container-svc may (root or
    # CAP_NET_ADMIN on the host's network) and says so where not; "required" starts no app
    # unguarded; "off" leaves them be.
    apps_network_guard: Literal["auto", "required", "off"] = "auto"
    # Besides every address of the Docker host itself, the networks (CIDRs) the apps may not
    # reach: where the platform runs when it is not on that host (a cluster's pod and
    # Service ranges, its nodes).
    apps_blocked_networks: list[str] = msgspec.field(default_factory=list)
    # scans
    scan_tool_timeout_s: float = 300.0  # one analyzer run
    scan_ack_wait_s: float = 30.0  # a worker silent this long is taken for dead: job redelivered
    scan_max_attempts: int = 3  # deliveries of one scan job before it ends FAILED
    zap_url: str = ""  # an OWASP ZAP daemon, e.g. http://127.0.0.1:8090 (none by default)
    zap_api_key: str = ""  # its API key: never a default
    # load tests
    perf_max_duration_s: float = 3600.0  # the longest load test a user may ask for
    perf_max_users: int = 5000
    perf_start_timeout_s: float = 60.0  # Locust's start-up, beyond the test's own duration
    perf_stop_grace_s: float = 10.0  # a stopped Locust may take this long to report, then killed
    perf_ack_wait_s: float = 30.0  # a worker silent this long is taken for dead: job redelivered
    perf_max_attempts: int = 3  # deliveries of one load test job before it ends FAILED
    spectest_reruns: int = 2  # a spec test check that did not pass runs up to this many more times
    spectest_timeout_s: float = 300.0  # one run of an app's spec tests (the Tavern runner)
    spectest_request_timeout_s: float = 10.0  # one request of a check, unless the test says
    # requirements analysis (ai-svc)
    ai_backend: str = "gpt4all"  # gpt4all (in-process, local file) | openai (a server)
    ai_model: str = ""  # gpt4all: a .gguf file in ai_models_dir (""/default: SmolLM2 135M)
    ai_models_dir: str = ""  # "": the project's .tools/models (prepared by scripts/setup.sh)
    ai_openai_url: str = ""  # e.g. http://127.0.0.1:4891/v1 (GPT4All), :11434/v1 (Ollama)
    ai_openai_model: str = ""  # the server's model name ("": its first listed model)
    ai_openai_api_key: str = ""  # sent as a Bearer token when set
    ai_openai_context: int = 4096  # the server model's context window, in tokens
    ai_context: int = 4096  # the in-process model's context window (n_ctx), in tokens
    # answer length limit per model call: the verdict comes first, the evidence after it
    ai_max_tokens: int = 64
    ai_threads: int = 0  # gpt4all CPU threads; 0: every core
    ai_seed: int = 42  # temperature is always 0; the seed for servers that sample anyway
    # re-asks after an answer that does not begin with the verdict: 0 or 1
    ai_retries: Annotated[int, msgspec.Meta(ge=0, le=1)] = 1
    # each requirement's time budget, all its model calls together (0: none): a generation
    # still running then ends at its next token (its verdict counts if it came first)
    ai_requirement_timeout_s: Annotated[float, msgspec.Meta(ge=0)] = 90.0
    ai_request_timeout_s: float = 600.0  # one model call
    # a suggestion for one finding (triage): the wait for the model, all its calls together;
    # the caller waits for the answer (a bounded request, not a job)
    ai_suggest_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 120.0
    ai_ack_wait_s: float = 30.0
    ai_max_attempts: int = 3
    # campaigns (campaign-svc)
    campaign_parallel: int = 0  # apps up at once per campaign; 0: from the cores and memory
    campaign_poll_s: float = 0.5  # how often a running step's job is looked at
    campaign_ack_wait_s: float = 30.0  # a campaign-svc silent this long is dead: campaign resumed
    campaign_max_attempts: int = 5  # deliveries of one campaign before it ends FAILED
    # gateway
    host: str = "127.0.0.1"
    port: int = 8000
    cors_enabled: bool = False
    cors_origins: list[str] = msgspec.field(default_factory=list)

    def action_timeout_s(self, action: Action) -> float:
        """One app's lifecycle action's time limit when its request sets none."""
        # imported here: every CLI call loads settings, and most never need the messages
        from genfleet_common.messages import Action

        return {
            Action.START: self.start_timeout_s,
            Action.STOP: self.stop_timeout_s,
            Action.RESTART: self.start_timeout_s,
            Action.BUILD: self.build_timeout_s,
            Action.REBUILD: self.build_timeout_s + self.start_timeout_s,
        }[action]


_LIST_FIELDS = {"cors_origins", "apps_blocked_networks"}


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(Settings):
        raw = environ.get(ENV_PREFIX + field.name.upper())
        if raw is None:
            continue
        if field.name in _LIST_FIELDS:
            values[field.name] = [item.strip() for item in raw.split(",") if item.strip()]
        else:
            values[field.name] = raw
    return values


def _from_file(path: Path) -> dict[str, Any]:
    import tomllib  # here, like `secrets` below: every CLI call loads settings, few need these

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise InvalidInput(f"cannot read settings file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"settings file {path} is not valid TOML: {exc}") from exc


def load_settings(
    environ: dict[str, str] | None = None, *, config_file: str | None = None
) -> Settings:
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path:
        values.update(_from_file(Path(path)))
    elif Path("genfleet.toml").is_file():
        values.update(_from_file(Path("genfleet.toml")))
    values.update(_from_env(env))
    try:
        # strict=False converts the environment's strings ("true", "8000") to typed values
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid settings: {exc}") from exc
    for cidr in settings.apps_blocked_networks:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise InvalidInput(f"invalid settings: apps_blocked_networks: {exc}") from exc
    if not settings.secret_key:
        settings.secret_key = stored_secret_key(Path(settings.state_dir))
    return settings


def stored_secret_key(state_dir: Path) -> str:
    """The install's secret key: read from the state dir, or generated there on first run."""
    path = state_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    import secrets

    state_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    # O_EXCL: two services starting at once must not write two different keys
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
