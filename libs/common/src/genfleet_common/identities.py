"""Who may do what on the bus: every bus client's NATS identity and its permissions, once.

Each part of GenFleet (every service, the CLI's own client) connects with its own nkey: a
seed file it alone reads (mode 0600), whose public key the nats-server lists with the
publish/subscribe permissions derived from the table `GRANTS` below. Nothing connects
anonymously (DESIGN.md).

The rule, so that a new subject or bucket needs one line here and nothing else:
- a service that *serves* command namespace N answers `genfleet.cmd.N.>` (any new verb of N
  is covered), and may reply to the requests it gets (`allow_responses`), nothing else; a
  namespace two services share (triage: marks in scan-svc, suggestions in ai-svc) is
  *answered* subject by subject instead;
- a service that *calls* N may request `genfleet.cmd.N.>`; one that only *asks* a few
  questions of another (an app's status, its images) may request those commands alone;
- while it works on a long command, who answers N says so on `genfleet.working.N.<token>`,
  and who calls or asks N may hear it there (`Bus.request`);
- a service that *runs* job kind K queues and takes its jobs (`genfleet.job.K`, the
  stream `GENFLEET_K_JOBS`), stops them (`genfleet.ctl.K.>`) and dead-letters them;
- a service publishes events of the kinds it *emits* only (`genfleet.evt.<kind>.>`);
- a KV bucket or object store is *written* (its `$KV.<bucket>.>` / `$O.<bucket>.>`
  subjects and purges) only by the identities that list it in `kv_writes`/`objects_writes`;
  `kv_reads`/`objects_reads` give the JetStream API on its stream and no write subject;
- every identity gets replies on its own inbox prefix only (`_INBOX.<identity>.>`), so no
  identity reads another's replies.

What the JetStream API permissions do and do not prevent: the API's subjects name the
operation and the stream (`$JS.API.STREAM.INFO.<stream>`, `$JS.API.CONSUMER.CREATE.<stream>.>`),
so an identity reaches only the streams, buckets and stores it is given here. On those it
may read any message, make and delete consumers, and create the stream (every service creates
what it needs when it starts first, with the same configuration, so the order of start-up
does not matter). Only a stream's owner changes its configuration: a job queue's runner, the
events stream's container-svc, the audit stream's gateway (`configures`); the others use it
as it is (`Bus.ensure_stream`). KV buckets and object stores are never changed once made,
and deleting a stream is given to nobody. `$JS.API.INFO` (account limits and usage) and
`$JS.API.STREAM.NAMES` (which streams exist) are open to all.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import nkeys  # type: ignore[import-untyped]

from genfleet_common import subjects
from genfleet_common.errors import GenFleetError
from genfleet_common.settings import Settings

INBOX = "_INBOX"
JS_API = "$JS.API"


class Identity(StrEnum):
    """A bus client: its connection name, its seed file's name and its inbox prefix."""

    CONTAINER = "container-svc"
    SCAN = "scan-svc"
    PERF = "perf-svc"
    AI = "ai-svc"
    CAMPAIGN = "campaign-svc"
    GATEWAY = "gateway"
    CLI = "cli"  # `genfleet up`'s own client: the supervisor's platform reports
    ADMIN = "admin"  # the operator's (and the tests'): every subject; never given to a service


@dataclass(frozen=True)
class Grant:
    """What one identity may do; see the module's docstring for the rule of each field."""

    serves: tuple[str, ...] = ()  # command namespaces: genfleet.cmd.<namespace>.>
    answers: tuple[str, ...] = ()  # single command subjects of a namespace it shares
    calls: tuple[str, ...] = ()
    asks: tuple[str, ...] = ()  # single command subjects
    runs: tuple[str, ...] = ()  # job kinds
    emits: tuple[str, ...] = ()  # event kinds
    reads_events: bool = False  # consumers on the EVENTS stream (resumable event feeds)
    # streams it owns besides its job queues: it uses them and sets their configuration
    configures: tuple[str, ...] = ()
    kv_writes: tuple[str, ...] = ()
    kv_reads: tuple[str, ...] = ()
    objects_writes: tuple[str, ...] = ()
    objects_reads: tuple[str, ...] = ()
    publishes: tuple[str, ...] = ()  # further core subjects
    subscribes: tuple[str, ...] = ()


