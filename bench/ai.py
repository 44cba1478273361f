"""Analysis speed: tokens/s of a one-requirement ai-svc analysis, measured from the start
request to the COMPLETE event (queue, code context, prompt, generation, results, events), vs
raw gpt4all generate() of the same prompt with the same model and settings in this process.

A generation uses every core, so whatever else runs on the machine stretches it, several
times over at worst, and that load changes from one minute to the next. So each round runs
the two one right after the other (which goes first alternates: a load that rises or falls
within a round favours neither), its ratio compares the pair, and the result is the median
of the rounds' ratios, with their spread alongside.
Called by run.py; runnable alone."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from ai_svc import context, prompt, requirements
from ai_svc.backends.gpt4all import N_BATCH, SAMPLING, inspect
from ai_svc.modelprep import PATCHED_NAME
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.localmodel import PROJECT_MODELS
from genfleet_common.messages import (
    AnalysisEvent,
    AnalysisRequest,
    AnalysisResult,
    AnalysisStatus,
    JobRef,
    JobState,
)
from genfleet_common.testing import admin_bus, auth_nats, identities_of

REPO = Path(__file__).resolve().parents[1]
MODEL_FILE = PROJECT_MODELS / PATCHED_NAME
CONTEXT, MAX_TOKENS, THREADS = 2048, 128, os.cpu_count() or 1
APP = ("gpt-4o", 1)
REQUIREMENT = "general-2"
ROUNDS = 8  # even: as many rounds start with ai-svc as with raw gpt4all


def same_prompt(fleet: Fleet) -> tuple[str, str]:
    """The system prompt and question ai-svc builds for the requirement (its own code)."""
    spec = requirements.for_app(fleet, APP[1])
    (req,) = requirements.choose(spec, [REQUIREMENT])
    files = context.source_files(Path(fleet.app(*APP).path))
    budget = CONTEXT - MAX_TOKENS - 80 - prompt.overhead_tokens(spec.name, spec.description, req)
    shown = context.choose(files, req.text, budget)
    messages = prompt.first_turn(spec.name, spec.description, req, shown.text)
    return messages[0].content, messages[1].content


class Raw:
    """gpt4all itself: the same file, threads, context, chat format and sampling."""

    def __init__(self) -> None:
        from gpt4all import GPT4All

        self.file = inspect(MODEL_FILE, CONTEXT)
        self.llm = GPT4All(
            MODEL_FILE.name, model_path=str(MODEL_FILE.parent), allow_download=False,
            device="cpu", n_threads=THREADS, n_ctx=CONTEXT,
        )  # fmt: skip
        # ai-svc's own check after a load: enough warm-up (a first full prompt after it costs
        # the same CPU as the next ones), a full generation less per run
        self.llm.generate("Hi", max_tokens=1, **SAMPLING)

    def generate(self, system: str, question: str) -> tuple[str, int, float]:
        count = 0

        def on_token(_t: int, _s: str) -> bool:
            nonlocal count
            count += 1
            return True

        t = time.perf_counter()
        with self.llm.chat_session(
            self.file.system_format.format(system=system), self.file.turn_format
        ):
            text: str = self.llm.generate(
                question, max_tokens=MAX_TOKENS, n_batch=N_BATCH, callback=on_token, **SAMPLING
            )
        return text, count, time.perf_counter() - t


async def through_ai_svc(bus: Bus) -> tuple[str, int, float, float]:
    """The answer, its tokens, the seconds from start to COMPLETE, and of those the model's."""
    done = asyncio.get_running_loop().create_future()
    decoder = msgspec.json.Decoder(AnalysisEvent)

    async def on_event(msg: Any) -> None:
        event = decoder.decode(msg.data)
        if event.status.state.done and not done.done():
            done.set_result(event.status)

    sub = await bus.nc.subscribe(subjects.event(subjects.ANALYSIS, *APP), cb=on_event)
    request = AnalysisRequest(
        model=APP[0], app=APP[1], requirements=[REQUIREMENT], use_cache=False,
        max_tokens=MAX_TOKENS,
    )  # fmt: skip
    t = time.perf_counter()
    status = await bus.request(subjects.ANALYSIS_START, request, AnalysisStatus, timeout=60)
    final: AnalysisStatus = await asyncio.wait_for(done, 600)
    seconds = time.perf_counter() - t
    await sub.unsubscribe()
    assert final.state == JobState.COMPLETE, final
    result = await bus.request(
        subjects.ANALYSIS_RESULT, JobRef(job_id=status.analysis_id), AnalysisResult, timeout=10
    )
    (r,) = result.results
    return r.raw, r.completion_tokens, seconds, r.seconds


