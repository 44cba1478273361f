"""The static analyzers on the demo fleet's real code, with the real tools (no mocks): every
planted vulnerability is found by the tools vulnerabilities.toml names, the clean apps give no
High finding, fingerprints are stable, "could not check" is never "clean", and a stopped or
timed-out tool leaves no process behind."""

from __future__ import annotations

import asyncio
import shutil
import stat
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from genfleet_common.errors import InvalidInput
from genfleet_common.messages import Severity, ToolRun, ToolStatus
from genfleet_common.process import ProcResult
from scan_svc.findings import deduplicate
from scan_svc.tools import STATIC_TOOLS, run_static, static_tools
from scan_svc.tools.bandit import BanditTool
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.eslint import EslintTool
from scan_svc.tools.npm_audit import NpmAuditTool
from scan_svc.tools.pip_audit import PipAuditTool
from scan_svc.tools.secrets import DetectSecretsTool
from scan_svc.tools.semgrep import SemgrepTool
from scan_svc.tools.support import ToolProblem

REPO = Path(__file__).resolve().parents[3]
FLEET = REPO / "examples" / "fleet"
VULNS = tomllib.loads((FLEET / "vulnerabilities.toml").read_text())
SOURCE_TOOLS = ["bandit", "semgrep", "detect-secrets", "eslint"]  # the ones that read code
OURS = set(STATIC_TOOLS)
UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: nothing listens there
SETUP_HINT = "run scripts/setup.sh (it installs semgrep and the npm tools)"


def app_dir(key: str) -> Path:
    return FLEET / "models" / key


def all_apps() -> list[str]:
    return sorted(f"{p.parent.name}/{p.name}" for p in (FLEET / "models").glob("*/app*"))


@pytest.fixture(scope="session")
async def demo_scans() -> dict[str, list[ToolRun]]:
    """Every code-reading tool on every part of every demo app, once per session."""
    for tool in SOURCE_TOOLS:
        assert STATIC_TOOLS[tool].resolve(), f"{tool} is not installed: {SETUP_HINT}"
    plan = [
        (STATIC_TOOLS[tool], SourceTarget(app_dir(app), part))
        for app in all_apps()
        for tool in SOURCE_TOOLS
        for part in ("backend", "frontend")
        if STATIC_TOOLS[tool].applies(SourceTarget(app_dir(app), part))
    ]
    runs = await run_static(plan, timeout_s=120, parallel=2)
    by_app: dict[str, list[ToolRun]] = {app: [] for app in all_apps()}
    for (_tool, target), run in zip(plan, runs, strict=True):
        by_app[f"{target.app_dir.parent.name}/{target.app_dir.name}"].append(run)
    return by_app


def expected_cases() -> list[Any]:
    cases = []
    for vuln in VULNS["vuln"]:
        for tool in vuln["expected_tools"]:
            if tool in OURS:
                key = f"{vuln['model']}/app{vuln['app']}"
                cases.append(
                    pytest.param(vuln, tool, id=f"{tool}-{key}-{vuln['kind']}-L{vuln['line']}")
                )
    return cases


