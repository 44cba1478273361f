"""The packages installed in an image, read without running the app: a throwaway container
of the image, its entrypoint replaced by a short script of ours, with no network, no
capabilities, a read-only file system, bounded memory, processes, output and time; removed
afterwards.

The script lists the Python distributions its interpreter sees (importlib.metadata, or
pkg_resources on an old Python) and the npm packages under the image's WORKDIR (each
package.json in node_modules, nested and scoped ones too). It is run by `python3`, else
`python`, else `node` (npm packages only): the first of them the image has.

The image is the app's own (untrusted) code, so everything it prints is data: only the last
line that starts with our marker is read, as JSON, and every field of it is checked.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions

from container_svc.engine import ENGINE_ERRORS
from genfleet_common.messages import Package, Packages, PackagesState

MARK = "GENFLEET-PACKAGES:"
MAX_OUTPUT = 32 * 1024 * 1024  # bytes of a probe's stdout read (its log is capped likewise)
MAX_PACKAGES = 20_000  # per ecosystem; more is reported as cut
MAX_TEXT = 300  # a name, version or path longer than this is not a package's
# Inherited from the app image, these would make the probe look like the app's own container
# to the status cache (and to `compose down`): blanked.
PROBE_LABELS = {
    "com.docker.compose.project": "",
    "com.docker.compose.service": "",
    "com.docker.compose.project.working_dir": "",
    "com.docker.compose.project.config_files": "",
    "com.docker.compose.container-number": "",
    "com.docker.compose.oneoff": "",
    "org.genfleet.probe": "packages",
}
# What the engine answers when the entrypoint's executable is not in the image
_NOT_IN_IMAGE = ("executable file not found", "no such file or directory")

# Python 2.7 and 3.x alike: no f-strings, nothing beyond the standard library.
PY_SCRIPT = r"""
import json, os, sys
MARK = "GENFLEET-PACKAGES:"
LIMIT = 20000
out = {"runtime": "%s %s" % (os.path.basename(sys.executable or "python"),
                               sys.version.split()[0]),
       "executable": sys.executable or "", "dists": [], "cut": False}
try:
    try:
        import importlib.metadata as md
        found = [(d.metadata["Name"], d.version) for d in md.distributions()]
    except ImportError:
        import pkg_resources
        found = [(d.project_name, d.version) for d in pkg_resources.working_set]
    for name, version in found:
        if name and version:
            if len(out["dists"]) >= LIMIT:
                out["cut"] = True
                break
            out["dists"].append([str(name), str(version)])
except Exception as exc:
    out["dist_error"] = "%s: %s" % (type(exc).__name__, exc)


