"""Triage of findings (scan-svc owns the marks) and the LLM's suggestion for a finding (ai-svc
asks the model): marks by fingerprint, per app or fleet-wide, kept across scans and campaigns.

A mark is a person's decision; a suggestion is only ever the model's proposal, shown beside
the finding and never turned into a mark by itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta, Struct

from genfleet_common.messages.base import AppNumber, Message, ModelName

# scan_svc.findings.fingerprint: 20 hex digits. Checked before it reaches a subject or a key.
FINGERPRINT_PATTERN = "^[0-9a-f]{20}$"
Fingerprint = Annotated[
    str, Meta(pattern=FINGERPRINT_PATTERN, description="A finding's fingerprint")
]
Note = Annotated[str, Meta(max_length=2000)]
# "YYYY-MM-DD" (the end of that day, UTC) or an ISO 8601 date and time
Expiry = Annotated[str, Meta(min_length=10, max_length=40)]


class TriageState(StrEnum):
    FALSE_POSITIVE = "false_positive"  # not a weakness: left out of the triaged figures
    ACCEPTED_RISK = "accepted_risk"  # a weakness, knowingly kept until `expires`: left out too
    CONFIRMED = "confirmed"  # a real weakness: counted in both figures


SUPPRESSING = frozenset({TriageState.FALSE_POSITIVE, TriageState.ACCEPTED_RISK})


class TriageScope(StrEnum):
    APP = "app"  # one app (model + app number)
    FLEET = "fleet"  # every app with that fingerprint: the same rule at the same code shape


class TriageMark(Message, kw_only=True):
    fingerprint: str
    state: TriageState
    scope: TriageScope
    model: str | None = None  # scope app: the app; scope fleet: None
    app: int | None = None
    note: str = ""
    expires: str = ""  # accepted_risk: as the user gave it (normalised); else ""
    expires_at: float | None = None  # the same, as a Unix time
    by: str = ""  # the token's subject that set it
    at: float = 0.0  # when it was set (Unix time)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at


class AppliedMark(Struct, kw_only=True):
    """The mark that stands for one finding of one app when a report is read."""

    mark: TriageMark
    applies: bool  # false: an accepted risk past its expiry (it says so in `why`)
    suppressed: bool  # applies and is a false positive or accepted risk: not in `triaged`
    why: str = ""


class TriageSetRequest(Message, kw_only=True):
    """Set a mark, or replace the one of the same fingerprint and scope (and app)."""

    fingerprint: Fingerprint
    state: TriageState
    scope: TriageScope = TriageScope.APP
    model: ModelName | None = None  # required with scope app, refused with scope fleet
    app: AppNumber | None = None
    note: Note = ""
    expires: Expiry | None = None  # required with accepted_risk, refused otherwise
    by: Annotated[str, Meta(max_length=256)] = ""  # set by the gateway from the token


class TriageRef(Message, kw_only=True):
    """One mark: its fingerprint and where it applies (model and app None: fleet-wide)."""

    fingerprint: Fingerprint
    model: ModelName | None = None
    app: AppNumber | None = None


class TriageListRequest(Message, kw_only=True):
    model: ModelName | None = None  # marks that apply to this model's apps (fleet-wide too)
    app: AppNumber | None = None
    fingerprint: Fingerprint | None = None


class TriageList(Message, kw_only=True):
    marks: list[TriageMark]


# --- the LLM's suggestion for one finding ------------------------------------------------------
class SuggestedVerdict(StrEnum):
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    UNSURE = "unsure"


class SuggestionStatus(StrEnum):
    SUGGESTION = "suggestion"  # the model answered with a verdict first
    FAILED = "failed"  # the model answered, but nothing usable (`raw` has what it wrote)
    UNAVAILABLE = "unavailable"  # no model could be asked (`error` says why)


class SuggestRequest(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    fingerprint: Fingerprint


class FindingSuggestion(Message, kw_only=True):
    model: str
    app: int
    fingerprint: str
    status: SuggestionStatus
    verdict: SuggestedVerdict | None = None  # only with status suggestion
    reason: str = ""
    fix: str = ""
    raw: str = ""  # the model's own words
    error: str = ""
    llm_id: str = ""
    scan_id: str = ""  # the scan whose finding was read
    context: str = ""  # what the model was shown besides the finding (code lines, request)
    prompt_version: str = ""  # the wording it was asked with (ai_svc.suggestions)
    seconds: float = 0.0
    at: float = 0.0


class SuggestionRef(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    fingerprint: Fingerprint