JOB_SERVICES = (subjects.SCAN, subjects.PERF, subjects.SPECTEST, subjects.ANALYSIS)
# what a scan or a load test reads of its app: where it runs, what its images installed
APP_QUESTIONS = (subjects.CONTAINER_STATUS, subjects.CONTAINER_IMAGES)
EVERY_NAMESPACE = (subjects.CONTAINER, *JOB_SERVICES, subjects.CAMPAIGN, subjects.TRIAGE)

GRANTS: Mapping[Identity, Grant] = {
    Identity.CONTAINER: Grant(
        serves=(subjects.CONTAINER,),
        # the events stream: whoever starts first makes it, container-svc keeps it up to date
        configures=(subjects.EVENTS_STREAM,),
        runs=(subjects.BATCH,),
        emits=("status", "engine", "action", subjects.BATCH),
        kv_writes=(subjects.BATCHES_BUCKET,),
        publishes=(subjects.log_stream(">"),),  # the log lines a follow asked for
    ),
    Identity.SCAN: Grant(
        serves=(subjects.SCAN,),
        answers=(subjects.TRIAGE_LIST, subjects.TRIAGE_SET, subjects.TRIAGE_REMOVE),
        asks=APP_QUESTIONS,
        runs=(subjects.SCAN,),
        emits=(subjects.SCAN,),
        kv_writes=(subjects.SCAN_STATE_BUCKET, subjects.TRIAGE_BUCKET),
        objects_writes=(subjects.REPORTS_BUCKET,),
    ),
    Identity.PERF: Grant(
        serves=(subjects.PERF, subjects.SPECTEST),
        asks=APP_QUESTIONS,
        runs=(subjects.PERF, subjects.SPECTEST),
        emits=(subjects.PERF, subjects.SPECTEST),
        kv_writes=(
            subjects.PERF_STATE_BUCKET,
            subjects.SPECTEST_STATE_BUCKET,
            subjects.SPECTEST_RESULTS_BUCKET,
        ),
        objects_writes=(subjects.PERF_RESULTS_BUCKET,),
    ),
    Identity.AI: Grant(
        serves=(subjects.ANALYSIS,),
        answers=(subjects.TRIAGE_SUGGEST, subjects.TRIAGE_SUGGESTION),
        runs=(subjects.ANALYSIS,),
        emits=(subjects.ANALYSIS,),
        kv_writes=(
            subjects.ANALYSIS_STATE_BUCKET,
            subjects.ANALYSIS_RESULTS_BUCKET,
            subjects.ANALYSIS_CACHE_BUCKET,
            subjects.TRIAGE_BUCKET,  # the suggestions (it reads the findings seen there)
        ),
    ),
    Identity.CAMPAIGN: Grant(
        serves=(subjects.CAMPAIGN,),
        calls=(subjects.CONTAINER, *JOB_SERVICES),  # a campaign's steps
        runs=(subjects.CAMPAIGN,),
        emits=(subjects.CAMPAIGN,),
        kv_writes=(subjects.CAMPAIGNS_BUCKET,),
        kv_reads=(subjects.BATCHES_BUCKET, subjects.TRIAGE_BUCKET),  # batches, marks
        objects_writes=(subjects.REPORTS_BUCKET,),  # the campaign reports
    ),
    Identity.GATEWAY: Grant(
        calls=EVERY_NAMESPACE,
        reads_events=True,
        configures=(subjects.AUDIT_STREAM,),
        kv_writes=(subjects.TOKENS_BUCKET,),  # revocations
        kv_reads=(subjects.BATCHES_BUCKET, subjects.PLATFORM_BUCKET),
        objects_reads=(subjects.REPORTS_BUCKET, subjects.PERF_RESULTS_BUCKET),
        publishes=(subjects.AUDIT,),
        # log lines; status and engine events, after which a fleet status it keeps is stale
        subscribes=(
            subjects.log_stream(">"),
            subjects.event_filter("status"),
            subjects.event_filter("engine"),
        ),
    ),
    Identity.CLI: Grant(emits=("platform",), kv_writes=(subjects.PLATFORM_BUCKET,)),
}


# --- the permissions a grant stands for --------------------------------------------------------
@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool


def kv_stream(bucket: str) -> str:
    return f"KV_{bucket}"


def objects_stream(bucket: str) -> str:
    return f"OBJ_{bucket}"


