"""Compose's ${VAR} interpolation and an app's .env file, as compose itself reads them, so the
registry sees the host ports compose will really publish."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from genfleet_common.fleet.names import show

Lookup = Callable[[str], str | None]

_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class ComposeError(Exception):
    """The compose file is one compose itself would refuse: the app is skipped."""


def _closing_brace(text: str, start: int) -> int:
    """Index of the '}' closing a '${' whose body starts at `start`, allowing nested ${...}."""
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _expand_braced(body: str, lookup: Lookup, missing: set[str]) -> str:
    match = _VAR_NAME_RE.match(body)
    if not match:
        raise ComposeError(f"invalid interpolation '${{{body}}}'")
    name, rest = match.group(), body[match.end() :]
    value = lookup(name)
    if rest == "":
        if value is None:
            missing.add(name)
        return value or ""
    # Longest operators first, so ':-' is not read as '-'.
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if not rest.startswith(op):
            continue
        arg = rest[len(op) :]
        # With ':' an empty value counts as unset.
        usable = (value or None) if op.startswith(":") else value
        if op.endswith("-"):
            return usable if usable is not None else interpolate(arg, lookup, missing)
        if op.endswith("?"):
            if usable is not None:
                return usable
            message = interpolate(arg, lookup, missing)
            raise ComposeError(
                f"required variable {name} is missing a value" + (f": {message}" if message else "")
            )
        return interpolate(arg, lookup, missing) if usable is not None else ""
    raise ComposeError(f"invalid interpolation '${{{body}}}'")


def interpolate(text: str, lookup: Lookup, missing: set[str]) -> str:
    """Compose's variable syntax: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, and $$ for a literal '$'.
    Unset variables without a default become "" (as in compose) and are noted in `missing`.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        nxt = text[i + 1 : i + 2]
        if char != "$":
            out.append(char)
            i += 1
        elif nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise ComposeError(f"unclosed '${{' in {show(text)}")
            out.append(_expand_braced(text[i + 2 : end], lookup, missing))
            i = end + 1
        elif match := _VAR_NAME_RE.match(text, i + 1):
            value = lookup(match.group())
            if value is None:
                missing.add(match.group())
            out.append(value or "")
            i = match.end()
        else:  # a lone '$' is kept as written
            out.append(char)
            i += 1
    return "".join(out)


def _dotenv_value(raw: str, lookup: Lookup) -> str:
    ignored: set[str] = set()
    if raw[:1] == "'":  # single quotes: literal, no interpolation
        end = raw.find("'", 1)
        if end < 0:
            raise ComposeError("unterminated single quote")
        return raw[1:end]
    if raw[:1] == '"':  # double quotes: backslash escapes, then interpolation
        escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
        chars: list[str] = []
        i = 1
        while i < len(raw) and raw[i] != '"':
            if raw[i] == "\\" and i + 1 < len(raw):
                chars.append(escapes.get(raw[i + 1], "\\" + raw[i + 1]))
                i += 2
            else:
                chars.append(raw[i])
                i += 1
        if i >= len(raw):
            raise ComposeError("unterminated double quote")
        return interpolate("".join(chars), lookup, ignored)
    # Unquoted: a '#' after whitespace starts a comment.
    return interpolate(re.split(r"\s#", raw, maxsplit=1)[0].strip(), lookup, ignored)


def read_dotenv(path: Path, environ: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    """The KEY=VALUE pairs of an app's .env file (export prefix, quotes, comments)."""
    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:  # a value may refer to the environment or earlier keys
        found = environ.get(name)
        return found if found is not None else values.get(name)

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f".env: cannot read: {exc}")
        return values
    for lineno, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line.removeprefix("export ").lstrip()
        key, sep, raw = line.partition("=")
        key = key.strip()
        if not _DOTENV_KEY_RE.fullmatch(key):
            problems.append(f".env line {lineno}: not KEY=VALUE; ignored")
            continue
        if not sep:  # a bare KEY passes the environment's value through: nothing to record
            continue
        try:
            values[key] = _dotenv_value(raw.strip(), lookup)
        except ComposeError as exc:
            problems.append(f".env line {lineno}: {exc}; ignored")
    return values
