"""Analyses' results and the summaries built from them, in KV.

`result.<id>` in the results bucket: the AnalysisResult, rewritten after each requirement, so a
running analysis shows what it has so far. `summary.<model>.app<N>.<llm>` in the state bucket:
the app's latest complete analysis by that checking model (met / total), which the summaries
per app and per model are read from. `calibration.<id>` in the results bucket: a calibration
run; `calibration.latest.<llm>` in the state bucket: that judge's newest complete one.
"""

from __future__ import annotations

import hashlib

import msgspec
import nats.js.errors
from nats.js.kv import KeyValue

from genfleet_common.errors import NotFound
from genfleet_common.messages import (
    AnalysisResult,
    AppAnalysisSummary,
    Calibration,
    JobState,
    ModelAnalysisSummary,
)

_enc = msgspec.json.Encoder()
_result = msgspec.json.Decoder(AnalysisResult)
_summary = msgspec.json.Decoder(AppAnalysisSummary)
_calibration = msgspec.json.Decoder(Calibration)


def _llm_key(llm_id: str) -> str:
    # llm ids hold ':' '@' and more: a hash keeps the key within KV's alphabet
    return hashlib.sha256(llm_id.encode()).hexdigest()[:16]


def _summary_key(model: str, app: int, llm_id: str) -> str:
    return f"summary.{model}.app{app}.{_llm_key(llm_id)}"


class Results:
    def __init__(self, results: KeyValue, state: KeyValue) -> None:
        self.results = results
        self.state = state

    async def put(self, result: AnalysisResult) -> None:
        await self.results.put(f"result.{result.status.analysis_id}", _enc.encode(result))
        s = result.status
        if s.state == JobState.COMPLETE:
            summary = AppAnalysisSummary(
                model=s.model, app=s.app, llm_id=s.llm_id, analysis_id=s.analysis_id,
                met=s.counts.met, total=s.counts.total, failed=s.counts.failed,
                unavailable=s.counts.unavailable, ended_at=s.ended_at,
            )  # fmt: skip
            await self.state.put(_summary_key(s.model, s.app, s.llm_id), _enc.encode(summary))

    async def get(self, analysis_id: str) -> AnalysisResult:
        try:
            entry = await self.results.get(f"result.{analysis_id}")
        except nats.js.errors.KeyNotFoundError as exc:
            raise NotFound(
                f"no results for analysis {analysis_id} (unknown, or not started)"
            ) from exc
        return _result.decode(entry.value or b"")

    async def summaries(
        self, model: str | None
    ) -> tuple[list[AppAnalysisSummary], list[ModelAnalysisSummary]]:
        prefix = f"summary.{model}." if model else "summary."
        apps: list[AppAnalysisSummary] = []
        # one watcher reads every current summary and ends (None) once it has them all
        watcher = await self.state.watch(prefix + ">", ignore_deletes=True)
        try:
            async for entry in watcher:
                if entry is None:
                    break
                if entry.value:
                    apps.append(_summary.decode(entry.value))
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
        apps.sort(key=lambda a: (a.model, a.app, a.llm_id))
        by_model: dict[tuple[str, str], ModelAnalysisSummary] = {}
        for a in apps:
            m = by_model.setdefault(
                (a.model, a.llm_id),
                ModelAnalysisSummary(model=a.model, llm_id=a.llm_id, apps=0, met=0, total=0),
            )
            m.apps += 1
            m.met += a.met
            m.total += a.total
            m.failed += a.failed
            m.unavailable += a.unavailable
        return apps, list(by_model.values())

    async def put_calibration(self, run: Calibration) -> None:
        await self.results.put(f"calibration.{run.calibration_id}", _enc.encode(run))
        if run.state == JobState.COMPLETE:
            await self.state.put(f"calibration.latest.{_llm_key(run.llm_id)}", _enc.encode(run))

    async def get_calibration(self, calibration_id: str) -> Calibration:
        try:
            entry = await self.results.get(f"calibration.{calibration_id}")
        except nats.js.errors.KeyNotFoundError as exc:
            raise NotFound(f"no calibration {calibration_id}") from exc
        return _calibration.decode(entry.value or b"")

    async def latest_calibration(self, llm_id: str) -> Calibration:
        try:
            entry = await self.state.get(f"calibration.latest.{_llm_key(llm_id)}")
        except nats.js.errors.KeyNotFoundError as exc:
            raise NotFound(
                f"the judge {llm_id} has no complete calibration (`genfleet analysis-calibrate`)"
            ) from exc
        return _calibration.decode(entry.value or b"")
