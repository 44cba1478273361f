"""The fleet registry: discovery, names, compose parsing, clashes and port allocation.

Every fleet here is built as real folders in a temporary directory, laid out like the
existing generated-app repositories: <fleet>/models/<Model>/app<N>/docker-compose.yml.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import (
    PALETTE,
    Fleet,
    project_name,
    validate_app_number,
    validate_model_name,
)
from genfleet_common.messages import FleetInfo, PortBinding, PortClash

NO_ENV: Mapping[str, str] = {}
COMPOSE_PROJECT_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


# --- helpers --------------------------------------------------------------------------------
def new_fleet(tmp_path: Path, toml: str | None = None) -> Path:
    root = tmp_path / "fleet"
    (root / "models").mkdir(parents=True)
    if toml is not None:
        (root / "fleet.toml").write_text(toml)
    return root


def add_app(
    root: Path,
    model: str,
    number: int,
    compose: str,
    *,
    filename: str = "docker-compose.yml",
    env: str | None = None,
) -> Path:
    app = root / "models" / model / f"app{number}"
    for part in ("backend", "frontend"):
        (app / part).mkdir(parents=True, exist_ok=True)
    (app / filename).write_text(compose)
    if env is not None:
        (app / ".env").write_text(env)
    return app


def compose_with_ports(services: Mapping[str, Sequence[str | int]]) -> str:
    """A compose file whose services publish the given short-form port entries."""
    lines = ["services:"]
    for name, ports in services.items():
        lines += [f"  {name}:", "    build: ./" + name]
        if ports:
            lines.append("    ports:")
            lines += [f'      - "{p}"' if isinstance(p, str) else f"      - {p}" for p in ports]
    return "\n".join(lines) + "\n"


def simple_app(root: Path, model: str, number: int, backend: int, frontend: int) -> Path:
    return add_app(
        root,
        model,
        number,
        compose_with_ports({"backend": [f"{backend}:5000"], "frontend": [f"{frontend}:80"]}),
    )


def load(root: Path, environ: Mapping[str, str] = NO_ENV) -> Fleet:
    return Fleet.load(root, environ=environ)


def ports_of(fleet: Fleet, model: str, number: int, service: str) -> tuple[PortBinding, ...]:
    app = fleet.app(model, number)
    return next(s for s in app.services if s.name == service).ports


def one_service_ports(
    tmp_path: Path, ports_yaml: str, environ: Mapping[str, str] = NO_ENV
) -> list[PortBinding]:
    root = new_fleet(tmp_path)
    add_app(root, "m", 1, f"services:\n  web:\n    image: nginx\n    ports:\n{ports_yaml}")
    fleet = load(root, environ)
    assert not fleet.warnings, fleet.warnings
    return list(ports_of(fleet, "m", 1, "web"))


def tcp(host: int, container: int, ip: str = "") -> PortBinding:
    return PortBinding(host_ip=ip, host_port=host, container_port=container, protocol="tcp")


# --- discovery ------------------------------------------------------------------------------
def test_discovers_models_and_apps_sorted(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    for model, number in [("mistral", 10), ("mistral", 2), ("Claude-3.5", 1), ("llama3", 1)]:
        simple_app(root, model, number, 6000 + number, 7000 + number)
    (root / "models" / "empty-model").mkdir()
    fleet = load(root)

    assert list(fleet.models) == ["Claude-3.5", "empty-model", "llama3", "mistral"]
    assert [a.key for a in fleet.apps()] == [
        "Claude-3.5/app1",
        "llama3/app1",
        "mistral/app2",
        "mistral/app10",  # by number, not by text
    ]
    assert fleet.models["empty-model"].apps == ()
    app = fleet.app("mistral", 10)
    assert app.path == str(root.resolve() / "models" / "mistral" / "app10")
    assert app.compose_file == str(Path(app.path) / "docker-compose.yml")
    assert Path(app.path).is_absolute()
    assert [s.name for s in app.services] == ["backend", "frontend"]
    assert fleet.root == root.resolve()
    assert fleet.warnings == []


def test_skips_bad_folders_with_warnings(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "good", 1, 6001, 6002)
    simple_app(root, "bad name", 1, 6003, 6004)
    simple_app(root, "good", 0, 6005, 6006)
    simple_app(root, "good", 7, 6007, 6008)
    (root / "models" / "good" / "app7").rename(root / "models" / "good" / "app07")
    (root / "models" / "good" / "notes").mkdir()
    (root / "models" / "good" / "app3").mkdir()  # no compose file
    (root / "models" / "README.md").write_text("files are ignored")
    (root / "models" / ".git").mkdir()  # hidden folders are ignored
    fleet = load(root)

    assert [a.key for a in fleet.apps()] == ["good/app1"]
    text = "\n".join(fleet.warnings)
    assert "models/bad name" in text
    assert "models/good/app0: not an app folder" in text
    assert "models/good/app07: not an app folder" in text
    assert "models/good/notes: not an app folder" in text
    assert "good/app3: no compose file" in text
    assert "README" not in text and ".git" not in text


def test_accepts_every_compose_file_name_and_prefers_compose_order(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    names = ["docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"]
    for number, name in enumerate(names, start=1):
        add_app(
            root, "m", number, compose_with_ports({"web": [f"{6000 + number}:80"]}), filename=name
        )
    add_app(root, "m", 9, compose_with_ports({"web": ["6009:80"]}), filename="compose.yaml")
    add_app(root, "m", 9, compose_with_ports({"web": ["6010:80"]}), filename="docker-compose.yml")
    fleet = load(root)

    for number, name in enumerate(names, start=1):
        assert Path(fleet.app("m", number).compose_file).name == name
    assert Path(fleet.app("m", 9).compose_file).name == "compose.yaml"
    assert ports_of(fleet, "m", 9, "web") == (tcp(6009, 80),)
    assert any("m/app9: several compose files" in w for w in fleet.warnings)


def test_missing_root_or_models_folder_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        Fleet.load(tmp_path / "nope")
    (tmp_path / "bare").mkdir()
    with pytest.raises(InvalidInput, match="no models/ folder"):
        Fleet.load(tmp_path / "bare")
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidInput, match="not a folder"):
        Fleet.load(tmp_path / "file")


def test_broken_compose_file_skips_only_that_app(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "m", 1, 6001, 6002)
    add_app(root, "m", 2, "services:\n  web: [unclosed\n")
    add_app(root, "m", 3, "")
    add_app(root, "m", 4, "- just\n- a list\n")
    add_app(root, "m", 5, "services:\n  web:\n    image: ${TAG:?set TAG first}\n")
    add_app(root, "m", 6, "services:\n  web:\n    image: nginx\n    ports: 80\n")
    fleet = load(root)

    assert [a.key for a in fleet.apps()] == ["m/app1"]
    text = "\n".join(fleet.warnings)
    assert "m/app2: docker-compose.yml is not valid YAML" in text
    assert "m/app3: empty compose file; app skipped" in text
    assert "m/app4: the top level is not a mapping; app skipped" in text
    assert "m/app5: required variable TAG is missing a value: set TAG first" in text
    assert "m/app6: service 'web': ports must be a list; app skipped" in text


def test_bad_port_entry_is_warned_and_the_rest_kept(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(
        root,
        "m",
        1,
        compose_with_ports({"web": ["70000:80", "6001:80", "1-3:4-5", "6002:80/icmp"]}),
    )
    fleet = load(root)
    assert ports_of(fleet, "m", 1, "web") == (tcp(6001, 80),)
    assert sum("m/app1: service 'web'" in w for w in fleet.warnings) == 3


# --- fleet.toml -----------------------------------------------------------------------------
def test_colours_and_display_names_from_toml_and_defaults(tmp_path: Path) -> None:
    root = new_fleet(
        tmp_path,
        """