@pytest.mark.parametrize(("vuln", "tool"), expected_cases())
async def test_planted_vulnerability_is_found(
    demo_scans: dict[str, list[ToolRun]], vuln: dict[str, Any], tool: str
) -> None:
    app = f"{vuln['model']}/app{vuln['app']}"
    part = vuln["file"].split("/", 1)[0]
    runs = [r for r in demo_scans[app] if r.tool == tool and r.target == part]
    assert runs, f"{tool} did not run on {app}/{part}"
    run = runs[0]
    assert run.status == ToolStatus.FINDINGS, run.error
    lines = {vuln["line"], *vuln.get("related_lines", [])}
    hits = [f for f in run.findings if f.location.file == vuln["file"] and f.location.line in lines]
    assert hits, (
        f"{tool} missed the {vuln['kind']} at {app}/{vuln['file']}:{vuln['line']};"
        f" it reported {[(f.rule_id, f.location.file, f.location.line) for f in run.findings]}"
    )
    hit = hits[0]
    assert hit.tool == tool and hit.target == part and hit.fingerprint
    assert hit.severity in set(Severity) and hit.rule_id and hit.title
    # our rule pack and mappings give the planted CWE (bandit's own for secrets: 259/321)
    if tool in ("semgrep", "detect-secrets") or (tool == "bandit" and vuln["kind"] != "secret"):
        assert any(f.cwe == vuln["cwe"] for f in hits), [f.cwe for f in hits]
    if vuln["line"] in {f.location.line for f in hits} and vuln["kind"] != "secret":
        assert (
            vuln["snippet"]
            in next(f for f in hits if f.location.line == vuln["line"]).location.snippet
        )


@pytest.mark.parametrize("app", VULNS["clean"])
async def test_clean_app_has_no_high_finding(
    demo_scans: dict[str, list[ToolRun]], app: str
) -> None:
    runs = demo_scans[app]
    assert {r.tool for r in runs} == set(SOURCE_TOOLS)
    for run in runs:
        assert run.status in (ToolStatus.FINDINGS, ToolStatus.NO_FINDINGS), (run.tool, run.error)
        high = [f for f in run.findings if f.severity == Severity.HIGH]
        assert not high, [(f.tool, f.rule_id, f.location.file, f.location.line) for f in high]


async def test_every_run_has_version_duration_and_relative_paths(
    demo_scans: dict[str, list[ToolRun]],
) -> None:
    for runs in demo_scans.values():
        for run in runs:
            assert run.version and run.version[0].isdigit(), (run.tool, run.version)
            assert run.duration_s > 0
            for f in run.findings:
                assert f.location.file.startswith(f"{run.target}/"), f.location.file
                assert f.location.line and f.location.line > 0
                assert f.location.snippet, (f.tool, f.rule_id, f.location)


async def test_secrets_are_not_copied_into_reports(demo_scans: dict[str, list[ToolRun]]) -> None:
    text = repr(demo_scans["llama-3.1-70b/app2"]) + repr(demo_scans["gpt-4o/app1"])
    assert "q7Vd2LxK9pR4tWz8bN1mC6hJ3sF5gY0aE2uQ7iOe" not in text
    assert "AKIA4QX7R2MZ9KD3VWTB" not in text
    assert "f3c9a1e7b2d84c6e9a0b5d7f1e2c3a4b-tasktracker-prod" not in text


async def test_same_app_scanned_twice_gives_the_same_fingerprints(tmp_path: Path) -> None:
    """Twice in place, and once more from a copy in another folder: one fingerprint set."""
    source = app_dir("llama-3.1-70b/app2")
    copy = tmp_path / "elsewhere" / "app2"
    shutil.copytree(source, copy)

    async def fingerprints(root: Path) -> list[str]:
        plan = [
            (STATIC_TOOLS[tool], SourceTarget(root, part))
            for tool in SOURCE_TOOLS
            for part in ("backend", "frontend")
            if STATIC_TOOLS[tool].applies(SourceTarget(root, part))
        ]
        runs = await run_static(plan, timeout_s=120)
        return sorted(f.fingerprint for r in runs for f in r.findings)

    first = await fingerprints(source)
    second = await fingerprints(source)
    moved = await fingerprints(copy)
    assert first, "the vulnerable app gave no findings"
    assert first == second == moved


# ------------------------------------------------------------------ honest "could not check"


