"""OpenAPI docs for answers and bodies that are msgspec Structs, not pydantic models.

Routes return ready-encoded `Response`s, so FastAPI never sees their data types. Each route
declares `responses=answers(DataType, ...)`: the JSON Schema of the envelope around that
type, made by msgspec; a route with a body declares `openapi_extra=JsonBody(...).doc`
(gateway.bodies). `install` merges the schemas' components into /openapi.json.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    """The JSON Schema of `typ`; the Structs it names go to the document's components."""
    (schema,), components = msgspec.json.schema_components([typ], ref_template=REF)
    for name, component in components.items():
        # Components are keyed by the type's name alone: a second type of the same name would
        # replace the first, and routes would publish a schema their answers do not follow.
        if _components.setdefault(name, component) != component:
            raise TypeError(f"two different types are named {name}: the API needs one per name")
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


Responses = dict[int | str, dict[str, Any]]


def answers(
    data: Any,
    *errors: int,
    description: str = "The envelope with `data`",
    error_data: Any = None,
) -> Responses:
    """`responses=` for a route whose envelope carries `data` of type `data`; its errors carry
    `data` null, or of type `error_data` (or null) when that is given."""
    error_body = schema_of(ErrorBody)
    ok = _envelope(schema_of(data), {"anyOf": [error_body, {"type": "null"}]})
    return {
        200: {"description": description, "content": {"application/json": {"schema": ok}}},
        **_failures(errors, error_data),
    }


def files(media_types: Iterable[str], description: str, *errors: int) -> Responses:
    """`responses=` for a route that answers a file (not the envelope), and errors as usual."""
    content: dict[str, Any] = {media_type: {} for media_type in media_types}
    return {200: {"description": description, "content": content}, **_failures(errors)}


def _failures(errors: Iterable[int], data: Any = None) -> Responses:
    null = {"type": "null"}
    failed = _envelope(
        null if data is None else {"anyOf": [schema_of(data), null]}, schema_of(ErrorBody)
    )
    return {
        status: {
            "description": _ERRORS.get(status, "Error"),
            "content": {"application/json": {"schema": failed}},
        }
        for status in errors
    }


def _same_type(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two schemas, one perhaps FastAPI's (pydantic's) rendering of a path parameter's
    enum, describe the same type: the same values, or the same fields."""
    return set(a.get("enum", ())) == set(b.get("enum", ())) and set(a.get("properties", {})) == set(
        b.get("properties", {})
    )


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
                if not _same_type(schemas.setdefault(name, component), component):
                    raise TypeError(f"two different types are named {name} in the API")
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