[models."claude-3.5-sonnet"]
color = "#d97706"
display_name = "Claude 3.5 Sonnet"
[models.zeta]
display_name = "Zeta"
""",
    )
    for model in ["zeta", "claude-3.5-sonnet", "alpha", "mistral"]:
        (root / "models" / model).mkdir()
    fleet = load(root)

    models = fleet.models
    assert list(models) == ["alpha", "claude-3.5-sonnet", "mistral", "zeta"]
    assert models["claude-3.5-sonnet"].color == "#d97706"
    assert models["claude-3.5-sonnet"].display_name == "Claude 3.5 Sonnet"
    # The palette follows the position in sorted order, configured models included.
    assert models["alpha"].color == PALETTE[0]
    assert models["mistral"].color == PALETTE[2]
    assert models["zeta"].color == PALETTE[3]
    assert models["zeta"].display_name == "Zeta"
    assert models["alpha"].display_name == "alpha"
    # Deterministic: loading again gives the same colours.
    assert load(root).models == models


def test_palette_wraps_around(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    names = [f"model{i:02d}" for i in range(len(PALETTE) + 2)]
    for name in names:
        (root / "models" / name).mkdir()
    fleet = load(root)
    assert [fleet.models[n].color for n in names] == [
        PALETTE[i % len(PALETTE)] for i in range(len(names))
    ]


def test_broken_fleet_toml_is_invalid_input_naming_the_file(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, "[ports\nrange_start = 5000\n")
    with pytest.raises(InvalidInput) as err:
        load(root)
    assert str(root / "fleet.toml") in err.value.message
    assert "invalid TOML" in err.value.message and "line 1" in err.value.message


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("requirements = 5", "requirements must be"),
        ("[ports]\nrange_start = 'x'", "range_start must be"),
        ("[ports]\nrange_start = 9000\nrange_end = 8000", "is above"),
        ("[ports]\nrange_end = 70000", "range_end must be"),
        ('[models.m]\ncolor = "red; background: url(x)"', "hex colour"),
        ("[models.m]\ndisplay_name = 3", "display_name must be"),
        ("models = 3", "[models] must be a table"),
        ('requirements = "../outside.json"', "outside the fleet root"),
    ],
)
def test_wrong_values_in_fleet_toml_are_invalid_input(
    tmp_path: Path, toml: str, message: str
) -> None:
    root = new_fleet(tmp_path, toml)
    (root / "models" / "m").mkdir()
    with pytest.raises(InvalidInput, match=re.escape(message)):
        load(root)


def test_unknown_toml_keys_and_models_are_warnings(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, 'colour = 1\n[models."bad name"]\n[models.ghost]\ncolor = "#fff"\n')
    fleet = load(root)
    text = "\n".join(fleet.warnings)
    assert "unknown key 'colour'" in text
    assert "'bad name'" in text
    assert "model 'ghost' has no folder" in text


def test_requirements_file(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    assert load(root).requirements_file is None
    (root / "app_requirements.json").write_text("[]")
    assert load(root).requirements_file == root.resolve() / "app_requirements.json"
    (root / "requirements.json").write_text("[]")
    assert load(root).requirements_file == root.resolve() / "requirements.json"
    (root / "specs").mkdir()
    (root / "specs" / "reqs.json").write_text("[]")
    (root / "fleet.toml").write_text('requirements = "specs/reqs.json"\n')
    assert load(root).requirements_file == root.resolve() / "specs" / "reqs.json"
    (root / "fleet.toml").write_text('requirements = "specs/missing.json"\n')
    fleet = load(root)
    assert fleet.requirements_file is None
    assert any("specs/missing.json not found" in w for w in fleet.warnings)


def test_port_range_from_toml(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, "[ports]\nrange_start = 20000\nrange_end = 20009\n")
    fleet = load(root)
    assert fleet.port_range == (20000, 20009)
    ports = fleet.allocate_ports("new", 1)
    assert all(20000 <= p <= 20009 for p in ports.values())


# --- names and typed errors -----------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["claude-3.5-sonnet", "GPT-4o", "llama_3", "m", "a" * 128, "x.y.z", "0day"]
)
def test_valid_model_names(name: str) -> None:
    assert validate_model_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../etc",
        "a..b",
        "with space",
        "quo'te",
        'dq"uote',
        "sla/sh",
        "back\\slash",
        "til~de",
        "-dash-first",
        ".hidden",
        "_under",
        "a" * 129,
        "semi;colon",
        "new\nline",
        "trailing\n",
        "star*",
        "gt>",
        "ünï",
    ],
)
def test_invalid_model_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid model name"):
        validate_model_name(name)


def test_non_string_model_name() -> None:
    with pytest.raises(InvalidInput):
        validate_model_name(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 42, 99_999])
def test_valid_app_numbers(n: int) -> None:
    assert validate_app_number(n) == n


@pytest.mark.parametrize("n", [0, -1, 100_000, 10**9, True, False, "1", 1.0, None])
def test_invalid_app_numbers(n: object) -> None:
    with pytest.raises(InvalidInput, match="invalid app number"):
        validate_app_number(n)


@pytest.fixture
def small_fleet(tmp_path: Path) -> Fleet:
    root = new_fleet(tmp_path)
    simple_app(root, "claude", 1, 6001, 6002)
    simple_app(root, "claude", 2, 6003, 6004)
    return load(root)


def test_lookup_errors_are_typed(small_fleet: Fleet) -> None:
    fleet = small_fleet
    assert fleet.model("claude").name == "claude"
    assert fleet.app("claude", 2).number == 2

    with pytest.raises(NotFound, match="unknown model 'gpt'"):
        fleet.model("gpt")
    with pytest.raises(NotFound, match="unknown model 'gpt'"):
        fleet.app("gpt", 1)
    with pytest.raises(NotFound, match="unknown app claude/app3"):
        fleet.app("claude", 3)
    for bad_number in (0, 10**9, -1, True):
        with pytest.raises(InvalidInput, match="invalid app number"):
            fleet.app("claude", bad_number)
    for bad_name in ("../etc", "with space", "quo'te", 'q"', "~", "a~b", "..", "a/b"):
        with pytest.raises(InvalidInput, match="invalid model name"):
            fleet.model(bad_name)
        with pytest.raises(InvalidInput, match="invalid model name"):
            fleet.app(bad_name, 1)
        with pytest.raises(InvalidInput):
            fleet.allocate_ports(bad_name, 1)
    with pytest.raises(InvalidInput):
        fleet.allocate_ports("claude", 0)


def test_project_name_is_valid_for_compose() -> None:
    assert project_name("mistral", 3) == "genfleet-mistral-app3"
    name = project_name("Claude-3.5-Sonnet", 12)
    assert re.fullmatch(r"genfleet-claude-3-5-sonnet-[0-9a-f]{6}-app12", name)
    assert COMPOSE_PROJECT_RE.fullmatch(name)
    assert project_name("Claude-3.5-Sonnet", 12) == name  # deterministic
    with pytest.raises(InvalidInput):
        project_name("../etc", 1)
    with pytest.raises(InvalidInput):
        project_name("m", 0)


def test_project_names_differ_for_dot_dash_and_case() -> None:
    names = ["gpt-4.1", "gpt-4-1", "GPT-4-1", "gpt-4_1", "Gpt-4.1", "gpt.4.1"]
    projects = {project_name(n, 1) for n in names}
    assert len(projects) == len(names)
    assert all(COMPOSE_PROJECT_RE.fullmatch(p) for p in projects)


model_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True).filter(
    lambda s: ".." not in s
)


@given(a=model_names, b=model_names, n=st.integers(1, 99_999))
def test_project_name_property(a: str, b: str, n: int) -> None:
    pa, pb = project_name(a, n), project_name(b, n)
    assert COMPOSE_PROJECT_RE.fullmatch(pa)
    assert (pa == pb) == (a == b)


# --- compose parsing: ports -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("ports_yaml", "expected"),
    [
        ('      - "5001:5000"\n', [tcp(5001, 5000)]),
        ("      - 5001:5000\n", [tcp(5001, 5000)]),
        # Unquoted, YAML 1.1 would read these as base-60 numbers; compose reads strings.
        ("      - 22:22\n", [tcp(22, 22)]),
        ("      - 8080:53\n", [tcp(8080, 53)]),
        ('      - "127.0.0.1:5001:5000"\n', [tcp(5001, 5000, "127.0.0.1")]),
        ('      - "0.0.0.0:5001:5000"\n', [tcp(5001, 5000, "0.0.0.0")]),
        ('      - "[::1]:5001:5000"\n', [tcp(5001, 5000, "::1")]),
        (
            '      - "5001:5000/udp"\n',
            [PortBinding(host_ip="", host_port=5001, container_port=5000, protocol="udp")],
        ),
        (
            '      - "127.0.0.1:5001:5000/UDP"\n',
            [PortBinding(host_ip="127.0.0.1", host_port=5001, container_port=5000, protocol="udp")],
        ),
        ('      - "5000"\n', []),  # container port only: no host port
        ("      - 5000\n", []),
        ('      - "127.0.0.1::5000"\n', []),  # host IP but random host port
        ('      - "8000-8002:9000-9002"\n', [tcp(8000, 9000), tcp(8001, 9001), tcp(8002, 9002)]),
        ('      - "8000-8001:80"\n', [tcp(8000, 80), tcp(8001, 80)]),  # any one of the range
        (
            "      - target: 5000\n        published: 5001\n",
            [tcp(5001, 5000)],
        ),
        (
            '      - target: 5000\n        published: "5001"\n        host_ip: 127.0.0.1\n'
            "        protocol: udp\n        mode: host\n",
            [PortBinding(host_ip="127.0.0.1", host_port=5001, container_port=5000, protocol="udp")],
        ),
        (
            '      - target: 80\n        published: "8000-8001"\n',
            [tcp(8000, 80), tcp(8001, 80)],
        ),
        ("      - target: 5000\n", []),  # long form without published
        (
            '      - "6000:6000"\n      - "6000:6000/udp"\n'
            "      - target: 7000\n        published: 7001\n",
            [
                tcp(6000, 6000),
                PortBinding(host_ip="", host_port=6000, container_port=6000, protocol="udp"),
                tcp(7001, 7000),
            ],
        ),
    ],
)
def test_port_forms(tmp_path: Path, ports_yaml: str, expected: list[PortBinding]) -> None:
    assert one_service_ports(tmp_path, ports_yaml) == expected


def test_ports_with_interpolation(tmp_path: Path) -> None:
    ports_yaml = (
        '      - "${BACKEND_PORT:-5001}:5000"\n'
        "      - target: 80\n        published: ${FRONT}\n"
        '      - "$HOST_IP:${OTHER-7001}:7000"\n'
    )
    environ = {"FRONT": "6100", "HOST_IP": "127.0.0.1"}
    assert one_service_ports(tmp_path, ports_yaml, environ) == [
        tcp(5001, 5000),
        tcp(6100, 80),
        tcp(7001, 7000, "127.0.0.1"),
    ]


# --- compose parsing: other fields, old fleets ----------------------------------------------
OLD_STYLE_COMPOSE = """\
version: "3.8"
services:
  backend:
    build:
      context: ./backend
    container_name: deepseek_app3_backend
    ports:
      - "5105:5000"
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:5000/health"]
      interval: 10s
  frontend:
    build: ./frontend
    container_name: deepseek_app3_frontend
    ports:
      - "8105:80"
    depends_on:
      - backend
    healthcheck:
      disable: true
  db:
    image: postgres:16
    healthcheck:
      test: ["NONE"]
