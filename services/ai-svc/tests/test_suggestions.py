"""The LLM's suggestion for a finding: the answer's parser, the code the model reads, and the
real local model (SmolLM2-135M, in-process) asked about one real finding of a demo app over
the bus. A suggestion is stored beside the finding and never becomes a triage mark."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ai_svc.service import AiService
from ai_svc.suggestions import code_context, parse
from ai_svc.verdicts import NotAVerdict
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Finding,
    FindingSuggestion,
    Location,
    SeenFinding,
    Severity,
    SuggestedVerdict,
    SuggestionRef,
    SuggestionStatus,
    SuggestRequest,
)
from genfleet_common.testing import admin_bus, auth_nats, make_settings
from genfleet_common.triage import TriageStore

from .conftest import PREFIX, TEST_SETTINGS


def test_parse_reads_the_verdict_first_then_reason_and_fix() -> None:
    got = parse("TRUE_POSITIVE\nReason: q goes into the SQL string.\nFix: use a ? parameter.")
    assert got.verdict == SuggestedVerdict.TRUE_POSITIVE
    assert got.reason == "q goes into the SQL string." and got.fix == "use a ? parameter."
    got = parse("**Verdict: false positive** - the value is a constant. Fix: none needed")
    assert got.verdict == SuggestedVerdict.FALSE_POSITIVE
    assert got.reason.startswith("the value is a constant") and got.fix == "none needed"
    assert parse("Unsure. Reason: cannot see the caller").verdict == SuggestedVerdict.UNSURE
    # the question is "is this finding a real weakness?": a first yes or no answers it
    rambling = "No, it is not a real weakness.\n\nThe code is designed to... The code is designed"
    got = parse(rambling)
    assert got.verdict == SuggestedVerdict.FALSE_POSITIVE
    assert got.reason == "it is not a real weakness." and got.fix == ""
    assert parse("Yes. Reason: q is concatenated").verdict == SuggestedVerdict.TRUE_POSITIVE


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "The code builds SQL from input, so TRUE_POSITIVE",  # not first
        "TRUE_POSITIVE, FALSE_POSITIVE or UNSURE",  # an echo of the choices
        "Maybe it is",  # not one of the verdicts
        "Nothing suggests a weakness",  # "no" must be a word of its own
    ],
)
def test_parse_refuses_an_answer_without_a_verdict_first(answer: str) -> None:
    with pytest.raises(NotAVerdict):
        parse(answer)


def sqli(app_dir: Path) -> Finding:
    """The demo app's planted SQL injection, as bandit reports it (vulnerabilities.toml)."""
    source = (app_dir / "backend" / "app.py").read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if "LIKE '%{q}%'" in text)
    return Finding(
        tool="bandit", rule_id="B608", title="Possible SQL injection", severity=Severity.MEDIUM,
        cwe=89, target="backend", fingerprint="a" * 20,
        location=Location(file="backend/app.py", line=line, snippet=source[line - 1]),
    )  # fmt: skip


def test_code_context_shows_the_lines_around_the_finding_and_stays_in_the_app(
    tmp_path: Path,
) -> None:
    app_dir = Path(__file__).resolve().parents[3] / "examples/fleet/models/gpt-4o/app1"
    finding = sqli(app_dir)
    shown = code_context(finding, app_dir)
    line = finding.location.line or 0
    assert f"{line:>5}  " in shown and "LIKE '%{q}%'" in shown and f"{line + 6:>5}  " in shown
    finding.location.file = "../../../../../../etc/passwd"
    assert "root:" not in code_context(finding, app_dir)
    dast = Finding(
        tool="wapiti", rule_id="sql", title="SQL Injection", severity=Severity.HIGH,
        location=Location(url="http://127.0.0.1:5111/api/tasks/search", method="get",
                          parameter="q", evidence="sqlite3.OperationalError"),
    )  # fmt: skip
    assert code_context(dast, tmp_path).splitlines() == [
        "Request: GET http://127.0.0.1:5111/api/tasks/search",
        "Parameter: q",
        "Evidence: sqlite3.OperationalError",
    ]


@pytest.fixture(scope="module")
async def bus(
    tmp_path_factory: pytest.TempPathFactory, ai_fleet: Path, model_file: Path
) -> AsyncIterator[Bus]:
    tmp = tmp_path_factory.mktemp("suggest")
    with auth_nats(tmp / "nats") as server:
        settings = make_settings(
            tmp, server.url, ai_fleet, ai_suggest_timeout_s=120.0, **TEST_SETTINGS
        )
        service = AiService(settings, Fleet.load(ai_fleet))
        await service.start()
        client = await admin_bus(server.url, name="suggest-tests")
        yield client
        await client.close()
        await service.stop()


async def test_the_local_model_suggests_for_a_real_finding_and_never_marks_it(
    bus: Bus, ai_fleet: Path
) -> None:
    model, app = f"{PREFIX}gpt-4o", 1
    app_dir = ai_fleet / "models" / model / "app1"
    finding = sqli(app_dir)
    store = TriageStore(await bus.ensure_kv(subjects.TRIAGE_BUCKET, history=1))
    request = SuggestRequest(model=model, app=app, fingerprint=finding.fingerprint)
    with pytest.raises(NotFound, match="never reported by a scan"):
        await bus.request(subjects.TRIAGE_SUGGEST, request, FindingSuggestion, timeout=30)
    # what scan-svc notes of each finding a scan reports
    await store.record_seen(
        [SeenFinding(model=model, app=app, scan_id="s1", at=1.0, finding=finding)]
    )
    got = await bus.request(subjects.TRIAGE_SUGGEST, request, FindingSuggestion, timeout=200)
    assert got.status in (SuggestionStatus.SUGGESTION, SuggestionStatus.FAILED), got.error
    assert got.llm_id.startswith("gpt4all:") and got.raw and got.scan_id == "s1"
    assert "LIKE '%{q}%'" in got.context and got.seconds > 0
    if got.status == SuggestionStatus.SUGGESTION:
        assert got.verdict is not None and not got.error
    else:  # nothing usable is said so, never passed off as a verdict
        assert got.verdict is None and got.error.startswith("the model gave nothing usable")
    kept = await bus.request(
        subjects.TRIAGE_SUGGESTION,
        SuggestionRef(model=model, app=app, fingerprint=finding.fingerprint),
        FindingSuggestion, timeout=10,
    )  # fmt: skip
    assert kept == got
    assert await store.marks() == []  # a suggestion is never a mark
