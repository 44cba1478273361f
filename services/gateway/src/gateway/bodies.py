"""Request bodies, decoded by msgspec straight into the bus's own Structs (or a body Struct of
`genfleet_common.messages`, such as ActionOptions), so the HTTP contract cannot drift from the
bus's: one type, its bounds checked by msgspec, its JSON Schema in /openapi.json.

    start = JsonBody(ScanRequest)

    @app.post("/api/scans", openapi_extra=start.doc, ...)
    async def start_scan(req: Annotated[ScanRequest, Depends(start)]) -> Response: ...

A bad body is answered like any other bad input: 422 `invalid` naming the field and the
problem, 400 `malformed` when it is not JSON at all. Unknown fields are refused (the bus's
readers skip them, for newer writers; a person's typo should not be silently ignored).
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar

import msgspec
from starlette.requests import Request

from gateway.openapi import schema_of
from genfleet_common.errors import InvalidInput, Malformed

S = TypeVar("S", bound=msgspec.Struct)

_AT = re.compile(r"^(?P<what>.*) - at `\$(?P<where>.*)`$", re.DOTALL)
_keys = msgspec.json.Decoder(dict[str, msgspec.Raw])


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def problem(exc: msgspec.ValidationError) -> str:
    """msgspec's "Expected `int` >= 1 - at `$.users`" as "body.users: Expected `int` >= 1"."""
    text = str(exc)
    match = _AT.match(text)
    if match is None:
        return f"body: {text}"
    return f"body{match['where']}: {match['what']}"


class JsonBody(Generic[S]):
    """A FastAPI dependency that decodes the request's JSON body into `typ`; `doc` is the
    route's `openapi_extra` describing it. Optional bodies may be empty or null: then the
    Struct's defaults apply."""

    def __init__(self, typ: type[S], *, required: bool = True) -> None:
        self.typ = typ
        self.required = required
        self.fields = frozenset(f.encode_name for f in msgspec.structs.fields(typ))
        self._decoder = msgspec.json.Decoder(typ)
        self.doc: dict[str, Any] = {
            "requestBody": {
                "required": required,
                "content": {"application/json": {"schema": schema_of(typ)}},
            }
        }

    async def __call__(self, request: Request) -> S:
        return self.decode(await request.body(), request.headers.get("content-type", ""))

    def decode(self, raw: bytes, content_type: str = "") -> S:
        if not raw.strip() or (not self.required and raw.strip() == b"null"):
            if self.required:
                raise InvalidInput(f"invalid request: the body (a {self.typ.__name__}) is missing")
            return self.typ()
        # no Content-Type is read as JSON, like FastAPI does; another type is a client's mistake
        if content_type and not _is_json(content_type):
            raise InvalidInput(
                "invalid request: send the body as JSON (Content-Type: application/json)"
            )
        try:
            value = self._decoder.decode(raw)
        except msgspec.ValidationError as exc:
            raise InvalidInput(f"invalid request: {problem(exc)}") from None
        except msgspec.DecodeError as exc:
            raise Malformed(
                "malformed request: the body is not valid JSON", detail=str(exc)
            ) from None
        unknown = sorted(set(_keys.decode(raw)) - self.fields)
        if unknown:
            known = ", ".join(sorted(self.fields - {"v"}))
            raise InvalidInput(
                f"invalid request: body.{unknown[0]}: unknown field (known: {known})",
                detail=f"unknown fields: {', '.join(unknown)}",
            )
        return value
