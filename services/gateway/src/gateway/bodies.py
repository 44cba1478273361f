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
from msgspec import inspect as mi
from starlette.requests import Request

from gateway.openapi import schema_of
from genfleet_common.errors import InvalidInput, Malformed

S = TypeVar("S", bound=msgspec.Struct)

_AT = re.compile(r"^(?P<what>.*) - at `\$(?P<where>.*)`$", re.DOTALL)
_LISTS = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)


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


def unknown_field(value: Any, info: mi.Type, where: str = "body") -> tuple[str, list[str]] | None:
    """The first field of the decoded JSON `value` that its type `info` does not have, at any
    depth, and the fields it does have there."""
    if isinstance(info, mi.Metadata):
        return unknown_field(value, info.type, where)
    found: tuple[str, list[str]] | None = None
    if isinstance(info, mi.StructType) and isinstance(value, dict):
        fields = {f.encode_name: f.type for f in info.fields}
        for key, item in value.items():
            if key not in fields:
                return f"{where}.{key}", sorted(set(fields) - {"v"})
            found = found or unknown_field(item, fields[key], f"{where}.{key}")
    elif isinstance(info, _LISTS) and isinstance(value, list):
        for i, item in enumerate(value):
            found = found or unknown_field(item, info.item_type, f"{where}[{i}]")
    elif isinstance(info, mi.DictType) and isinstance(value, dict):
        for key, item in value.items():
            found = found or unknown_field(item, info.value_type, f"{where}.{key}")
    elif isinstance(info, mi.UnionType):
        # the member the value was decoded as: the one of its JSON kind (X | None, in practice)
        kind = (
            mi.StructType if isinstance(value, dict) else _LISTS if isinstance(value, list) else ()
        )
        members = [t for t in info.types if kind and isinstance(t, kind)]
        if len(members) == 1:
            found = unknown_field(value, members[0], where)
    return found


class JsonBody(Generic[S]):
    """A FastAPI dependency that decodes the request's JSON body into `typ`; `doc` is the
    route's `openapi_extra` describing it. Optional bodies may be empty or null: then the
    Struct's defaults apply."""

    def __init__(self, typ: type[S], *, required: bool = True) -> None:
        self.typ = typ
        self.required = required
        self._info = mi.type_info(typ)
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
        unknown = unknown_field(msgspec.json.decode(raw), self._info)
        if unknown is not None:
            where, known = unknown
            raise InvalidInput(
                f"invalid request: {where}: unknown field (known: {', '.join(known)})"
            )
        return value
