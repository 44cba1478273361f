"""What every message shares: the version field, the reply envelope, the bounds on names
from users, and the small requests every service understands."""

from __future__ import annotations

import time
from typing import Annotated, Generic, TypeVar

from msgspec import Meta, Struct

# Names as they come from users. The registry checks them against the fleet; these bounds
# only keep absurd values out before that.
ModelName = Annotated[str, Meta(min_length=1, max_length=128)]
AppNumber = Annotated[int, Meta(ge=1, le=99_999)]
Seconds = Annotated[float, Meta(gt=0, le=24 * 3600)]


class Message(Struct, kw_only=True, omit_defaults=False):
    v: int = 1


# --- replies --------------------------------------------------------------------------------
T = TypeVar("T")


class ErrorInfo(Struct, kw_only=True):
    code: str
    message: str
    detail: str = ""


class Reply(Struct, Generic[T], kw_only=True):
    """The envelope of every command reply: data when ok, a typed error otherwise."""

    ok: bool
    data: T | None = None
    error: ErrorInfo | None = None


class Empty(Message, kw_only=True):
    pass


class AppRef(Message, kw_only=True):
    model: ModelName
    app: AppNumber


class LatestRequest(Message, kw_only=True):
    """Each app's newest job (scan, load test, analysis): the `latest` commands."""

    model: ModelName | None = None  # None: the whole fleet


def _now() -> float:
    return time.time()
