"""The fleet registry: which models and apps exist, what their compose files publish, and
which host ports a new app can use without clashing with any other app of the fleet.

Layout (that of existing generated-app repositories, read unchanged):

    <fleet>/fleet.toml                                  optional, see `_read_config`
    <fleet>/models/<Model>/app<N>/docker-compose.yml    (or docker-compose.yaml, compose.y[a]ml)
    <fleet>/models/<Model>/app<N>/.env                  optional, used for ${VAR} interpolation

`Fleet.load` reads all of it once; the `Fleet` it returns never changes, and every lookup
that services do per Docker event (`app_for_*`) is a dict lookup built at load time.
Problems in single folders or compose files never stop a load: the folder or app is skipped
and the reason is kept in `Fleet.warnings`.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.messages import (
    AppSpec,
    FleetInfo,
    ModelSpec,
    PortBinding,
    PortClash,
    ServiceSpec,
)

__all__ = [
    "Fleet",
    "project_name",
    "validate_app_number",
    "validate_model_name",
]

MODELS_DIR = "models"
FLEET_TOML = "fleet.toml"
# In the order `docker compose` itself picks them, so we read the file compose would run.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
REQUIREMENTS_FILES = ("requirements.json", "app_requirements.json")
DEFAULT_PORT_RANGE = (5000, 9999)
# Preferred ports of a new app are spread out per model so that apps of one model sit
# together: range_start + model_index * PORTS_PER_MODEL + number * 2 + service_index.
PORTS_PER_MODEL = 100
# Model colours when fleet.toml gives none, picked by the model's position in sorted order.
PALETTE = (
    "#2563eb",  # blue
    "#dc2626",  # red
    "#16a34a",  # green
    "#d97706",  # amber
    "#7c3aed",  # violet
    "#0891b2",  # cyan
    "#db2777",  # pink
    "#65a30d",  # lime
    "#ea580c",  # orange
    "#4f46e5",  # indigo
    "#0d9488",  # teal
    "#9333ea",  # purple
)
# Generated compose files are a few KiB; anything this big is not one and is not parsed.
MAX_COMPOSE_BYTES = 1024 * 1024
MAX_APP_NUMBER = 99_999

# Host IPs that bind every interface, so they overlap any other address.
_ANY_HOST = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - compared against, never bound
_PROTOCOLS = frozenset({"tcp", "udp", "sctp"})

_MODEL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_APP_DIR_RE = re.compile(r"app([1-9][0-9]*)")  # no leading zeros: app01 would alias app1
_SERVICE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # what compose accepts
_COLOR_RE = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_PORTS_RE = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")
_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_NUMBERED_CONTAINER_RE = re.compile(r"(.+)[-_][0-9]+")  # compose's <project>-<service>-<n>


def _show(value: object, limit: int = 80) -> str:
    """repr() for error messages, cut short so a hostile value cannot flood a log line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- names ----------------------------------------------------------------------------------
def validate_model_name(name: str) -> str:
    """Return `name` if it is a safe model name, else raise InvalidInput.

    Model names end up in paths, shell arguments, container names and NATS subjects, so only
    letters, digits, '.', '_' and '-' are allowed ('~' is the subject escape of '.', see
    subjects.token), the first character is a letter or digit, and '..' never appears.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"model name must be a string, not {type(name).__name__}")
    if not _MODEL_NAME_RE.fullmatch(name) or ".." in name:
        raise InvalidInput(
            f"invalid model name {_show(name)}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..'"
        )
    return name


def validate_app_number(n: object) -> int:
    """Return `n` if it is an app number (an int, not a bool, in 1..99999), else raise."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_APP_NUMBER:
        raise InvalidInput(f"invalid app number {_show(n)}: must be an integer 1..{MAX_APP_NUMBER}")
    return n


def project_name(model: str, number: int) -> str:
    """The Compose project name of an app: `genfleet-<slug>-app<N>`.

    Compose wants `[a-z0-9_-]` starting with a letter or digit, so the slug lowercases the
    model name and writes every other character as '-'. Whenever that changed the name
    (a replaced '.', or an upper-case letter), a short hash of the real name is appended,
    so 'gpt-4.1', 'gpt-4-1' and 'GPT-4-1' get three different projects.
    """
    model = validate_model_name(model)
    number = validate_app_number(number)
    slug = re.sub(r"[^a-z0-9_-]", "-", model.lower())
    if slug != model:
        slug += "-" + hashlib.sha256(model.encode()).hexdigest()[:6]
    return f"genfleet-{slug}-app{number}"


