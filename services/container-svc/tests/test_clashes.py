"""Apps whose host ports clash: refused with `strict` ports, else run on other ports."""

from __future__ import annotations

from pathlib import Path

import pytest

from container_svc.actions import Actions
from container_svc.compose import Compose
from container_svc.engine import Engine
from container_svc.status import StatusCache
from genfleet_common.errors import Conflict, EngineUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.messages import Action, ActionRequest
from genfleet_common.settings import Settings

COMPOSE = 'services:\n  web:\n    image: x\n    ports: ["127.0.0.1:{port}:80"]\n'


def fleet_with_clash(root: Path, *, strict: bool) -> Fleet:
    for model, app, port in (("a", 1, 7001), ("b", 1, 7001), ("b", 2, 7002)):
        folder = root / "models" / model / f"app{app}"
        folder.mkdir(parents=True)
        (folder / "docker-compose.yml").write_text(COMPOSE.format(port=port))
    (root / "fleet.toml").write_text(f"[ports]\nstrict = {str(strict).lower()}\n")
    return Fleet.load(root)


async def test_with_strict_ports_clashing_apps_are_refused_and_others_are_not(
    tmp_path: Path,
) -> None:
    fleet = fleet_with_clash(tmp_path, strict=True)
    (clash,) = fleet.clashes()
    assert clash.host_port == 7001 and set(clash.users) == {"a/app1:web", "b/app1:web"}

    async def publish(subject: str, event: object) -> None:
        pass

    engine = Engine("unix:///nonexistent.sock", 1)  # never reached: the refusal comes first
    cache = StatusCache(fleet, lambda e: None)
    actions = Actions(Settings(secret_key="x"), engine, cache, Compose(), publish)
    for model in ("a", "b"):
        for action in (Action.START, Action.RESTART, Action.REBUILD):
            with pytest.raises(Conflict, match="host ports clash") as err:
                await actions.run(
                    fleet.app(model, 1), ActionRequest(model=model, app=1, action=action)
                )
            assert "7001" in err.value.detail and "a/app1:web" in err.value.detail
    # stopping a clashing app, or starting one without a clash, is not refused for the clash
    with pytest.raises(EngineUnavailable):
        await actions.run(fleet.app("a", 1), ActionRequest(model="a", app=1, action=Action.STOP))
    with pytest.raises(EngineUnavailable):
        await actions.run(fleet.app("b", 2), ActionRequest(model="b", app=2, action=Action.START))
