"""npm audit: known vulnerabilities of the npm packages a part (frontend, or a Node backend)
really installs.

When the part's image is built and has a node_modules under its WORKDIR, the packages in it
(container-svc lists them: scan_svc.tools.installed) are audited: a lockfile is written from
them (each package at its place and installed version) beside the app's package.json, and
`npm audit --package-lock-only` audits exactly those. Otherwise the declared files are, as
follows, and the run's `audited` says so and why.

Runs in a temporary copy of package.json (and package-lock.json / npm-shrinkwrap.json when
the app has one), so the app's folder is never written and its own .npmrc is not used. Without
a lockfile one is resolved first (`npm install --package-lock-only --ignore-scripts`: nothing
is installed, no script runs). Honesty rule: when the registry or its audit endpoint cannot be
reached or refuses (this machine's registry answers the bulk advisory endpoint with 405), the
run is UNAVAILABLE with npm's reason. A package with no dependencies at all has nothing that
could be vulnerable: npm reports 0 dependencies without asking the registry, and the run is
"no findings" (the report's dependency count shows it).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from genfleet_common.messages import AuditedPackages, Finding, Location, Package, Severity
from genfleet_common.process import ProcResult
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.installed import (
    FromImage,
    declared,
    from_image,
    lockfile_packages,
    package_json_deps,
    short_id,
)
from scan_svc.tools.support import (
    CliTool,
    Deadline,
    ScanOutput,
    ToolProblem,
    failed,
    source_line,
    tail,
    unavailable,
)

LOCKFILES = ("npm-shrinkwrap.json", "package-lock.json")
CWE = 1395  # Dependency on Vulnerable Third-Party Component
SEVERITY = {
    "critical": Severity.HIGH,
    "high": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
}
# Fail fast when the registry cannot be reached (npm's default retries wait up to a minute).
NPM_FLAGS = (
    "--fetch-retries=1",
    "--fetch-retry-mintimeout=1000",
    "--fetch-retry-maxtimeout=3000",
    "--fetch-timeout=30000",
    "--no-fund",
    "--no-update-notifier",
    "--loglevel=error",
)


class NpmAuditTool(CliTool):
    name = "npm-audit"
    install_hint = "npm comes with Node.js: apt-get install nodejs npm"
    reads_image = True

    def find_binary(self) -> str | None:
        return shutil.which("npm")

    def applies(self, target: SourceTarget) -> bool:
        return (target.path / "package.json").is_file()

    async def _scan(
        self, binary: str, target: SourceTarget, deadline: Deadline, env: dict[str, str]
    ) -> ScanOutput:
        source = target.path
        lockfile = next((name for name in LOCKFILES if (source / name).is_file()), None)
        found = from_image(target, "npm")
        audited = _audited(found, source, lockfile)
        try:
            if isinstance(found, FromImage):
                output = await self._image(binary, target, deadline, env, found)
            else:
                output = await self._declared(binary, target, deadline, env, lockfile)
        except ToolProblem as problem:
            problem.audited = audited
            raise
        output.audited = audited
        return output

    async def _image(
        self,
        binary: str,
        target: SourceTarget,
        deadline: Deadline,
        env: dict[str, str],
        found: FromImage,
    ) -> ScanOutput:
        """Audit the packages installed in the image, at their places and versions."""
        with tempfile.TemporaryDirectory(prefix="genfleet-npm-audit-") as tmp:
            work = Path(tmp)
            _write_lockfile(work, target.path / "package.json", found.packages)
            result = await self.exec(
                [binary, "audit", "--json", "--package-lock-only", *NPM_FLAGS],
                cwd=work,
                deadline=deadline,
                env=env,
            )
        return self._result(result, target, None, image_id=found.image.image_id)

    async def _declared(
        self,
        binary: str,
        target: SourceTarget,
        deadline: Deadline,
        env: dict[str, str],
        lockfile: str | None,
    ) -> ScanOutput:
        source = target.path
        with tempfile.TemporaryDirectory(prefix="genfleet-npm-audit-") as tmp:
            work = Path(tmp)
            shutil.copyfile(source / "package.json", work / "package.json")
            if lockfile:
                shutil.copyfile(source / lockfile, work / lockfile)
            else:
                resolved = await self.exec(
                    [
                        binary,
                        "install",
                        "--package-lock-only",
                        "--ignore-scripts",
                        "--no-audit",
                        *NPM_FLAGS,
                    ],
                    cwd=work,
                    deadline=deadline,
                    env=env,
                )
                if resolved.exit_code != 0:
                    raise unavailable(
                        "the app has no package-lock.json and npm could not resolve its"
                        " dependencies from the registry, so nothing was audited: "
                        + _npm_log_reason(resolved)
                    )
            result = await self.exec(
                [binary, "audit", "--json", *NPM_FLAGS],
                cwd=work,
                deadline=deadline,
                env=env,
            )
        return self._result(result, target, lockfile)

    def _result(
        self,
        result: ProcResult,
        target: SourceTarget,
        lockfile: str | None,
        *,
        image_id: str = "",
    ) -> ScanOutput:
        """Findings from npm audit's JSON; `image_id` when it audited an image's packages."""
        try:
            report: dict[str, Any] = json.loads(result.stdout)
        except ValueError as exc:
            raise failed(
                f"npm audit exited with {result.exit_code} and its output could not be read:"
                f"\n{tail(result)}"
            ) from exc
        if "auditReportVersion" not in report or "vulnerabilities" not in report:
            raise unavailable(f"npm audit could not audit: {_npm_error(report, result)}")
        metadata = report.get("metadata") or {}
        if not isinstance(metadata.get("vulnerabilities"), dict):
            raise failed(f"npm audit's report has no vulnerability counts:\n{tail(result)}")
        file = f"{target.part}/{lockfile or 'package.json'}"
        direct = _direct_lines(target.path / "package.json")
        findings: list[Finding] = []
        for package, entry in sorted(report["vulnerabilities"].items()):
            for advisory in entry.get("via") or []:
                if isinstance(advisory, dict):  # a string names another vulnerable package
                    findings.append(
                        _finding(package, entry, advisory, target, file, direct.get(package))
                    )
        counts = metadata.get("dependencies") or {}
        if isinstance(counts, dict) and counts.get("total") == 0:
            note = "the package has no dependencies: nothing that could be vulnerable"
            if image_id:
                note = f"image {short_id(image_id)} installs no npm packages: nothing to audit"
        elif image_id:
            note = ""
        elif not lockfile:
            note = "the app has no lockfile: audited the versions npm resolves today"
        else:
            note = ""
        return ScanOutput(findings, note)


def _audited(found: FromImage | str, source: Path, lockfile: str | None) -> AuditedPackages:
    if isinstance(found, FromImage):
        return found.audited()
    if lockfile:
        return declared(f"{found}; the lockfile's versions", lockfile_packages(source / lockfile))
    return declared(
        f"{found}; the ranges of package.json, as npm resolves them today",
        package_json_deps(source / "package.json"),
    )


def _write_lockfile(work: Path, package_json: Path, packages: list[Package]) -> None:
    """package.json and a lockfile (version 3) of exactly the installed packages: npm audit
    audits every package of the lockfile at its version."""
    try:
        root = json.loads(package_json.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        root = {}
    if not isinstance(root, dict):
        root = {}
    top: dict[str, Any] = {"name": str(root.get("name") or "app")}
    if isinstance(root.get("version"), str):
        top["version"] = root["version"]
    for section in ("dependencies", "devDependencies", "optionalDependencies"):
        if isinstance(root.get(section), dict):
            top[section] = root[section]
    entries: dict[str, Any] = {"": top}
    for p in packages:
        if p.path.startswith("node_modules/"):
            entry: dict[str, str] = {"version": p.version}
            if not p.path.endswith("/" + p.name):  # installed under another name (an alias)
                entry["name"] = p.name
            entries[p.path] = entry
    lock: dict[str, Any] = {key: top[key] for key in ("name", "version") if key in top}
    lock |= {"lockfileVersion": 3, "requires": True, "packages": entries}
    (work / "package.json").write_text(json.dumps(top, indent=2), encoding="utf-8")
    (work / "package-lock.json").write_text(json.dumps(lock, indent=2), encoding="utf-8")


def _npm_error(report: dict[str, Any], result: ProcResult) -> str:
    error = report.get("error")
    parts = []
    if isinstance(report.get("message"), str):
        parts.append(report["message"])
    if isinstance(error, dict):
        parts += [str(error.get(k, "")) for k in ("code", "summary", "detail") if error.get(k)]
    text = " ".join(p.strip() for p in parts if p.strip())
    return text[:600] or tail(result, 10)


def _npm_log_reason(result: ProcResult) -> str:
    """npm's own words for why it failed: its `code` and request lines, else the tail."""
    lines = [line.removeprefix("npm error").strip() for line in result.stderr.splitlines()]
    wanted = [
        line
        for line in lines
        if line.startswith(("code ", "errno ", "request to ", "network ", "audit ", "404", "405"))
        or "Method Not Allowed" in line
    ]
    return "; ".join(dict.fromkeys(wanted))[:600] or tail(result, 10)


