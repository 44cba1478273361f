"""The LLM's suggestion for one finding (triage): is it a true or a false positive, why, and a
fix. A bounded request, not a job: the caller waits for the model, at most
`ai_suggest_timeout_s` for all its calls together, and gets the answer.

The model reads the finding as the app's newest scan reported it (genfleet_common.triage)
with its context: the lines around its location in the app's folder, or for a DAST finding
the request, parameter and evidence. The answer must begin with the verdict, one word
(TRUE_POSITIVE, FALSE_POSITIVE or UNSURE), then "Reason:" and "Fix:"; an answer without it is
re-asked once, then recorded as "failed" with the model's raw words: never a made-up verdict.
A first "yes" or "no" answers the question asked ("is this finding a real weakness?") and
counts as true or false positive.
The suggestion is kept beside the finding and is never turned into a triage mark.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ai_svc.backends.base import BackendFailed, BackendUnavailable, Cancel, LlmBackend
from ai_svc.llms import Llms
from ai_svc.verdicts import NotAVerdict, verdict_first
from genfleet_common import subjects
from genfleet_common.bus import Commands
from genfleet_common.errors import NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Finding,
    FindingSuggestion,
    SuggestedVerdict,
    SuggestionRef,
    SuggestionStatus,
    SuggestRequest,
)
from genfleet_common.settings import Settings
from genfleet_common.triage import TriageStore

PROMPT_VERSION = "1"
MAX_TOKENS = 160  # the verdict, a reason and a fix, each a sentence
AROUND = 6  # lines of code shown before and after the finding's lines
MAX_CONTEXT_CHARS = 4000
MAX_TEXT = 2000
PAST_BUDGET_S = 15.0  # a generation past its deadline still writes a few tokens (the verdict)
MAX_UNLABELLED = 600  # a reason without its "Reason:" label: the start of the answer only

SYSTEM = (
    "You review one finding of a security scanner in a web application. Decide whether the "
    "code really has the weakness. Reply in this form:\n"
    "TRUE_POSITIVE, FALSE_POSITIVE or UNSURE (one word: the verdict)\n"
    "Reason: <one sentence>\n"
    "Fix: <one sentence>"
)
CUE = "Verdict (TRUE_POSITIVE, FALSE_POSITIVE or UNSURE):"
RETRY = (
    "That reply did not start with the verdict ({problem}). Reply with one word first, "
    f"TRUE_POSITIVE, FALSE_POSITIVE or UNSURE, then Reason: and Fix:.\n{CUE}"
)

# What may come before the verdict word: markup, quotes, a label such as "Verdict:"
_LEAD = re.compile(
    r"^(?:[\s*_#>`\"'(\[-]|(?:the\s+)?(?:final\s+)?(?:verdict|answer)\b\s*(?:is\b)?\s*[:=-]?)*",
    re.IGNORECASE,
)
_VERDICT = re.compile(
    r"(?P<tp>true[\s_-]*positive)\b|(?P<fp>false[\s_-]*positive)\b"
    r"|(?P<unsure>unsure|not[\s_-]*sure|uncertain)\b"
    # the question asks "is this finding a real weakness?": a yes or no first answers it
    r"|(?P<yes>yes)\b|(?P<no>no)\b",
    re.IGNORECASE,
)
_NAMES = re.compile(r"true[\s_-]*positive|false[\s_-]*positive|unsure", re.IGNORECASE)
_REASON = re.compile(r"\breason\s*:\s*(?P<text>.*?)(?=\n\s*\**fix\s*:|\Z)", re.I | re.S)
_FIX = re.compile(r"\bfix\s*:\s*(?P<text>.*)", re.IGNORECASE | re.DOTALL)


@dataclass
class Parsed:
    verdict: SuggestedVerdict
    reason: str
    fix: str


def parse(answer: str) -> Parsed:
    """The verdict at the answer's start, its reason and fix; NotAVerdict otherwise."""
    found, rest = verdict_first(answer, _LEAD, _VERDICT, "TRUE_POSITIVE, FALSE_POSITIVE or UNSURE")
    if len(_NAMES.findall(rest[:60])) > 1:  # an echo of the choices, not a choice
        raise NotAVerdict("it names more than one verdict")
    verdict = (
        SuggestedVerdict.TRUE_POSITIVE
        if found.group("tp") or found.group("yes")
        else SuggestedVerdict.FALSE_POSITIVE
        if found.group("fp") or found.group("no")
        else SuggestedVerdict.UNSURE
    )
    after = rest[found.end() :].lstrip(" \t*_`\"'.:,;)]-")
    reason = _REASON.search(after)
    fix = _FIX.search(after)
    # no "Reason:" label: the first paragraph before "Fix:" (a small model may ramble on)
    why = reason["text"] if reason else (after[: fix.start()] if fix else after).split("\n\n")[0]
    return Parsed(
        verdict=verdict,
        reason=why.strip(" \n*")[: MAX_TEXT if reason else MAX_UNLABELLED],
        fix=(fix["text"].strip(" \n*") if fix else "")[:MAX_TEXT],
    )