def npm(root):
    top = os.path.join(root, "node_modules")
    res = {"where": top, "found": os.path.isdir(top), "packages": [], "cut": False}
    stack = [(top, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        dirs = []
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            if name.startswith("@"):
                try:
                    dirs.extend(os.path.join(path, s) for s in sorted(os.listdir(path)))
                except OSError:
                    pass
            else:
                dirs.append(path)
        for path in dirs:
            try:
                with open(os.path.join(path, "package.json")) as handle:
                    meta = json.load(handle)
            except Exception:
                continue
            if isinstance(meta, dict) and meta.get("name") and meta.get("version"):
                if len(res["packages"]) >= LIMIT:
                    res["cut"] = True
                    return res
                rel = os.path.relpath(path, root)
                res["packages"].append([str(meta["name"]), str(meta["version"]), rel])
            if depth < 30:
                stack.append((os.path.join(path, "node_modules"), depth + 1))
    return res


out["npm"] = npm(os.getcwd())
sys.stdout.write("\n" + MARK + json.dumps(out) + "\n")
"""

JS_SCRIPT = r"""
const fs = require("fs"), path = require("path");
const MARK = "GENFLEET-PACKAGES:", LIMIT = 20000, root = process.cwd();
const top = path.join(root, "node_modules");
const res = { where: top, found: fs.existsSync(top), packages: [], cut: false };
const stack = [[top, 0]];
outer: while (stack.length) {
  const [folder, depth] = stack.pop();
  let names;
  try { names = fs.readdirSync(folder).sort(); } catch (e) { continue; }
  const dirs = [];
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const p = path.join(folder, name);
    if (name.startsWith("@")) {
      try { for (const s of fs.readdirSync(p).sort()) dirs.push(path.join(p, s)); } catch (e) {}
    } else dirs.push(p);
  }
  for (const p of dirs) {
    let meta = null;
    try { meta = JSON.parse(fs.readFileSync(path.join(p, "package.json"), "utf8")); } catch (e) {}
    if (meta && typeof meta === "object" && meta.name && meta.version) {
      if (res.packages.length >= LIMIT) { res.cut = true; break outer; }
      res.packages.push([String(meta.name), String(meta.version), path.relative(root, p)]);
    }
    if (depth < 30) stack.push([path.join(p, "node_modules"), depth + 1]);
  }
}
const out = { runtime: "node " + process.version, npm: res };
process.stdout.write("\n" + MARK + JSON.stringify(out) + "\n");
"""

PYTHONS = ("python3", "python")


@dataclass
class Probe:
    """One throwaway container's end."""

    ran: bool  # False: the executable is not in the image
    report: dict[str, Any] | None = None  # the script's JSON
    error: str = ""  # why there is no report
    engine: bool = False  # the engine failed or ran out of time: no other runtime is tried


@dataclass
class Installed:
    python: Packages
    npm: Packages
    lasting: bool  # the same image would give the same answer (kept per image id)


def read_installed(api: Any, image_id: str, timeout_s: float) -> Installed:
    """The image's Python and npm packages, through `api` (a docker APIClient whose calls
    may take `timeout_s`: a busy engine is slow to create and start containers). Blocking:
    run it in a thread."""
    python_probe: Probe | None = None
    for exe in PYTHONS:
        probe = run_probe(api, image_id, [exe, "-B", "-c", PY_SCRIPT], timeout_s)
        if probe.ran:
            python_probe = probe
            break
    npm_probe = python_probe
    if python_probe is None or (python_probe.report is None and not python_probe.engine):
        node = run_probe(api, image_id, ["node", "-e", JS_SCRIPT], timeout_s)  # node_modules
        npm_probe = node if node.ran else python_probe

    if python_probe is None:
        python = Packages(state=PackagesState.NONE, error="no python3 or python in the image")
    elif python_probe.report is None:
        python = Packages(state=PackagesState.FAILED, error=python_probe.error)
    else:
        python = _python(python_probe.report)
    if npm_probe is None:
        npm = Packages(
            state=PackagesState.FAILED,
            error="the image has neither Python nor Node.js to list its node_modules with",
        )
    elif npm_probe.report is None:
        npm = Packages(state=PackagesState.FAILED, error=npm_probe.error)
    else:
        npm = _npm(npm_probe.report)
    # a probe that ran out of time (or broke) may do better next time: not kept
    lasting = all(p is None or p.report is not None for p in (python_probe, npm_probe))
    return Installed(python=python, npm=npm, lasting=lasting)


def run_probe(api: Any, image_id: str, entrypoint: list[str], timeout_s: float) -> Probe:
    try:
        cid = api.create_container(
            image_id,
            entrypoint=entrypoint,
            name=f"genfleet-packages-{secrets.token_hex(6)}-probe",
            labels=PROBE_LABELS,
            network_disabled=True,
            host_config=api.create_host_config(
                network_mode="none",
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit="512m",
                pids_limit=64,
                log_config={
                    "type": "json-file",
                    "config": {"max-size": str(MAX_OUTPUT), "max-file": "1"},
                },
            ),
        )["Id"]
    except docker.errors.ImageNotFound:
        return Probe(ran=True, error="the image was removed while it was read")
    except ENGINE_ERRORS as exc:
        return _engine_failed(exc)
    try:
        return _run(api, cid, timeout_s)
    except ENGINE_ERRORS as exc:
        return _engine_failed(exc)
    finally:
        with contextlib.suppress(*ENGINE_ERRORS):
            api.remove_container(cid, force=True)


def _engine_failed(exc: BaseException) -> Probe:
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    return Probe(ran=True, engine=True, error=f"the Docker engine failed while reading: {text}")


def _run(api: Any, cid: str, timeout_s: float) -> Probe:
    try:
        api.start(cid)
    except docker.errors.APIError as exc:
        if any(text in str(exc).lower() for text in _NOT_IN_IMAGE):
            return Probe(ran=False)
        return Probe(ran=True, error=f"could not start a container of the image: {exc}")
    started = time.monotonic()
    try:
        ended = api.wait(cid, timeout=timeout_s)
    except requests.exceptions.RequestException:
        if time.monotonic() - started < timeout_s * 0.9:
            raise  # the engine went away, not our time limit
        return Probe(ran=True, engine=True, error=f"reading took over {timeout_s:g} s")
    stdout = _bounded(api.logs(cid, stdout=True, stderr=False, stream=True, follow=False))
    report = _report(stdout)
    if report is None:
        stderr = api.logs(cid, stdout=False, stderr=True, tail=10).decode(errors="replace")
        code = ended.get("StatusCode")
        return Probe(
            ran=True,
            error=f"the listing script exited with {code} and no listing: "
            + (stderr.strip()[-600:] or "(no output)"),
        )
    return Probe(ran=True, report=report)


def _bounded(chunks: Any) -> str:
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) >= MAX_OUTPUT:
            break
    return bytes(data).decode(errors="replace")


