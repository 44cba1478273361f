"""Where a fleet's spec tests live, where Tavern is, and whether the tests can run: checked
before a run is queued, so a malformed file is refused (400) with its reason.

    <fleet>/spectests/app<N>/*.tavern.yaml     Tavern tests for spec N, run against every
                                               model's app N

A test marked `security` (Tavern `marks: [security]`) is a security check; any other test is
functional. Requests name the app by the variables `{backend_url}` and `{frontend_url}` (no
trailing slash): every request URL must start with one of them. Functions (`$ext`,
`verify_response_with`) are limited to Tavern's own helpers (`tavern.helpers:...`), and
`!include` to files beside the tests: a test file is data, and runs nothing else.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from genfleet_common.errors import InvalidInput, NotFound, ServiceUnavailable
from genfleet_common.process import run_tool

SPECTESTS_DIR = "spectests"
SUFFIXES = (".tavern.yaml", ".tavern.yml")
MAX_FILES = 200
MAX_BYTES = 1_000_000
CHILD = Path(__file__).with_name("child.py")
CHILD_MODULE = "genfleet_spectest_child"  # the name the child file is loaded under
ENV_PYTHON = "GENFLEET_TAVERN_PYTHON"
# <repo>/services/perf-svc/src/perf_svc/spectests/files.py -> <repo>/.tools/tavern
REPO_PYTHON = Path(__file__).resolve().parents[5] / ".tools" / "tavern" / "bin" / "python"
_INCLUDE = re.compile(r"!include(?:raw)?\s+[\"']?([^\s\"'}\]]+)")


def tavern_python() -> str:
    """The python that has Tavern: $GENFLEET_TAVERN_PYTHON, else the venv setup.sh makes;
    ServiceUnavailable (could not run, never a failure) when there is none."""
    named = os.environ.get(ENV_PYTHON, "")
    path = Path(named) if named else REPO_PYTHON
    if not (path.is_file() and os.access(path, os.X_OK)):
        where = f"${ENV_PYTHON} ({named})" if named else str(REPO_PYTHON)
        raise ServiceUnavailable(
            f"Tavern is not installed: no python at {where} (scripts/setup.sh installs it)"
        )
    return str(path)


def spec_dir(fleet_root: Path, app: int) -> Path:
    return fleet_root / SPECTESTS_DIR / f"app{int(app)}"


def find_files(fleet_root: Path, app: int) -> list[Path]:
    """The app's spec test files, by name; NotFound when the fleet ships none for spec N."""
    folder = spec_dir(fleet_root, app)
    files = (
        sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))
        if folder.is_dir()
        else []
    )
    if not files:
        where = f"{SPECTESTS_DIR}/app{int(app)}/*.tavern.yaml"
        raise NotFound(f"the fleet has no spec tests for app {app} (looked for {where})")
    if len(files) > MAX_FILES:
        raise InvalidInput(f"{SPECTESTS_DIR}/app{app}: at most {MAX_FILES} test files")
    return files


async def check_files(files: list[Path], folder: Path, *, timeout_s: float = 60.0) -> list[str]:
    """Each file read and checked as Tavern reads it (in Tavern's python); InvalidInput names
    the file and what is wrong. Returns the tests as "file::name", in order. Files checked
    before with the same content are not checked again (every model's app N shares them)."""
    paths = await asyncio.to_thread(_precheck, files, folder)
    key = await asyncio.to_thread(_content_key, paths)
    if key in _CHECKED:
        return _CHECKED[key]
    python = tavern_python()
    with tempfile.TemporaryDirectory(prefix="genfleet-spectest-check-") as tmp:
        script = Path(tmp) / f"{CHILD_MODULE}.py"
        await asyncio.to_thread(shutil.copyfile, CHILD, script)
        argv = [python, str(script), "check", str(folder), *paths]
        result = await run_tool(argv, cwd=Path(tmp), timeout_s=timeout_s, env=child_env(tmp))
    if result.exit_code != 0 or not result.stdout.strip():
        raise ServiceUnavailable(f"could not check the spec test files: {result.tail(10)}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    if "error" in answer:
        raise InvalidInput(f"spec test file {answer['file']}: {answer['error']}")
    tests = [f"{file}::{name}" for file, names in answer["tests"].items() for name in names]
    if len(_CHECKED) > 256:
        _CHECKED.clear()
    _CHECKED[key] = tests
    return tests


_CHECKED: dict[str, list[str]] = {}  # content key -> the tests of files found good


def _content_key(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.hexdigest()


def _precheck(files: list[Path], folder: Path) -> list[str]:
    """What needs no Tavern: size, no symlink, includes only from beside the tests. Returns
    the files' absolute paths."""
    for path in files:
        if path.is_symlink() or path.stat().st_size > MAX_BYTES:
            raise InvalidInput(f"spec test file {path.name}: not a file of at most {MAX_BYTES} B")
        for target in _INCLUDE.findall(path.read_text(encoding="utf-8", errors="replace")):
            if not (folder / target).resolve().is_relative_to(folder.resolve()):
                raise InvalidInput(
                    f"spec test file {path.name}: !include {target}: only files beside the tests"
                )
    return [str(path.resolve()) for path in files]


def child_env(tmp: str) -> dict[str, str]:
    """A child's whole environment: nothing of the service's (settings, secrets, proxies)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tmp,
        "LANG": "C.UTF-8",
        "PYTHONPATH": tmp,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