async def test_pip_audit_offline_is_unavailable_not_clean() -> None:
    """The vulnerability service behind an unreachable proxy, and OSV at a closed port."""
    target = SourceTarget(app_dir("gpt-4o/app1"), "backend")
    proxied = PipAuditTool(
        env={"HTTPS_PROXY": UNREACHABLE, "https_proxy": UNREACHABLE, "NO_PROXY": ""}
    )
    closed_osv = PipAuditTool(service="osv", osv_url=UNREACHABLE + "v1/query")
    for tool in (proxied, closed_osv):
        run = await tool.run(target, timeout_s=120)
        assert run.status == ToolStatus.UNAVAILABLE, (run.status, run.error)
        assert "could not be reached" in run.error and run.version
        assert not run.findings


async def test_pip_audit_unpinned_requirements_are_unavailable(tmp_path: Path) -> None:
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "requirements.txt").write_text("flask>=3\n")
    run = await PipAuditTool().run(SourceTarget(tmp_path, "backend"), timeout_s=120)
    assert run.status == ToolStatus.UNAVAILABLE
    assert "pinned" in run.error


def test_pip_audit_skipped_dependencies_are_never_clean(tmp_path: Path) -> None:
    """pip-audit's own JSON when the service knows none of the packages: exit 0, no vulns."""
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "requirements.txt").write_text("flask==3.1.1\nwerkzeug==3.0.0\n")
    target = SourceTarget(tmp_path, "backend")
    skipped = [
        {"name": "flask", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        {
            "name": "werkzeug",
            "skip_reason": "Dependency not found on PyPI and could not be audited",
        },
    ]
    with pytest.raises(ToolProblem) as problem:
        PipAuditTool()._result(skipped, target)
    assert problem.value.status == ToolStatus.UNAVAILABLE and "2 of 2" in problem.value.message
    vulnerable = [
        skipped[0],
        {
            "name": "werkzeug",
            "version": "3.0.0",
            "vulns": [
                {
                    "id": "GHSA-f9vj-2wh5-fj8j",
                    "fix_versions": ["3.0.6"],
                    "aliases": ["CVE-2024-49766"],
                }
            ],
        },
    ]
    output = PipAuditTool()._result(vulnerable, target)
    assert [(f.rule_id, f.location.file, f.location.line) for f in output.findings] == [
        ("GHSA-f9vj-2wh5-fj8j", "backend/requirements.txt", 2)
    ]
    assert "not audited (1 of 2)" in output.note


def _lockfile_app(root: Path) -> Path:
    """A frontend with one dependency and its lockfile (no registry needed to write it)."""
    frontend = root / "frontend"
    frontend.mkdir(parents=True)
    (frontend / "package.json").write_text(
        '{"name": "web", "version": "1.0.0", "dependencies": {"lodash": "4.17.20"}}\n'
    )
    (frontend / "package-lock.json").write_text(
        """{
  "name": "web", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": {"name": "web", "version": "1.0.0", "dependencies": {"lodash": "4.17.20"}},
    "node_modules/lodash": {"version": "4.17.20", "license": "MIT"}
  }
}
"""
    )
    return root


async def test_npm_audit_offline_is_unavailable_not_clean(tmp_path: Path) -> None:
    offline = NpmAuditTool(env={"npm_config_registry": UNREACHABLE})
    with_lock = SourceTarget(_lockfile_app(tmp_path / "locked"), "frontend")
    run = await offline.run(with_lock, timeout_s=120)
    assert run.status == ToolStatus.UNAVAILABLE, (run.status, run.error)
    assert "ECONNREFUSED" in run.error and run.version
    no_lock = tmp_path / "unlocked" / "frontend"
    no_lock.mkdir(parents=True)
    shutil.copy(with_lock.path / "package.json", no_lock / "package.json")
    run = await offline.run(SourceTarget(no_lock.parent, "frontend"), timeout_s=120)
    assert run.status == ToolStatus.UNAVAILABLE, (run.status, run.error)
    assert "no package-lock.json" in run.error
    assert not (no_lock / "package-lock.json").exists(), "the app's folder was written"


async def test_npm_audit_of_a_package_without_dependencies() -> None:
    """Nothing to audit: npm reports 0 dependencies without asking any registry (offline
    too), and the run says so: no findings, with the reason in its note."""
    target = SourceTarget(app_dir("gpt-4o/app1"), "frontend")
    run = await NpmAuditTool(env={"npm_config_registry": UNREACHABLE}).run(target, timeout_s=120)
    assert run.status == ToolStatus.NO_FINDINGS, run.error
    assert "no dependencies" in run.error


def test_npm_audit_report_is_read(tmp_path: Path) -> None:
    """npm audit's JSON (auditReportVersion 2) for one vulnerable direct dependency."""
    report = """{"auditReportVersion": 2, "vulnerabilities": {"lodash": {"name": "lodash",
      "severity": "high", "isDirect": true, "via": [{"source": 1106913, "name": "lodash",
      "dependency": "lodash", "title": "Command Injection in lodash",
      "url": "https://github.com/advisories/GHSA-35jh-r3h4-6jhm", "severity": "high",
      "cwe": ["CWE-77", "CWE-94"], "range": "<4.17.21"}], "effects": [], "range": "<=4.17.20",
      "nodes": ["node_modules/lodash"], "fixAvailable": {"name": "lodash", "version": "4.17.21",
      "isSemVerMajor": false}}}, "metadata": {"vulnerabilities": {"info": 0, "low": 0,
      "moderate": 0, "high": 1, "critical": 0, "total": 1}, "dependencies": {"total": 1}}}"""
    root = _lockfile_app(tmp_path)
    output = NpmAuditTool()._result(
        ProcResult(1, report, "", 0.1), SourceTarget(root, "frontend"), "package-lock.json"
    )
    [finding] = output.findings
    assert (finding.rule_id, finding.severity, finding.cwe) == (
        "GHSA-35jh-r3h4-6jhm",
        Severity.HIGH,
        77,
    )
    assert (finding.location.file, finding.location.line) == ("frontend/package.json", 1)


@pytest.mark.parametrize(
    "tool",
    [BanditTool, SemgrepTool, DetectSecretsTool, PipAuditTool, EslintTool, NpmAuditTool],
    ids=lambda cls: cls.__name__,
)
async def test_missing_tool_is_unavailable(tool: type[Any], tmp_path: Path) -> None:
    missing = tmp_path / "not-installed" / "tool"
    run = await tool(binary=str(missing)).run(
        SourceTarget(app_dir("gpt-4o/app1"), "backend"), timeout_s=30
    )
    assert run.status == ToolStatus.UNAVAILABLE
    assert "is not installed" in run.error and str(missing) in run.error
    assert not run.findings


# ------------------------------------------------------------- time limits and stopped scans


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def _gone(pids: set[int], within_s: float = 5.0) -> set[int]:
    """The pids still alive after up to `within_s` (killed processes need a moment to be reaped)."""
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        alive = {pid for pid in pids if _alive(pid)}
        if not alive:
            return set()
        await asyncio.sleep(0.05)
    return {pid for pid in pids if _alive(pid)}


async def _watch(pids: set[int], before: set[int]) -> None:
    while True:
        pids.update(_descendants() - before)
        await asyncio.sleep(0.01)


@pytest.fixture
async def watched() -> AsyncIterator[set[int]]:
    """Every process this test starts (children and grandchildren), seen while they run."""
    pids: set[int] = set()
    watcher = asyncio.create_task(_watch(pids, _descendants()))
    yield pids
    watcher.cancel()


def _big_backend(root: Path) -> SourceTarget:
    """A backend that takes semgrep seconds: 16,000 lines of string-built queries."""
    (root / "backend").mkdir(parents=True)
    functions = [
        f"def f{i}(db, q):\n"
        '    sql = "SELECT * FROM t WHERE a = " + q\n'
        "    return db.execute(sql)\n"
        for i in range(4000)
    ]
    (root / "backend" / "big.py").write_text("\n".join(functions))
    return SourceTarget(root, "backend")


async def test_timeout_fails_the_run_and_kills_the_tool(tmp_path: Path, watched: set[int]) -> None:
    run = await SemgrepTool().run(_big_backend(tmp_path), timeout_s=1)
    assert run.status == ToolStatus.FAILED
    assert "timed out after 1 s" in run.error
    assert watched, "no tool process was seen"
    assert not await _gone(watched)


def _slow_tool(tmp_path: Path) -> tuple[Path, Path]:
    """An executable that answers --version at once, else starts a grandchild and waits."""
    script = tmp_path / "slow-bandit"
    pidfile = tmp_path / "pids"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "bandit 9.9.9"; exit 0; fi\n'
        f"sleep 300 &\necho $$ $! > {pidfile}\nwait\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, pidfile


async def test_cancelled_run_kills_the_tool_and_its_children(tmp_path: Path) -> None:
    script, pidfile = _slow_tool(tmp_path)
    task = asyncio.create_task(
        BanditTool(binary=script).run(
            SourceTarget(app_dir("gpt-4o/app1"), "backend"), timeout_s=300
        )
    )
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        await asyncio.sleep(0.02)
    pids = {int(p) for p in pidfile.read_text().split()}
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await _gone(pids)


async def test_cancelled_real_tool_leaves_no_process(tmp_path: Path, watched: set[int]) -> None:
    task = asyncio.create_task(SemgrepTool().run(_big_backend(tmp_path), timeout_s=120))
    for _ in range(500):
        if watched:
            break
        await asyncio.sleep(0.01)
    assert watched, "semgrep did not start"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await _gone(watched)


async def test_slow_tool_timeout_kills_grandchildren(tmp_path: Path) -> None:
    script, pidfile = _slow_tool(tmp_path)
    run = await BanditTool(binary=script).run(
        SourceTarget(app_dir("gpt-4o/app1"), "backend"), timeout_s=1
    )
    assert run.status == ToolStatus.FAILED and "timed out after 1 s" in run.error
    assert run.version == "9.9.9"
    pids = {int(p) for p in pidfile.read_text().split()}
    assert not await _gone(pids)


# ---------------------------------------------------------------------------------- registry


def test_static_tools_registry() -> None:
    assert [t.name for t in static_tools(None)] == [
        "bandit",
        "semgrep",
        "detect-secrets",
        "pip-audit",
        "eslint",
        "npm-audit",
    ]
    assert [t.name for t in static_tools(["semgrep", "bandit", "semgrep"])] == ["semgrep", "bandit"]
    with pytest.raises(InvalidInput) as err:
        static_tools(["bandit", "nessus"])
    assert "nessus" in err.value.message and "detect-secrets" in err.value.message


def test_tools_apply_to_the_parts_they_read() -> None:
    app = app_dir("gpt-4o/app2")
    backend, frontend = SourceTarget(app, "backend"), SourceTarget(app, "frontend")
    applies = {name: (t.applies(backend), t.applies(frontend)) for name, t in STATIC_TOOLS.items()}
    assert applies == {
        "bandit": (True, False),
        "semgrep": (True, True),
        "detect-secrets": (True, True),
        "pip-audit": (True, False),
        "eslint": (False, True),
        "npm-audit": (False, True),
    }


async def test_dependency_folders_are_not_the_apps_code(tmp_path: Path) -> None:
    """A vendored venv or node_modules holds other people's code: never reported."""
    bad_py = 'AWS_SECRET_ACCESS_KEY = "q7Vd2LxK9pR4tWz8bN1mC6hJ3sF5gY0aE2uQ7iOe"\neval(input())\n'
    bad_js = 'const apiSecret = "9f8e7d6c5b4a39281706";\neval(location.hash);\n'
    for folder in (".venv/lib/python3.11/site-packages/pkg", "venv/lib/pkg", "__pycache__"):
        (tmp_path / "backend" / folder).mkdir(parents=True)
        (tmp_path / "backend" / folder / "bad.py").write_text(bad_py)
    (tmp_path / "backend" / "app.py").write_text("print('hello')\n")
    for folder in ("node_modules/pkg", "dist", "build"):
        (tmp_path / "frontend" / folder).mkdir(parents=True)
        (tmp_path / "frontend" / folder / "bad.js").write_text(bad_js)
    (tmp_path / "frontend" / "app.js").write_text("document.title = 'hello';\n")
    plan = [
        (STATIC_TOOLS[tool], SourceTarget(tmp_path, part))
        for tool in SOURCE_TOOLS
        for part in ("backend", "frontend")
        if STATIC_TOOLS[tool].applies(SourceTarget(tmp_path, part))
    ]
    assert {(t.name, s.part) for t, s in plan} >= {("bandit", "backend"), ("eslint", "frontend")}
    for run in await run_static(plan, timeout_s=120):
        assert run.status == ToolStatus.NO_FINDINGS, (run.tool, run.error, run.findings)


async def test_code_a_tool_could_not_read_is_not_clean(tmp_path: Path) -> None:
    """Files the tool cannot parse and no finding elsewhere: FAILED naming them, not clean."""
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "legacy.py").write_text('print "hello"\n')
    (tmp_path / "frontend").mkdir()
    (tmp_path / "frontend" / "broken.js").write_text("function ( {\n")
    bandit = await BanditTool().run(SourceTarget(tmp_path, "backend"), timeout_s=60)
    assert bandit.status == ToolStatus.FAILED and "backend/legacy.py" in bandit.error
    eslint = await EslintTool().run(SourceTarget(tmp_path, "frontend"), timeout_s=60)
    assert eslint.status == ToolStatus.FAILED and "frontend/broken.js" in eslint.error
    semgrep = await SemgrepTool().run(SourceTarget(tmp_path, "frontend"), timeout_s=60)
    assert semgrep.status == ToolStatus.FAILED and "broken.js" in semgrep.error


