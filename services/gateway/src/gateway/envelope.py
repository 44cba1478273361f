"""The JSON envelope of every answer, and the mapping of error codes to HTTP statuses.

    {"success": true,  "message": "", "data": {...}, "error": null}
    {"success": false, "message": "...", "data": null, "error": {"code": "...", "detail": ""}}

Answers are encoded with msgspec straight to bytes: bus replies are embedded as they came
(`msgspec.Raw`), never decoded into Python objects and encoded again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from genfleet_common.errors import ErrorCode, GenFleetError
from genfleet_common.logs import get_logger

log = get_logger("gateway")

# Gateway-only codes, beside the bus's ErrorCode values.
UNAUTHENTICATED = "unauthenticated"
FORBIDDEN = "forbidden"
METHOD_NOT_ALLOWED = "method_not_allowed"

STATUS_OF_CODE: dict[str, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID: 422,
    ErrorCode.MALFORMED: 400,
    ErrorCode.BUSY: 409,
    ErrorCode.CONFLICT: 409,
    ErrorCode.ENGINE_UNAVAILABLE: 503,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
    # A failed action is a 200 with success false (see `outcome`); raised on its own, it is
    # something upstream that failed (an app that never became healthy likewise).
    ErrorCode.FAILED: 502,
    ErrorCode.UNHEALTHY: 502,
    ErrorCode.INTERNAL: 500,
    UNAUTHENTICATED: 401,
    FORBIDDEN: 403,
    METHOD_NOT_ALLOWED: 405,
}

CODE_OF_STATUS: dict[int, str] = {
    400: ErrorCode.MALFORMED,
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    422: ErrorCode.INVALID,
    503: ErrorCode.UNAVAILABLE,
    504: ErrorCode.TIMEOUT,
}


def http_status(code: str) -> int:
    return STATUS_OF_CODE.get(code, 500)


class ErrorBody(msgspec.Struct, kw_only=True):
    code: str
    detail: str = ""


class Envelope(msgspec.Struct, kw_only=True):
    success: bool
    message: str = ""
    data: Any = None  # a msgspec.Raw of a bus reply, a Struct, or plain JSON values
    error: ErrorBody | None = None


_encoder = msgspec.json.Encoder()


class JSONBytes(Response):
    media_type = "application/json"


def ok(data: Any) -> Response:
    return JSONBytes(_encoder.encode(Envelope(success=True, data=data)))


def fail(
    code: str,
    message: str,
    *,
    detail: str = "",
    status: int | None = None,
    data: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = Envelope(
        success=False, message=message, data=data, error=ErrorBody(code=code, detail=detail)
    )
    return JSONBytes(
        _encoder.encode(body),
        status_code=http_status(code) if status is None else status,
        headers=headers,
    )


def outcome(data: Any, error: ErrorBody | None, message: str) -> Response:
    """A finished action or batch: HTTP 200 either way; `success` tells whether it worked."""
    body = Envelope(success=error is None, message=message, data=data, error=error)
    return JSONBytes(_encoder.encode(body))


# --- exception handlers ---------------------------------------------------------------------
async def _genfleet_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GenFleetError)
    if exc.code == ErrorCode.INTERNAL:
        log.error("internal error", extra={"error": exc.message})
    return fail(exc.code.value, exc.message, detail=exc.detail)


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("path", "query", "body", "header"):
        kind, rest = parts[0], parts[1:]
        return f"{kind} {'.'.join(rest)}" if rest else kind
    return ".".join(parts)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    problems = [f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors]
    if any(e.get("type") == "json_invalid" for e in errors):  # the body is not JSON at all
        return fail(ErrorCode.MALFORMED, "malformed request: the body is not valid JSON")
    body_problem = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors)
    content_type = request.headers.get("content-type", "")
    if body_problem and "json" not in content_type:
        message = "invalid request: send the body as JSON (Content-Type: application/json)"
        return fail(ErrorCode.INVALID, message, detail="; ".join(problems))
    message = "invalid request: " + (problems[0] if problems else "invalid value")
    return fail(ErrorCode.INVALID, message, detail="; ".join(problems))


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = CODE_OF_STATUS.get(exc.status_code, ErrorCode.INTERNAL)
    return fail(code, str(exc.detail), status=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"method": request.method, "path": request.url.path},
    )
    return fail(ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}")


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GenFleetError, _genfleet_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
