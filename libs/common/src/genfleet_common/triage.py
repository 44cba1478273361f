"""Triage marks and what they do to findings, written once for every reader: scan-svc (which
owns the marks and renders reports with them), campaign-svc (triaged figures) and ai-svc
(the finding a suggestion is about). Everything lives in the TRIAGE_BUCKET KV bucket; see
`subjects.TRIAGE_BUCKET` for its keys.

A mark applies to a finding of an app when its fingerprint matches: the app's own mark if it
has one, else the fleet-wide mark. An accepted risk stops applying at its expiry, and says so.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import msgspec
import nats.js.errors
from nats.js.kv import KeyValue

from genfleet_common.errors import InvalidInput
from genfleet_common.messages import (
    SUPPRESSING,
    AppliedMark,
    Finding,
    FindingSuggestion,
    RiskCounts,
    SeenFinding,
    Severity,
    TriageMark,
)

_FINGERPRINT = re.compile(r"^[0-9a-f]{20}$")
FLEET = "fleet"  # the last key token of a fleet-wide mark

_mark = msgspec.json.Decoder(TriageMark)
_seen = msgspec.json.Decoder(SeenFinding)
_suggestion = msgspec.json.Decoder(FindingSuggestion)
_enc = msgspec.json.Encoder()


def check_fingerprint(fingerprint: str) -> str:
    """The fingerprint, or InvalidInput: it becomes part of a KV key."""
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise InvalidInput(f"fingerprint {fingerprint[:40]!r} is not 20 hex digits")
    return fingerprint


def _where(model: str | None, app: int | None) -> str:
    # model names hold only [A-Za-z0-9._-] (the registry checks), all valid in KV keys
    return FLEET if model is None or app is None else f"{model}.app{app}"


def mark_key(fingerprint: str, model: str | None, app: int | None) -> str:
    return f"mark.{check_fingerprint(fingerprint)}.{_where(model, app)}"


def seen_key(fingerprint: str, model: str, app: int) -> str:
    return f"seen.{check_fingerprint(fingerprint)}.{_where(model, app)}"


def suggestion_key(fingerprint: str, model: str, app: int) -> str:
    return f"suggestion.{check_fingerprint(fingerprint)}.{_where(model, app)}"


def parse_expiry(text: str, now: float) -> tuple[str, float]:
    """An accepted risk's expiry as given ("YYYY-MM-DD": the end of that day, UTC; or an ISO
    8601 date and time, UTC unless it says otherwise), normalised, and as a Unix time.
    InvalidInput when it is not a date or already past."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
            shown = day.isoformat()
        else:
            at = datetime.fromisoformat(text)
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            shown = at.astimezone(UTC).isoformat(timespec="seconds")
    except ValueError:
        raise InvalidInput(
            f"expires {text[:40]!r} is not a date (YYYY-MM-DD) or an ISO 8601 date and time"
        ) from None
    if at.timestamp() <= now:
        raise InvalidInput(f"expires {shown} is already past: an accepted risk needs a future date")
    return shown, at.timestamp()


def risk_counts(severities: Iterable[Severity]) -> RiskCounts:
    counts = RiskCounts()
    for severity in severities:
        level = severity.value.lower()  # high, medium, low, info: RiskCounts' fields
        setattr(counts, level, getattr(counts, level) + 1)
    return counts


