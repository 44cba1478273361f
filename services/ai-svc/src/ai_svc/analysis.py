"""One analysis: every requested requirement of one app, checked by one model.

Per requirement: the cached verdict when the code, requirement, model and prompt are
unchanged; else the relevant code (within the model's context window), the question, and an
answer that must begin with the verdict (MET or NOT_MET), re-asked at most once when it does
not. Each requirement has a time budget (`seconds`, all its model calls together): a
generation still running when it is spent ends at its next token, and its answer counts if
the verdict came first; no re-ask starts once it is spent. The backend is checked only when
a requirement needs it, so a fully cached analysis runs without the model. When no model can
be reached, the requirements left are "unavailable": never a made-up verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

from ai_svc import context, prompt
from ai_svc.backends.base import (
    BackendFailed,
    BackendUnavailable,
    Cancel,
    Completion,
    LlmBackend,
)
from ai_svc.cache import VerdictCache
from ai_svc.requirements import AppRequirements
from ai_svc.verdicts import NotAVerdict, check_evidence, parse
from genfleet_common.messages import (
    AnalysisCounts,
    AnalysisStatus,
    JobState,
    Requirement,
    RequirementResult,
    VerdictStatus,
)

Publish = Callable[[AnalysisStatus, RequirementResult | None], Awaitable[None]]
RETRY_TOKENS = 80  # the re-ask's own words, on top of the unusable answer
MAX_RETRIES = 1  # re-asks after an answer without a verdict first: a second seldom helps


def count(results: list[RequirementResult], total: int) -> AnalysisCounts:
    c = AnalysisCounts(total=total, done=len(results))
    for r in results:
        if r.status == VerdictStatus.VERDICT:
            if r.met:
                c.met += 1
            else:
                c.not_met += 1
        elif r.status == VerdictStatus.FAILED:
            c.failed += 1
        else:
            c.unavailable += 1
    return c


@dataclass
class Analysis:
    """One analysis: each chosen requirement checked in turn, its result published as it comes."""

    status: AnalysisStatus
    _: KW_ONLY
    app_dir: Path
    spec: AppRequirements
    requirements: list[Requirement]
    backend: LlmBackend
    cache: VerdictCache | None
    max_tokens: int
    retries: int
    publish: Publish
    seconds: float = 0.0  # each requirement's time budget (all its model calls); 0: none
    cancel: Cancel = field(default_factory=Cancel, init=False)
    results: list[RequirementResult] = field(default_factory=list, init=False)
    _checked: bool = field(default=False, init=False)
    _unavailable: str = field(default="", init=False)

    async def run(self) -> AnalysisStatus:
        s = self.status
        files = await asyncio.to_thread(context.source_files, self.app_dir)
        code = context.code_hash(files)
        s.state, s.counts = JobState.RUNNING, count([], len(self.requirements))
        await self.publish(s, None)
        for i, req in enumerate(self.requirements):
            s.current = req.id
            result = await self._one(req, files, code)
            self.results.append(result)
            s.counts = count(self.results, len(self.requirements))
            s.progress = round(100 * (i + 1) / len(self.requirements))
            s.current = ""
            await self.publish(s, result)
        s.ended_at = time.time()
        verdicts = s.counts.met + s.counts.not_met + s.counts.failed
        if verdicts == 0 and self._unavailable:
            s.state, s.error = JobState.UNAVAILABLE, self._unavailable
        else:
            s.state = JobState.COMPLETE
            if self._unavailable:
                s.error = f"the model became unavailable: {self._unavailable}"
        return s

    async def _one(
        self, req: Requirement, files: list[context.SourceFile], code: str
    ) -> RequirementResult:
        key = VerdictCache.key(
            code, req.text, self.backend.llm_id,
            f"max_tokens={self.max_tokens};retries={self.tries - 1};"
            f"context={self.backend.context_window}",
        )  # fmt: skip
        if self.cache is not None:
            hit = await self.cache.get(key)
            if hit is not None:
                hit.requirement, hit.cached = req, True
                return hit
        if not self._checked and not self._unavailable:
            try:
                await self.backend.check()
                self._checked = True
            except BackendUnavailable as exc:
                self._unavailable = str(exc)
        if self._unavailable:
            return RequirementResult(
                requirement=req, status=VerdictStatus.UNAVAILABLE, error=self._unavailable
            )
        result = await self._ask(req, files)
        if result.status == VerdictStatus.UNAVAILABLE:
            self._unavailable = result.error
        elif self.cache is not None:
            await self.cache.put(key, result)
        return result

    @property
    def tries(self) -> int:
        return 1 + max(0, min(self.retries, MAX_RETRIES))

    def budget(self, req: Requirement) -> int:
        """Tokens left for code: the window minus the answer, one re-ask, and the words."""
        reserve = self.max_tokens * self.tries + RETRY_TOKENS
        overhead = prompt.overhead_tokens(self.spec.name, self.spec.description, req)
        return self.backend.context_window - reserve - overhead

    async def _ask(self, req: Requirement, files: list[context.SourceFile]) -> RequirementResult:
        budget = self.budget(req)
        shown = context.choose(files, req.text, budget)
        result = RequirementResult(
            requirement=req, status=VerdictStatus.FAILED, context=shown.parts, deterministic=True
        )
        if files and not shown.parts:
            # asking without the code would invite a verdict on nothing
            result.error = (
                f"no code fits the model's context window ({self.backend.context_window} "
                f"tokens; {max(budget, 0)} left after the answer and the question): raise "
                "the context setting or lower max_tokens"
            )
            result.deterministic = False  # not the model's answer: never cached
            return result
        messages = prompt.first_turn(self.spec.name, self.spec.description, req, shown.text)
        question = messages[-1].content
        deadline = time.monotonic() + self.seconds if self.seconds > 0 else None
        try:
            async with self.backend.conversation(messages[0].content, self.cancel) as chat:
                for attempt in range(1, self.tries + 1):
                    if attempt > 1 and deadline is not None and time.monotonic() >= deadline:
                        break  # no re-ask once the budget is spent
                    result.attempts = attempt
                    try:
                        done = await chat.ask(question, self.max_tokens, deadline)
                    except BackendFailed as exc:
                        result.error, result.deterministic = str(exc), False
                        continue
                    self._add(result, done)
                    if done.out_of_time:  # cut short: another run may write more of it
                        result.deterministic = False
                    try:
                        answer = parse(done.text)
                    except NotAVerdict as exc:
                        result.error = f"no verdict first: {exc}" + (
                            f" (cut at the time budget of {self.seconds:g} s)"
                            if done.out_of_time else ""
                        )  # fmt: skip
                        question = prompt.RETRY.format(problem=str(exc)[:200])
                        continue
                    result.status, result.error = VerdictStatus.VERDICT, ""
                    result.met, result.confidence = answer.met, answer.confidence
                    result.explanation = answer.explanation
                    result.evidence = await asyncio.to_thread(
                        check_evidence, answer.evidence, self.app_dir
                    )
                    return result
        except BackendUnavailable as exc:
            result.status, result.error = VerdictStatus.UNAVAILABLE, str(exc)
            return result
        spent = (
            f"; the time budget of {self.seconds:g} s was spent"
            if deadline is not None and time.monotonic() >= deadline else ""
        )  # fmt: skip
        result.error = f"no usable answer after {result.attempts} attempt(s){spent}: {result.error}"
        return result

    @staticmethod
    def _add(result: RequirementResult, done: Completion) -> None:
        result.raw = done.text[:8000]
        result.prompt_tokens += done.prompt_tokens
        result.completion_tokens += done.completion_tokens
        result.seconds = round(result.seconds + done.seconds, 3)
