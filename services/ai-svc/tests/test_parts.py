"""The parts of an analysis that need no model: reading answers, checking evidence, choosing
code, the requirements file, the GGUF header."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ai_svc import context, requirements
from ai_svc.cache import cache_key
from ai_svc.gguf import GGUFError, StringValue, read_metadata, replace_string
from ai_svc.verdicts import CitedEvidence, check_evidence
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet

DEMO = Path(__file__).resolve().parents[3] / "examples" / "fleet"
APP = DEMO / "models" / "gpt-4o" / "app1"


# --- evidence --------------------------------------------------------------------------------
def test_evidence_is_checked_against_the_real_files() -> None:
    lines = len((APP / "backend" / "app.py").read_text().splitlines())
    checked = check_evidence(
        [
            CitedEvidence(file="backend/app.py", lines="1-5"),
            CitedEvidence(file="./backend/app.py", lines=3),
            CitedEvidence(file="backend/app.py", lines=f"{lines}-{lines + 50}"),
            CitedEvidence(file="backend/missing.py", lines="1-2"),
            CitedEvidence(file="../../../../etc/passwd", lines="1"),
            CitedEvidence(file="backend/app.py", lines="somewhere"),
        ],
        APP,
    )
    assert [e.valid for e in checked] == [True, True, False, False, False, False]
    assert (checked[0].start, checked[0].end) == (1, 5)
    assert checked[2].note == f"the file has {lines} lines"
    assert checked[4].note == "not a file of the app"


# --- code context --------------------------------------------------------------------------
def test_the_code_shown_is_relevant_numbered_and_within_budget() -> None:
    files = context.source_files(APP)
    assert "frontend/package.json" in [f.path for f in files]
    shown = context.choose(files, "Tasks are stored in a SQLite database", budget_tokens=300)
    assert shown.matched and shown.tokens <= 300
    assert shown.parts[0].startswith("backend/app.py:")
    assert "2| import sqlite3" in shown.text
    bigger = context.choose(files, "Tasks are stored in a SQLite database", budget_tokens=3000)
    assert bigger.tokens <= 3000 and len(bigger.parts) >= len(shown.parts)
    assert context.choose(files, "anything", budget_tokens=0).text == ""


def test_the_code_hash_changes_with_the_code(tmp_path: Path) -> None:
    import shutil

    app = tmp_path / "app"
    shutil.copytree(APP, app)
    before = context.code_hash(context.source_files(app))
    assert before == context.code_hash(context.source_files(APP))
    (app / "backend" / "app.py").write_text("print('changed')\n")
    assert context.code_hash(context.source_files(app)) != before
    key = cache_key(before, "r", "gpt4all:m", "1", "")
    assert key != cache_key(before, "r", "gpt4all:m", "2", "")  # a new prompt version


# --- requirements --------------------------------------------------------------------------
def test_the_demo_requirements_map_to_app_numbers() -> None:
    fleet = Fleet.load(DEMO)
    spec = requirements.for_app(fleet, 1)
    reqs = spec.requirements()
    assert reqs[0].id == "general-1" and reqs[-1].id == "specific-6"
    assert [r.id for r in requirements.choose(spec, ["specific-2", "general-1"])] == [
        "general-1",
        "specific-2",
    ]
    with pytest.raises(NotFound):
        requirements.for_app(fleet, 3)


@pytest.mark.parametrize(
    "data",
    [
        b"{",
        b'{"x": {}}',
        b'[{"app": 0}]',
        b'[{"app": 1}, {"app": 1}]',
        b'[{"general_features": 1}]',
    ],
)
def test_a_broken_requirements_file_is_invalid(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        requirements.parse(data, "requirements.json")


def test_requirements_keyed_by_app_number() -> None:
    specs = requirements.parse(b'{"2": {"specific_features": ["a"]}}', "r.json")
    assert specs[2].requirements()[0].text == "a"


# --- GGUF ----------------------------------------------------------------------------------
def _gguf(path: Path, pairs: list[tuple[str, str]]) -> None:
    def s(text: str) -> bytes:
        return struct.pack("<Q", len(text.encode())) + text.encode()

    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(pairs) + 1)
    body += s("llama.context_length") + struct.pack("<II", 4, 4096)
    for key, value in pairs:
        body += s(key) + struct.pack("<I", 8) + s(value)
    path.write_bytes(body + b"\0" * 64)


def test_the_pre_tokenizer_is_patched_in_place(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    _gguf(model, [("general.architecture", "llama"), ("tokenizer.ggml.pre", "smollm")])
    size = model.stat().st_size
    assert replace_string(model, "tokenizer.ggml.pre", "smollm", "refact") is True
    assert replace_string(model, "tokenizer.ggml.pre", "smollm", "refact") is False  # idempotent
    meta = read_metadata(model)
    pre = meta["tokenizer.ggml.pre"]
    assert isinstance(pre, StringValue) and pre.value == "refact"
    assert meta["llama.context_length"] == 4096 and model.stat().st_size == size
    with pytest.raises(GGUFError):
        replace_string(model, "general.architecture", "qwen2", "mamba")  # not what it holds
    with pytest.raises(GGUFError):
        replace_string(model, "general.name", "a", "b")
    (tmp_path / "bad.gguf").write_bytes(b"nope")
    with pytest.raises(GGUFError):
        read_metadata(tmp_path / "bad.gguf")


def test_the_prepared_model_loads_as_patched(model_file: Path) -> None:
    pre = read_metadata(model_file)["tokenizer.ggml.pre"]
    assert isinstance(pre, StringValue) and pre.value == "refact"