networks:
  default:
    name: app3
"""


def test_old_fleet_with_container_names_and_version_key(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "DeepSeek-Coder", 3, OLD_STYLE_COMPOSE)
    fleet = load(root)
    assert fleet.warnings == []

    app = fleet.app("DeepSeek-Coder", 3)
    backend, frontend, db = app.services
    assert (backend.name, backend.container_name) == ("backend", "deepseek_app3_backend")
    assert backend.ports == (tcp(5105, 5000),)
    assert backend.has_healthcheck and backend.builds and backend.image is None
    assert frontend.container_name == "deepseek_app3_frontend"
    assert frontend.builds and not frontend.has_healthcheck
    assert db.image == "postgres:16" and not db.builds and not db.has_healthcheck

    assert fleet.app_for_container_name("deepseek_app3_backend") == (app, backend)
    assert fleet.app_for_container_name("/deepseek_app3_frontend") == (app, frontend)
    # A service without container_name gets compose's default name.
    project = project_name("DeepSeek-Coder", 3)
    assert fleet.app_for_container_name(f"{project}-db-1") == (app, db)
    assert fleet.app_for_container_name(f"/{project}-db-2") == (app, db)
    assert fleet.app_for_container_name("deepseek_app3_other") is None
    assert fleet.app_for_container_name("unrelated") is None


def test_app_for_project_and_workdir(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    app_dir = simple_app(root, "claude-3.5", 4, 6001, 6002)
    link = tmp_path / "fleet-link"
    link.symlink_to(root)
    fleet = load(link)  # the root as a user passes it may go through a symlink
    app = fleet.app("claude-3.5", 4)

    assert fleet.app_for_project(project_name("claude-3.5", 4)) == app
    assert fleet.app_for_project("genfleet-claude-3-5-app4") is None
    assert fleet.app_for_project("app4") is None

    assert fleet.app_for_workdir(str(app_dir.resolve())) == app
    assert fleet.app_for_workdir(str(app_dir.resolve()) + "/") == app
    assert fleet.app_for_workdir(str(link / "models" / "claude-3.5" / "app4")) == app
    assert (
        fleet.app_for_workdir(str(link / "models" / "claude-3.5" / "app4" / ".." / "app4")) == app
    )
    assert fleet.app_for_workdir(str(tmp_path)) is None
    assert fleet.app_for_workdir("") is None


def test_interpolation_from_env_file_and_defaults(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    compose = """\
services:
  web:
    image: "${REGISTRY}/web:${TAG:-latest}"
    container_name: ${PREFIX-pre}_${NAME:-web}_$$literal
    ports:
      - "${WEB_PORT}:80"
      - "${EMPTY:-6002}:81"
      - "${EMPTY-6003}:82"
      - "${UNSET_PORT:-${FALLBACK:-6004}}:83"
      - "${FLAG:+6005}:84"
