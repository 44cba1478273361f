"""Every rule of scan-svc's own packs against its corpus: tests/rules/<rule-id>/bad.* must be
reported by that rule and tests/rules/<rule-id>/good.* must not (bad-<variant>.* and
good-<variant>.*: more cases, such as the FastAPI form of a Flask one). ESLint rules (our
eslint.config.mjs) have theirs under tests/rules/eslint/<rule>/.

The whole corpus is scanned once by each tool, through scan-svc's own SemgrepTool and
EslintTool (real semgrep and ESLint, offline), not once per rule. The corpus is copied to a
temporary folder first: semgrep skips paths under a `tests/` folder by default. A tool run keeps
one finding per weakness (CWE) and line, so a bad snippet shows its rule's weakness on a line
no other rule of the same CWE reports.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from genfleet_common.messages import ToolStatus
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.eslint import RULES as ESLINT_RULES
from scan_svc.tools.eslint import EslintTool
from scan_svc.tools.semgrep import RULE_FILES, SemgrepTool

CORPUS = Path(__file__).parent / "rules"
PART = "corpus"
KINDS = ("bad", "good")


def pack_rules() -> dict[str, dict[str, object]]:
    return {
        rule["id"]: rule
        for rule_file in RULE_FILES
        for rule in yaml.safe_load(rule_file.read_text())["rules"]
    }


def snippets(root: Path) -> list[tuple[str, str, str]]:
    """(rule, kind, file relative to the corpus) for each bad/good snippet under `root`."""
    found = []
    for path in sorted(root.rglob("*")):
        kind = path.stem.split("-", 1)[0]  # bad.py, or bad-fastapi.py for another variant
        if (
            path.is_file()
            and kind in KINDS
            and path.suffix in (".py", ".js", ".jsx", ".ts", ".html", ".ejs")
        ):
            rule = path.parent.relative_to(root).as_posix()
            found.append((rule, kind, path.relative_to(CORPUS).as_posix()))
    return found


SEMGREP_CASES = [c for c in snippets(CORPUS) if c[0].startswith("genfleet.")]
ESLINT_CASES = snippets(CORPUS / "eslint")


@pytest.fixture(scope="module")
def corpus_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = tmp_path_factory.mktemp("corpus") / "app"
    shutil.copytree(CORPUS, app / PART, ignore=shutil.ignore_patterns("*.toml", "__pycache__"))
    return app


@pytest.fixture(scope="module")
async def semgrep_hits(corpus_app: Path) -> dict[str, set[str]]:
    """file (relative to the corpus) -> the rule ids semgrep reported in it."""
    run = await SemgrepTool().run(SourceTarget(corpus_app, PART), timeout_s=300)
    assert run.status == ToolStatus.FINDINGS, run.error
    assert not run.error, run.error  # every rule compiled, every snippet parsed
    hits: dict[str, set[str]] = {}
    for f in run.findings:
        hits.setdefault(f.location.file.removeprefix(f"{PART}/"), set()).add(f.rule_id)
    return hits


@pytest.fixture(scope="module")
async def eslint_hits(corpus_app: Path) -> dict[str, set[str]]:
    run = await EslintTool().run(SourceTarget(corpus_app, PART), timeout_s=300)
    assert run.status == ToolStatus.FINDINGS, run.error
    assert not run.error, run.error
    hits: dict[str, set[str]] = {}
    for f in run.findings:
        hits.setdefault(f.location.file.removeprefix(f"{PART}/"), set()).add(f.rule_id)
    return hits


@pytest.mark.parametrize(("rule", "kind", "file"), SEMGREP_CASES, ids=lambda v: str(v))
def test_semgrep_rule_on_its_snippet(
    semgrep_hits: dict[str, set[str]], rule: str, kind: str, file: str
) -> None:
    reported = semgrep_hits.get(file, set())
    if kind == "bad":
        assert rule in reported, f"{rule} missed {file} (reported there: {sorted(reported)})"
    else:
        assert rule not in reported, f"{rule} reported its good snippet {file}"


@pytest.mark.parametrize(("rule", "kind", "file"), ESLINT_CASES, ids=lambda v: str(v))
def test_eslint_rule_on_its_snippet(
    eslint_hits: dict[str, set[str]], rule: str, kind: str, file: str
) -> None:
    reported = eslint_hits.get(file, set())
    if kind == "bad":
        assert rule in reported, f"{rule} missed {file} (reported there: {sorted(reported)})"
    else:
        assert rule not in reported, f"{rule} reported its good snippet {file}"


def test_every_semgrep_rule_has_metadata_and_both_snippets() -> None:
    corpus = {(rule, kind) for rule, kind, _ in SEMGREP_CASES}
    rules = pack_rules()
    for rule_id, rule in rules.items():
        assert rule["severity"] in ("ERROR", "WARNING", "INFO"), rule_id
        assert str(rule["message"]).strip(), rule_id
        metadata = rule["metadata"]
        assert isinstance(metadata, dict), rule_id
        assert re.match(r"CWE-\d+: ", metadata["cwe"]), rule_id
        assert metadata["confidence"] in ("HIGH", "MEDIUM", "LOW"), rule_id
        for kind in KINDS:
            assert (rule_id, kind) in corpus, f"{rule_id} has no {kind} snippet in {CORPUS}"
    # and no snippet folder names a rule that is gone
    assert {rule for rule, _ in corpus} <= set(rules)


def test_every_eslint_snippet_names_a_mapped_rule() -> None:
    """A rule tested here has its severity and CWE in scan_svc/tools/eslint.py."""
    rules = {rule for rule, _, _ in ESLINT_CASES}
    assert rules, "no ESLint snippets"
    for rule in rules:
        assert rule in ESLINT_RULES, rule
        assert {k for r, k, _ in ESLINT_CASES if r == rule} == set(KINDS), rule


def test_rules_hash_covers_the_semgrep_packs_and_the_eslint_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Campaign manifests record rules_hash: a changed rule of either pack must change it."""
    from scan_svc import toolbox

    before = toolbox.rules_hash()
    assert toolbox.rules_hash() == before
    config = tmp_path / "eslint.config.mjs"
    config.write_bytes(toolbox.ESLINT_CONFIG.read_bytes() + b"\n// one more rule\n")
    monkeypatch.setattr(toolbox, "ESLINT_CONFIG", config)
    eslint_changed = toolbox.rules_hash()
    assert eslint_changed != before
    rules = tmp_path / "rules"
    shutil.copytree(toolbox.RULES_DIR, rules)
    (rules / "python.yml").write_text((rules / "python.yml").read_text() + "\n# changed\n")
    monkeypatch.setattr(toolbox, "RULES_DIR", rules)
    assert toolbox.rules_hash() not in (before, eslint_changed)
