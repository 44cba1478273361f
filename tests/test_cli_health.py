"""`genfleet apps` and `genfleet status` say whether each app answers, and why not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from genfleet_cli.render import apps_table, status_table
from genfleet_common.fleet.testing import add_app, compose_with_ports, load_fleet, new_fleet
from genfleet_common.messages import (
    Answer,
    AppState,
    AppStatus,
    ContainerState,
    Diagnosis,
    DiagnosisKind,
    EngineState,
    StatusReply,
)

MISMATCH = "listens on port 8080 inside the container, not on the published port 5000"


def reply() -> dict[str, Any]:
    running = {"exists": True, "running": True, "status": "running"}
    answering = ContainerState(
        service="frontend", **running, answer=Answer.ANSWERING, seconds_to_answer=0.42
    )
    apps = [
        AppStatus(
            model="m", app=1, state=AppState.RUNNING, healthy=True,
            containers=[
                ContainerState(service="backend", **running, answer=Answer.ANSWERING),
                answering,
            ],
        ),
        AppStatus(
            model="m", app=2, state=AppState.RUNNING, healthy=False,
            containers=[
                ContainerState(
                    service="backend", **running, answer=Answer.NOT_ANSWERING,
                    diagnosis=Diagnosis(
                        kind=DiagnosisKind.PORT_MISMATCH, summary=MISMATCH, service="backend"
                    ),
                ),
                answering,
            ],
        ),
        AppStatus(
            model="m", app=3, state=AppState.RUNNING, healthy=False,
            containers=[
                ContainerState(service="backend", **running, answer=Answer.CHECKING),
                answering,
            ],
        ),
    ]  # fmt: skip
    data = StatusReply(engine=EngineState(available=True), apps=apps)
    result: dict[str, Any] = msgspec.to_builtins(data)
    return result


def fleet_info() -> dict[str, Any]:
    return {"models": [{"name": "m", "color": "#123456", "apps": []}]}


def test_apps_says_answering_or_not_and_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    apps_table(fleet_info(), reply())
    rows = capsys.readouterr().out.splitlines()
    lines = {n: next(r for r in rows if f" app{n} " in r) for n in (1, 2, 3)}
    assert "answering" in lines[1] and "not answering" not in lines[1]
    assert f"not answering: backend: {MISMATCH}" in lines[2]
    assert "not answering yet" in lines[3]


def test_status_shows_each_containers_answer_and_diagnosis(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    status_table(reply())
    out = capsys.readouterr().out
    assert "answering after 0.42 s" in out
    assert MISMATCH in out and "not answering yet" in out


def test_apps_shows_the_effective_port_and_the_declared_one_of_a_remapped_app(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    root = new_fleet(tmp_path)
    for model in ("m", "n"):
        add_app(root, model, 1, compose_with_ports({"backend": ["5000:5000"]}))
    fleet = load_fleet(root)
    ((moved,),) = [s.ports for s in fleet.app("n", 1).services]
    stopped = [
        AppStatus(model=m, app=1, state=AppState.STOPPED, healthy=None, containers=[])
        for m in ("m", "n")
    ]
    status = msgspec.to_builtins(StatusReply(engine=EngineState(available=True), apps=stopped))
    apps_table(msgspec.to_builtins(fleet.info()), status)
    rows = capsys.readouterr().out.splitlines()
    kept_row = next(r for r in rows if r.lstrip("│ ").startswith("m "))
    moved_row = next(r for r in rows if r.lstrip("│ ").startswith("n "))
    assert "backend:5000" in kept_row and "declared" not in kept_row
    assert f"backend:{moved.host_port} (declared 5000)" in moved_row