def _validate_service_names(services: Sequence[str]) -> list[str]:
    # A bare string is a Sequence[str] too; iterating it would allocate one port per letter.
    if isinstance(services, str):
        raise InvalidInput("services must be a list of service names, not one string")
    names = list(services)
    if not names:
        raise InvalidInput("services must name at least one service")
    for name in names:
        if not isinstance(name, str) or not _SERVICE_NAME_RE.fullmatch(name):
            raise InvalidInput(f"invalid service name {_show(name)}")
    if len(set(names)) != len(names):
        raise InvalidInput(f"duplicate service names in {_show(names)}")
    return names


# --- fleet.toml -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Config:
    requirements: str | None = None
    port_range: tuple[int, int] = DEFAULT_PORT_RANGE
    colors: dict[str, str] = field(default_factory=dict)
    display_names: dict[str, str] = field(default_factory=dict)


def _toml_table(value: object, where: str, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{path}: {where} must be a table")
    return value


def _warn_unknown_keys(
    table: Mapping[str, Any], known: Iterable[str], where: str, warnings: list[str]
) -> None:
    for key in sorted(set(table) - set(known)):
        warnings.append(f"{FLEET_TOML}: unknown key {_show(key)} in {where} ignored")


def _toml_port(table: Mapping[str, Any], key: str, default: int, path: Path) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidInput(f"{path}: ports.{key} must be an integer 1..65535, not {_show(value)}")
    return value


def _read_config(root: Path, warnings: list[str]) -> _Config:
    """Read `<root>/fleet.toml`; a missing file means defaults, a broken one InvalidInput."""
    path = root / FLEET_TOML
    if not path.exists() and not path.is_symlink():
        return _Config()
    if _inside(path, root) is None:
        raise InvalidInput(f"{path}: points outside the fleet root {root}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: invalid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from exc
    _warn_unknown_keys(data, ("requirements", "ports", "models"), "the top level", warnings)

    requirements = data.get("requirements")
    if requirements is not None and (not isinstance(requirements, str) or not requirements):
        raise InvalidInput(f"{path}: requirements must be a non-empty string (a path)")

    ports = _toml_table(data.get("ports", {}), "[ports]", path)
    _warn_unknown_keys(ports, ("range_start", "range_end"), "[ports]", warnings)
    start = _toml_port(ports, "range_start", DEFAULT_PORT_RANGE[0], path)
    end = _toml_port(ports, "range_end", DEFAULT_PORT_RANGE[1], path)
    if start > end:
        raise InvalidInput(f"{path}: ports.range_start {start} is above ports.range_end {end}")

    colors: dict[str, str] = {}
    display_names: dict[str, str] = {}
    for name, raw in _toml_table(data.get("models", {}), "[models]", path).items():
        table = _toml_table(raw, f"[models.{_show(name)}]", path)
        try:
            validate_model_name(name)
        except InvalidInput as exc:
            warnings.append(f"{FLEET_TOML}: [models] entry ignored: {exc.message}")
            continue
        _warn_unknown_keys(table, ("color", "display_name"), f"[models.{name!r}]", warnings)
        color = table.get("color")
        if color is not None:
            # The dashboard puts it into CSS; only hex colours can never inject anything.
            if not isinstance(color, str) or not _COLOR_RE.fullmatch(color):
                raise InvalidInput(
                    f"{path}: models.{name!r}.color must be a hex colour like '#d97706', "
                    f"not {_show(color)}"
                )
            colors[name] = color
        display_name = table.get("display_name")
        if display_name is not None:
            if not isinstance(display_name, str) or not display_name.strip():
                raise InvalidInput(f"{path}: models.{name!r}.display_name must be a string")
            display_names[name] = display_name
    return _Config(
        requirements=requirements,
        port_range=(start, end),
        colors=colors,
        display_names=display_names,
    )


# --- paths ----------------------------------------------------------------------------------
def _inside(path: Path, root: Path) -> Path | None:
    """`path` with symlinks resolved, or None when it leads out of `root` (or loops)."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return None
    return resolved if resolved.is_relative_to(root) else None


def _children(folder: Path, warnings: list[str], label: str) -> list[Path]:
    try:
        return sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        warnings.append(f"{label}: cannot list folder: {exc.strerror or exc}")
        return []


# --- compose YAML ---------------------------------------------------------------------------
class _ComposeLoader(yaml.SafeLoader):
    """yaml.safe_load with YAML 1.2 scalars, which is how compose reads its files.

    PyYAML speaks YAML 1.1, where an unquoted `- 22:22` in a ports list is the base-60
    integer 1342 and `0755` is octal; compose (YAML 1.2) sees the string "22:22" and 755.
    """


_REPLACED_TAGS = frozenset(
    f"tag:yaml.org,2002:{kind}" for kind in ("bool", "int", "float", "timestamp")
)
_ComposeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in (
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    (
        "float",
        r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "-+.0123456789",
    ),
):
    _ComposeLoader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(rf"^(?:{_pattern})$"), list(_first)
    )


def _construct_int(loader: _ComposeLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    try:
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)  # YAML 1.2: a leading zero is still decimal
    except ValueError:
        raise yaml.constructor.ConstructorError(
            None, None, f"invalid integer {text!r}", node.start_mark
        ) from None


_ComposeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


# --- interpolation --------------------------------------------------------------------------
class _ComposeError(Exception):
    """The compose file is one compose itself would refuse: the app is skipped."""


class _PortError(Exception):
    """One `ports:` entry compose would refuse: that entry is skipped."""


Lookup = Callable[[str], str | None]


def _closing_brace(text: str, start: int) -> int:
    """Index of the '}' closing a '${' whose body starts at `start`, allowing nested ${...}."""
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _expand_braced(body: str, lookup: Lookup, missing: set[str]) -> str:
    match = _VAR_NAME_RE.match(body)
    if not match:
        raise _ComposeError(f"invalid interpolation '${{{body}}}'")
    name, rest = match.group(), body[match.end() :]
    value = lookup(name)
    if rest == "":
        if value is None:
            missing.add(name)
        return value or ""
    # Longest operators first, so ':-' is not read as '-'.
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if not rest.startswith(op):
            continue
        arg = rest[len(op) :]
        # With ':' an empty value counts as unset.
        usable = (value or None) if op.startswith(":") else value
        if op.endswith("-"):
            return usable if usable is not None else _interpolate(arg, lookup, missing)
        if op.endswith("?"):
            if usable is not None:
                return usable
            message = _interpolate(arg, lookup, missing)
            raise _ComposeError(
                f"required variable {name} is missing a value" + (f": {message}" if message else "")
            )
        return _interpolate(arg, lookup, missing) if usable is not None else ""
    raise _ComposeError(f"invalid interpolation '${{{body}}}'")


def _interpolate(text: str, lookup: Lookup, missing: set[str]) -> str:
    """Compose's variable syntax: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, and $$ for a literal '$'.
    Unset variables without a default become "" (as in compose) and are noted in `missing`.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        nxt = text[i + 1 : i + 2]
        if char != "$":
            out.append(char)
            i += 1
        elif nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise _ComposeError(f"unclosed '${{' in {_show(text)}")
            out.append(_expand_braced(text[i + 2 : end], lookup, missing))
            i = end + 1
        elif match := _VAR_NAME_RE.match(text, i + 1):
            value = lookup(match.group())
            if value is None:
                missing.add(match.group())
            out.append(value or "")
            i = match.end()
        else:  # a lone '$' is kept as written
            out.append(char)
            i += 1
    return "".join(out)


def _dotenv_value(raw: str, lookup: Lookup) -> str:
    ignored: set[str] = set()
    if raw[:1] == "'":  # single quotes: literal, no interpolation
        end = raw.find("'", 1)
        if end < 0:
            raise _ComposeError("unterminated single quote")
        return raw[1:end]
    if raw[:1] == '"':  # double quotes: backslash escapes, then interpolation
        escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
        chars: list[str] = []
        i = 1
        while i < len(raw) and raw[i] != '"':
            if raw[i] == "\\" and i + 1 < len(raw):
                chars.append(escapes.get(raw[i + 1], "\\" + raw[i + 1]))
                i += 2
            else:
                chars.append(raw[i])
                i += 1
        if i >= len(raw):
            raise _ComposeError("unterminated double quote")
        return _interpolate("".join(chars), lookup, ignored)
    # Unquoted: a '#' after whitespace starts a comment.
    return _interpolate(re.split(r"\s#", raw, maxsplit=1)[0].strip(), lookup, ignored)


def _read_dotenv(path: Path, environ: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    """The KEY=VALUE pairs of an app's .env file (export prefix, quotes, comments)."""
    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:  # a value may refer to the environment or earlier keys
        found = environ.get(name)
        return found if found is not None else values.get(name)

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f".env: cannot read: {exc}")
        return values
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line.removeprefix("export ").lstrip()
        key, sep, raw = line.partition("=")
        key = key.strip()
        if not _DOTENV_KEY_RE.fullmatch(key):
            problems.append(f".env line {lineno}: not KEY=VALUE; ignored")
            continue
        if not sep:  # a bare KEY passes the environment's value through: nothing to record
            continue
        try:
            values[key] = _dotenv_value(raw.strip(), lookup)
        except _ComposeError as exc:
            problems.append(f".env line {lineno}: {exc}; ignored")
    return values


# --- ports ----------------------------------------------------------------------------------
def _port_numbers(text: str, what: str) -> list[int]:
    """'5000' -> [5000]; '8000-8002' -> [8000, 8001, 8002]."""
    match = _PORTS_RE.fullmatch(text.strip())
    if not match:
        raise _PortError(f"invalid {what} {_show(text)}")
    low = int(match[1])
    high = int(match[2]) if match[2] else low
    if not 1 <= low <= high <= 65535:
        raise _PortError(f"invalid {what} {_show(text)}")
    return list(range(low, high + 1))


def _host_ip(text: str) -> str:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))  # canonical form, so '::0001' equals '::1'
    except ValueError:
        raise _PortError(f"invalid host IP {_show(text)}") from None