def code_context(finding: Finding, app_dir: Path) -> str:
    """What the model reads besides the finding: the numbered lines around a source finding
    (from the app's folder, never outside it), or a DAST finding's request and evidence."""
    loc = finding.location
    parts: list[str] = []
    if loc.url:
        parts.append(f"Request: {loc.method.upper() or 'GET'} {loc.url}")
        if loc.parameter:
            parts.append(f"Parameter: {loc.parameter}")
        if loc.evidence:
            parts.append(f"Evidence: {loc.evidence[:800]}")
    if loc.file:
        parts.append(_lines(app_dir, loc.file, loc.line, loc.end_line) or loc.snippet)
    return "\n".join(p for p in parts if p)[:MAX_CONTEXT_CHARS]


def _lines(app_dir: Path, rel: str, line: int | None, end: int | None) -> str:
    root = app_dir.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return ""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    first = max(1, (line or 1) - AROUND)
    last = min(len(lines), max(end or line or 1, line or 1) + AROUND)
    shown = "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(first, last + 1))
    return f"{rel} (lines {first}-{last}; each line starts with its number):\n{shown}"


def question(finding: Finding, context: str) -> str:
    cwe = f" (CWE-{finding.cwe})" if finding.cwe else ""
    about = f"{finding.title}{cwe}, reported by {finding.tool} rule {finding.rule_id}"
    where = finding.location.file or finding.location.url
    details = finding.description[:600]
    return (
        f"Finding: {about}, severity {finding.severity.value}, in {where}.\n"
        + (f"Description: {details}\n" if details else "")
        + f"\n{context or '(no code could be read for it)'}\n\n"
        f"Is this finding a real weakness ({finding.title})?\n{CUE}"
    )


@dataclass
class Suggestions:
    store: TriageStore
    fleet: Fleet
    llms: Llms
    settings: Settings

    def commands(self) -> Commands:
        """subject -> request type -> handler"""
        return {
            subjects.TRIAGE_SUGGEST: (SuggestRequest, self.suggest),
            subjects.TRIAGE_SUGGESTION: (SuggestionRef, self.suggestion),
        }

    async def suggestion(self, ref: SuggestionRef) -> FindingSuggestion:
        app = self.fleet.app(ref.model, ref.app)
        found = await self.store.suggestion(ref.fingerprint, app.model, app.number)
        if found is None:
            raise NotFound(
                f"no suggestion for fingerprint {ref.fingerprint} on {app.key} (none asked yet)"
            )
        return found

    async def suggest(self, req: SuggestRequest) -> FindingSuggestion:
        app = self.fleet.app(req.model, req.app)  # NotFound for an unknown model or app
        seen = await self.store.seen(req.fingerprint, app.model, app.number)
        if seen is None:
            raise NotFound(
                f"fingerprint {req.fingerprint} was never reported by a scan of {app.key}"
            )
        kind, name = await self.llms.resolve(None, None)
        backend = self.llms.backend(kind, name)
        context = await asyncio.to_thread(code_context, seen.finding, Path(app.path))
        result = FindingSuggestion(
            model=app.model, app=app.number, fingerprint=req.fingerprint,
            status=SuggestionStatus.FAILED, llm_id=backend.llm_id, scan_id=seen.scan_id,
            context=context, prompt_version=PROMPT_VERSION, at=time.time(),
        )  # fmt: skip
        started = time.monotonic()
        budget = self.settings.ai_suggest_timeout_s
        try:
            # the whole request is bounded: waiting for the model (an analysis may hold it) too
            async with asyncio.timeout(budget + PAST_BUDGET_S):
                await self._ask(backend, question(seen.finding, context), started + budget, result)
        except BackendUnavailable as exc:
            result.status, result.error = SuggestionStatus.UNAVAILABLE, str(exc)
        except TimeoutError:
            result.error = f"no answer within {budget:g} s (the model was busy or slow)"
        if result.status == SuggestionStatus.FAILED:
            result.error = f"the model gave nothing usable: {result.error}"
        result.seconds = round(time.monotonic() - started, 3)
        await self.store.put_suggestion(result)
        return result

    @staticmethod
    async def _ask(
        backend: LlmBackend, ask: str, deadline: float, result: FindingSuggestion
    ) -> None:
        """Ask, re-ask once when the answer has no verdict first; `result` gets the outcome."""
        await backend.check()
        async with backend.conversation(SYSTEM, Cancel()) as chat:
            for attempt in (1, 2):  # at most one re-ask: a second seldom helps
                if attempt > 1 and time.monotonic() >= deadline:
                    result.error += "; the time budget was spent"
                    return
                try:
                    done = await chat.ask(ask, MAX_TOKENS, deadline)
                except BackendFailed as exc:
                    result.error = str(exc)
                    continue
                result.raw = done.text[:8000]
                try:
                    parsed = parse(done.text)
                except NotAVerdict as exc:
                    result.error = f"no verdict first: {exc}"
                    ask = RETRY.format(problem=str(exc)[:200])
                    continue
                result.status, result.error = SuggestionStatus.SUGGESTION, ""
                result.verdict, result.reason, result.fix = (
                    parsed.verdict,
                    parsed.reason,
                    parsed.fix,
                )
                return
