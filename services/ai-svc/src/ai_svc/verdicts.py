"""Turning a model's answer into a verdict, or saying honestly that it gave none.

The answer must begin with the verdict, one word: MET or NOT_MET (also written "NOT MET",
"not-met", in bold or quotes, after "Verdict:", as "Yes"/"No" to the question, or as "The
code meets / does not meet ..."), evidence after it. Only the answer's first words are read
for it: a verdict word further on, or a reply that names both (an echo of "MET or
NOT_MET"), is no verdict. Nothing else is guessed: an answer without a verdict first is
re-asked once, and then the result is "failed" with the model's raw answer. Cited evidence
(`file:first-last`) is checked against the app's files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from genfleet_common.messages import Confidence, Evidence

MAX_EVIDENCE = 20
MAX_EXPLANATION = 4000
_LINES = re.compile(r"^\s*L?(\d+)\s*(?:(?:-|\u2013|to|:)\s*L?(\d+))?\s*$")
# What may come before the verdict word: markup, quotes, a label such as "Verdict:" or "Answer:"
_LEAD = re.compile(
    r"^(?:[\s*_#>`\"'(\[-]"
    r"|(?:the\s+)?(?:final\s+)?(?:verdict|answer|result|decision)\b\s*(?:is\b)?\s*[:=-]?"
    r"|(?:the|this)\s+(?:code|application|app|requirement)\s+(?:is\s+)?)*",
    re.IGNORECASE,
)
_VERDICT = re.compile(
    r"(?P<not>not[\s_-]*met|unmet|does\s+not\s+meet|doesn'?t\s+meet|no)\b|(?P<met>met|meets|yes)\b",
    re.IGNORECASE,
)
_BOTH = re.compile(
    r"\bmet\b\s*(?:or|/|\|)\s*\bnot[\s_-]*met\b|\bnot[\s_-]*met\b\s*(?:or|/|\|)\s*\bmet\b",
    re.IGNORECASE,
)
_CITE = re.compile(
    r"(?P<file>[A-Za-z0-9_.\-/]+\.[A-Za-z0-9]{1,6})\s*(?::|,?\s+lines?\s*)\s*L?(?P<start>\d{1,6})"
    r"(?:\s*(?:-|\u2013|to)\s*L?(?P<end>\d{1,6}))?"
)
_CONFIDENCE = re.compile(r"confidence\W{0,3}(high|medium|low)\b", re.IGNORECASE)


@dataclass
class CitedEvidence:
    file: str
    lines: str | int | list[int] | None = None


@dataclass
class Answer:
    met: bool
    confidence: Confidence | None
    explanation: str
    evidence: list[CitedEvidence] = field(default_factory=list)


class NotAVerdict(Exception):
    """The answer does not begin with a verdict; the message says what is wrong."""


def verdict_first(
    answer: str, lead: re.Pattern[str], verdict: re.Pattern[str], expected: str
) -> tuple[re.Match[str], str]:
    """The `verdict` word at the answer's start (after what `lead` allows: markup, a label)
    and the text from it on; NotAVerdict, saying what it begins with instead of `expected`."""
    text = answer.strip()
    if not text:
        raise NotAVerdict("the reply was empty")
    found_lead = lead.match(text)
    rest = text[found_lead.end() if found_lead else 0 :]
    found = verdict.match(rest)
    if not found:
        raise NotAVerdict(f"it begins with {text[:40]!r}, not {expected}")
    return found, rest


def parse(answer: str) -> Answer:
    """The verdict at the answer's start, and what follows it as explanation and evidence."""
    found, rest = verdict_first(answer, _LEAD, _VERDICT, "MET or NOT_MET")
    if _BOTH.search(rest[:40]):
        raise NotAVerdict("it names both MET and NOT_MET")
    met = found.group("met") is not None
    after = rest[found.end() :].lstrip(" \t*_`\"'.:,;)]-")
    confidence = _CONFIDENCE.search(after)
    return Answer(
        met=met,
        confidence=Confidence(confidence[1].upper()) if confidence else None,
        explanation=after.strip()[:MAX_EXPLANATION],
        evidence=[
            CitedEvidence(m["file"], f"{m['start']}-{m['end'] or m['start']}")
            for m in _CITE.finditer(after)
        ][:MAX_EVIDENCE],
    )


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
