"""Typed errors. Each has a stable code that travels over the bus and maps to an HTTP status."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID = "invalid"  # the request is well-formed but a value is not acceptable
    MALFORMED = "malformed"  # the request could not be decoded at all
    NOT_FOUND = "not_found"  # unknown model, app, container, job
    BUSY = "busy"  # an action is already running for that target
    CONFLICT = "conflict"  # the fleet's configuration forbids it (e.g. a host port clash)
    ENGINE_UNAVAILABLE = "engine_unavailable"  # the Docker engine cannot be reached
    TIMEOUT = "timeout"  # the action ran past its time limit
    FAILED = "failed"  # the action ran and failed (e.g. compose exited non-zero)
    UNHEALTHY = "unhealthy"  # the app came up but did not become healthy in time
    UNAVAILABLE = "unavailable"  # a service or tool that is needed is not running
    INTERNAL = "internal"  # a bug: logged with a traceback by the service


class GenFleetError(Exception):
    """Base of every error a service reports to its caller."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidInput(GenFleetError):
    code = ErrorCode.INVALID


class Malformed(GenFleetError):
    code = ErrorCode.MALFORMED


class NotFound(GenFleetError):
    code = ErrorCode.NOT_FOUND


class Busy(GenFleetError):
    code = ErrorCode.BUSY


class Conflict(GenFleetError):
    code = ErrorCode.CONFLICT


class EngineUnavailable(GenFleetError):
    code = ErrorCode.ENGINE_UNAVAILABLE


class ActionTimeout(GenFleetError):
    code = ErrorCode.TIMEOUT


class ActionFailed(GenFleetError):
    code = ErrorCode.FAILED


class AppUnhealthy(GenFleetError):
    code = ErrorCode.UNHEALTHY


class ServiceUnavailable(GenFleetError):
    code = ErrorCode.UNAVAILABLE


_BY_CODE: dict[ErrorCode, type[GenFleetError]] = {
    cls.code: cls
    for cls in (
        InvalidInput,
        Malformed,
        NotFound,
        Busy,
        Conflict,
        EngineUnavailable,
        ActionTimeout,
        ActionFailed,
        AppUnhealthy,
        ServiceUnavailable,
        GenFleetError,
    )
}


def error_from_code(code: str, message: str, detail: str = "") -> GenFleetError:
    """Rebuild the typed error a remote service reported."""
    try:
        cls = _BY_CODE[ErrorCode(code)]
    except ValueError:
        cls = GenFleetError
    return cls(message, detail=detail)
