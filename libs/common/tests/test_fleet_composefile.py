"""An app's compose file: which file, its services and fields, ${VAR} and .env, hostile files."""

from __future__ import annotations

from pathlib import Path

import pytest

from genfleet_common.fleet import Fleet
from genfleet_common.fleet.testing import (
    add_app,
    compose_with_ports,
    load_fleet,
    new_fleet,
    ports_of,
    simple_app,
    tcp,
)


def test_accepts_every_compose_file_name_and_prefers_compose_order(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    names = ["docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"]
    for number, name in enumerate(names, start=1):
        add_app(
            root, "m", number, compose_with_ports({"web": [f"{6000 + number}:80"]}), filename=name
        )
    add_app(root, "m", 9, compose_with_ports({"web": ["6009:80"]}), filename="compose.yaml")
    add_app(root, "m", 9, compose_with_ports({"web": ["6010:80"]}), filename="docker-compose.yml")
    fleet = load_fleet(root)

    for number, name in enumerate(names, start=1):
        assert Path(fleet.app("m", number).compose_file).name == name
    assert Path(fleet.app("m", 9).compose_file).name == "compose.yaml"
    assert ports_of(fleet, "m", 9, "web") == (tcp(6009, 80),)
    assert any("m/app9: several compose files" in w for w in fleet.warnings)


def test_broken_compose_file_skips_only_that_app(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "m", 1, 6001, 6002)
    add_app(root, "m", 2, "services:\n  web: [unclosed\n")
    add_app(root, "m", 3, "")
    add_app(root, "m", 4, "- just\n- a list\n")
    add_app(root, "m", 5, "services:\n  web:\n    image: ${TAG:?set TAG first}\n")
    add_app(root, "m", 6, "services:\n  web:\n    image: nginx\n    ports: 80\n")
    fleet = load_fleet(root)

    assert [a.key for a in fleet.apps()] == ["m/app1"]
    text = "\n".join(fleet.warnings)
    assert "m/app2: docker-compose.yml is not valid YAML" in text
    assert "m/app3: empty compose file; app skipped" in text
    assert "m/app4: the top level is not a mapping; app skipped" in text
    assert "m/app5: required variable TAG is missing a value: set TAG first" in text
    assert "m/app6: service 'web': ports must be a list; app skipped" in text


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
    fleet = load_fleet(root)
    assert fleet.warnings == []

    app = fleet.app("DeepSeek-Coder", 3)
    backend, frontend, db = app.services
    assert (backend.name, backend.container_name) == ("backend", "deepseek_app3_backend")
    assert backend.ports == (tcp(5105, 5000),)
    assert backend.has_healthcheck and backend.builds and backend.image is None
    assert frontend.container_name == "deepseek_app3_frontend"
    assert frontend.builds and not frontend.has_healthcheck
    assert db.image == "postgres:16" and not db.builds and not db.has_healthcheck
    # Which container is whose: container-svc's test_projects.


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
    fleet = load_fleet(root, {"PREFIX": "shell"})
    web = fleet.app("m", 1).services[0]
    assert web.image == "registry.local:5000/web:from-dotenv"
    assert web.container_name == "shell_quoted registry.local:5000_$literal"
    assert web.ports == (tcp(6001, 80), tcp(6002, 81), tcp(6004, 83), tcp(6005, 84))
    # ${EMPTY-6003} keeps the empty (but set) value: no host port, nothing published.
    assert fleet.warnings == []


def test_unset_variables_are_warned_and_empty(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "m", 1, 'services:\n  web:\n    image: "nginx:${NOPE}"\n')
    fleet = load_fleet(root)
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
    fleet = load_fleet(root)
    assert [a.key for a in fleet.apps()] == ["m/app1"]
    assert any(w.startswith("m/app2: ") and "app skipped" in w for w in fleet.warnings)


def test_recursive_yaml_aliases_do_not_hang(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "m", 1, "services:\n  web:\n    image: nginx\n    ports: &p\n      - *p\n")
    fleet = load_fleet(root)
    assert ports_of(fleet, "m", 1, "web") == ()
    assert any("invalid port entry" in w for w in fleet.warnings)
