"""Compose projects: the name each app runs under, and which app a container belongs to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from container_svc.projects import ProjectIndex, project_name
from genfleet_common.errors import InvalidInput
from genfleet_common.fleet.testing import add_app, load_fleet, new_fleet, simple_app

COMPOSE_PROJECT_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


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


def test_containers_by_container_name_or_compose_default_name(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    compose = (
        "version: '3.8'\nservices:\n"
        "  backend:\n    build: ./backend\n    container_name: deepseek_app3_backend\n"
        "  frontend:\n    build: ./frontend\n    container_name: deepseek_app3_frontend\n"
        "  db:\n    image: postgres:16\n"
    )
    add_app(root, "DeepSeek-Coder", 3, compose)
    fleet = load_fleet(root)
    app = fleet.app("DeepSeek-Coder", 3)
    backend, frontend, db = app.services
    index = ProjectIndex(fleet)

    assert index.app_for_container_name("deepseek_app3_backend") == (app, backend)
    assert index.app_for_container_name("/deepseek_app3_frontend") == (app, frontend)
    # A service without container_name gets compose's default name.
    project = project_name("DeepSeek-Coder", 3)
    assert index.app_for_container_name(f"{project}-db-1") == (app, db)
    assert index.app_for_container_name(f"/{project}-db-2") == (app, db)
    assert index.app_for_container_name(f"{project}_db_1") == (app, db)  # compose v1
    assert index.app_for_container_name("deepseek_app3_other") is None
    assert index.app_for_container_name("unrelated") is None
    assert index.warnings == []


def test_a_shared_container_name_belongs_to_the_first_app(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    for number in (1, 2):
        add_app(
            root, "m", number, "services:\n  web:\n    image: nginx\n    container_name: same\n"
        )
    hit = ProjectIndex(load_fleet(root)).app_for_container_name("same")
    assert hit is not None and hit[0].number == 1


def test_app_for_project_and_workdir(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    app_dir = simple_app(root, "claude-3.5", 4, 6001, 6002)
    link = tmp_path / "fleet-link"
    link.symlink_to(root)
    fleet = load_fleet(link)  # the root as a user passes it may go through a symlink
    app = fleet.app("claude-3.5", 4)
    index = ProjectIndex(fleet)

    assert index.app_for_project(project_name("claude-3.5", 4)) == app
    assert index.app_for_project("genfleet-claude-3-5-app4") is None
    assert index.app_for_project("app4") is None

    assert index.app_for_workdir(str(app_dir.resolve())) == app
    assert index.app_for_workdir(str(app_dir.resolve()) + "/") == app
    assert index.app_for_workdir(str(link / "models" / "claude-3.5" / "app4")) == app
    assert (
        index.app_for_workdir(str(link / "models" / "claude-3.5" / "app4" / ".." / "app4")) == app
    )
    assert index.app_for_workdir(str(tmp_path)) is None
    assert index.app_for_workdir("") is None
