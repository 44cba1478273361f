"""An app's images (`container.images`): per service, the image Compose builds (or runs), if
it exists yet, the stand-in base image it was built on and whether that is a substitute
(labels inherited from the base: genfleet_common.images), and the packages installed in it.

Which image and build context a service has is what Compose itself resolves (`config
--format json`); a built service without `image:` is tagged `<project>-<service>`. An image
not built yet is an answer ("not built"), not an error. Packages are read once per image id
(images never change; a rebuild makes a new id) by container_svc.packages, a few images at
a time; every blocking engine call runs in a thread.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors

from container_svc.compose import Compose
from container_svc.engine import ENGINE_ERRORS, Engine
from container_svc.packages import Installed, connect, read_installed
from container_svc.projects import project_name
from genfleet_common.images import STANDIN_FOR_LABEL, STANDIN_LABEL, SUBSTITUTE_LABEL
from genfleet_common.messages import AppImages, AppSpec, ServiceImage
from genfleet_common.process import run_tool

CONFIG_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 60.0  # one throwaway container that lists an image's packages
PROBES_AT_ONCE = 3
KEEP_IMAGES = 1024  # images whose packages are kept in memory
MAX_LABEL = 500  # a label's text in a reply (labels are the app's to write)


@dataclass(frozen=True)
class Declared:
    """A service as Compose resolves it."""

    service: str
    builds: bool
    image: str
    context: str = ""
    note: str = ""


class Images:
    def __init__(
        self, engine: Engine, compose: Compose, *, probe_timeout_s: float = PROBE_TIMEOUT_S
    ) -> None:
        self.engine = engine
        self.compose = compose
        self.probe_timeout_s = probe_timeout_s
        self._installed: OrderedDict[str, Installed] = OrderedDict()  # image id -> packages
        self._reading: dict[str, asyncio.Task[Installed]] = {}
        self._gate = asyncio.Semaphore(PROBES_AT_ONCE)
        self._client: Any = None  # made on first use (see packages.connect)

    def _api(self) -> Any:
        """The engine's API with time for a busy engine (blocking: called in threads)."""
        self.engine.require()
        if self._client is None:
            try:
                self._client = connect(self.engine.docker_host, self.probe_timeout_s + 30)
            except ENGINE_ERRORS as exc:
                raise self.engine.lost(exc) from exc
        return self._client

    async def of(self, app: AppSpec, *, packages: bool) -> AppImages:
        self.engine.require()
        declared = await self._declared(app)
        services = await asyncio.gather(*(self._service(d, packages) for d in declared))
        return AppImages(model=app.model, app=app.number, services=list(services))

    # --- what Compose builds ---------------------------------------------------------------
    async def _declared(self, app: AppSpec) -> list[Declared]:
        """Each service of the app (compose file order), with the image and build context
        Compose resolves; from the registry's reading when Compose cannot say."""
        project = project_name(app.model, app.number)
        argv = self.compose.command(app, "config", "--format", "json")
        why = ""
        resolved: dict[str, Any] = {}
        try:
            result = await run_tool(
                argv, cwd=Path(app.path), timeout_s=CONFIG_TIMEOUT_S, env=self.compose.env
            )
            if result.exit_code == 0:
                config = json.loads(result.stdout)
                found = config.get("services") if isinstance(config, dict) else None
                resolved = found if isinstance(found, dict) else {}
            else:
                why = result.tail(3) or f"compose config exited with {result.exit_code}"
        except (OSError, ValueError) as exc:
            why = str(exc)
        services: list[Declared] = []
        for spec in app.services:
            raw = resolved.get(spec.name)
            if not isinstance(raw, dict):
                note = f"build context unknown: compose config: {why[:300]}" if why else ""
                image = spec.image or f"{project}-{spec.name}"
                services.append(Declared(spec.name, spec.builds, image, note=note))
                continue
            build = raw.get("build")
            named = raw.get("image")
            image = named if isinstance(named, str) and named else (spec.image or "")
            context, note = "", ""
            if isinstance(build, dict):
                context, note = _relative(str(build.get("context", "")), Path(app.path))
            services.append(
                Declared(
                    spec.name,
                    builds=build is not None,
                    image=image or f"{project}-{spec.name}",
                    context=context,
                    note=note,
                )
            )
        return services

    # --- one service -----------------------------------------------------------------------
    async def _service(self, declared: Declared, packages: bool) -> ServiceImage:
        found = await asyncio.to_thread(self._inspect, declared.image)
        image = ServiceImage(
            service=declared.service, builds=declared.builds, context=declared.context,
            image=declared.image, note=declared.note,
        )  # fmt: skip
        if found is None:
            image.note = _join(
                "not built yet" if declared.builds else "the image is not on the Docker host",
                image.note,
            )
            return image
        config = found.get("Config") or {}
        labels = config.get("Labels") or {}
        image.built = True
        image.image_id = str(found.get("Id", ""))
        image.created = str(found.get("Created", ""))
        image.workdir = str(config.get("WorkingDir") or "")
        if labels.get(STANDIN_LABEL) or labels.get(SUBSTITUTE_LABEL):
            image.standin_for = _label(labels.get(STANDIN_FOR_LABEL)) or "?"
            image.substitute = _label(labels.get(SUBSTITUTE_LABEL))
        if packages and declared.builds:
            installed = await self._read(image.image_id)
            image.python, image.npm = installed.python, installed.npm
        elif packages:
            image.note = _join("a prebuilt image: its packages are not read", image.note)
        return image

    def _inspect(self, reference: str) -> dict[str, Any] | None:
        api = self._api()
        try:
            found: dict[str, Any] = api.inspect_image(reference)
            return found
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code in (400, 404):  # a reference the engine cannot parse
                return None
            raise self.engine.lost(exc) from exc
        except ENGINE_ERRORS as exc:
            raise self.engine.lost(exc) from exc

    async def _read(self, image_id: str) -> Installed:
        """The image's packages: kept per image id, read once however many ask at once."""
        kept = self._installed.get(image_id)
        if kept is not None:
            self._installed.move_to_end(image_id)
            return kept
        task = self._reading.get(image_id)
        if task is None:
            task = asyncio.create_task(self._probe(image_id))
            self._reading[image_id] = task
            task.add_done_callback(lambda _: self._reading.pop(image_id, None))
        return await asyncio.shield(task)

    async def _probe(self, image_id: str) -> Installed:
        async with self._gate:
            api = await asyncio.to_thread(self._api)
            installed = await asyncio.to_thread(read_installed, api, image_id, self.probe_timeout_s)
        if installed.lasting:
            self._installed[image_id] = installed
            while len(self._installed) > KEEP_IMAGES:
                self._installed.popitem(last=False)
        return installed


def _relative(context: str, app_dir: Path) -> tuple[str, str]:
    """The build context relative to the app folder, or "" and why."""
    if not context:
        return "", ""
    if "://" in context or context.startswith("git@"):
        return "", f"build context is remote ({context[:200]})"
    try:
        rel = os.path.relpath(Path(context).resolve(), app_dir.resolve())
    except (OSError, ValueError):
        return "", "build context unknown"
    if rel == ".." or rel.startswith("../"):
        return "", "build context is outside the app folder"
    return Path(rel).as_posix(), ""


def _label(value: object) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 3] + "..."


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)