"""
    env_file = """\
# a comment
export REGISTRY=registry.local:5000
WEB_PORT=6001   # inline comment
TAG='from-dotenv'
EMPTY=
NAME="quoted ${REGISTRY}"
PREFIX=dotenv-prefix
FLAG=yes
"""
    add_app(root, "m", 1, compose, env=env_file)
    # The shell environment wins over .env, as in compose.
    fleet = load(root, {"PREFIX": "shell"})
    web = fleet.app("m", 1).services[0]
    assert web.image == "registry.local:5000/web:from-dotenv"
    assert web.container_name == "shell_quoted registry.local:5000_$literal"
    assert web.ports == (tcp(6001, 80), tcp(6002, 81), tcp(6004, 83), tcp(6005, 84))
    # ${EMPTY-6003} keeps the empty (but set) value: no host port, nothing published.
    assert fleet.warnings == []


def test_unset_variables_are_warned_and_empty(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "m", 1, 'services:\n  web:\n    image: "nginx:${NOPE}"\n')
    fleet = load(root)
    assert fleet.app("m", 1).services[0].image == "nginx:"
    assert fleet.warnings == ["m/app1: variable NOPE is not set; using an empty string"]


def test_real_environment_is_used_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = new_fleet(tmp_path)
    add_app(
        root,
        "m",
        1,
        'services:\n  web:\n    ports: ["${GENFLEET_TEST_PORT}:80"]\n',
        env="GENFLEET_TEST_PORT=1\n",
    )
    monkeypatch.setenv("GENFLEET_TEST_PORT", "6111")
    fleet = Fleet.load(root)
    assert ports_of(fleet, "m", 1, "web") == (tcp(6111, 80),)


# --- symlinks -------------------------------------------------------------------------------
def test_symlinks_out_of_the_root_are_skipped(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "m", 1, 6001, 6002)
    outside = tmp_path / "outside"
    simple_app(outside, "x", 1, 6003, 6004)
    (root / "models" / "m" / "app2").symlink_to(outside / "models" / "x" / "app1")
    (root / "models" / "linked-model").symlink_to(outside / "models" / "x")
    (root / "models" / "m" / "app3").mkdir()
    (root / "models" / "m" / "app3" / "docker-compose.yml").symlink_to(
        outside / "models" / "x" / "app1" / "docker-compose.yml"
    )
    # A symlink that stays inside the root is fine.
    (root / "models" / "m" / "app4").symlink_to(root / "models" / "m" / "app1")
    fleet = load(root)

    assert [a.key for a in fleet.apps()] == ["m/app1", "m/app4"]
    assert "linked-model" not in fleet.models
    text = "\n".join(fleet.warnings)
    assert "models/m/app2: points outside the fleet root; skipped" in text
    assert "models/linked-model: points outside the fleet root; skipped" in text
    assert "m/app3: docker-compose.yml points outside the fleet root; app skipped" in text


def test_symlink_loop_is_skipped(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    (root / "models" / "loop").symlink_to(root / "models" / "loop")
    simple_app(root, "m", 1, 6001, 6002)
    fleet = load(root)
    assert list(fleet.models) == ["m"]
    assert any("models/loop" in w for w in fleet.warnings)


# --- clashes --------------------------------------------------------------------------------
def test_clash_detection(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "claude", 1, 5001, 8001)
    simple_app(root, "claude", 2, 5001, 8002)  # backend clashes with claude/app1
    simple_app(root, "gpt", 1, 5003, 8002)  # frontend clashes with claude/app2
    add_app(root, "gpt", 2, compose_with_ports({"backend": ["9000:5000"], "frontend": ["9000:80"]}))
    add_app(root, "gpt", 3, compose_with_ports({"backend": ["9100:5000", "9100:5001"]}))
    # Different protocols, or different specific IPs: no clash.
    add_app(
        root, "ok", 1, compose_with_ports({"backend": ["7000:5000/udp"], "frontend": ["7000:80"]})
    )
    add_app(root, "ok", 2, compose_with_ports({"backend": ["127.0.0.1:7100:5000"]}))
    add_app(root, "ok", 3, compose_with_ports({"backend": ["127.0.0.2:7100:5000"]}))
    fleet = load(root)
    clashes = fleet.clashes()

    assert clashes == [
        PortClash(
            host_ip="",
            host_port=5001,
            protocol="tcp",
            users=("claude/app1:backend", "claude/app2:backend"),
        ),
        PortClash(
            host_ip="",
            host_port=8002,
            protocol="tcp",
            users=("claude/app2:frontend", "gpt/app1:frontend"),
        ),
        PortClash(
            host_ip="",
            host_port=9000,
            protocol="tcp",
            users=("gpt/app2:backend", "gpt/app2:frontend"),
        ),
        PortClash(
            host_ip="",
            host_port=9100,
            protocol="tcp",
            users=("gpt/app3:backend", "gpt/app3:backend"),
        ),
    ]
    assert clashes[0].describe() == (
        "host port 5001/tcp is published by claude/app1:backend, claude/app2:backend"
    )
    info = fleet.info()
    assert isinstance(info, FleetInfo)
    assert info.clashes == clashes
    assert info.root == str(root.resolve())
    assert [m.name for m in info.models] == ["claude", "gpt", "ok"]


def test_clash_rules_for_host_ips(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(
        root,
        "a",
        1,
        compose_with_ports({"web": ["127.0.0.1:7000:80", "0.0.0.0:7100:80", "[::]:7200:80"]}),
    )
    add_app(
        root,
        "a",
        2,
        compose_with_ports({"web": ["127.0.0.1:7000:80", "127.0.0.1:7100:80", "[::1]:7200:80"]}),
    )
    add_app(root, "a", 3, compose_with_ports({"web": ["10.0.0.1:7000:80", "7300:80"]}))
    add_app(root, "a", 4, compose_with_ports({"web": ["[::1]:7300:80"]}))
    fleet = load(root)
    by_port = {(c.host_port, c.host_ip): c.users for c in fleet.clashes()}
    assert by_port == {
        (7000, "127.0.0.1"): ("a/app1:web", "a/app2:web"),  # same IP; 10.0.0.1 is apart
        (7100, ""): ("a/app1:web", "a/app2:web"),  # 0.0.0.0 overlaps 127.0.0.1
        (7200, ""): ("a/app1:web", "a/app2:web"),  # :: overlaps ::1
        (7300, ""): ("a/app3:web", "a/app4:web"),  # every interface overlaps ::1
    }


def test_no_clashes_in_a_clean_fleet(small_fleet: Fleet) -> None:
    assert small_fleet.clashes() == []
    assert small_fleet.info().clashes == []


def test_duplicate_container_names_are_warned(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    for number in (1, 2):
        add_app(
            root, "m", number, "services:\n  web:\n    image: nginx\n    container_name: same\n"
        )
    fleet = load(root)
    assert any("container_name 'same' is also used by m/app1:web" in w for w in fleet.warnings)
    hit = fleet.app_for_container_name("same")
    assert hit is not None and hit[0].number == 1


# --- port allocation ------------------------------------------------------------------------
def test_allocate_ports_is_deterministic_and_avoids_the_fleet(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "b-model", 1, 5002, 5003)  # exactly b-model/app1's preferred ports
    fleet = load(root)

    # "a-new" sorts before "b-model" (index 0): range_start + 0 * 100 + 3 * 2 + service index.
    assert fleet.allocate_ports("a-new", 3) == {"backend": 5006, "frontend": 5007}
    # Asking again for the same app returns the same ports.
    assert fleet.allocate_ports("a-new", 3) == {"backend": 5006, "frontend": 5007}
    # "zz" sorts after "b-model" (index 1).
    assert fleet.allocate_ports("zz", 1) == {"backend": 5102, "frontend": 5103}
    # b-model/app1 prefers 5002/5003, which are published already, so it probes upward.
    assert fleet.allocate_ports("b-model", 1) == {"backend": 5004, "frontend": 5005}
    # A fresh Fleet prefers the same ports again (deterministic).
    assert load(root).allocate_ports("a-new", 3) == {"backend": 5006, "frontend": 5007}
    custom = fleet.allocate_ports("a-new", 4, services=["api", "web", "worker"])
    assert list(custom) == ["api", "web", "worker"]
    assert len(set(custom.values())) == 3


def test_allocate_ports_rejects_bad_service_lists(small_fleet: Fleet) -> None:
    for services in ("backend", [], ["a", "a"], ["bad name"], [""]):
        with pytest.raises(InvalidInput):
            small_fleet.allocate_ports("claude", 9, services=services)


def test_allocate_ports_raises_when_the_range_is_full(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, "[ports]\nrange_start = 6000\nrange_end = 6004\n")
    simple_app(root, "m", 1, 6000, 6001)
    fleet = load(root)
    first = fleet.allocate_ports("m", 2)
    assert set(first.values()) <= {6002, 6003, 6004}
    with pytest.raises(InvalidInput, match="no free host port"):
        fleet.allocate_ports("m", 3)
    # The failed request handed out nothing: one port is still free.
    assert len(set(fleet.allocate_ports("m", 3, services=["backend"]).values())) == 1


def write_fleet_with_ports(root: Path, existing: Iterable[tuple[int, int, Sequence[int]]]) -> None:
    (root / "models").mkdir(parents=True)
    (root / "fleet.toml").write_text("[ports]\nrange_start = 5000\nrange_end = 6499\n")
    for model_index in range(10):
        (root / "models" / f"model{model_index}").mkdir()
    for model_index, number, ports in existing:
        add_app(
            root,
            f"model{model_index}",
            number,
            compose_with_ports({"svc": [f"{port}:{port}" for port in ports]}),
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    existing=st.lists(
        st.tuples(
            st.integers(0, 9),  # model
            st.integers(1, 80),  # app number; some inside 1..50, some beyond
            st.lists(st.integers(4990, 6510), min_size=1, max_size=4),
        ),
        max_size=40,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_allocated_ports_never_collide(existing: list[tuple[int, int, list[int]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        write_fleet_with_ports(root, existing)
        fleet = Fleet.load(root, environ={})
        published = {port for _, _, ports in existing for port in ports}
        assert {b.host_port for a in fleet.apps() for s in a.services for b in s.ports} == published

        handed_out: list[int] = []
        for model_index in range(10):
            for number in range(1, 51):
                ports = fleet.allocate_ports(f"model{model_index}", number)
                handed_out.extend(ports.values())
        assert len(handed_out) == 1000
        assert len(set(handed_out)) == len(handed_out)
        assert not set(handed_out) & published
        assert all(5000 <= port <= 6499 for port in handed_out)


def test_allocation_for_new_model_folder_that_does_not_exist(small_fleet: Fleet) -> None:
    ports = small_fleet.allocate_ports("brand-new.model", 1)
    assert not set(ports.values()) & {6001, 6002, 6003, 6004}
    assert "brand-new.model" not in small_fleet.models  # the fleet itself does not change


def test_fleet_is_a_snapshot(small_fleet: Fleet) -> None:
    small_fleet.models.clear()
    small_fleet.warnings.append("x")
    assert list(small_fleet.models) == ["claude"]
    assert small_fleet.warnings == []


def test_load_accepts_a_plain_string(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "m", 1, 6001, 6002)
    assert [a.key for a in Fleet.load(os.fspath(root)).apps()] == ["m/app1"]


@pytest.mark.parametrize(
    "compose",
    [
        "services:\n  web:\n    image: !!float abc\n",
        "services:\n  web:\n    image: !!timestamp xyz\n",
        "services:\n  web:\n    image: !!bool maybe\n",
        "services: " + "[" * 5000 + "]" * 5000 + "\n",
        "services:\n  web:\n    image: !!python/object:os.system x\n",
        "services:\n  web:\n    image: '" + "${A:-" * 3000 + "}" * 3000 + "'\n",
    ],
)
def test_hostile_compose_files_only_skip_their_app(tmp_path: Path, compose: str) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "m", 1, 6001, 6002)
    add_app(root, "m", 2, compose)
    fleet = load(root)
    assert [a.key for a in fleet.apps()] == ["m/app1"]
    assert any(w.startswith("m/app2: ") and "app skipped" in w for w in fleet.warnings)


def test_recursive_yaml_aliases_do_not_hang(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "m", 1, "services:\n  web:\n    image: nginx\n    ports: &p\n      - *p\n")
    fleet = load(root)
    assert ports_of(fleet, "m", 1, "web") == ()
    assert any("invalid port entry" in w for w in fleet.warnings)


def test_root_level_symlinks_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "models").mkdir(parents=True)
    (outside / "fleet.toml").write_text("")
    (outside / "secrets.env").write_text("PORT=6001\n")

    root = tmp_path / "fleet"
    root.mkdir()
    (root / "models").symlink_to(outside / "models")
    with pytest.raises(InvalidInput, match="outside the fleet root"):
        load(root)

    (root / "models").unlink()
    (root / "models").mkdir()
    (root / "fleet.toml").symlink_to(outside / "fleet.toml")
    with pytest.raises(InvalidInput, match="outside the fleet root"):
        load(root)

    (root / "fleet.toml").unlink()
    app = add_app(root, "m", 1, 'services:\n  web:\n    ports: ["${PORT:-6002}:80"]\n')
    (app / ".env").symlink_to(outside / "secrets.env")
    fleet = load(root)
    assert ports_of(fleet, "m", 1, "web") == (tcp(6002, 80),)
    assert fleet.warnings == ["m/app1: .env points outside the fleet root; not read"]