# Found by semgrep beyond what vulnerabilities.toml expects of it (its expected_tools could
# name semgrep for these): the hard-coded secrets and the error details sent to clients.
SEMGREP_ALSO = [
    ("gpt-4o/app1", "backend/app.py", 8, 798),
    ("gpt-4o/app1", "backend/app.py", 120, 209),
    ("llama-3.1-70b/app2", "backend/app.py", 16, 798),
    ("llama-3.1-70b/app2", "backend/app.py", 17, 798),
    ("llama-3.1-70b/app2", "backend/app.py", 106, 209),
]


@pytest.mark.parametrize(("app", "file", "line", "cwe"), SEMGREP_ALSO)
async def test_semgrep_also_finds(
    demo_scans: dict[str, list[ToolRun]], app: str, file: str, line: int, cwe: int
) -> None:
    found = [
        f
        for r in demo_scans[app]
        if r.tool == "semgrep"
        for f in r.findings
        if (f.location.file, f.location.line, f.cwe) == (file, line, cwe)
    ]
    assert found


@pytest.mark.parametrize("kind", ["eval", "debug"])
async def test_bandit_and_semgrep_findings_of_one_weakness_deduplicate(
    demo_scans: dict[str, list[ToolRun]], kind: str
) -> None:
    """One planted weakness found by both tools is one finding in the report."""
    vuln = next(v for v in VULNS["vuln"] if v["kind"] == kind)
    app = f"{vuln['model']}/app{vuln['app']}"
    at_line = [
        f
        for r in demo_scans[app]
        if r.tool in ("bandit", "semgrep")
        for f in r.findings
        if (f.location.file, f.location.line) == (vuln["file"], vuln["line"])
    ]
    assert {f.tool for f in at_line} == {"bandit", "semgrep"}
    assert len(deduplicate(at_line)) == 1, [(f.tool, f.cwe) for f in at_line]
