"""An app's images over the bus (`container.images`), on real images built for the test: the
packages really installed (Flask at the version pip resolved for an unpinned requirement, npm
packages under the WORKDIR, read by Node.js in an image without Python), the substitute base
image an image was built on (its label inherited), an app never built ("not built", not an
error), and bad names refused. No probe container is left behind, and none is ever taken for
one of the app's own containers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import docker
import pytest

from container_svc.service import ContainerService
from container_svc.testing import (
    SUBSTITUTE_FOR,
    SUBSTITUTE_TEXT,
    compose,
    down_all,
    make_images_fleet,
    substitute_base,
)
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.images import base_images
from genfleet_common.messages import (
    AppImages,
    AppState,
    ImagesRequest,
    PackagesState,
    ServiceImage,
    StatusReply,
    StatusRequest,
)
from genfleet_common.testing import admin_bus, auth_nats, make_settings

pytestmark = pytest.mark.docker
PREFIX = "ti-"
MODEL = f"{PREFIX}images"


@dataclass
class Built:
    service: ContainerService
    bus: Bus


@pytest.fixture(scope="module")
async def built(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Built]:
    """Its own nats-server and container-svc over a fleet whose app1 is built (its backend
    FROM a local base labelled as a substitute) and whose app2 is not."""
    tmp = tmp_path_factory.mktemp("images")
    root = make_images_fleet(tmp / "fleet", PREFIX, 17000, substitute_base())
    fleet = Fleet.load(root)
    unbuilt = fleet.app(MODEL, 2)
    down_all(fleet.apps())
    compose(unbuilt, "down", "--rmi", "local")  # whatever an earlier run built
    made = compose(fleet.app(MODEL, 1), "build")
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    with auth_nats(tmp / "nats") as nats:
        service = ContainerService(make_settings(tmp, nats.url, root), fleet)
        await service.start()
        await service.cache.wait_for(lambda: service.cache.synced, 10)
        bus = await admin_bus(nats.url, name="images-tests")
        try:
            yield Built(service, bus)
        finally:
            await bus.close()
            down_all(fleet.apps())
            await service.stop()


async def images(bus: Bus, app: int, packages: bool = True) -> AppImages:
    return await bus.request(
        subjects.CONTAINER_IMAGES,
        ImagesRequest(model=MODEL, app=app, packages=packages),
        AppImages,
        timeout=300,
    )


def by_service(reply: AppImages) -> dict[str, ServiceImage]:
    return {s.service: s for s in reply.services}


async def test_a_built_app_says_what_its_images_installed(built: Built) -> None:
    reply = await images(built.bus, 1)
    assert [s.service for s in reply.services] == ["backend", "frontend"]  # compose order
    backend, frontend = by_service(reply)["backend"], by_service(reply)["frontend"]
    client = docker.from_env()
    for s in (backend, frontend):
        assert s.builds and s.built and s.context == s.service
        assert s.image == f"genfleet-{MODEL}-app1-{s.service}"
        assert s.image_id == client.images.get(s.image).id  # the image Compose tagged

    # requirements.txt says `Flask`, unpinned: the image has the version pip resolved
    assert backend.python is not None and backend.python.state == PackagesState.READ
    flask = [p for p in backend.python.packages if p.name.lower() == "flask"]
    assert len(flask) == 1 and flask[0].version[:1].isdigit(), backend.python.packages
    assert any(p.name.lower() == "werkzeug" for p in backend.python.packages)  # Flask's own
    assert backend.python.runtime.startswith("python")
    assert backend.npm is not None and backend.npm.state == PackagesState.NONE
    assert "node_modules" in backend.npm.error and backend.workdir == "/app"

    # npm installed debug@^4 (and its dependency ms) under the WORKDIR; no Python to read
    # them with, so Node.js did
    assert frontend.python is not None and frontend.python.state == PackagesState.NONE
    assert frontend.npm is not None and frontend.npm.state == PackagesState.READ
    assert frontend.npm.runtime.startswith("node v")
    npm = {p.name: p for p in frontend.npm.packages}
    assert set(npm) >= {"debug", "ms"}, frontend.npm.packages
    assert npm["debug"].version.startswith("4.") and npm["debug"].path == "node_modules/debug"


async def test_a_substitute_base_image_is_named_with_what_it_really_is(built: Built) -> None:
    reply = await images(built.bus, 1, packages=False)
    backend, frontend = by_service(reply)["backend"], by_service(reply)["frontend"]
    # the label of the base is inherited by the app's image built FROM it
    assert (backend.standin_for, backend.substitute) == (SUBSTITUTE_FOR, SUBSTITUTE_TEXT)
    # node:20-slim here is an exact stand-in (or the real image): no substitute
    assert frontend.substitute == ""
    [substitute] = reply.substitutes
    assert (substitute.service, substitute.base, substitute.text) == (
        "backend",
        SUBSTITUTE_FOR,
        SUBSTITUTE_TEXT,
    )
    assert substitute.describe() == f"backend: built on a substitute base image: {SUBSTITUTE_TEXT}"
    recorded = base_images(reply)
    assert recorded.checked and recorded.substitutes == [substitute] and not recorded.note
    # without packages, no throwaway container was asked for
    assert backend.python is None and frontend.npm is None


async def test_packages_are_read_once_per_image(built: Built) -> None:
    first = await images(built.bus, 1)
    kept = dict(built.service.images._installed)
    assert {s.image_id for s in first.services} <= set(kept)
    again = await images(built.bus, 1)
    assert again == first
    # every probe container is gone, and none was ever one of the app's containers
    client = docker.from_env()
    assert client.containers.list(all=True, filters={"label": "org.genfleet.probe"}) == []
    status = await built.bus.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=MODEL, app=1), StatusReply, timeout=5
    )
    assert status.apps[0].state == AppState.STOPPED
    assert all(not c.exists for c in status.apps[0].containers)


async def test_an_app_never_built_is_an_answer_not_an_error(built: Built) -> None:
    reply = await images(built.bus, 2)
    assert [s.built for s in reply.services] == [False, False]
    for s in reply.services:
        assert s.image == f"genfleet-{MODEL}-app2-{s.service}" and not s.image_id
        assert "not built yet" in s.note and s.python is None and s.npm is None
    assert reply.substitutes == []
    recorded = base_images(reply)
    assert recorded.checked and recorded.note == "not built: backend, frontend"


async def test_unknown_and_invalid_names_are_refused(built: Built) -> None:
    with pytest.raises(NotFound):
        await built.bus.request(
            subjects.CONTAINER_IMAGES, ImagesRequest(model=MODEL, app=9), AppImages, timeout=10
        )
    with pytest.raises(NotFound):
        await built.bus.request(
            subjects.CONTAINER_IMAGES,
            ImagesRequest(model="no-such-model", app=1),
            AppImages,
            timeout=10,
        )
    raw = await built.bus.nc.request(
        subjects.CONTAINER_IMAGES, b'{"model": "../etc", "app": 0}', timeout=10
    )
    assert b'"code":"invalid"' in raw.data
    with pytest.raises(InvalidInput):
        await built.bus.request(
            subjects.CONTAINER_IMAGES,
            ImagesRequest(model="x" * 129, app=1),
            AppImages,
            timeout=10,
        )
