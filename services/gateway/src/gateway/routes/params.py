"""Path, query and body parameters shared by the routes, checked before anything is sent."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from genfleet_common.fleet import MAX_APP_NUMBER, validate_app_number, validate_model_name
from genfleet_common.messages import Action, LatestRequest
from genfleet_common.settings import Settings

# The path/query declarations document the parameters; the fleet's own validators then give
# the same clear messages container-svc would (and keep '..', quotes, spaces off the bus).
ModelPath = Annotated[str, Path(description="A model name of the fleet", max_length=256)]
AppPath = Annotated[int, Path(description=f"An app number, 1..{MAX_APP_NUMBER}")]
ServiceQuery = Annotated[
    str | None,
    Query(
        description="One service of the app (default: all)",
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    ),
]
ID_PATTERN = r"^[A-Za-z0-9._:-]*$"
ModelQuery = Annotated[
    str | None,
    Query(max_length=256, description="Only this model's apps (default: the fleet)"),
]


def model_app(model: str, app: int) -> tuple[str, int]:
    return validate_model_name(model), validate_app_number(app)


def latest_request(model: str | None) -> LatestRequest:
    """The request of a `latest` command (each app's newest scan, test, analysis)."""
    return LatestRequest(model=None if model is None else validate_model_name(model))


def action_timeout(settings: Settings, action: Action, timeout_s: float | None) -> float:
    """How long to wait for container-svc's answer to one app's action."""
    if timeout_s is None:
        timeout_s = settings.action_timeout_s(action)
    # container-svc ends the action at its own deadline; this only catches a service that died
    return timeout_s + settings.health_timeout_s + 30.0
