"""OpenAPI docs for answers that are msgspec Structs, not pydantic models.

Routes return ready-encoded `Response`s, so FastAPI never sees their data types. Each route
declares `responses=answers(DataType, ...)`: the JSON Schema of the envelope around that
type, made by msgspec; `install` merges the schemas' components into /openapi.json.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway.envelope import ErrorBody

REF = "#/components/schemas/{name}"
SCHEME = "bearer"
_components: dict[str, Any] = {}

_ERRORS = {
    400: "Malformed request",
    401: "Missing, invalid or expired token",
    403: "The token's role is too low",
    404: "Unknown model, app or route",
    409: "An action is already running for that app, or the fleet forbids it",
    422: "A value is not acceptable (bad name, app number, action, body)",
    503: "Docker engine, container-svc or NATS unavailable",
    504: "No answer in time",
}


def schema_of(typ: Any) -> dict[str, Any]:
    (schema,), components = msgspec.json.schema_components([typ], ref_template=REF)
    _components.update(components)
    return schema


def _envelope(data: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "success": {"type": "boolean"},
            "message": {"type": "string"},
            "data": data,
            "error": error,
        },
        "required": ["success", "message", "data", "error"],
    }


def answers(
    data: Any, *errors: int, description: str = "The envelope with `data`"
) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route whose envelope carries `data` of type `data`."""
    error_body = schema_of(ErrorBody)
    ok = _envelope(schema_of(data), {"anyOf": [error_body, {"type": "null"}]})
    failed = _envelope({"type": "null"}, error_body)
    responses: dict[int | str, dict[str, Any]] = {
        200: {"description": description, "content": {"application/json": {"schema": ok}}}
    }
    for status in errors:
        responses[status] = {
            "description": _ERRORS.get(status, "Error"),
            "content": {"application/json": {"schema": failed}},
        }
    return responses


def install(app: FastAPI, description: str) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            for name, component in _components.items():
                schemas.setdefault(name, component)
            components.setdefault("securitySchemes", {})[SCHEME] = {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A GenFleet token (JWT, HS256)",
            }
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    if "401" in operation.get("responses", {}):  # the routes that need a token
                        operation["security"] = [{SCHEME: []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