@dataclass
class Marks:
    """Every mark at one moment, and what they do to an app's findings."""

    marks: list[TriageMark]
    now: float

    def __post_init__(self) -> None:
        self._by_key = {(m.fingerprint, m.model, m.app): m for m in self.marks}

    def applied(self, fingerprint: str, model: str, app: int) -> AppliedMark | None:
        mark = self._by_key.get((fingerprint, model, app)) or self._by_key.get(
            (fingerprint, None, None)
        )
        if mark is None:
            return None
        if mark.expired(self.now):
            why = f"accepted risk expired on {mark.expires}: it no longer applies"
            return AppliedMark(mark=mark, applies=False, suppressed=False, why=why)
        return AppliedMark(mark=mark, applies=True, suppressed=mark.state in SUPPRESSING)

    def suppressed(self, fingerprint: str, model: str, app: int) -> bool:
        applied = self.applied(fingerprint, model, app)
        return applied is not None and applied.suppressed

    def triaged(self, findings: Iterable[tuple[str, Severity]], model: str, app: int) -> RiskCounts:
        """Counts by severity of the (fingerprint, severity) pairs no mark leaves out."""
        return risk_counts(s for fp, s in findings if not self.suppressed(fp, model, app))

    def apply(self, findings: list[Finding], model: str, app: int) -> RiskCounts:
        """Each finding with the mark that stands for it; the triaged counts."""
        for f in findings:
            f.triage = self.applied(f.fingerprint, model, app) if f.fingerprint else None
        return risk_counts(f.severity for f in findings if not (f.triage and f.triage.suppressed))


class TriageStore:
    """The TRIAGE_BUCKET: marks, the findings each app's newest scan reported, suggestions."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def _values(self, pattern: str) -> list[bytes]:
        # one watcher reads every current value under the pattern and ends (None) once it has
        watcher = await self.kv.watch(pattern, ignore_deletes=True)
        found: list[bytes] = []
        try:
            async for entry in watcher:
                if entry is None:
                    break
                if entry.value:
                    found.append(entry.value)
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
        return found

    async def _get(self, key: str) -> bytes | None:
        try:
            entry = await self.kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value or None

    # --- marks ----------------------------------------------------------------------------
    async def marks(self, fingerprint: str | None = None) -> list[TriageMark]:
        pattern = f"mark.{check_fingerprint(fingerprint)}.>" if fingerprint else "mark.>"
        return [_mark.decode(v) for v in await self._values(pattern)]

    async def snapshot(self, now: float | None = None) -> Marks:
        return Marks(await self.marks(), time.time() if now is None else now)

    async def mark(self, fingerprint: str, model: str | None, app: int | None) -> TriageMark | None:
        value = await self._get(mark_key(fingerprint, model, app))
        return _mark.decode(value) if value else None

    async def put_mark(self, mark: TriageMark) -> None:
        await self.kv.put(mark_key(mark.fingerprint, mark.model, mark.app), _enc.encode(mark))

    async def delete_mark(self, fingerprint: str, model: str | None, app: int | None) -> None:
        await self.kv.purge(mark_key(fingerprint, model, app))

    # --- findings seen --------------------------------------------------------------------
    async def record_seen(self, findings: Iterable[SeenFinding]) -> None:
        for seen in findings:
            key = seen_key(seen.finding.fingerprint, seen.model, seen.app)
            await self.kv.put(key, _enc.encode(seen))

    async def seen(self, fingerprint: str, model: str, app: int) -> SeenFinding | None:
        value = await self._get(seen_key(fingerprint, model, app))
        return _seen.decode(value) if value else None

    async def seen_in(self, fingerprint: str) -> list[SeenFinding]:
        """Every app whose newest scan of it reported the fingerprint."""
        return [
            _seen.decode(v) for v in await self._values(f"seen.{check_fingerprint(fingerprint)}.>")
        ]

    # --- the LLM's suggestions ------------------------------------------------------------
    async def put_suggestion(self, suggestion: FindingSuggestion) -> None:
        key = suggestion_key(suggestion.fingerprint, suggestion.model, suggestion.app)
        await self.kv.put(key, _enc.encode(suggestion))

    async def suggestion(self, fingerprint: str, model: str, app: int) -> FindingSuggestion | None:
        value = await self._get(suggestion_key(fingerprint, model, app))
        return _suggestion.decode(value) if value else None

    async def suggestions(self, model: str, app: int) -> dict[str, FindingSuggestion]:
        """The app's suggestions by fingerprint."""
        found = [
            _suggestion.decode(v) for v in await self._values(f"suggestion.*.{_where(model, app)}")
        ]
        return {s.fingerprint: s for s in found}
