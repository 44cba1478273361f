"""The fleet registry: which models and apps exist, what their compose files publish (and
where GenFleet publishes it instead when it clashes: `overrides`), and which host ports a
new app can use without clashing with any other app of the fleet.

`Fleet.load` reads the whole fleet once; the `Fleet` it returns never changes. Problems in
single folders or compose files never stop a load: the folder or app is skipped and the
reason is kept in `Fleet.warnings`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet.clashes import container_name_clashes, find_clashes
from genfleet_common.fleet.composefile import load_app
from genfleet_common.fleet.config import (
    DEFAULT_PORT_RANGE,
    FLEET_TOML,
    PALETTE,
    read_config,
    requirements_file,
)
from genfleet_common.fleet.names import (
    MAX_APP_NUMBER,
    validate_app_number,
    validate_model_name,
    validate_service_names,
)
from genfleet_common.fleet.overrides import (
    DEFAULT_REMAP_RANGE,
    describe_remaps,
    remap,
)
from genfleet_common.fleet.paths import children, inside
from genfleet_common.messages import AppSpec, FleetInfo, ModelSpec, PortClash

MODELS_DIR = "models"
# Preferred ports of a new app are spread out per model so that apps of one model sit
# together: range_start + model_index * PORTS_PER_MODEL + number * 2 + service_index.
PORTS_PER_MODEL = 100

_APP_DIR_RE = re.compile(r"app([1-9][0-9]*)")  # no leading zeros: app01 would alias app1


class Fleet:
    """A loaded fleet: models, apps and the host ports they publish.

    Apps carry their effective host ports and container names (see `overrides`): unless
    `strict_ports`, an app whose declared ones an earlier app uses gets others. Immutable
    after construction, apart from the set of ports `allocate_ports` handed out. Build one
    with `Fleet.load(root)`; the constructor takes already-parsed specs (as declared).
    """

    def __init__(
        self,
        *,
        root: Path,
        models: Mapping[str, ModelSpec],
        requirements_file: Path | None = None,
        warnings: Sequence[str] = (),
        port_range: tuple[int, int] = DEFAULT_PORT_RANGE,
        remap_range: tuple[int, int] = DEFAULT_REMAP_RANGE,
        strict_ports: bool = False,
        root_aliases: Sequence[Path] = (),
    ) -> None:
        self._root = root
        self._root_aliases = tuple(root_aliases)
        self._requirements_file = requirements_file
        self._port_range = port_range
        self._strict_ports = strict_ports
        declared = [
            app
            for name in sorted(models)
            for app in sorted(models[name].apps, key=lambda a: a.number)
        ]
        self._warnings = list(warnings)
        self._app_list = declared
        if strict_ports:
            self._warnings += container_name_clashes(declared)
        else:
            self._app_list, full = remap(declared, remap_range)
            self._warnings += full
        by_model: dict[str, list[AppSpec]] = {}
        for app in self._app_list:
            by_model.setdefault(app.model, []).append(app)
        self._models = {
            name: msgspec.structs.replace(models[name], apps=tuple(by_model.get(name, ())))
            for name in sorted(models)
        }
        self._apps = {(app.model, app.number): app for app in self._app_list}
        self._clashes = find_clashes(self._app_list)
        # Host ports a new app must not use: every port the fleet declares or publishes
        # (whatever the IP or protocol, to stay simple and safe) plus every port
        # allocate_ports handed out.
        self._taken = {
            b.host_port for a in [*declared, *self._app_list] for s in a.services for b in s.ports
        }
        self._allocated: dict[tuple[str, int, str], int] = {}
        self._lock = threading.Lock()

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
        if inside(models_dir, resolved) is None:
            raise InvalidInput(f"{models_dir} points outside the fleet root")
        env: Mapping[str, str] = os.environ if environ is None else environ
        warnings: list[str] = []
        config = read_config(resolved, warnings)

        apps_by_model: dict[str, list[AppSpec]] = {}
        for model_dir in children(models_dir, warnings, MODELS_DIR):
            name = model_dir.name
            if name.startswith("."):  # .git, .DS_Store and the like
                continue
            where = f"{MODELS_DIR}/{name}"
            if inside(model_dir, resolved) is None:
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
            requirements_file=requirements_file(resolved, config, warnings),
            warnings=warnings,
            port_range=config.port_range,
            remap_range=config.remap_range,
            strict_ports=config.strict_ports,
            root_aliases=[given] if given != resolved else [],
        )

    @staticmethod
    def _load_model(
        model: str, model_dir: Path, root: Path, environ: Mapping[str, str], warnings: list[str]
    ) -> list[AppSpec]:
        found: list[tuple[int, Path]] = []
        for app_dir in children(model_dir, warnings, f"{MODELS_DIR}/{model}"):
            where = f"{MODELS_DIR}/{model}/{app_dir.name}"
            if app_dir.name.startswith("."):
                continue
            if inside(app_dir, root) is None:
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
            app = load_app(model, number, app_dir, root, environ, warnings)
            if app is not None:
                apps.append(app)
        return apps

    # --- reading ----------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The fleet folder, symlinks resolved."""
        return self._root

    @property
    def root_aliases(self) -> tuple[Path, ...]:
        """Other spellings of `root`: the path as given, when it went through a symlink.
        Compose records an app's folder as it saw it, so lookups by folder need them too."""
        return self._root_aliases

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

    @property
    def strict_ports(self) -> bool:
        """True when clashing apps are refused rather than given other ports."""
        return self._strict_ports

    def clashes(self) -> list[PortClash]:
        """Every host port that more than one app service (or one service twice) would
        publish, sorted by port: after remapping, only an app's clash with itself, unless
        `strict_ports`. These apps are refused."""
        return list(self._clashes)

    def remaps(self) -> list[str]:
        """One line per host port or container name GenFleet replaced (see `overrides`)."""
        return [line for app in self._app_list for line in describe_remaps(app)]

    def info(self) -> FleetInfo:
        return FleetInfo(
            root=str(self._root),
            models=list(self._models.values()),
            clashes=self.clashes(),
            remaps=self.remaps(),
            strict_ports=self._strict_ports,
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
        names = validate_service_names(services)
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
