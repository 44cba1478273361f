"""pip-audit: known vulnerabilities of the Python distributions a backend really installs.

When the backend's image is built, what it installed (container-svc lists the distributions
of the image's Python: scan_svc.tools.installed) is audited: a generated requirements file of
`name==version` lines, so unpinned requirements (`Flask`) are audited at the version the image
has. When it is not built (or cannot be read), the declared requirements.txt is audited, and
the run's `audited` says so and why.

`pip-audit -r <file> --no-deps --disable-pip -f json`: nothing is installed or resolved, each
pinned requirement is looked up in the vulnerability service (PyPI's JSON API by default, OSV
on request). Honesty rule: pip-audit says "No known vulnerabilities found" and exits 0 when it
could look up nothing (each dependency then has a `skip_reason`); such a run is UNAVAILABLE
with the reasons, never "no findings". So is a run whose service cannot be reached (pip-audit
then crashes with a connection error) and one whose declared requirements are not pinned
(they cannot be audited without installing them: build the app).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from genfleet_common.messages import Finding, Location, Package, Severity
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.installed import FromImage, declared, from_image, requirements, short_id
from scan_svc.tools.support import (
    CliTool,
    Deadline,
    ScanOutput,
    ToolProblem,
    failed,
    source_line,
    tail,
    unavailable,
    workspace_bin,
)

REQUIREMENTS = "requirements.txt"
CWE = 1395  # Dependency on Vulnerable Third-Party Component
SERVICE_TIMEOUT_S = 15
_NETWORK_ERROR = re.compile(
    r"ConnectionError|ProxyError|NameResolutionError|Max retries exceeded|"
    r"Failed to establish a new connection|ConnectTimeout|ReadTimeout|SSLError|"
    r"Temporary failure in name resolution|Connection refused|HTTPError|ServiceError"
)
# pip-audit 2.7: "... is not pinned to an exact version: flask>=3"; 2.10, for a bare name:
# "requirement Flask is not pinned: Flask"
_NOT_PINNED = re.compile(r"requirement (\S+) is not pinned(?: to an exact version)?: ([^\s(]+)")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_DIST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
# PEP 440 (packaging's VERSION_PATTERN): pip-audit refuses a requirement with another version
_PEP440 = re.compile(
    r"^v?(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*"
    r"(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?"
    r"(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?"
    r"(?:[-_.]?dev[-_.]?[0-9]*)?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$",
    re.IGNORECASE,
)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class PipAuditTool(CliTool):
    name = "pip-audit"
    install_hint = "a dependency of scan-svc: `uv sync` installs it"
    reads_image = True
    version_pattern = r"pip-audit (\d+\.\d+[\w.\-]*)"

    def __init__(
        self,
        binary: str | None = None,
        *,
        env: dict[str, str] | None = None,
        service: str = "pypi",
        osv_url: str | None = None,
    ) -> None:
        super().__init__(binary, env=env)
        self.service = service
        self.osv_url = osv_url

    def find_binary(self) -> str | None:
        return workspace_bin("pip-audit")

    def applies(self, target: SourceTarget) -> bool:
        return (target.path / REQUIREMENTS).is_file()

    async def _scan(
        self, binary: str, target: SourceTarget, deadline: Deadline, env: dict[str, str]
    ) -> ScanOutput:
        found = from_image(target, "python")
        if isinstance(found, FromImage):
            audited = found.audited()
        else:
            audited = declared(found, requirements(target.path / REQUIREMENTS))
        try:
            output = await self._audit(binary, target, deadline, env, found)
        except ToolProblem as problem:
            problem.audited = audited
            raise
        output.audited = audited
        return output

    async def _audit(
        self,
        binary: str,
        target: SourceTarget,
        deadline: Deadline,
        env: dict[str, str],
        found: FromImage | str,
    ) -> ScanOutput:
        with tempfile.TemporaryDirectory(prefix="genfleet-pip-audit-") as cache:
            requirements_file = REQUIREMENTS
            left_out: list[str] = []
            if isinstance(found, FromImage):
                pinned, left_out = _pinned(found.packages)
                requirements_file = _write_requirements(Path(cache), pinned)
                if not pinned:
                    raise unavailable(
                        f"none of the {len(found.packages)} distributions installed in image"
                        f" {short_id(found.image.image_id)} has a version pip-audit can look"
                        f" up: {', '.join(left_out[:5])}"
                    )
            argv = [
                binary,
                "-r",
                requirements_file,
                "--no-deps",
                "--disable-pip",
                "-f",
                "json",
                "--progress-spinner",
                "off",
                "--timeout",
                str(SERVICE_TIMEOUT_S),
                "--cache-dir",
                cache,
                "-s",
                self.service,
            ]
            if self.osv_url:
                argv += ["--osv-url", self.osv_url]
            result = await self.exec(argv, cwd=target.path, deadline=deadline, env=env)
        report: dict[str, Any] | None
        try:
            report = json.loads(result.stdout) if result.stdout.strip() else None
        except ValueError:
            report = None
        if report is None or not isinstance(report.get("dependencies"), list):
            errors = result.stderr
            not_pinned = _NOT_PINNED.search(errors)
            if not_pinned:
                raise unavailable(
                    f"pip-audit can audit only requirements pinned to one version (==) without"
                    f" installing them; {not_pinned.group(1)} is"
                    f" {_unpinned(not_pinned.group(1), not_pinned.group(2))}"
                    f" (build the app: its image's installed versions are audited then;"
                    f" not now because {found})"
                )
            if _NETWORK_ERROR.search(errors):
                last = [line for line in errors.strip().splitlines() if line.strip()][-1:]
                raise unavailable(
                    f"the vulnerability database ({self.service}) could not be reached, so"
                    f" nothing was audited: {last[0][:400] if last else ''}"
                )
            raise failed(f"pip-audit exited with {result.exit_code}:\n{tail(result)}")
        image = found.image.image_id if isinstance(found, FromImage) else ""
        output = self._result(report["dependencies"], target, image_id=image)
        if left_out:
            output.note = "; ".join(
                n
                for n in (
                    output.note,
                    f"not audited ({len(left_out)}): versions pip-audit cannot look up: "
                    + ", ".join(left_out[:10]),
                )
                if n
            )
        return output

    def _result(
        self, deps: list[dict[str, Any]], target: SourceTarget, *, image_id: str = ""
    ) -> ScanOutput:
        """Findings from pip-audit's dependencies; `image_id` when they are an image's."""
        lines = _requirement_lines(target.path / REQUIREMENTS)
        file = f"{target.part}/{REQUIREMENTS}"
        skipped = [d for d in deps if d.get("skip_reason")]
        audited = [d for d in deps if not d.get("skip_reason")]
        findings = []
        for dep in audited:
            name, version = str(dep.get("name", "")), str(dep.get("version", ""))
            line = lines.get(normalize(name))
            for vuln in dep.get("vulns") or []:
                findings.append(_finding(name, version, vuln, file, line, target.app_dir, image_id))
        if skipped and not findings:
            reasons = "; ".join(str(d["skip_reason"]) for d in skipped[:5])
            raise unavailable(
                f"pip-audit could not audit {len(skipped)} of {len(deps)} dependencies (the"
                f" vulnerability database did not answer for them), so the result is unknown,"
                f" not clean: {reasons}"
            )
        note = ""
        if skipped:
            note = f"not audited ({len(skipped)} of {len(deps)}): " + "; ".join(
                str(d["skip_reason"]) for d in skipped[:5]
            )
        return ScanOutput(findings, note)


def _requirement_lines(path: Path) -> dict[str, int]:
    lines: dict[str, int] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return lines
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.lstrip().startswith(("#", "-")):
            continue
        match = _NAME.match(raw)
        if match:
            lines.setdefault(normalize(match.group(1)), number)
    return lines


def _unpinned(name: str, requirement: str) -> str:
    return "not pinned at all" if requirement == name else requirement


def _write_requirements(folder: Path, lines: list[str]) -> str:
    path = folder / "installed-requirements.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return str(path)


def _pinned(packages: list[Package]) -> tuple[list[str], list[str]]:
    """`name==version` lines for pip-audit (one per distribution), and the ones left out
    because pip-audit could not read their name or version."""
    lines: dict[str, str] = {}
    left_out: list[str] = []
    for p in packages:
        if _DIST_NAME.match(p.name) and _PEP440.match(p.version):
            lines.setdefault(f"{normalize(p.name)}=={p.version}", f"{p.name}=={p.version}")
        else:
            left_out.append(f"{p.name} {p.version}")
    return list(lines.values()), left_out


def _finding(
    name: str,
    version: str,
    vuln: dict[str, Any],
    file: str,
    line: int | None,
    app_dir: Path,
    image_id: str = "",
) -> Finding:
    vid = str(vuln.get("id", "?"))
    aliases = [str(a) for a in vuln.get("aliases") or []]
    fixes = [str(v) for v in vuln.get("fix_versions") or []]
    description = str(vuln.get("description") or "").strip()
    where = f" (installed in image {short_id(image_id)})" if image_id else ""
    details = [f"{name} {version}{where} is affected by {vid}"]
    if aliases:
        details.append(f"aliases: {', '.join(aliases)}")
    details.append(f"fixed in: {', '.join(fixes)}" if fixes else "no fixed version yet")
    snippet = source_line(app_dir, file, line) if line else f"{name}=={version}"
    return Finding(
        tool="pip-audit",
        rule_id=vid,
        title=f"{name} {version}: known vulnerability {vid}",
        # pip-audit gives no severity; a published vulnerability in a dependency is Medium
        # until someone rates its reach in this app.
        severity=Severity.MEDIUM,
        confidence="High",
        cwe=CWE,
        location=Location(file=file, line=line, snippet=snippet),
        description=("; ".join(details) + ("\n" + description if description else "")).strip(),
    )
