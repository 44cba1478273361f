"""Turning a model's answer into a verdict, or saying honestly that it gave none.

The answer must be one JSON object of the asked shape, decoded strictly (msgspec). A Markdown
code fence around it, or words before/after it, are tolerated; nothing else is guessed: an
answer without such an object is re-asked, and after the retries the result is "failed" with
the model's raw answer. Cited evidence is checked against the app's real files and lines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from genfleet_common.messages import Confidence, Evidence

_LINES = re.compile(r"^\s*L?(\d+)\s*(?:(?:-|\u2013|to|:)\s*L?(\d+))?\s*$")
MAX_EVIDENCE = 20


class CitedEvidence(msgspec.Struct, forbid_unknown_fields=False):
    file: Annotated[str, Meta(min_length=1, max_length=500)]
    lines: str | int | list[int] | None = None


class Answer(msgspec.Struct, forbid_unknown_fields=False):
    met: bool
    confidence: Confidence
    explanation: Annotated[str, Meta(max_length=4000)]
    evidence: Annotated[list[CitedEvidence], Meta(max_length=MAX_EVIDENCE)] = msgspec.field(
        default_factory=list
    )


class NotAVerdict(Exception):
    """The answer holds no JSON object of the expected shape; the message says what is wrong."""


def _objects(text: str) -> list[object]:
    """Every JSON value that starts at a '{' of `text`, outermost first."""
    decoder = json.JSONDecoder()
    found: list[object] = []
    i = text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        found.append(value)
        i = text.find("{", end)
    return found


def parse(answer: str) -> Answer:
    text = answer.strip()
    if not text:
        raise NotAVerdict("the reply was empty")
    candidates = _objects(text)
    if not candidates:
        raise NotAVerdict("the reply contains no JSON object")
    problem = ""
    for value in candidates:
        try:
            return msgspec.convert(value, Answer, strict=True)
        except msgspec.ValidationError as exc:
            problem = problem or str(exc)
    raise NotAVerdict(f"the JSON object does not match: {problem}")


def _line_range(lines: str | int | list[int] | None) -> tuple[int | None, int | None, str]:
    if lines is None or lines == "":
        return None, None, ""
    if isinstance(lines, int):
        return lines, lines, ""
    if isinstance(lines, list):
        if not lines:
            return None, None, ""
        return min(lines), max(lines), ""
    m = _LINES.match(lines)
    if not m:
        return None, None, f"lines {lines[:40]!r} is not a line or range"
    start = int(m[1])
    end = int(m[2]) if m[2] else start
    return min(start, end), max(start, end), ""


def check_evidence(cited: list[CitedEvidence], app_dir: Path) -> list[Evidence]:
    """Each citation, marked valid only if that file is in the app and has those lines."""
    root = app_dir.resolve()
    out = []
    for c in cited:
        start, end, note = _line_range(c.lines)
        ev = Evidence(file=c.file[:500], start=start, end=end, note=note)
        if not note:
            ev.valid, ev.note = _exists(root, c.file.strip().lstrip("./"), start, end)
        out.append(ev)
    return out


def _exists(root: Path, rel: str, start: int | None, end: int | None) -> tuple[bool, str]:
    try:
        path = (root / rel).resolve()
    except (OSError, RuntimeError, ValueError):
        return False, "not a file of the app"
    if not path.is_relative_to(root) or not path.is_file():
        return False, "not a file of the app"
    if start is None or end is None:
        return True, ""
    try:
        with path.open("rb") as f:
            count = sum(1 for _ in f)
    except OSError as exc:
        return False, f"cannot read: {exc.strerror}"
    if start < 1 or end > count:
        return False, f"the file has {count} lines"
    return True, ""