def _protocol(text: str) -> str:
    protocol = text.strip().lower() or "tcp"
    if protocol not in _PROTOCOLS:
        raise _PortError(f"unknown protocol {_show(text)}")
    return protocol


def _bindings(
    host_ip: str, host_ports: list[int], container_ports: list[int], protocol: str
) -> list[PortBinding]:
    if len(container_ports) == 1 and len(host_ports) > 1:
        # 'A-B:80' lets Docker pick any one port of A-B; all of them may be taken, so all count.
        container_ports = container_ports * len(host_ports)
    if len(host_ports) != len(container_ports):
        raise _PortError("host and container port ranges differ in length")
    return [
        PortBinding(host_ip=host_ip, host_port=host, container_port=container, protocol=protocol)
        for host, container in zip(host_ports, container_ports, strict=True)
    ]


def _parse_short_port(text: str) -> list[PortBinding]:
    """`[[HOST_IP:]HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]`; IPv6 in [brackets]."""
    spec, _, protocol = text.partition("/")
    host_ip = ""
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0 or spec[close + 1 : close + 2] != ":":
            raise _PortError(f"invalid port {_show(text)}")
        host_ip, parts = spec[1:close], spec[close + 2 :].split(":")
        if len(parts) != 2:
            raise _PortError(f"invalid port {_show(text)}")
    else:
        parts = spec.split(":")
        if len(parts) > 2:  # an unbracketed IPv6 address keeps its own colons
            host_ip, parts = ":".join(parts[:-2]), parts[-2:]
    if len(parts) == 1:  # container port only: Docker picks a random host port
        _port_numbers(parts[0], "container port")
        return []
    host, container = parts
    container_ports = _port_numbers(container, "container port")
    if host.strip() in ("", "0"):  # no fixed host port, as above
        return []
    return _bindings(
        _host_ip(host_ip), _port_numbers(host, "host port"), container_ports, _protocol(protocol)
    )


