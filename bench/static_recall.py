"""Static recall: how much of the demo fleet's planted-vulnerability corpus a static scan finds,
and how many High findings it reports on the clean apps.

examples/fleet/vulnerabilities.toml lists every planted vulnerability (file, line, other lines a
scanner may flag for it, CWE) and the apps with none planted (`clean`). Each demo app is scanned
by scan-svc's own Scan (scan_svc.scan: the code a scan worker runs for a job) with the static
analyzers that read code offline (bandit, semgrep with GenFleet's rule packs, detect-secrets,
ESLint with our configuration); the audits (pip-audit, npm audit) need online databases.

A planted vulnerability counts as found when the scan's de-duplicated findings hold one at its
file, on its line or one of its related lines, with its CWE (bandit's hard-coded password and
key CWEs 259/321 count as 798, as scan-svc's de-duplication counts them). Figures:

  static_recall             found / planted, every static tool (goal >= 0.95)
  static_clean_high         High findings on the clean apps (goal 0)
  static_recall_rule_packs  found / planted by GenFleet's own rules alone (semgrep + ESLint)

Called by run.py; runnable alone (`uv run python bench/static_recall.py`).
"""

from __future__ import annotations

import time
import tomllib
from pathlib import Path
from typing import Any

from genfleet_common.errors import ServiceUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    AppImages,
    AppSpec,
    Finding,
    ScanJob,
    ScanReport,
    ScanStatus,
    Severity,
    ToolStatus,
)
from scan_svc.findings import SAME_WEAKNESS
from scan_svc.scan import Scan
from scan_svc.toolbox import Toolbox

REPO = Path(__file__).resolve().parents[1]
FLEET = REPO / "examples" / "fleet"
TOOLS = ["bandit", "semgrep", "detect-secrets", "eslint"]
RULE_PACK_TOOLS = {"semgrep", "eslint"}
TOOL_TIMEOUT_S = 300.0


async def scan_app(fleet: Fleet, toolbox: Toolbox, model: str, app: int) -> ScanReport:
    """One static scan of one app, as a scan worker runs a job (no bus: status goes nowhere)."""
    scan_id = f"recall-{model}-{app}"
    job = ScanJob(scan_id=scan_id, model=model, app=app, tools=TOOLS, urls=[])
    status = ScanStatus(scan_id=scan_id, model=model, app=app, tools=TOOLS)

    async def publish(_: ScanStatus) -> None:
        return None

    async def is_running(_: AppSpec, __: str) -> str:
        return "static scan only"

    async def images(_: AppSpec, __: bool) -> AppImages:
        raise ServiceUnavailable("no container-svc in this bench: static tools only")

    scan = Scan(
        job, status,
        fleet=fleet, toolbox=toolbox, publish=publish,
        is_running=is_running, images=images, tool_timeout_s=TOOL_TIMEOUT_S,
    )  # fmt: skip
    return await scan.run()


def _cwe(finding: Finding) -> int | None:
    return SAME_WEAKNESS.get(finding.cwe, finding.cwe) if finding.cwe else None


def matches(vuln: dict[str, Any], finding: Finding) -> bool:
    lines = {vuln["line"], *vuln.get("related_lines", [])}
    return (
        finding.location.file == vuln["file"]
        and finding.location.line in lines
        and _cwe(finding) == SAME_WEAKNESS.get(vuln["cwe"], vuln["cwe"])
    )


async def measure(results: dict[str, Any], record: Any) -> None:
    corpus = tomllib.loads((FLEET / "vulnerabilities.toml").read_text())
    vulns: list[dict[str, Any]] = corpus["vuln"]
    clean: list[str] = corpus["clean"]
    fleet = Fleet.load(FLEET)
    toolbox = Toolbox.default()

    keys = sorted({f"{v['model']}/app{v['app']}" for v in vulns} | set(clean))
    reports: dict[str, ScanReport] = {}
    t = time.perf_counter()
    for key in keys:
        model, app = key.rsplit("/app", 1)
        report = await scan_app(fleet, toolbox, model, int(app))
        broken = [
            f"{r.tool}/{r.target}: {r.error}"
            for r in report.runs
            if r.status not in (ToolStatus.FINDINGS, ToolStatus.NO_FINDINGS)
        ]
        if broken:  # a tool that could not check would make recall say nothing
            raise SystemExit(f"{key}: not every analyzer ran (scripts/setup.sh?): {broken}")
        reports[key] = report
    seconds = time.perf_counter() - t

    found, found_by_rules, missed = 0, 0, []
    for vuln in vulns:
        report = reports[f"{vuln['model']}/app{vuln['app']}"]
        hits = [f for f in report.findings if matches(vuln, f)]
        # the report keeps one finding per weakness and line: which tools saw it is in the runs
        raw = [f for r in report.runs for f in r.findings if matches(vuln, f)]
        found += bool(hits)
        found_by_rules += any(f.tool in RULE_PACK_TOOLS for f in raw)
        if not hits:
            missed.append(f"{vuln['model']}/app{vuln['app']} {vuln['file']}:{vuln['line']}")
    high_on_clean = [
        (key, f.tool, f.rule_id, f.location.file, f.location.line)
        for key in clean
        for f in reports[key].findings
        if f.severity == Severity.HIGH
    ]
    print(
        f"  {len(keys)} demo apps scanned with {', '.join(TOOLS)} in {seconds:.1f} s:"
        f" {found} of {len(vulns)} planted vulnerabilities found"
        f" ({found_by_rules} by GenFleet's rule packs alone);"
        f" {len(high_on_clean)} High finding(s) on the {len(clean)} clean apps"
    )
    for miss in missed:
        print(f"  missed: {miss}")
    for high in high_on_clean:
        print(f"  High on a clean app: {high}")
    record(results, "static_recall", found / len(vulns), "ratio", ">= 0.95")
    record(results, "static_clean_high", len(high_on_clean), "count", "<= 0")
    record(results, "static_recall_rule_packs", found_by_rules / len(vulns), "ratio", "info")
    results["static_recall"]["planted"] = len(vulns)
    results["static_recall"]["missed"] = missed


if __name__ == "__main__":
    import json

    import uvloop
    from run import RESULTS, record  # type: ignore[import-not-found]

    found: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    uvloop.run(measure(found, record))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
