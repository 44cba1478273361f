"""The requirements judge's calibration (ai-svc): start a run over the fleet's labelled
verdicts (calibration.toml), read it (progress, then accuracy, precision, recall, Cohen's
kappa, unusable answers), and a judge's newest complete one.

A start queues one analysis per labelled app and answers at once; the run's figures are
computed when it is read after its analyses ended.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.bodies import JsonBody
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from genfleet_common import subjects
from genfleet_common.messages import (
    Calibration,
    CalibrationLatestRequest,
    CalibrationRequest,
    JobRef,
)

START = JsonBody(CalibrationRequest)
CalibrationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="A calibration id")]
START_TIMEOUT_S = 60.0  # resolving the judge may ask a server; then one analysis per app


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["analysis"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.post(
        "/api/calibrations", tags=tags, dependencies=operator,
        responses=answers(Calibration, 400, 401, 403, 404, 409, 422, 503),
        openapi_extra=START.doc,
    )  # fmt: skip
    async def start_calibration(
        request: Annotated[CalibrationRequest, Depends(START)],
    ) -> Response:
        """Measure the judge against the fleet's calibration set: 404 when the fleet has
        none, 400 when it does not fit the fleet, 409 when an app's analysis is running."""
        return ok(
            await ctx.commands.call(subjects.ANALYSIS_CALIBRATE, request, timeout_s=START_TIMEOUT_S)
        )

    # before /api/calibrations/{calibration_id}: "latest" would pass for an id
    @app.get(
        "/api/calibrations/latest", tags=tags, dependencies=viewer,
        responses=answers(Calibration, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def latest_calibration(
        llm_id: Annotated[
            str | None, Query(max_length=512, description="The judge (default: the default)")
        ] = None,
    ) -> Response:
        """The judge's newest complete calibration; 404 when it has none."""
        request = CalibrationLatestRequest(llm_id=llm_id)
        return ok(
            await ctx.commands.call(
                subjects.ANALYSIS_CALIBRATION_LATEST, request, timeout_s=START_TIMEOUT_S
            )
        )

    @app.get(
        "/api/calibrations/{calibration_id}", tags=tags, dependencies=viewer,
        responses=answers(Calibration, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def calibration(calibration_id: CalibrationId) -> Response:
        """The run: RUNNING with its progress, then COMPLETE with its figures."""
        ref = JobRef(job_id=calibration_id)
        return ok(await ctx.commands.call(subjects.ANALYSIS_CALIBRATION, ref))