def _direct_lines(package_json: Path) -> dict[str, int]:
    """Line of each dependency's entry in package.json (for the finding's location)."""
    lines: dict[str, int] = {}
    try:
        text = package_json.read_text(encoding="utf-8", errors="replace")
        data = json.loads(text)
    except (OSError, ValueError):
        return lines
    names: set[str] = set()
    for section in ("dependencies", "devDependencies", "optionalDependencies"):
        deps = data.get(section)
        if isinstance(deps, dict):
            names.update(deps)
    keys = {name: re.compile(rf'"{re.escape(name)}"\s*:') for name in names}
    for number, raw in enumerate(text.splitlines(), 1):
        for name, key in keys.items():
            if name not in lines and key.search(raw):
                lines[name] = number
    return lines


def _finding(
    package: str,
    entry: dict[str, Any],
    advisory: dict[str, Any],
    target: SourceTarget,
    file: str,
    line: int | None,
) -> Finding:
    title = str(advisory.get("title") or "known vulnerability")
    url = str(advisory.get("url") or "")
    rule = url.rstrip("/").rsplit("/", 1)[-1] if url else str(advisory.get("source", package))
    cwes = [c for c in advisory.get("cwe") or [] if isinstance(c, str) and c.startswith("CWE-")]
    cwe = int(cwes[0].removeprefix("CWE-")) if cwes and cwes[0][4:].isdigit() else CWE
    affected = str(advisory.get("range") or entry.get("range") or "")
    fix = entry.get("fixAvailable")
    fix_text = (
        f"fix: {fix.get('name')} {fix.get('version')}"
        if isinstance(fix, dict)
        else ("fix available (npm audit fix)" if fix else "no fix available")
    )
    how = "direct" if entry.get("isDirect") else f"via {package}"
    if line:
        file = f"{target.part}/package.json"
        snippet = source_line(target.app_dir, file, line)
    else:
        snippet = f"{advisory.get('name', package)} {affected}".strip()
    return Finding(
        tool="npm-audit",
        rule_id=rule,
        title=f"{advisory.get('name', package)}: {title}"[:200],
        severity=SEVERITY.get(str(advisory.get("severity", "")).lower(), Severity.MEDIUM),
        confidence="High",
        cwe=cwe,
        location=Location(file=file, line=line, snippet=snippet),
        description=(
            f"{advisory.get('name', package)} {affected} ({how}); {fix_text}. {url}"
        ).strip(),
    )
