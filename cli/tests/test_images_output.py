"""What the CLI prints of an app's images and of the base images a result recorded, from the
gateway's JSON (AppImages, ScanStatus, StepRecord as the API gives them)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from genfleet_cli.campaigns import summary
from genfleet_cli.render import base_image_lines, images_table
from genfleet_common.messages import (
    AppImages,
    BaseImages,
    Package,
    Packages,
    PackagesState,
    RiskCounts,
    ScanOutcome,
    ServiceImage,
    Step,
    StepRecord,
    StepState,
    Substitute,
)

TEXT = "Debian's python 3.11 stands in for python:latest"
SUB = Substitute(service="backend", image="img", base="python:latest", text=TEXT)


def as_api(value: msgspec.Struct) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def test_images_table_names_the_substitute_and_lists_packages(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: no cell is cut
    images = AppImages(
        model="m",
        app=1,
        services=[
            ServiceImage(
                service="backend", builds=True, context="backend", image="genfleet-m-app1-backend",
                built=True, image_id="sha256:" + "ab" * 32, standin_for="python:latest",
                substitute=TEXT,
                python=Packages(
                    state=PackagesState.READ, runtime="python3 3.11.2",
                    packages=[Package(name="Flask", version="3.1.3")],
                ),
                npm=Packages(state=PackagesState.NONE, error="no node_modules"),
            ),
            ServiceImage(
                service="frontend", builds=True, image="genfleet-m-app1-frontend",
                note="not built yet",
            ),
        ],
    )  # fmt: skip
    images_table(as_api(images))
    out = capsys.readouterr().out
    assert "abababababab" in out and "substitute for python:latest" in out
    assert f"backend: built on a substitute base image: {TEXT}" in out
    assert "backend python: Flask 3.1.3" in out and "frontend: not built yet" in out


def test_results_and_campaigns_name_the_substitute() -> None:
    status = {"base_images": as_api(BaseImages(checked=True, substitutes=[SUB]))}
    assert base_image_lines(status) == [f"backend: built on a substitute base image: {TEXT}"]
    unknown = {"base_images": as_api(BaseImages(checked=False, note="no engine"))}
    assert base_image_lines(unknown) == ["base images not checked: no engine"]
    assert base_image_lines({"base_images": None}) == []

    recorded = BaseImages(checked=True, substitutes=[SUB])
    steps = [
        StepRecord(
            campaign_id="c", model="m", app=1, step=step, state=StepState.DONE,
            outcome=ScanOutcome(counts=RiskCounts(), base_images=recorded),
        )
        for step in (Step.SCAN, Step.DAST)
    ]  # fmt: skip
    status_json = {
        "campaign_id": "c", "state": "COMPLETE", "total": 2, "steps": ["scan", "dast"],
        "apps": ["m/app1"],
        "counts": {"pending": 0, "running": 0, "done": 2, "failed": 0, "skipped": 0, "reused": 0},
    }  # fmt: skip
    text = summary(status_json, [as_api(r) for r in steps])
    assert text.count("built on a substitute base image") == 1  # the app once, not per step
    assert f"m/app1 backend: built on a substitute base image: {TEXT}" in text