def _parse_long_port(entry: Mapping[Any, Any], interp: Callable[[str], str]) -> list[PortBinding]:
    """{target, published, host_ip, protocol, mode}; published may be an int or a range."""

    def text(key: str) -> str:
        value = entry.get(key)
        if value is None:
            return ""
        if isinstance(value, str):
            return interp(value).strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise _PortError(f"invalid {key} {_show(value)}")

    target = text("target")
    if not target:
        raise _PortError("long-form port without 'target'")
    container_ports = _port_numbers(target, "target port")
    published = text("published")
    if published in ("", "0"):
        return []
    return _bindings(
        _host_ip(text("host_ip")),
        _port_numbers(published, "published port"),
        container_ports,
        _protocol(text("protocol")),
    )


def _parse_port(entry: object, interp: Callable[[str], str]) -> list[PortBinding]:
    if isinstance(entry, bool):
        raise _PortError(f"invalid port {entry!r}")
    if isinstance(entry, int):  # container port only
        _port_numbers(str(entry), "container port")
        return []
    if isinstance(entry, str):
        return _parse_short_port(interp(entry).strip())
    if isinstance(entry, dict):
        return _parse_long_port(entry, interp)
    raise _PortError(f"invalid port entry {_show(entry)}")


# --- services -------------------------------------------------------------------------------
def _optional_text(value: object, key: str, interp: Callable[[str], str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return interp(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _ComposeError(f"{key} must be a string, not {_show(value)}")


def _has_healthcheck(healthcheck: object, interp: Callable[[str], str]) -> bool:
    if not isinstance(healthcheck, dict):
        return False
    disable = healthcheck.get("disable")
    if isinstance(disable, str):
        disable = interp(disable).strip().lower() == "true"
    if disable is True:
        return False
    test = healthcheck.get("test")
    # test: NONE / ["NONE"] also switches off a check inherited from the image.
    return not (test == "NONE" or (isinstance(test, list) and test[:1] == ["NONE"]))


def _parse_service(
    name: str, raw: object, interp: Callable[[str], str], problems: list[str]
) -> ServiceSpec:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _ComposeError(f"service {name!r} is not a mapping")
    raw_ports = raw.get("ports") or []
    if not isinstance(raw_ports, list):
        raise _ComposeError(f"service {name!r}: ports must be a list")
    ports: list[PortBinding] = []
    for entry in raw_ports:
        try:
            ports.extend(_parse_port(entry, interp))
        except _PortError as exc:
            # Compose would refuse this entry, so it publishes nothing; keep the rest.
            problems.append(f"service {name!r}: {exc}; entry ignored")
    return ServiceSpec(
        name=name,
        container_name=_optional_text(raw.get("container_name"), "container_name", interp),
        ports=tuple(ports),
        has_healthcheck=_has_healthcheck(raw.get("healthcheck"), interp),
        builds=raw.get("build") is not None,
        image=_optional_text(raw.get("image"), "image", interp),
    )


def _parse_compose(
    document: object, lookup: Lookup, problems: list[str]
) -> tuple[ServiceSpec, ...]:
    """The services of a loaded compose document. Only the fields read here are interpolated,
    which also keeps a YAML alias bomb from being walked node by node."""
    if document is None:
        raise _ComposeError("empty compose file")
    if not isinstance(document, dict):
        raise _ComposeError("the top level is not a mapping")
    missing: set[str] = set()

    def interp(text: str) -> str:
        return _interpolate(text, lookup, missing)

    services = document.get("services")  # `version:` and `name:` are accepted and unused
    if services is None:
        problems.append("no services")
        return ()
    if not isinstance(services, dict):
        raise _ComposeError("services is not a mapping")
    parsed = tuple(
        _parse_service(str(name), raw, interp, problems) for name, raw in services.items()
    )
    problems.extend(
        f"variable {name} is not set; using an empty string" for name in sorted(missing)
    )
    return parsed


def _compose_file(app_dir: Path, root: Path, problems: list[str]) -> Path:
    found = [app_dir / name for name in COMPOSE_FILES if (app_dir / name).is_file()]
    if not found:
        raise _ComposeError(f"no compose file ({', '.join(COMPOSE_FILES)})")
    if len(found) > 1:
        problems.append(
            f"several compose files ({', '.join(p.name for p in found)}); "
            f"using {found[0].name}, as compose does"
        )
    if _inside(found[0], root) is None:
        raise _ComposeError(f"{found[0].name} points outside the fleet root")
    return found[0]


def _read_app(
    app_dir: Path, root: Path, environ: Mapping[str, str], problems: list[str]
) -> tuple[Path, tuple[ServiceSpec, ...]]:
    """The compose file of an app and its services; _ComposeError when compose would refuse
    to run it."""
    compose_file = _compose_file(app_dir, root, problems)
    if compose_file.stat().st_size > MAX_COMPOSE_BYTES:
        raise _ComposeError(f"{compose_file.name} is over {MAX_COMPOSE_BYTES} bytes")
    dotenv: dict[str, str] = {}
    dotenv_path = app_dir / ".env"
    if dotenv_path.is_file():
        if _inside(dotenv_path, root) is None:
            problems.append(".env points outside the fleet root; not read")
        else:
            dotenv = _read_dotenv(dotenv_path, environ, problems)

    def lookup(name: str) -> str | None:  # compose: the environment wins over .env
        found = environ.get(name)
        return found if found is not None else dotenv.get(name)

    data = compose_file.read_bytes()
    try:
        # A SafeLoader subclass: no Python objects are ever built.
        document = yaml.load(data, Loader=_ComposeLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise _ComposeError(f"{compose_file.name} is not valid YAML: {exc}") from exc
    except Exception as exc:
        # PyYAML's constructors let ValueError, KeyError, ... escape on odd explicit tags
        # (`!!float abc`), and deep nesting ends in RecursionError: still just a bad file.
        raise _ComposeError(f"{compose_file.name} is not valid YAML: {exc!r}") from exc
    return compose_file, _parse_compose(document, lookup, problems)


def _load_app(
    model: str,
    number: int,
    app_dir: Path,
    root: Path,
    environ: Mapping[str, str],
    warnings: list[str],
) -> AppSpec | None:
    """One app, or None when it has to be skipped; every problem goes to `warnings`."""
    problems: list[str] = []
    app: AppSpec | None = None
    try:
        compose_file, services = _read_app(app_dir, root, environ, problems)
    except _ComposeError as exc:
        problems.append(f"{exc}; app skipped")
    except OSError as exc:
        problems.append(f"cannot read: {exc}; app skipped")
    except RecursionError:  # ${A:-${B:-${...}}} nested thousands deep
        problems.append("variables nested too deeply; app skipped")
    else:
        app = AppSpec(
            model=model,
            number=number,
            path=str(app_dir),
            compose_file=str(compose_file),
            services=services,
        )
    warnings.extend(f"{model}/app{number}: {problem}" for problem in problems)
    return app


# --- clashes --------------------------------------------------------------------------------
def _find_clashes(apps: Iterable[AppSpec]) -> list[PortClash]:
    """Host ports published more than once, on the same protocol and overlapping IPs."""
    uses: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for app in apps:
        for service in app.services:
            for binding in service.ports:
                key = (binding.host_port, binding.protocol)
                uses.setdefault(key, []).append((binding.host_ip, f"{app.key}:{service.name}"))
    clashes: list[PortClash] = []
    for (port, protocol), users in uses.items():
        if len(users) < 2:
            continue
        if any(ip in _ANY_HOST for ip, _ in users):
            # A wildcard bind overlaps every address, so every user of the port is involved.
            clashes.append(
                PortClash(
                    host_ip="", host_port=port, protocol=protocol, users=tuple(u for _, u in users)
                )
            )
            continue
        by_ip: dict[str, list[str]] = {}
        for ip, user in users:
            by_ip.setdefault(ip, []).append(user)
        clashes.extend(
            PortClash(host_ip=ip, host_port=port, protocol=protocol, users=tuple(same))
            for ip, same in by_ip.items()
            if len(same) > 1
        )
    clashes.sort(key=lambda c: (c.host_port, c.protocol, c.host_ip))
    return clashes


# --- the registry ---------------------------------------------------------------------------
class Fleet:
    """A loaded fleet: models, apps, their published ports, and lookups from Docker's view.

    Immutable after construction, apart from the set of ports `allocate_ports` handed out.
    Build one with `Fleet.load(root)`; the constructor takes already-parsed specs.
    """

    def __init__(
        self,
        *,
        root: Path,
        models: Mapping[str, ModelSpec],
        requirements_file: Path | None = None,
        warnings: Sequence[str] = (),
        port_range: tuple[int, int] = DEFAULT_PORT_RANGE,
        root_aliases: Sequence[Path] = (),
    ) -> None:
        self._root = root
        self._models = {name: models[name] for name in sorted(models)}
        self._requirements_file = requirements_file
        self._warnings = list(warnings)
        self._port_range = port_range
        self._app_list = [
            app
            for model in self._models.values()
            for app in sorted(model.apps, key=lambda a: a.number)
        ]
        self._apps = {(app.model, app.number): app for app in self._app_list}
        self._by_project: dict[str, AppSpec] = {}
        self._by_workdir: dict[str, AppSpec] = {}
        self._by_container: dict[str, tuple[AppSpec, ServiceSpec]] = {}
        self._by_default_container: dict[str, tuple[AppSpec, ServiceSpec]] = {}
        for app in self._app_list:
            self._index(app, root_aliases)
        self._clashes = _find_clashes(self._app_list)
        # Host ports a new app must not use: every port the fleet publishes (whatever the IP
        # or protocol, to stay simple and safe) plus every port allocate_ports handed out.
        self._taken = {b.host_port for a in self._app_list for s in a.services for b in s.ports}
        self._allocated: dict[tuple[str, int, str], int] = {}
        self._lock = threading.Lock()

    def _index(self, app: AppSpec, root_aliases: Sequence[Path]) -> None:
        project = project_name(app.model, app.number)
        if project in self._by_project:
            self._warnings.append(
                f"{app.key}: compose project {project} is also that of "
                f"{self._by_project[project].key}"
            )
        self._by_project.setdefault(project, app)
        # Compose labels containers with the folder it ran in, as it saw the path: through
        # the root as given, or with symlinks resolved. Index every spelling.
        path = Path(app.path)
        spellings = {str(path)}
        with contextlib.suppress(OSError, RuntimeError):
            spellings.add(str(path.resolve()))
        if path.is_relative_to(self._root):
            relative = path.relative_to(self._root)
            spellings.update(str(alias / relative) for alias in root_aliases)
        for spelling in spellings:
            self._by_workdir.setdefault(spelling, app)
        for service in app.services:
            hit = (app, service)
            if service.container_name:
                other = self._by_container.get(service.container_name)
                if other is not None:
                    self._warnings.append(
                        f"{app.key}:{service.name}: container_name {service.container_name!r} "
                        f"is also used by {other[0].key}:{other[1].name}"
                    )
                self._by_container.setdefault(service.container_name, hit)
            # Without container_name, compose names containers <project>-<service>-<n>
            # (compose v1: <project>_<service>_<n>).
            self._by_default_container.setdefault(f"{project}-{service.name}", hit)
            self._by_default_container.setdefault(f"{project}_{service.name}", hit)

    # --- loading ----------------------------------------------------------------------------
    @classmethod
    def load(
        cls, root: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
    ) -> Fleet:
        """Read a fleet folder. `environ` (default os.environ) feeds ${VAR} in compose files.

        Raises InvalidInput when the root or root/models is missing, or fleet.toml is broken;
        anything wrong in one model or app folder is skipped and noted in `warnings`.
        """
        given = Path(os.path.abspath(os.fspath(root)))
        try:
            resolved = given.resolve(strict=True)
        except (OSError, RuntimeError):
            raise InvalidInput(f"fleet root {given} does not exist") from None
        if not resolved.is_dir():
            raise InvalidInput(f"fleet root {given} is not a folder")
        models_dir = resolved / MODELS_DIR
        if not models_dir.is_dir():
            raise InvalidInput(f"fleet root {given} has no {MODELS_DIR}/ folder")
        if _inside(models_dir, resolved) is None:
            raise InvalidInput(f"{models_dir} points outside the fleet root")
        env: Mapping[str, str] = os.environ if environ is None else environ
        warnings: list[str] = []
        config = _read_config(resolved, warnings)

        apps_by_model: dict[str, list[AppSpec]] = {}
        for model_dir in _children(models_dir, warnings, MODELS_DIR):
            name = model_dir.name
            if name.startswith("."):  # .git, .DS_Store and the like
                continue
            where = f"{MODELS_DIR}/{name}"
            if _inside(model_dir, resolved) is None:
                warnings.append(f"{where}: points outside the fleet root; skipped")
                continue
            if not model_dir.is_dir():  # README.md and other files
                continue
            try:
                validate_model_name(name)
            except InvalidInput as exc:
                warnings.append(f"{where}: skipped: {exc.message}")
                continue
            apps_by_model[name] = cls._load_model(name, model_dir, resolved, env, warnings)

        for name in sorted(set(config.colors) | set(config.display_names)):
            if name not in apps_by_model:
                warnings.append(f"{FLEET_TOML}: model {name!r} has no folder in {MODELS_DIR}/")
        models = {
            name: ModelSpec(
                name=name,
                color=config.colors.get(name, PALETTE[index % len(PALETTE)]),
                display_name=config.display_names.get(name, name),
                apps=tuple(apps_by_model[name]),
            )
            for index, name in enumerate(sorted(apps_by_model))
        }
        return cls(
            root=resolved,
            models=models,
            requirements_file=_requirements_file(resolved, config, warnings),
            warnings=warnings,
            port_range=config.port_range,
            root_aliases=[given] if given != resolved else [],
        )

    @staticmethod
    def _load_model(
        model: str, model_dir: Path, root: Path, environ: Mapping[str, str], warnings: list[str]
    ) -> list[AppSpec]:
        found: list[tuple[int, Path]] = []
        for app_dir in _children(model_dir, warnings, f"{MODELS_DIR}/{model}"):
            where = f"{MODELS_DIR}/{model}/{app_dir.name}"
            if app_dir.name.startswith("."):
                continue
            if _inside(app_dir, root) is None:
                warnings.append(f"{where}: points outside the fleet root; skipped")
                continue
            if not app_dir.is_dir():
                continue
            match = _APP_DIR_RE.fullmatch(app_dir.name)
            if not match or int(match[1]) > MAX_APP_NUMBER:
                warnings.append(f"{where}: not an app folder (app1..app{MAX_APP_NUMBER}); skipped")
                continue
            found.append((int(match[1]), app_dir))
        apps = []
        for number, app_dir in sorted(found):
            app = _load_app(model, number, app_dir, root, environ, warnings)
            if app is not None:
                apps.append(app)
        return apps

    # --- reading ----------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self._root

    @property
    def models(self) -> dict[str, ModelSpec]:
        """Every model by name, sorted by name (a copy)."""
        return dict(self._models)

    @property
    def requirements_file(self) -> Path | None:
        return self._requirements_file

    @property
    def warnings(self) -> list[str]:
        """What was skipped while loading, and why (a copy)."""
        return list(self._warnings)

    @property
    def port_range(self) -> tuple[int, int]:
        return self._port_range

    def apps(self) -> list[AppSpec]:
        """Every app, sorted by model name then app number."""
        return list(self._app_list)

    def model(self, name: str) -> ModelSpec:
        name = validate_model_name(name)
        try:
            return self._models[name]
        except KeyError:
            raise NotFound(f"unknown model {name!r}") from None

    def app(self, model: str, number: int) -> AppSpec:
        model = validate_model_name(model)
        number = validate_app_number(number)
        self.model(model)
        try:
            return self._apps[(model, number)]
        except KeyError:
            raise NotFound(f"unknown app {model}/app{number}") from None

    def app_for_workdir(self, path: str) -> AppSpec | None:
        """The app whose folder is `path` (compose's project.working_dir label)."""
        if not path:
            return None
        hit = self._by_workdir.get(path)
        if hit is None:
            hit = self._by_workdir.get(os.path.normpath(path))
        if hit is None:
            try:
                hit = self._by_workdir.get(str(Path(path).resolve()))
            except (OSError, RuntimeError):
                return None
        return hit

    def app_for_project(self, project: str) -> AppSpec | None:
        """The app of a compose project name (see `project_name`)."""
        return self._by_project.get(project)

    def app_for_container_name(self, name: str) -> tuple[AppSpec, ServiceSpec] | None:
        """The app and service of a container: its container_name, or compose's default
        `<project>-<service>-<n>`. Docker's API writes names with a leading '/'."""
        name = name.lstrip("/")
        hit = self._by_container.get(name)
        if hit is None and (match := _NUMBERED_CONTAINER_RE.fullmatch(name)):
            hit = self._by_default_container.get(match[1])
        return hit

    def clashes(self) -> list[PortClash]:
        """Every host port that more than one app service (or one service twice) publishes,
        sorted by port."""
        return list(self._clashes)

    def info(self) -> FleetInfo:
        return FleetInfo(
            root=str(self._root), models=list(self._models.values()), clashes=self.clashes()
        )

    # --- ports for new apps -----------------------------------------------------------------
    def allocate_ports(
        self, model: str, number: int, services: Sequence[str] = ("backend", "frontend")
    ) -> dict[str, int]:
        """Host ports for a new app, one per service, that no app of the fleet publishes
        (on any IP or protocol) and that this Fleet has not handed out before.

        Asking again for the same model/app/service returns the same port. Each service
        prefers range_start + model_index * 100 + number * 2 + service_index (wrapped into
        the range) and probes upward from there. InvalidInput when the range is full.
        """
        model = validate_model_name(model)
        number = validate_app_number(number)
        names = _validate_service_names(services)
        start, end = self._port_range
        size = end - start + 1
        with self._lock:
            model_index = sorted({*self._models, model}).index(model)
            result: dict[str, int] = {}
            chosen: set[int] = set()
            for service_index, service in enumerate(names):
                key = (model, number, service)
                if key in self._allocated:
                    result[service] = self._allocated[key]
                    continue
                offset = model_index * PORTS_PER_MODEL + number * 2 + service_index
                for step in range(size):
                    port = start + (offset + step) % size
                    if port not in self._taken and port not in chosen:
                        break
                else:
                    raise InvalidInput(
                        f"no free host port left in {start}..{end} for {model}/app{number} "
                        f"service {service!r}; widen [ports] in {FLEET_TOML}"
                    )
                chosen.add(port)
                result[service] = port
            # Record only once every service got a port, so a failure hands out nothing.
            for service, port in result.items():
                self._allocated[(model, number, service)] = port
            self._taken |= chosen
            return result


def _requirements_file(root: Path, config: _Config, warnings: list[str]) -> Path | None:
    if config.requirements is not None:
        resolved = _inside(root / config.requirements, root)
        if resolved is None:
            raise InvalidInput(
                f"{root / FLEET_TOML}: requirements {config.requirements!r} is outside the "
                "fleet root"
            )
        if not resolved.is_file():
            warnings.append(f"{FLEET_TOML}: requirements file {config.requirements} not found")
            return None
        return resolved
    for name in REQUIREMENTS_FILES:
        candidate = root / name
        if candidate.is_file():
            resolved = _inside(candidate, root)
            if resolved is None:
                warnings.append(f"{name}: points outside the fleet root; not used")
                continue
            return resolved
    return None