def _report(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            try:
                report = json.loads(line[len(MARK) :])
            except ValueError:
                return None
            return report if isinstance(report, dict) else None
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TEXT else None


def _python(report: dict[str, Any]) -> Packages:
    runtime = str(report.get("runtime", ""))[:MAX_TEXT]
    where = str(report.get("executable", ""))[:MAX_TEXT]
    if report.get("dist_error"):
        return Packages(
            state=PackagesState.FAILED, runtime=runtime, where=where,
            error=f"{runtime} could not list its distributions: "
            + str(report["dist_error"])[:MAX_TEXT],
        )  # fmt: skip
    found: set[tuple[str, str]] = set()
    for entry in report.get("dists") or []:
        if isinstance(entry, list) and len(entry) == 2:
            name, version = _text(entry[0]), _text(entry[1])
            if name and version:
                found.add((name, version))
    packages = [Package(name=n, version=v) for n, v in sorted(found, key=_key)]
    return Packages(
        state=PackagesState.READ, runtime=runtime, where=where, packages=packages,
        error="the listing was cut at the first 20,000" if report.get("cut") else "",
    )  # fmt: skip


def _npm(report: dict[str, Any]) -> Packages:
    runtime = str(report.get("runtime", ""))[:MAX_TEXT]
    found = report.get("npm")
    if not isinstance(found, dict):
        return Packages(state=PackagesState.FAILED, runtime=runtime, error="no npm listing")
    where = str(found.get("where", ""))[:MAX_TEXT]
    if not found.get("found"):
        return Packages(
            state=PackagesState.NONE, runtime=runtime, where=where,
            error=f"no node_modules under the image's WORKDIR ({where or '?'})",
        )  # fmt: skip
    packages: dict[str, Package] = {}
    for entry in found.get("packages") or []:
        if isinstance(entry, list) and len(entry) == 3:
            name, version, path = _text(entry[0]), _text(entry[1]), _text(entry[2])
            if name and version and path and not path.startswith(("/", "..")):
                packages[path] = Package(name=name, version=version, path=path)
    return Packages(
        state=PackagesState.READ, runtime=runtime, where=where,
        packages=sorted(packages.values(), key=lambda p: p.path),
        error="the listing was cut at the first 20,000" if found.get("cut") else "",
    )  # fmt: skip


def _key(entry: tuple[str, str]) -> tuple[str, str]:
    return entry[0].lower(), entry[1]


def connect(docker_host: str, timeout_s: float) -> Any:
    """A docker APIClient for reading images, whose calls may take `timeout_s` (the engine's
    own client gives each call `docker_timeout_s`, too short for a busy engine's container
    starts)."""
    if docker_host:
        return docker.APIClient(base_url=docker_host, timeout=int(timeout_s))
    return docker.from_env(timeout=int(timeout_s)).api