async def measure(results: dict[str, Any], record: Any) -> None:
    if not MODEL_FILE.is_file():
        print(f"  ai: {MODEL_FILE} is missing (scripts/setup.sh prepares it)")
        return
    with tempfile.TemporaryDirectory(prefix="genfleet-aibench-") as tmp:
        root = Path(tmp) / "fleet"
        shutil.copytree(REPO / "examples" / "fleet", root)
        fleet = Fleet.load(root)
        system, question = same_prompt(fleet)
        with auth_nats(Path(tmp) / "nats") as server:
            env = {
                **os.environ,
                "GENFLEET_NATS_URL": server.url,
                "GENFLEET_NATS_IDENTITIES_DIR": str(identities_of(server.url)),
                "GENFLEET_FLEET_ROOT": str(root),
                "GENFLEET_STATE_DIR": str(Path(tmp) / "state"),
                "GENFLEET_SECRET_KEY": "bench-only-secret-key-0123456789abcdef",
                "GENFLEET_LOG_LEVEL": "WARNING",
                "GENFLEET_AI_CONTEXT": str(CONTEXT),
                "GENFLEET_AI_RETRIES": "0",  # one generation per analysis, as the raw call
                "GENFLEET_AI_THREADS": str(THREADS),
            }
            proc = subprocess.Popen([sys.executable, "-m", "ai_svc"], env=env)
            bus = await admin_bus(server.url, name="ai-bench")
            try:
                await bus.wait_ready(subjects.ANALYSIS_STATUS)
                raw = Raw()
                await through_ai_svc(bus)  # warm-up: ai-svc loads its model on first use
                ours, plain, ratios, outside = [], [], [], []
                began = time.perf_counter()
                # raw in a thread, as ai-svc runs it: this loop stays free to answer NATS pings
                for i in range(ROUNDS):
                    if i % 2:
                        raw_text, raw_tokens, raw_seconds = await asyncio.to_thread(
                            raw.generate, system, question
                        )
                        text, tokens, seconds, model_s = await through_ai_svc(bus)
                    else:
                        text, tokens, seconds, model_s = await through_ai_svc(bus)
                        raw_text, raw_tokens, raw_seconds = await asyncio.to_thread(
                            raw.generate, system, question
                        )
                    # the same prompt at temperature 0: the same answer, token for token
                    assert (text, tokens) == (raw_text, raw_tokens), (text, raw_text)
                    ours.append(tokens / seconds)
                    plain.append(raw_tokens / raw_seconds)
                    ratios.append(ours[-1] / plain[-1])
                    outside.append(seconds - model_s)
                print(
                    f"  analysis ({tokens} tokens): ai-svc {[round(x, 1) for x in ours]} tok/s,"
                    f" raw gpt4all {[round(x, 1) for x in plain]} tok/s"
                )
                print(
                    f"  per round ai-svc/raw: {[round(x, 3) for x in ratios]}"
                    f" ({ROUNDS} rounds in {time.perf_counter() - began:.0f} s)"
                )
                # what ai-svc adds around the model call (queue, KV, context, events): if the
                # ratio drops while this stays small, the generation itself was slower
                print(f"  ai-svc outside its model call: median {statistics.median(outside):.3f} s")
                record(results, "ai_tokens_ratio", statistics.median(ratios), "ratio", ">= 0.95")
                q1, _, q3 = statistics.quantiles(ratios, n=4)
                results["ai_tokens_ratio"] |= {
                    "rounds": [round(x, 4) for x in ratios],
                    "spread": {
                        "min": round(min(ratios), 4), "q1": round(q1, 4),
                        "q3": round(q3, 4), "max": round(max(ratios), 4),
                    },
                }  # fmt: skip
            finally:
                await bus.close()
                proc.terminate()
                proc.wait(30)


if __name__ == "__main__":
    import uvloop
    from run import RESULTS, record  # type: ignore[import-not-found]

    found: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    uvloop.run(measure(found, record))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
