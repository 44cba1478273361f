"""The code shown to the model for one requirement: the app's most relevant chunks that fit.

Every source file of the app is cut into chunks of a few dozen lines (at blank lines where
possible). A chunk's score is its keyword overlap with the requirement, each shared word
weighted by how rare it is across the app (so "tasks" in a task tracker counts little and
"sqlite" a lot). The best chunks are taken until the token budget is spent, then shown in
file order with their line numbers, so the model can cite `file` + `lines` and we can check it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SOURCE_SUFFIXES = frozenset(
    {".py", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".vue", ".svelte", ".html", ".htm",
     ".css", ".sql", ".json", ".yml", ".yaml", ".toml", ".txt", ".cfg", ".ini", ".sh", ".env"}
)  # fmt: skip
SOURCE_NAMES = frozenset({"Dockerfile", "Makefile", "Procfile"})
SKIP_DIRS = frozenset(
    {"node_modules", ".git", "__pycache__", ".venv", "venv", "dist", "build", ".next",
     "coverage", ".pytest_cache", ".mypy_cache"}
)  # fmt: skip
SKIP_FILES = frozenset({"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock"})
MAX_FILE_BYTES = 256 * 1024  # bigger files are data or bundles, not the app's source
MAX_FILES = 2000
CHUNK_LINES = 40
# Tokens are estimated, not counted (the in-process backend has no tokenizer API): source code
# averages 3.5-4 characters per token with BPE tokenizers; 3 errs on the safe side.
CHARS_PER_TOKEN = 3.0

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+|[0-9]{3}")  # words; 3-digit numbers (HTTP statuses)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
STOPWORDS = frozenset(
    {
        "the", "and", "for", "with", "that", "this", "are", "from", "its", "has", "have", "into",
        "not", "never", "only", "one", "each", "any", "all", "when", "what", "which", "who", "will",
        "can", "may", "must", "should", "would", "there", "their", "them", "than", "then", "also",
        "per", "under", "over", "via", "use", "uses", "used", "using", "answers", "answer",
        "returns", "return", "web", "page", "app",
    }
)  # fmt: skip


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def words(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(text):
        for part in _CAMEL.split(w):
            low = part.lower()
            if len(low) >= 3 and low not in STOPWORDS:
                out.append(low[:-1] if low.endswith("s") and len(low) > 4 else low)
    return out


@dataclass
class SourceFile:
    path: str  # relative to the app folder, '/'-separated
    lines: list[str]


@dataclass
class Chunk:
    file: str
    start: int  # 1-based, inclusive
    end: int
    text: str
    words: Counter[str] = field(default_factory=Counter)
    score: float = 0.0


def source_files(app_dir: Path) -> list[SourceFile]:
    """The app's source files, sorted by path; symlinks out of the app are not followed."""
    root = app_dir.resolve()
    found: list[SourceFile] = []
    stack = [root]
    while stack and len(found) < MAX_FILES:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in SKIP_DIRS and not entry.name.startswith("."):
                    stack.append(entry)
                continue
            if entry.name in SKIP_FILES or not (
                entry.suffix.lower() in SOURCE_SUFFIXES or entry.name in SOURCE_NAMES
            ):
                continue
            try:
                if entry.stat().st_size > MAX_FILE_BYTES:
                    continue
                data = entry.read_bytes()
            except OSError:
                continue
            if b"\0" in data:
                continue
            text = data.decode("utf-8", errors="replace")
            found.append(SourceFile(entry.relative_to(root).as_posix(), text.splitlines()))
    return sorted(found, key=lambda f: f.path)


def code_hash(files: list[SourceFile]) -> str:
    """One hash of every source file's path and content: a changed app is analysed anew."""
    h = hashlib.sha256()
    for f in files:
        h.update(f.path.encode() + b"\0" + "\n".join(f.lines).encode() + b"\0")
    return h.hexdigest()


def chunks(f: SourceFile, size: int = CHUNK_LINES) -> list[Chunk]:
    """Pieces of at most `size` lines, ending at a blank line in their second half if any."""
    out: list[Chunk] = []
    i, n = 0, len(f.lines)
    while i < n:
        end = min(i + size, n)
        if end < n:
            for j in range(end - 1, i + size // 2, -1):
                if not f.lines[j].strip():
                    end = j + 1
                    break
        body = "\n".join(f.lines[i:end])
        if body.strip():
            out.append(Chunk(f.path, i + 1, end, body, Counter(words(f.path + "\n" + body))))
        i = end
    return out


@dataclass
class CodeContext:
    text: str  # what the prompt shows: the chunks with line numbers
    parts: list[str]  # "file:start-end" of each shown piece
    tokens: int  # estimated
    matched: bool  # False: nothing shared a word with the requirement (shown: the start of files)


def render(parts: list[Chunk]) -> tuple[str, list[str]]:
    """Chunks in file order, neighbours merged, every line with its number."""
    merged: list[Chunk] = []
    for c in sorted(parts, key=lambda c: (c.file, c.start)):
        last = merged[-1] if merged else None
        if last is not None and last.file == c.file and last.end + 1 == c.start:
            last.end, last.text = c.end, last.text + "\n" + c.text
        else:
            merged.append(Chunk(c.file, c.start, c.end, c.text))
    blocks, cited = [], []
    for c in merged:
        numbered = "\n".join(
            f"{n}| {line}" for n, line in enumerate(c.text.split("\n"), start=c.start)
        )
        blocks.append(f"=== {c.file} (lines {c.start}-{c.end})\n{numbered}")
        cited.append(f"{c.file}:{c.start}-{c.end}")
    return "\n\n".join(blocks), cited


def choose(files: list[SourceFile], requirement: str, budget_tokens: int) -> CodeContext:
    """The most relevant chunks for `requirement` within `budget_tokens` (estimated)."""
    every = [c for f in files for c in chunks(f)]
    if not every or budget_tokens <= 0:
        return CodeContext("", [], 0, False)
    wanted = Counter(words(requirement))
    df: Counter[str] = Counter()
    for c in every:
        df.update(set(c.words))
    for c in every:
        c.score = sum(
            math.log(1 + len(every) / df[w]) * (1 + math.log(c.words[w])) * min(wanted[w], 2)
            for w in wanted
            if c.words[w]
        )
    matched = any(c.score > 0 for c in every)
    # best first; ties (and no match at all) in file order, so the choice is deterministic
    ranked = sorted(every, key=lambda c: (-c.score, c.file, c.start))
    chosen: list[Chunk] = []
    spent = 0
    for c in ranked:
        if matched and c.score <= 0:
            break
        # its cost shown alone; merged with a neighbour it costs a little less
        cost = estimate_tokens(render([c])[0]) + 1
        if spent + cost > budget_tokens:
            continue  # a smaller chunk further down may still fit
        chosen.append(c)
        spent += cost
    text, parts = render(chosen)
    return CodeContext(text, parts, estimate_tokens(text), matched)
