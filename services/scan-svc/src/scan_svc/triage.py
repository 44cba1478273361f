"""Triage of findings, owned by scan-svc (it owns the findings): marks set, replaced, removed
and listed over the bus, and a finished scan's report rendered with the marks of the moment
it is read (the stored report is never rewritten). The marks live in KV (genfleet_common.
triage), so every replica answers, and they outlive scans and campaigns."""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgspec
import nats.js.errors
from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.bus import Commands
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    ScanReport,
    ScanReportRef,
    ScanReportRequest,
    TriageList,
    TriageListRequest,
    TriageMark,
    TriageRef,
    TriageScope,
    TriageSetRequest,
    TriageState,
)
from genfleet_common.objects import report_name, triaged_report_name
from genfleet_common.triage import TriageStore, parse_expiry
from scan_svc.reports import render

_report = msgspec.json.Decoder(ScanReport)


def _where(model: str | None, app: int | None) -> str:
    return "the fleet" if model is None else f"{model}/app{app}"


@dataclass
class Triage:
    store: TriageStore
    reports: ObjectStore
    fleet: Fleet

    def commands(self) -> Commands:
        """subject -> request type -> handler"""
        return {
            subjects.TRIAGE_LIST: (TriageListRequest, self.list),
            subjects.TRIAGE_SET: (TriageSetRequest, self.set),
            subjects.TRIAGE_REMOVE: (TriageRef, self.remove),
            subjects.SCAN_REPORT: (ScanReportRequest, self.report),
        }

    def _app(self, model: str | None, app: int | None) -> tuple[str | None, int | None]:
        """An app's model and number (checked against the fleet), or (None, None): the fleet."""
        if model is None and app is None:
            return None, None
        if model is None or app is None:
            raise InvalidInput("name both the model and the app number, or neither (the fleet)")
        spec = self.fleet.app(model, app)  # NotFound for an unknown model or app
        return spec.model, spec.number

    async def list(self, req: TriageListRequest) -> TriageList:
        """The marks that apply to a model's (or app's) findings: its own and fleet-wide."""
        if req.model is not None:
            self.fleet.model(req.model)
        if req.app is not None:
            self._app(req.model, req.app)
        marks = [
            m
            for m in await self.store.marks(req.fingerprint)
            if m.model is None
            or (
                (req.model is None or m.model == req.model)
                and (req.app is None or m.app == req.app)
            )
        ]
        marks.sort(key=lambda m: (m.fingerprint, m.model or "", m.app or 0))
        return TriageList(marks=marks)

    async def set(self, req: TriageSetRequest) -> TriageMark:
        """Set a mark, or replace the mark of the same fingerprint and scope. The fingerprint
        must have been reported by a scan of the app (scope app) or of any app (scope fleet)."""
        now = time.time()
        if req.scope == TriageScope.APP:
            if req.model is None or req.app is None:
                raise InvalidInput("a mark of scope app names the model and the app number")
            model, app = self._app(req.model, req.app)
            assert model is not None and app is not None
            if await self.store.seen(req.fingerprint, model, app) is None:
                raise NotFound(
                    f"fingerprint {req.fingerprint} was never reported by a scan of "
                    f"{model}/app{app}"
                )
        else:
            if req.model is not None or req.app is not None:
                raise InvalidInput("a fleet-wide mark names no model or app (scope fleet)")
            model, app = None, None
            if not await self.store.seen_in(req.fingerprint):
                raise NotFound(
                    f"fingerprint {req.fingerprint} was never reported by a scan of any app"
                )
        expires, expires_at = "", None
        if req.state == TriageState.ACCEPTED_RISK:
            if not req.expires:
                raise InvalidInput("an accepted risk needs an expiry date (expires: YYYY-MM-DD)")
            expires, expires_at = parse_expiry(req.expires, now)
        elif req.expires:
            raise InvalidInput(f"only an accepted risk has an expiry, not {req.state.value}")
        mark = TriageMark(
            fingerprint=req.fingerprint, state=req.state, scope=req.scope, model=model, app=app,
            note=req.note.strip(), expires=expires, expires_at=expires_at, by=req.by, at=now,
        )  # fmt: skip
        await self.store.put_mark(mark)
        return mark

    async def remove(self, req: TriageRef) -> TriageMark:
        """Remove a mark; the removed mark is the answer."""
        model, app = self._app(req.model, req.app)
        mark = await self.store.mark(req.fingerprint, model, app)
        if mark is None:
            raise NotFound(f"no mark for fingerprint {req.fingerprint} on {_where(model, app)}")
        await self.store.delete_mark(req.fingerprint, model, app)
        return mark

    async def report(self, req: ScanReportRequest) -> ScanReportRef:
        """Render a finished scan's report with the marks (and suggestions) of now."""
        try:
            got = await self.reports.get(report_name(req.scan_id, req.format.JSON))
        except nats.js.errors.ObjectNotFoundError as exc:
            raise NotFound(f"no report for scan {req.scan_id} (unknown, or not finished)") from exc
        report = _report.decode(got.data or b"")
        model, number = report.status.model, report.status.app
        marks = await self.store.snapshot()
        report.triaged = marks.apply(report.findings, model, number)
        suggestions = await self.store.suggestions(model, number)
        for f in report.findings:
            f.suggestion = suggestions.get(f.fingerprint)
        applied = {f.fingerprint: f.triage for f in report.findings if f.triage is not None}
        data = render(report, self.fleet.app(model, number), applied)[req.format]
        name = triaged_report_name(req.scan_id, req.format)
        await self.reports.put(name, data)
        return ScanReportRef(
            scan_id=req.scan_id, format=req.format.value, object_name=name,
            content_type=req.format.media_type, size=len(data), raw=report.status.counts,
            triaged=report.triaged,
        )  # fmt: skip