def configured_streams(identity: Identity) -> frozenset[str]:
    """The streams whose configuration `identity` sets: its job queues and what it
    `configures` (admin: every stream, `configures_stream`)."""
    grant = GRANTS.get(identity, Grant())
    return frozenset((*(subjects.jobs_stream(k) for k in grant.runs), *grant.configures))


def configures_stream(identity: Identity | None, stream: str) -> bool:
    """Whether `identity` (None: a client without one, on a server that checks none) may
    change `stream`'s configuration."""
    return identity in (None, Identity.ADMIN) or stream in configured_streams(identity)


def stream_api(stream: str, *, configures: bool = False) -> list[str]:
    """Using a stream: its info, creating it (and updating it: `configures`), reading its
    messages, its consumers (create, info, delete, next message), acks and flow control."""
    return [
        f"{JS_API}.STREAM.INFO.{stream}",
        f"{JS_API}.STREAM.CREATE.{stream}",
        *([f"{JS_API}.STREAM.UPDATE.{stream}"] if configures else []),
        f"{JS_API}.STREAM.MSG.GET.{stream}",
        f"{JS_API}.DIRECT.GET.{stream}",
        f"{JS_API}.DIRECT.GET.{stream}.>",
        f"{JS_API}.CONSUMER.*.{stream}",
        f"{JS_API}.CONSUMER.*.{stream}.>",
        f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.ACK.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


def stream_writes(stream: str) -> list[str]:
    """Removing messages: a KV purge, an object's replaced chunks."""
    return [f"{JS_API}.STREAM.PURGE.{stream}", f"{JS_API}.STREAM.MSG.DELETE.{stream}"]


def _namespaces(commands: Iterable[str]) -> list[str]:
    return [n for n in map(subjects.namespace, commands) if n is not None]


def inbox_prefix(identity: Identity) -> str:
    return f"{INBOX}.{identity.value}"


def permissions(identity: Identity) -> Permissions:
    """The subjects `identity` may publish to and subscribe to."""
    if identity is Identity.ADMIN:
        return Permissions(publish=(">",), subscribe=(">",), allow_responses=False)
    g = GRANTS[identity]
    # account usage, and stream names by subject (nats-py looks an object's stream up so)
    pub: list[str] = [f"{JS_API}.INFO", f"{JS_API}.STREAM.NAMES"]
    sub: list[str] = [f"{inbox_prefix(identity)}.>"]
    streams: list[str] = list(g.configures)
    for namespace in g.serves:
        sub.append(subjects.command(namespace, ">"))
    sub += g.answers
    # a long command's "still working" notices: sent by who answers, heard by who asks
    for namespace in dict.fromkeys((*g.serves, *_namespaces(g.answers))):
        pub.append(subjects.working(namespace, ">"))
    for namespace in g.calls:
        pub.append(subjects.command(namespace, ">"))
    pub += g.asks
    for namespace in dict.fromkeys((*g.calls, *_namespaces(g.asks))):
        sub.append(subjects.working(namespace, ">"))
    for kind in g.runs:
        pub += [subjects.job(kind), subjects.control(kind, ">"), subjects.dead_letter(kind)]
        sub.append(subjects.control(kind, ">"))
        streams += [subjects.jobs_stream(kind), subjects.DLQ_STREAM]
    for kind in g.emits:
        pub.append(subjects.event_filter(kind))
    if g.emits or g.reads_events:
        streams.append(subjects.EVENTS_STREAM)  # its creator is whoever starts first
    for bucket in g.kv_writes:
        pub += [f"$KV.{bucket}.>", *stream_writes(kv_stream(bucket))]
    for bucket in g.objects_writes:
        pub += [f"$O.{bucket}.>", *stream_writes(objects_stream(bucket))]
    streams += [kv_stream(b) for b in (*g.kv_writes, *g.kv_reads)]
    streams += [objects_stream(b) for b in (*g.objects_writes, *g.objects_reads)]
    for stream in dict.fromkeys(streams):  # once each, in order
        pub += stream_api(stream, configures=configures_stream(identity, stream))
    pub += g.publishes
    sub += g.subscribes
    return Permissions(
        publish=tuple(dict.fromkeys(pub)),
        subscribe=tuple(dict.fromkeys(sub)),
        allow_responses=bool(g.serves or g.answers),
    )


# --- seeds: generated once per install, kept 0600 ----------------------------------------------
class MissingIdentity(GenFleetError):
    pass


SEED_SUFFIX = ".seed"
AUTH_CONF = "auth.conf"  # beside the seeds: the server's authorization block, to include


def seed_path(directory: Path, identity: Identity) -> Path:
    return directory / f"{identity.value}{SEED_SUFFIX}"


def new_seed() -> bytes:
    """A new user nkey's seed (`SU...`)."""
    seed: bytes = nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_USER)
    return seed


