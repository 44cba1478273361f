"""Model, app and service names: checked before they reach Docker, a path, a shell or a subject."""

from __future__ import annotations

import re
from collections.abc import Sequence

from genfleet_common.errors import InvalidInput

MAX_APP_NUMBER = 99_999

_MODEL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SERVICE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # what compose accepts


def show(value: object, limit: int = 80) -> str:
    """repr() for error messages, cut short so a hostile value cannot flood a log line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_model_name(name: str) -> str:
    """Return `name` if it is a safe model name, else raise InvalidInput.

    Model names end up in paths, shell arguments, container names and NATS subjects, so only
    letters, digits, '.', '_' and '-' are allowed ('~' is the subject escape of '.', see
    subjects.token), the first character is a letter or digit, and '..' never appears.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"model name must be a string, not {type(name).__name__}")
    if not _MODEL_NAME_RE.fullmatch(name) or ".." in name:
        raise InvalidInput(
            f"invalid model name {show(name)}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..'"
        )
    return name


def validate_app_number(n: object) -> int:
    """Return `n` if it is an app number (an int, not a bool, in 1..99999), else raise."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_APP_NUMBER:
        raise InvalidInput(f"invalid app number {show(n)}: must be an integer 1..{MAX_APP_NUMBER}")
    return n


def validate_service_names(services: Sequence[str]) -> list[str]:
    """The service names of a new app, each one compose accepts, none twice."""
    # A bare string is a Sequence[str] too; iterating it would allocate one port per letter.
    if isinstance(services, str):
        raise InvalidInput("services must be a list of service names, not one string")
    names = list(services)
    if not names:
        raise InvalidInput("services must name at least one service")
    for name in names:
        if not isinstance(name, str) or not _SERVICE_NAME_RE.fullmatch(name):
            raise InvalidInput(f"invalid service name {show(name)}")
    if len(set(names)) != len(names):
        raise InvalidInput(f"duplicate service names in {show(names)}")
    return names
