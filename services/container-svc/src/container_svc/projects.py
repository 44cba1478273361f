"""Compose projects of the fleet's apps: the project name container-svc runs each app under,
and the way back from what Docker shows (labels, container names) to the app.

Every lookup done per engine event is a dict lookup built once from the loaded Fleet.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

from genfleet_common.fleet import Fleet, validate_app_number, validate_model_name
from genfleet_common.messages import AppSpec, ServiceSpec

_NUMBERED_CONTAINER_RE = re.compile(r"(.+)[-_][0-9]+")  # compose's <project>-<service>-<n>


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


class ProjectIndex:
    """Which app a container belongs to, from its compose labels or its name."""

    def __init__(self, fleet: Fleet) -> None:
        self.warnings: list[str] = []  # names two apps would share (logged at start-up)
        self._by_project: dict[str, AppSpec] = {}
        self._by_workdir: dict[str, AppSpec] = {}
        self._by_container: dict[str, tuple[AppSpec, ServiceSpec]] = {}
        self._by_default_container: dict[str, tuple[AppSpec, ServiceSpec]] = {}
        for app in fleet.apps():
            self._index(app, fleet.root, fleet.root_aliases)

    def _index(self, app: AppSpec, root: Path, root_aliases: tuple[Path, ...]) -> None:
        project = project_name(app.model, app.number)
        if project in self._by_project:
            self.warnings.append(
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
        if path.is_relative_to(root):
            relative = path.relative_to(root)
            spellings.update(str(alias / relative) for alias in root_aliases)
        for spelling in spellings:
            self._by_workdir.setdefault(spelling, app)
        for service in app.services:
            # Two apps with one container_name: the first wins (Fleet.warnings names them).
            hit = (app, service)
            if service.container_name:
                self._by_container.setdefault(service.container_name, hit)
            # Without container_name, compose names containers <project>-<service>-<n>
            # (compose v1: <project>_<service>_<n>).
            self._by_default_container.setdefault(f"{project}-{service.name}", hit)
            self._by_default_container.setdefault(f"{project}_{service.name}", hit)

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