def public_key(seed: bytes) -> str:
    """The user's public key (`U...`): what the server lists; the seed stays with the client."""
    key: bytes = nkeys.from_seed(bytearray(seed)).public_key
    return key.decode()


def read_seed(path: Path) -> bytes:
    try:
        seed = path.read_bytes().strip()
        public_key(seed)  # a file that is no seed is said now, not as a refused connection
    except OSError as exc:
        raise MissingIdentity(f"cannot read the NATS identity {path}: {exc.strerror}") from exc
    except Exception as exc:
        raise MissingIdentity(f"{path} holds no valid NATS user seed") from exc
    return seed


def write_seed(path: Path, seed: bytes, *, replace: bool = False) -> None:
    """Write a seed readable by its owner alone; without `replace`, an existing one stays
    (two processes making identities at once keep the first)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if replace:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(seed + b"\n")
        tmp.replace(path)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(seed + b"\n")


def ensure_identities(
    directory: Path,
    identities: Iterable[Identity] = tuple(Identity),
    *,
    rotate: Iterable[Identity] = (),
) -> dict[Identity, str]:
    """Every identity's seed in `directory` (made where missing, made anew for `rotate`);
    returns their public keys, which is all the server needs."""
    renew = set(rotate)
    keys: dict[Identity, str] = {}
    for identity in identities:
        path = seed_path(directory, identity)
        if identity in renew or not path.exists():
            write_seed(path, new_seed(), replace=identity in renew)
        keys[identity] = public_key(read_seed(path))
    return keys


def identities_dir(state_dir: str | Path) -> Path:
    """Where `genfleet up` keeps the install's seeds (and a deployment may too)."""
    return Path(state_dir) / "identities"


def client_options(settings: Settings, identity: Identity) -> dict[str, Any]:
    """nats-py connect options for `identity`: its seed, its inbox prefix, TLS.

    With `nats_auth` on (the default) and no seed, MissingIdentity says where it was looked
    for: there is no identity to fall back on.
    """
    options: dict[str, Any] = {"inbox_prefix": inbox_prefix(identity)}
    if settings.nats_tls_ca:
        import ssl

        options["tls"] = ssl.create_default_context(cafile=settings.nats_tls_ca)
    if not settings.nats_auth:
        return options
    directory = settings.nats_identities_dir or identities_dir(settings.state_dir)
    path = Path(settings.nats_seed_file or seed_path(Path(directory), identity))
    if not path.exists():
        raise MissingIdentity(
            f"no NATS identity for {identity.value}: {path} does not exist. Set "
            "GENFLEET_NATS_SEED_FILE to its seed file or GENFLEET_NATS_IDENTITIES_DIR to the "
            "directory of seeds (`genfleet nats-identities DIR` makes them; `genfleet up` "
            "makes its own), or GENFLEET_NATS_AUTH=false for a NATS server without "
            "authentication"
        )
    options["nkeys_seed_str"] = read_seed(path).decode()
    return options


# --- the server's side ---------------------------------------------------------------------------
def authorization(keys: Mapping[Identity, str]) -> dict[str, Any]:
    """The nats-server `authorization` block: each public key with its permissions."""
    users = []
    for identity, key in keys.items():
        perms = permissions(identity)
        entry: dict[str, Any] = {
            "publish": {"allow": list(perms.publish)},
            "subscribe": {"allow": list(perms.subscribe)},
        }
        if perms.allow_responses:
            entry["allow_responses"] = True
        users.append({"nkey": key, "permissions": entry})
    return {"users": users}


def authorization_conf(keys: Mapping[Identity, str]) -> str:
    """The `authorization` block as nats-server configuration text (its format reads JSON;
    every subject is quoted, so `$JS...` is never taken for a variable)."""
    body = json.dumps(authorization(keys), indent=2)
    return (
        "# Generated by GenFleet (genfleet_common.identities): the bus identities and what each\n"
        "# may publish and subscribe to. Made anew when identities are rotated.\n"
        f"authorization: {body}\n"
    )
